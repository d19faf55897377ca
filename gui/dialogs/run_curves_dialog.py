"""Two (or more) saved runs' curves side by side: loss and the headline metric per epoch."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiln_lab.engine.export.runs import RunEntry, read_history
from kiln_lab.gui.plots import LivePlot

METRICS = (("accuracy", "Accuracy", "accuracy"), ("mae", "Mean absolute error", "MAE"))


class RunCurvesDialog(QDialog):
    """Each run in its own colour; training solid, validation dashed."""

    def __init__(self, runs: list[RunEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare runs: " + " vs ".join(r.name for r in runs))
        self.resize(980, 460)
        histories = [read_history(r.path) for r in runs]
        metric = next((m for m in METRICS if any(m[0] in h or f"val_{m[0]}" in h for h in histories)), None)
        self.loss_plot = LivePlot("Loss", y_label="loss", empty_text="These runs saved no loss history.")
        self.metric_plot = LivePlot(
            metric[1] if metric else "Metric",
            y_label=metric[2] if metric else "",
            empty_text="These runs saved no accuracy or error history.",
        )
        for index, (run, history) in enumerate(zip(runs, histories)):
            for plot, key in ((self.loss_plot, "loss"), (self.metric_plot, metric[0] if metric else "")):
                for prefix, words, style in (
                    ("", "train", Qt.PenStyle.SolidLine),
                    ("val_", "val", Qt.PenStyle.DashLine),
                ):
                    values = history.get(prefix + key)
                    if not values:
                        continue
                    curve = f"{index}-{prefix}{key}"
                    plot.add_curve(curve, f"{run.name} {words}", color=index * 3, style=style, markers=True)
                    for epoch, value in enumerate(values, start=1):
                        plot.append(curve, float(epoch), value)
            plot_refresh = (self.loss_plot, self.metric_plot)
        for plot in plot_refresh:
            plot.legend.setColumnCount(2)
            plot.refresh()
            plot.getPlotItem().enableAutoRange()

        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        note = QLabel(
            " · ".join(f"{r.name}: {r.model} on {r.data}" for r in runs)
            + ". Solid lines are the training data, dashed lines the validation data."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(plots, 1)
        layout.addWidget(buttons)
