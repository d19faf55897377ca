"""Every page fits at 1280x800 and at the window's minimum size: no clipped text, no cut controls.

The checks read the laid-out widgets, the way a person's eye would:
- a label, button or check box narrower than its text (its text is cut or elided);
- a table or tree cell narrower than its text (Qt elides it to "mod…"), header labels too;
- an input control only partly inside the visible area of its ancestors (cut at an edge),
  or hidden inside a scroll area that is itself inside a scroll area (below a nested fold);
- a sideways scrollbar on a page's scroll area;
- a chart axis whose tick labels overlap each other or run past the axis (pyqtgraph draws
  every label of a set list of ticks, on top of each other where they do not fit).
- a scroll area inside another scroll area (the page scrolls as one; parts inside it do not);
- a table or tree with room for fewer than MIN_ROWS rows, a plot or heatmap shorter than MIN_PLOT_HEIGHT
  (a part squeezed to a sliver is as unusable as one cut off).
"""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QTableView,
    QTableWidget,
    QToolBar,
    QTreeView,
    QWidget,
)

from tests.gui.conftest import TIMEOUT_MS, small_scratch_model

# Pages another change is re-laying out right now: their problems are reported (xfail), not failed.
# Remove a name once its page has landed; the test then holds it to the same standard.
PAGES_IN_PROGRESS: set[str] = set()
CONTROLS = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)
SLACK = 2  # pixels of rounding
MIN_ROWS = 5  # a table or tree shows at least this many rows
MIN_PLOT_HEIGHT = 150  # pixels: below this a plot's axis labels crowd out its data


def _showing(widget: QWidget, root: QWidget) -> bool:
    return widget.isVisibleTo(root) and widget.isVisible() and widget.width() > 0 and widget.height() > 0


def _inside_toolbar(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QToolBar) or type(parent).__name__ in ("QTabBar", "QScrollBar"):
            return True
        parent = parent.parentWidget()
    return False


def _scroll_areas_above(widget: QWidget) -> list[QScrollArea]:
    areas = []
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            areas.append(parent)
        parent = parent.parentWidget()
    return areas


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    owner = widget.parentWidget()
    chain = []
    while owner is not None and len(chain) < 3:
        chain.append(type(owner).__name__)
        owner = owner.parentWidget()
    return f"{type(widget).__name__}({text!r}) in {'/'.join(chain)}"


def text_problems(page: QWidget) -> list[str]:
    """Labels, buttons and check boxes whose text does not fit them."""
    problems = []
    for label in page.findChildren(QLabel):
        if not _showing(label, page) or label.wordWrap() or not label.text() or label.pixmap() is not None:
            continue
        if label.textFormat() != label.textFormat().PlainText and "<" in label.text():
            continue  # rich text lays itself out
        needed = max(label.fontMetrics().horizontalAdvance(line) for line in label.text().splitlines() or [""])
        if needed > label.contentsRect().width() + SLACK:
            problems.append(f"{_name(label)}: text needs {needed}px, has {label.contentsRect().width()}px")
    for button in page.findChildren(QAbstractButton):
        if not isinstance(button, (QPushButton, QCheckBox, QRadioButton)) or not button.text():
            continue
        if not _showing(button, page) or _inside_toolbar(button):
            continue
        if button.sizeHint().width() > button.width() + SLACK:
            problems.append(f"{_name(button)}: needs {button.sizeHint().width()}px, has {button.width()}px")
    return problems


def cell_problems(page: QWidget) -> list[str]:
    """Table and tree cells (and header labels) that Qt elides because the column is too narrow;
    the rows of an expanded tree branch (a comparison's runs) count, with their indentation."""
    problems = []
    for view in page.findChildren(QAbstractItemView):
        if not isinstance(view, (QTableView, QTreeView)) or not _showing(view, page):
            continue
        header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
        metrics = view.fontMetrics()
        model = view.model()
        rows = _shown_rows(view, model)
        for column in range(model.columnCount()):
            if header.isSectionHidden(column):
                continue
            width = header.sectionSize(column)
            title = str(model.headerData(column, header.orientation()) or "")
            if title and header.fontMetrics().horizontalAdvance(title) + 6 > width + SLACK:
                problems.append(f"{type(view).__name__} header {title!r}: column {width}px is too narrow")
            for row, parent, depth in rows:
                text = str(model.index(row, column, parent).data() or "")
                indent = 0
                if isinstance(view, QTreeView) and column == 0:
                    indent = view.indentation() * (depth + (1 if view.rootIsDecorated() else 0))
                if text and metrics.horizontalAdvance(text) + 8 + indent > width + SLACK:
                    problems.append(f"{type(view).__name__} cell {text!r} in column {title!r}: {width}px")
                    break
    return problems


