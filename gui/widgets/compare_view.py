"""Head-to-head results: from scratch vs fine-tuning on the same data.

Shows an engine `Comparison`: its verdict sentences (from `Comparison.verdict()`, the same the
CLI prints), the mean score at each data share with its interval, the costs side by side,
the score-vs-training-size chart with interval bars, and every run, each of which can be
opened in Evaluate or Export. Displays values only: every number comes from the engine.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.gui import theme

APPROACHES = {"scratch": "From scratch", "finetune": "Fine-tuning"}
SUMMARY_COLUMNS = ["Approach", "Data", "Train samples", "Score", "Interval", "Runs"]
RUN_COLUMNS = ["Approach", "Data", "Repeat", "Score", "Steps", "Stopped by", "Seconds", "Run folder"]
STATE_WORDS = {
    "planned": "waiting",
    "running": "training",
    "finished": "finished",
    "stopped": "stopped by you",
    "left_out": "left out (its pair was stopped)",
    "stopping": "stopping…",
}
CLASS_COLUMNS = ["Class", "Samples", "From scratch", "Fine-tuning", "Difference", "95% interval", "Verdict"]


def _table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for i, values in enumerate(rows):
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            if column > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(i, column, item)


class ScoreChart(pg.PlotWidget):
    """Test score against training-set size, one line per approach, with interval bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self._curve: dict[str, list[dict[str, Any]]] = {}
        self._words = "score"
        self.lines: dict[str, pg.PlotDataItem] = {}
        self.bars: dict[str, pg.ErrorBarItem] = {}
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True)
        plot.setTitle("Score vs training samples (bars: 95% intervals)")
        plot.setLabel("bottom", "training samples")
        plot.getAxis("left").enableAutoSIPrefix(False)
        self.legend = plot.addLegend(offset=(-8, -8), labelTextSize="9pt")
        self.setMinimumHeight(220)
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)

    def set_curve(self, curve: dict[str, list[dict[str, Any]]], words: str) -> None:
        self._curve, self._words = dict(curve), words
        self._draw()

    def points(self, approach: str) -> tuple[np.ndarray, np.ndarray]:
        item = self.lines.get(approach)
        if item is None:
            return np.array([]), np.array([])
        x, y = item.getData()
        return (np.array([]) if x is None else x), (np.array([]) if y is None else y)

    def intervals(self, approach: str) -> tuple[np.ndarray, np.ndarray]:
        """The drawn bars' (low, high) ends, for tests and screenshots."""
        bar = self.bars.get(approach)
        if bar is None:
            return np.array([]), np.array([])
        y, top, bottom = (np.asarray(bar.opts[k], dtype=float) for k in ("y", "top", "bottom"))
        return y - bottom, y + top

    def _draw(self) -> None:
        plot = self.getPlotItem()
        for item in [*self.lines.values(), *self.bars.values()]:
            plot.removeItem(item)
        for item in self.lines.values():
            self.legend.removeItem(item)
        self.lines.clear()
        self.bars.clear()
        if not self._curve:
            return
        plot.setLabel("left", self._words)
        colors = theme.plot_colors().curves
        for i, approach in enumerate(("scratch", "finetune")):
            points = [p for p in self._curve.get(approach, []) if math.isfinite(p["value"])]
            if not points:
                continue
            color = QColor(colors[i])
            x = np.array([p["train_samples"] for p in points], dtype=np.float64)
            y = np.array([p["value"] for p in points], dtype=np.float64)
            low = np.array([p["low"] for p in points], dtype=np.float64)
            high = np.array([p["high"] for p in points], dtype=np.float64)
            bar = pg.ErrorBarItem(x=x, y=y, top=high - y, bottom=y - low, beam=0.0, pen=pg.mkPen(color, width=1.5))
            line = pg.PlotDataItem(
                x, y, pen=pg.mkPen(color, width=2.5), symbol="o", symbolSize=8, symbolBrush=color,
                symbolPen=pg.mkPen(color), name=APPROACHES[approach],
            )
            plot.addItem(bar)
            plot.addItem(line)
            self.lines[approach], self.bars[approach] = line, bar
        every = [p for pts in self._curve.values() for p in pts]
        plot.setXRange(0, max(p["train_samples"] for p in every) * 1.05, padding=0)
        low, high = min(p["low"] for p in every), max(p["high"] for p in every)
        span = max(high - low, 0.02)
        plot.setYRange(low - span * 0.15, high + span * 0.15, padding=0)

    def _restyle(self, _dark: bool = False) -> None:
        from kiln_lab.gui.plots import style_plot

        style_plot(self)
        self._draw()


class CompareView(QWidget):
    """Verdict, progress, scores with intervals, costs, chart and runs for one comparison."""

    open_requested = Signal(str, str)  # a run's model.keras path, "evaluate" | "export"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: Any = None
        self.verdict = QLabel("Run a comparison from the Model page (Compare both…).")
        self.verdict.setWordWrap(True)
        self.verdict.setStyleSheet("font-size: 11pt;")
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_label = QLabel("")
        self.progress_label.setProperty("role", "muted")
        self.table = _table(SUMMARY_COLUMNS)
        self.costs = _table(["Cost per run (largest share)", "Fine-tuning", "From scratch"])
        self.runs = _table(RUN_COLUMNS)
        self.runs.itemSelectionChanged.connect(self._update_buttons)
        self.evaluate_button = QPushButton("Open in Evaluate")
        self.evaluate_button.setToolTip("Load the selected run's model and evaluate it")
        self.export_button = QPushButton("Open in Export")
        self.export_button.setToolTip("Load the selected run's model to save or convert it")
        self.evaluate_button.clicked.connect(lambda: self._open("evaluate"))
        self.export_button.clicked.connect(lambda: self._open("export"))
        self.report_label = QLabel("")
        self.report_label.setProperty("role", "muted")
        self.report_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        runs_tab = QWidget()
        runs_layout = QVBoxLayout(runs_tab)
        runs_layout.addWidget(self.runs, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        runs_layout.addLayout(buttons)
        self.per_class_sentence = QLabel("Per-class accuracy appears here once both approaches have run.")
        self.per_class_sentence.setWordWrap(True)
        self.per_class_sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.per_class = _table(CLASS_COLUMNS)
        self.per_class.setToolTip(
            "Accuracy on each class of the scored split at the largest data share (averaged over repeats), and "
            "a paired bootstrap interval of fine-tuning minus from scratch: 'worse' means beyond noise"
        )
        class_tab = QWidget()
        class_layout = QVBoxLayout(class_tab)
        class_layout.addWidget(self.per_class_sentence)
        class_layout.addWidget(self.per_class, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Scores")
        self.tabs.addTab(self.costs, "Costs")
        self.tabs.addTab(class_tab, "Per class")
        self.tabs.addTab(runs_tab, "Runs")
        self.chart = ScoreChart()
        body = QHBoxLayout()
        body.addWidget(self.tabs, 5)
        body.addWidget(self.chart, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.progress_label)
        layout.addLayout(body, 1)
        layout.addWidget(self.report_label)
        self._update_buttons()

    def set_progress(self, done: int, total: int | None, message: str) -> None:
        """"Run k of n" while a comparison runs (the engine's Progress events)."""
        self.progress_label.setText(message or (f"{done} of {total} runs done" if total else ""))

    def set_comparison(self, comparison: Any) -> None:
        """Show an `engine.results.Record` of kind "Comparison" (the engine's ``compare`` task)."""
        self.comparison = comparison
        sentences = comparison.verdict()
        self.verdict.setText("<b>" + sentences[0] + "</b><br>" + "<br>".join(sentences[1:]))
        words = comparison.score_words()
        self.table.setHorizontalHeaderItem(3, QTableWidgetItem(words))
        rows = []
        for approach, points in comparison.learning_curve().items():
            for p in points:
                runs = comparison.run_counts.get(f"{approach}@{p['fraction']}", 0)
                rows.append([
                    APPROACHES.get(approach, approach), f"{p['fraction']:.0%}", f"{p['train_samples']:,.0f}",
                    f"{p['value']:.4f}", f"{p['low']:.4f} – {p['high']:.4f}", str(runs),
                ])
        _fill(self.table, rows)
        _fill(self.costs, [list(row) for row in comparison.cost_rows])
        left_out = list(getattr(comparison, "stopped", None) or [])
        _fill(self.runs, [
            [
                APPROACHES.get(r.approach, r.approach), f"{r.data_fraction:.0%}", str(r.repeat), f"{r.score:.4f}",
                str(r.steps), r.stopped_by.replace("_", " "), f"{r.seconds:.1f}", r.run_dir or "not saved",
            ]
            for r in comparison.rows
        ] + [
            [
                APPROACHES.get(s["approach"], s["approach"]), f"{s['data_fraction']:.0%}", str(s["repeat"]),
                "not scored", "", STATE_WORDS.get(s["state"], s["state"]), "", s.get("run_dir") or "not saved",
            ]
            for s in left_out
        ])
        self.chart.set_curve(comparison.learning_curve(), words)
        self._show_per_class(comparison)
        self.report_label.setText(
            f"Report: {comparison.out_dir}/report.html (and report.md, compare.json)" if comparison.out_dir else ""
        )
        self._update_buttons()

    def _show_per_class(self, comparison: Any) -> None:
        per_class = comparison.per_class()
        if per_class is None:
            self.per_class_sentence.setText(
                "Per-class accuracy is for classification, once both approaches have finished a run."
                if comparison.higher_is_better
                else "Per-class accuracy is for classification; this data is a regression."
            )
            _fill(self.per_class, [])
            return
        share = comparison.fractions()[-1]
        self.per_class_sentence.setText(f"{per_class.sentence()} Measured at {share:.0%} of the training data.")
        _fill(self.per_class, [
            [r.name, str(r.support), f"{r.baseline:.1%}", f"{r.candidate:.1%}", f"{r.difference:+.1%}",
             f"{r.low:+.1%} to {r.high:+.1%}", r.verdict]
            for r in per_class.rows
        ])
        warning = QColor("#c0392b")  # the warning red of the drift view
        for i, row in enumerate(per_class.rows):
            if row.verdict == "worse":  # the classes to look at before shipping
                for column in range(len(CLASS_COLUMNS)):
                    self.per_class.item(i, column).setForeground(warning)

    def selected_run(self) -> Any:
        rows = self.runs.selectionModel().selectedRows() if self.comparison is not None else []
        if not rows or rows[0].row() >= len(self.comparison.rows):
            return None  # a stopped run has no result to open
        return self.comparison.rows[rows[0].row()]

    def _update_buttons(self) -> None:
        run = self.selected_run()
        has_model = run is not None and bool(run.run_dir)
        self.evaluate_button.setEnabled(has_model)
        self.export_button.setEnabled(has_model)

    def _open(self, target: str) -> None:
        run = self.selected_run()
        if run is not None and run.run_dir:
            self.open_requested.emit(f"{run.run_dir}/model.keras", target)


class TrialsView(QScrollArea):
    """The runs of a comparison while it trains, each with its own Stop.

    Filled from the engine's `TrialState` events; a run's Stop asks the engine to stop that run
    (training now, or still waiting) while the others go on. A stopped run, and the other run of
    its pair, are left out of the verdict. One row a run: its name and state wrap in the narrow
    tab at the minimum window size, and its Stop button stays whole beside them.
    """

    stop_requested = Signal(int)  # the run's number (from 1)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.states: dict[int, str] = {}
        self.labels: dict[int, str] = {}
        self.rows: dict[int, QLabel] = {}
        self.stop_buttons: dict[int, QPushButton] = {}
        self.total = 0
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.list = QVBoxLayout(body)
        self.list.setContentsMargins(2, 4, 2, 2)
        self.note = QLabel("Stop one run and the others go on; Stop above ends the whole comparison.")
        self.note.setProperty("role", "muted")
        self.note.setWordWrap(True)
        self.list.addWidget(self.note)
        self.list.addStretch(1)
        self.setWidget(body)

    def reset(self) -> None:
        for number in list(self.rows):
            row = self.rows.pop(number).parentWidget()
            self.list.removeWidget(row)
            row.deleteLater()
        self.stop_buttons.clear()
        self.states.clear()
        self.labels.clear()

    def set_state(self, number: int, total: int, label: str, state: str) -> None:
        """One `TrialState` event: add the run's row or update its state."""
        if self.states.get(number) == "stopping" and state == "running":
            return  # the engine starts it only to stop it at once
        self.states[number], self.labels[number], self.total = state, label, total
        if number not in self.rows:
            self._add_row(number)
        words = STATE_WORDS.get(state, state)
        colour = {"running": theme.ACCENT, "stopped": "#c0392b", "stopping": "#c0392b"}.get(state)
        shown = f'<span style="color:{colour}">{words}</span>' if colour else words
        self.rows[number].setText(f"<b>{number} of {total}</b>: {html.escape(label)}<br>{shown}")
        button = self.stop_buttons[number]
        button.setEnabled(state in ("planned", "running"))
        button.setVisible(state in ("planned", "running", "stopping"))

    def _add_row(self, number: int) -> None:
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 2, 0, 2)
        text = QLabel("")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        button = QPushButton("Stop")
        button.setToolTip(
            "Stop this run of the comparison (training now, or still waiting); the other runs go on. A stopped "
            "run and the other run of its pair are left out of the verdict."
        )
        button.clicked.connect(lambda _checked=False, n=number: self.stop(n))
        line.addWidget(text, 1)
        line.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.rows[number], self.stop_buttons[number] = text, button
        self.list.insertWidget(self.list.count() - 1, row)

    def stop(self, number: int) -> None:
        """Ask for one run to stop (its button)."""
        if self.states.get(number) not in ("planned", "running"):
            return
        self.set_state(number, self.total, self.labels[number], "stopping")
        self.stop_requested.emit(number)


class CompareDialog(QDialog):
    """A non-modal window holding the latest comparison's results."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("From scratch vs fine-tuning")
        self.view = CompareView()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(1180, 560)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        """Fit inside the window it belongs to (at 1100x680 a 1180-wide dialog ran off its right edge,
        the verdict's line ends with it), then grow the height to the whole verdict."""
        owner = self.parentWidget().window() if self.parentWidget() is not None else None
        if owner is not None:
            room = owner.geometry()
            width = min(1180, max(640, room.width() - 40))
            self.resize(width, min(max(560, self.sizeHint().height()), max(480, room.height() - 40)))
            self.move(room.center() - self.rect().center())
        super().showEvent(event)


class FractionsDialog(QDialog):
    """Ask which shares of the training data each approach trains on."""

    FRACTIONS = (0.1, 0.3, 1.0)

    def __init__(self, summary: str, parent: QWidget | None = None, *, defaults: dict[str, Any] | None = None,
                 settings: str = "") -> None:
        """``defaults``: the engine's comparison defaults (repeats, max_steps); ``settings``: the Train
        page's settings in words, which every run of the comparison uses."""
        super().__init__(parent)
        from PySide6.QtWidgets import QCheckBox, QSpinBox

        defaults = dict(defaults or {})
        self.setWindowTitle("Compare both approaches")
        intro = QLabel(summary)
        intro.setWordWrap(True)
        self.checks: dict[float, Any] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Training data:"))
        for fraction in self.FRACTIONS:
            check = QCheckBox(f"{fraction:.0%}")
            check.setToolTip(
                f"Train both approaches on {fraction:.0%} of the training split (validation and test stay the same)"
            )
            check.setChecked(fraction == 1.0)
            check.toggled.connect(self._update_ok)
            self.checks[fraction] = check
            row.addWidget(check)
        row.addStretch(1)
        repeats_row = QHBoxLayout()
        repeats_row.addWidget(QLabel("Repeats per share:"))
        self.repeats_spin = QSpinBox()
        self.repeats_spin.setRange(1, 10)
        self.repeats_spin.setValue(int(defaults.get("repeats") or 2))
        self.repeats_spin.setToolTip(
            "How many times each approach trains on each share, with different seeds. One run is quickest; "
            "more runs narrow the interval around the difference and make a verdict possible on close calls."
        )
        self.repeats_spin.valueChanged.connect(self._update_note)
        repeats_row.addWidget(self.repeats_spin)
        repeats_row.addSpacing(18)
        repeats_row.addWidget(QLabel("Step budget per run:"))
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1_000_000)
        self.steps_spin.setSingleStep(50)
        self.steps_spin.setValue(int(defaults.get("max_steps") or 200))
        self.steps_spin.setSuffix(" steps")
        self.steps_spin.setToolTip(
            "The most optimizer steps each run may take (both approaches get the same). Early stopping may end a "
            "run sooner; raise the budget when runs were still improving at the cap."
        )
        self.steps_spin.valueChanged.connect(self._update_note)
        repeats_row.addWidget(self.steps_spin)
        repeats_row.addStretch(1)
        self.settings_label = QLabel(settings)
        self.settings_label.setWordWrap(True)
        self.settings_label.setVisible(bool(settings))
        self.note = note = QLabel("")
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compare")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.settings_label)
        layout.addLayout(row)
        layout.addLayout(repeats_row)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._update_note()

    def fractions(self) -> tuple[float, ...]:
        return tuple(f for f, check in self.checks.items() if check.isChecked())

    def repeats(self) -> int:
        return self.repeats_spin.value()

    def max_steps(self) -> int:
        return self.steps_spin.value()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.fractions()))
        self._update_note()

    def _update_note(self) -> None:
        repeats, shares = self.repeats(), len(self.fractions())
        times = "once" if repeats == 1 else f"{repeats} times (different seeds)"
        runs = 2 * repeats * shares
        self.note.setText(
            f"Each share trains both models {times} under the same budget of {self.max_steps():,} optimizer steps, "
            "and scores them on "
            f"a test split that no run trains on: {runs} run{'s' if runs != 1 else ''} in all. "
            + ("With one run per share no interval can be given. " if repeats == 1 else "")
            + "Stop ends it at any time."
        )