def _shown_rows(view: QAbstractItemView, model) -> list[tuple[int, QModelIndex, int]]:
    """(row, parent, depth) of the first 50 rows a person sees: top-level rows and open branches."""
    rows: list[tuple[int, QModelIndex, int]] = []

    def walk(parent: QModelIndex, depth: int) -> None:
        for row in range(model.rowCount(parent)):
            if len(rows) >= 50:
                return
            rows.append((row, parent, depth))
            index = model.index(row, 0, parent)
            if isinstance(view, QTreeView) and view.isExpanded(index):
                walk(index, depth + 1)

    walk(QModelIndex(), 0)
    return rows


def placement_problems(page: QWidget) -> list[str]:
    """Controls cut at an edge, or hidden below the fold of a nested scroll area; sideways scrollbars."""
    problems = []
    for control in page.findChildren(QWidget):
        if not isinstance(control, CONTROLS) or not _showing(control, page) or _inside_toolbar(control):
            continue
        if isinstance(control, QAbstractButton) and isinstance(control.parentWidget(), QAbstractSpinBox):
            continue
        if isinstance(control.parentWidget(), QComboBox) or isinstance(control, QHeaderView):
            continue
        visible = control.visibleRegion().boundingRect()
        full = control.rect()
        areas = _scroll_areas_above(control)
        if visible.isEmpty():
            if len(areas) >= 2:
                problems.append(f"{_name(control)}: hidden inside a scroll area within a scroll area")
            elif not areas:
                problems.append(f"{_name(control)}: outside its parent's visible area")
            continue
        cut_wide = visible.width() + SLACK < full.width()
        cut_high = visible.height() + SLACK < full.height()
        scrolls_down = bool(areas) and areas[0].verticalScrollBar().isVisible()
        if cut_wide or (cut_high and not scrolls_down):
            problems.append(
                f"{_name(control)}: shows {visible.width()}x{visible.height()} of {full.width()}x{full.height()}"
            )
    for area in page.findChildren(QScrollArea):
        if _showing(area, page) and area.horizontalScrollBar().isVisible():
            problems.append(f"{type(area.widget()).__name__} scrolls sideways in {_name(area.parentWidget())}")
    return problems


def axis_label_problems(axis) -> list[str]:
    """The labels one pyqtgraph axis draws: overlapping each other, cut at its edge, or none at all."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    if specs is None:
        return []
    texts = [(rect, text) for rect, _flags, text in specs[2] if text]
    problems = []
    if not texts and axis._tickLevels and any(label for level in axis._tickLevels for _, label in level):
        problems.append(f"{axis.orientation} axis shows none of its labels")
    bounds = axis.boundingRect()
    for i, (rect, text) in enumerate(texts):
        if not bounds.adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(rect):
            problems.append(f"{axis.orientation} axis label {text!r} is cut at the axis's edge")
        for other, other_text in texts[i + 1 :]:
            overlap = rect.intersected(other)
            if overlap.width() > SLACK and overlap.height() > SLACK:
                problems.append(f"{axis.orientation} axis labels {text!r} and {other_text!r} overlap")
                break
    return problems


def chart_problems(page: QWidget) -> list[str]:
    """Charts whose axis labels a person cannot read (see `axis_label_problems`)."""
    import pyqtgraph as pg

    problems = []
    for chart in page.findChildren(pg.PlotWidget):
        if not _showing(chart, page):
            continue
        for entry in chart.getPlotItem().axes.values():
            axis = entry["item"]
            if axis.isVisible() and axis.style["showValues"]:
                problems += [f"{type(chart).__name__}: {p}" for p in axis_label_problems(axis)[:3]]
    return problems


def nesting_problems(page: QWidget) -> list[str]:
    """Scroll areas inside scroll areas: the inner one gets a slice of the outer one's view."""
    return [
        f"{_name(area)}: a scroll area inside a scroll area ({type(_scroll_areas_above(area)[0]).__name__})"
        for area in page.findChildren(QScrollArea)
        if _showing(area, page) and _scroll_areas_above(area)
    ]


def _row_height(view: QAbstractItemView) -> int:
    if isinstance(view, QTableView):  # the rows' real height (a table may size its rows to their text)
        return view.rowHeight(0) if view.model().rowCount() else view.verticalHeader().defaultSectionSize()
    height = view.sizeHintForRow(0) if view.model().rowCount() else -1
    return height if height > 0 else view.fontMetrics().height() + 4


def _room(widget: QWidget, height: int) -> int:
    """How much of ``height`` a person can see at once: no more than the view of any scroll area around it."""
    return min([height] + [area.viewport().height() for area in _scroll_areas_above(widget)])


def room_problems(page: QWidget) -> list[str]:
    """Tables that show fewer than MIN_ROWS rows, plots and scrolling views shorter than MIN_PLOT_HEIGHT."""
    problems = []
    for view in page.findChildren(QAbstractItemView):
        if not isinstance(view, (QTableView, QTreeView)) or not _showing(view, page):
            continue
        rows = _room(view, view.viewport().height()) / max(1, _row_height(view))
        wanted = min(MIN_ROWS, max(1, view.model().rowCount()))  # a four-row table needs room for four
        if rows + 0.25 < wanted:
            problems.append(f"{_name(view)}: room for {rows:.1f} rows, fewer than {wanted}")
    for plot in page.findChildren(pg.GraphicsView):
        if _showing(plot, page) and _room(plot, plot.height()) < MIN_PLOT_HEIGHT:
            problems.append(f"{_name(plot)}: {_room(plot, plot.height())}px tall, shorter than {MIN_PLOT_HEIGHT}px")
    for area in page.findChildren(QScrollArea):
        if _showing(area, page) and area.verticalScrollBar().isVisible() and area.viewport().height() < MIN_PLOT_HEIGHT:
            problems.append(f"{_name(area)}: its content scrolls in a {area.viewport().height()}px view")
    return problems


def page_problems(window, page: QWidget) -> list[str]:
    window.go_to(page)
    for _ in range(5):
        window.repaint()
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()
    return (text_problems(page) + cell_problems(page) + placement_problems(page) + chart_problems(page)
            + nesting_problems(page) + room_problems(page))


@pytest.mark.slow
def test_every_page_fits_at_both_sizes(qtbot, window, load_demo, train):
    load_demo(window)
    small_scratch_model(window)
    train(window, epochs=1)
    window.go_to("evaluate")
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    # The drift tab as a finished fine-tuning run leaves it: figures, a warning, the roll-back row.
    from kiln_lab.engine.events import DriftMeasured

    drift = window.train_page.plots.drift_view
    for epoch, cka in ((-1, 1.0), (0, 0.95), (1, 0.8)):
        drift.add(DriftMeasured(epoch, cka, 0.9, 0.98))
    drift.show_warning("Forgetting after epoch 2: the backbone drifted.", window.session.config.model)
    drift.offer_roll_back([1, 2], 1)
    window.train_page.plots.show_drift()
    found = {}
    for size in ((1280, 800), (window.minimumWidth(), window.minimumHeight())):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s, timeout=5_000)
        for spec, page in zip(window.page_specs, window.pages):
            problems = page_problems(window, page)
            if problems:
                found[f"{spec.name} at {size[0]}x{size[1]}"] = problems
    report = "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())
    if found and all(where.split()[0] in PAGES_IN_PROGRESS for where in found):
        pytest.xfail("only pages being reworked elsewhere still clip:\n" + report)
    assert not found, report


def test_the_room_checks_can_fail(qtbot):
    """A scroll area in a scroll area, a two-row table and a 60-pixel plot are each reported."""
    from PySide6.QtWidgets import QVBoxLayout

    page = QWidget()
    outer = QScrollArea(page)
    inner = QScrollArea()
    outer.setWidget(inner)
    outer.setWidgetResizable(True)
    table = QTableWidget(3, 2, page)
    table.setFixedHeight(2 * table.verticalHeader().defaultSectionSize() + table.horizontalHeader().height())
    plot = pg.PlotWidget(page)
    plot.setFixedHeight(60)
    layout = QVBoxLayout(page)
    for widget in (outer, table, plot):
        layout.addWidget(widget)
    qtbot.addWidget(page)
    page.resize(500, 600)
    page.show()
    qtbot.waitExposed(page)
    nested, room = nesting_problems(page), room_problems(page)
    assert len(nested) == 1 and "inside a scroll area" in nested[0]
    assert any("QTableWidget" in p and "rows" in p for p in room), room
    assert any("60px tall" in p for p in room), room


def test_the_model_page_gives_each_part_room_at_both_sizes(qtbot, window, load_demo):
    """The advisor, the paths, the layer tables and the heatmap each usable, the page scrolling as one."""
    load_demo(window)
    page = window.model_page
    found = {}
    for kind in ("scratch", "finetune"):
        (page.scratch if kind == "scratch" else page.finetune).radio.setChecked(True)
        for size in ((1280, 800), (window.minimumWidth(), window.minimumHeight())):
            window.resize(*size)
            qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s, timeout=5_000)
            problems = page_problems(window, page)
            if problems:
                found[f"{kind} at {size[0]}x{size[1]}"] = problems
    assert not found, "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())
    # the parts this test is about are on the page, not hidden in a tab
    assert page.advisor.isVisibleTo(page) and page.init_card.heatmap.isVisibleTo(page)
# -- what the widget checks above cannot see ---------------------------------------------------
# pyqtgraph draws legends, titles, phase names and threshold labels as graphics items inside one
# QGraphicsView: no QWidget, so `findChildren(QWidget)` never meets them, and a legend running past
# the plot's edge or lying over the curves passed. Controls in a tab behind another were skipped
# as "not showing". These checks read the scene, and every tab in turn.

MIN_DATA_AREA = (120, 70)  # pixels: a plot's data area smaller than this cannot be read


def graphics_problems(page: QWidget) -> list[str]:
    """Plot text cut at the plot's edge, legends over the data area, and data areas too small to read."""
    import pyqtgraph as pg
    from PySide6.QtCore import QRectF

    problems = []
    for view in page.findChildren(pg.GraphicsView):
        if not _showing(view, page):
            continue
        owner = f"{type(view).__name__} in {_name(view.parentWidget())}"
        shown = QRectF(view.viewport().rect()).adjusted(-SLACK, -SLACK, SLACK, SLACK)
        data_areas = [item for item in view.scene().items() if isinstance(item, pg.ViewBox) and item.isVisible()]
        for box in data_areas:
            area = view.mapFromScene(box.sceneBoundingRect()).boundingRect()
            if area.width() < MIN_DATA_AREA[0] or area.height() < MIN_DATA_AREA[1]:
                problems.append(f"{owner}: data area {area.width()}x{area.height()}px is too small to read")
        for item in view.scene().items():
            if not item.isVisible() or not isinstance(item, (pg.LegendItem, pg.TextItem, pg.LabelItem)):
                continue
            if isinstance(item, pg.LabelItem) and not item.text:
                continue
            if isinstance(item, pg.LegendItem) and not item.items:
                continue
            words = item.toPlainText() if isinstance(item, pg.TextItem) else getattr(item, "text", "legend")
            rect = QRectF(view.mapFromScene(item.sceneBoundingRect()).boundingRect())
            if not shown.contains(rect):
                problems.append(f"{owner}: {type(item).__name__}({words!r}) is cut at the plot's edge")
            if isinstance(item, pg.LegendItem):
                for box in data_areas:
                    overlap = item.sceneBoundingRect().intersected(box.sceneBoundingRect())
                    if overlap.width() > SLACK and overlap.height() > SLACK:
                        problems.append(f"{owner}: its legend lies over the data area")
    return problems


def wrapped_text_problems(page: QWidget) -> list[str]:
    """Word-wrapped labels whose lines need more height than they have (cut at the bottom)."""
    problems = []
    for label in page.findChildren(QLabel):
        if not _showing(label, page) or not label.wordWrap() or not label.text():
            continue
        if _scroll_areas_above(label):
            continue  # a scroll area shows the rest
        needed = label.heightForWidth(label.contentsRect().width())
        if needed > label.contentsRect().height() + SLACK:
            problems.append(f"{_name(label)}: its lines need {needed}px, it has {label.contentsRect().height()}px")
    return problems


def every_tab_problems(window, page: QWidget) -> list[str]:
    """`page_problems` and `graphics_problems` with each tab of each tab widget in front in turn."""
    from PySide6.QtWidgets import QApplication, QTabWidget

    problems: list[str] = []
    for tabs in page.findChildren(QTabWidget):
        if not _showing(tabs, page):
            continue
        current = tabs.currentIndex()
        for index in range(tabs.count()):
            tabs.setCurrentIndex(index)
            for _ in range(3):
                QApplication.processEvents()
            tab = tabs.widget(index)
            found = text_problems(tab) + cell_problems(tab) + placement_problems(tab) + graphics_problems(tab)
            problems += [f"tab {tabs.tabText(index)!r}: {p}" for p in found]
        tabs.setCurrentIndex(current)
    return problems


def _comparison_record(stopped: bool = True):
    import numpy as np

    from kiln_lab.engine.analysis.comparison import Comparison, ComparisonRow
    from kiln_lab.engine.api import comparison_record

    rng = np.random.default_rng(0)
    scores = {f"{a}@1": [rng.integers(0, 2, 200).astype(float).tolist()] for a in ("scratch", "finetune")}
    rows = [
        ComparisonRow(approach=a, data_fraction=1.0, repeat=2, seed=2, train_samples=100, score_name="accuracy",
                      score=0.5, seconds=1.0, steps=10, samples_seen=100, stopped_by="step_cap", epochs_run=1,
                      params=10, trainable_params=10)
        for a in ("scratch", "finetune")
    ]
    left_out = [
        {"number": 1, "label": "from scratch on 100%, repeat 1", "approach": "scratch", "data_fraction": 1.0,
         "repeat": 1, "state": "stopped", "run_dir": None},
        {"number": 2, "label": "fine-tuning on 100%, repeat 1", "approach": "finetune", "data_fraction": 1.0,
         "repeat": 1, "state": "left_out", "run_dir": None},
    ] if stopped else []
    return comparison_record(Comparison(rows=rows, eval_samples=200, sample_scores=scores, repeats=2,
                                        budget={"max_steps": 20}, stopped=left_out))


@pytest.mark.slow
def test_train_page_fits_with_a_fine_tune_run_and_a_comparison(qtbot, window, load_demo):
    """The Train page as a two-phase fine-tune leaves it (phases, drift tab with its warning and roll-back,
    an earlier run overlaid) and after a comparison with one run stopped (results button, runs tab):
    nothing cut at 1280x800 or at the minimum size, legends and labels included, in every tab."""
    from kiln_lab.engine import events as ev
    from kiln_lab.gui.session import RunSummary

    load_demo(window)
    page = window.train_page
    window.go_to("train")
    dataset = window.session.dataset
    from kiln_lab.gui.pages.train_page import data_identity

    history = {"loss": [2.0, 1.0, 0.6, 0.4], "val_loss": [1.5, 0.9, 0.7, 0.6], "accuracy": [0.4, 0.8, 0.9, 0.95],
               "val_accuracy": [0.5, 0.8, 0.85, 0.9], "learning_rate": [1e-3, 1e-3, 1e-4, 1e-4]}
    window.session.add_run(RunSummary("finetune-demo-1", history, {}, "completed", dataset.source,
                                      data_identity(dataset), dataset.task))
    page._reset_for_run()
    page.refresher.stop()
    summary = {"task": "classification"}
    page.on_event(ev.RunStarted("finetune-demo-2", summary, {"name": "m", "params": 10, "trainable_params": 5}, 4, 10))
    page.on_event(ev.PhaseStarted("head", 0, 2, 0, 1))
    page.on_event(ev.PhaseStarted("fine-tune", 1, 2, 2, 3))
    page.on_event(ev.DriftMeasured(-1, 1.0, 0.98, 0.98))
    for epoch in range(4):
        page.on_event(ev.EpochEnd(epoch, 4, {k: v[epoch] for k, v in history.items() if k != "learning_rate"},
                                  history["learning_rate"][epoch], 1.0))
        page.on_event(ev.DriftMeasured(epoch, 0.95 - 0.1 * epoch, 0.9, 0.98))
    page.on_event(ev.RunWarning("Forgetting after epoch 3: the backbone drifted from its pretrained features.",
                                "forgetting"))
    for plot in page.plots.plots:
        plot.refresh()
    page.plots.end_run()
    page.plots.drift_view.offer_roll_back([1, 2, 3], 2)
    trials = page.plots.trials_view
    for number, label in enumerate(["from scratch on 100%, repeat 1", "fine-tuning on 100%, repeat 1",
                                    "from scratch on 100%, repeat 2", "fine-tuning on 100%, repeat 2"], start=1):
        trials.set_state(number, 4, label, ("stopped", "left_out", "running", "planned")[number - 1])
    page.plots.show_trials()
    page.comparison = _comparison_record()
    page.compare_view.set_comparison(page.comparison)
    page.plots.results_button.setEnabled(True)
    page.plots.results_button.setVisible(True)
    assert page.plots.overlay_note.text() == "1 earlier run on demo:digits"
    page.controls.progress_label.setText("Epoch 3/10 · batch 12/40 · 0:41 elapsed · ETA 1:30 · paused")
    found = {}
    for size in ((1280, 800), (window.minimumWidth(), window.minimumHeight())):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s, timeout=5_000)
        problems = (page_problems(window, page) + graphics_problems(page) + wrapped_text_problems(page)
                    + every_tab_problems(window, page))
        if problems:
            found[f"train at {size[0]}x{size[1]}"] = problems
    report = "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())
    assert not found, report
