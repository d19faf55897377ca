"""The Train page's live view: earlier runs overlaid only on the same data and task, a run log that
follows new lines, phase labels clear of the curves, and the page usable at its minimum size."""

from __future__ import annotations

import pytest

from tests.gui.conftest import TIMEOUT_MS


@pytest.mark.slow
def test_earlier_runs_are_overlaid_only_on_the_same_data_and_task(qtbot, window, load_demo, train, tiny_model):
    page = window.train_page
    plots = page.plots
    load_demo(window, "demo:digits")
    tiny_model(window)
    train(window, epochs=1)
    assert plots.overlay_note.text() == ""  # nothing earlier: no note
    train(window, epochs=1)
    assert plots.loss_plot.overlay_count == 2  # the first run's train and validation loss
    assert plots.overlay_note.text() == "1 earlier run on demo:digits"
    load_demo(window, "demo:housing")
    tiny_model(window)
    window.session.update(train={"epochs": 1})
    page.show_config(window.session.config)
    assert page.start()
    # The digits runs' cross-entropy and accuracy are not drawn under a regression's loss and MAE.
    assert [plot.overlay_count for plot in plots.plots] == [0, 0, 0]
    assert plots.overlay_note.text() == "" and not plots.clear_button.isEnabled()
    qtbot.waitUntil(lambda: not page.running, timeout=TIMEOUT_MS)
    train(window, epochs=1)
    assert plots.overlay_note.text() == "1 earlier run on demo:housing"
    assert plots.metric_plot.overlay_count == 2  # the housing run's MAE, train and validation
    load_demo(window, "demo:digits")  # back on digits: its two runs, not the housing ones
    tiny_model(window)
    train(window, epochs=1)
    assert plots.overlay_note.text() == "2 earlier runs on demo:digits"
    assert plots.metric_plot.overlay_count == 4


def _at_end(log) -> bool:
    bar = log.verticalScrollBar()
    return bar.maximum() > 0 and bar.value() == bar.maximum()


def test_the_run_log_follows_new_lines_after_the_drift_tab_was_in_front(qtbot):
    from kiln_lab.engine.events import DriftMeasured
    from kiln_lab.gui.panels.train_plots import TrainPlots

    plots = TrainPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    log = plots.log
    for i in range(60):
        log.add(f"epoch {i}")
    qtbot.waitUntil(lambda: _at_end(log))
    plots.drift_view.add(DriftMeasured(0, 0.9, 0.9, 0.9))
    plots.show_drift()  # the drift tab comes to the front; lines keep arriving behind it
    for i in range(40):
        log.add(f"later epoch {i}")
    plots.tabs.setCurrentWidget(log)
    qtbot.wait(20)
    assert _at_end(log)  # the newest line is in view
    log.add("Fine-tuning wins on all the training data.", "success")  # the comparison's verdict
    qtbot.wait(20)
    assert _at_end(log)
    # A person who scrolled up to read is left there; back at the end, the log follows again.
    log.verticalScrollBar().setValue(5)
    log.add("one more line")
    qtbot.wait(20)
    assert log.verticalScrollBar().value() == 5
    log.verticalScrollBar().setValue(log.verticalScrollBar().maximum())
    log.add("and another")
    qtbot.wait(20)
    assert _at_end(log)


def test_the_comparison_results_fit_the_window_at_its_minimum_size(qtbot):
    import numpy as np
    from PySide6.QtWidgets import QWidget

    from kiln_lab.engine.analysis.comparison import Comparison, ComparisonRow
    from kiln_lab.engine.api import comparison_record
    from kiln_lab.gui.widgets.compare_view import CompareDialog

    rng = np.random.default_rng(0)
    scores = {f"{a}@1": [rng.integers(0, 2, 200).astype(float).tolist() for _ in range(2)]
              for a in ("scratch", "finetune")}
    rows = [
        ComparisonRow(approach=a, data_fraction=1.0, repeat=k, seed=k, train_samples=100, score_name="accuracy",
                      score=0.5, seconds=1.0, steps=10, samples_seen=100, stopped_by="step_cap", epochs_run=1,
                      params=10, trainable_params=10, still_improving=True)
        for k in (1, 2) for a in ("scratch", "finetune")
    ]
    stopped = [{"number": 5, "label": "from scratch on 100%, repeat 3", "approach": "scratch", "data_fraction": 1.0,
                "repeat": 3, "state": "stopped", "run_dir": None}]
    record = comparison_record(Comparison(rows=rows, eval_samples=200, sample_scores=scores, repeats=3,
                                          budget={"max_steps": 20}, stopped=stopped))
    window = QWidget()
    qtbot.addWidget(window)
    window.resize(1100, 680)
    window.show()
    dialog = CompareDialog(window)
    dialog.view.set_comparison(record)
    dialog.show()
    qtbot.waitUntil(dialog.isVisible)
    qtbot.wait(50)
    inside = window.geometry()
    assert dialog.width() <= inside.width() and dialog.height() <= inside.height()
    verdict = dialog.view.verdict
    assert verdict.height() >= verdict.heightForWidth(verdict.width())  # every line of the verdict shows
    assert "You stopped 1 run" in verdict.text()


def _contrast(a, b) -> float:
    def luminance(color) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("dark", [False, True])
def test_phase_labels_sit_inside_the_view_clear_of_the_curves_and_readable(qtbot, dark):
    import numpy as np
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication

    from kiln_lab.gui import theme
    from kiln_lab.gui.panels.train_plots import TrainPlots

    theme.apply_theme(QApplication.instance(), "light")
    plots = TrainPlots()
    qtbot.addWidget(plots)
    plots.resize(1000, 640)
    plots.show()
    plots.begin_run(0, 12, "classification")
    plots.add_phase(0, 4, "head")
    plots.add_phase(4, 12, "fine-tune")
    for epoch in range(1, 13):  # a loss falling from the top left, an accuracy rising to the top right
        plots.loss_plot.append("train", epoch, 2.3 * np.exp(-0.3 * epoch) + 0.1)
        plots.loss_plot.append("val", epoch, 2.2 * np.exp(-0.25 * epoch) + 0.2)
        plots.metric_plot.append("train", epoch, 1 - 0.9 * np.exp(-0.4 * epoch))
        plots.metric_plot.append("val", epoch, 1 - 0.9 * np.exp(-0.35 * epoch))
        plots.lr_plot.append("lr", epoch, 1e-3 if epoch <= 4 else 1e-4)
    for plot in plots.plots:
        plot.refresh()
    plots.end_run()
    theme.apply_theme(QApplication.instance(), "dark" if dark else "light")  # labels made in light, then switched
    try:
        qtbot.wait(50)
        for plot in plots.plots:
            labels = plot.phase_labels()
            assert [label.toPlainText() for label in labels] == ["head", "fine-tune"]
            vb = plot.getPlotItem().vb
            view = vb.sceneBoundingRect()
            background = QColor(theme.plot_colors().background)
            for label in labels:
                box = label.sceneBoundingRect()
                assert view.contains(box), f"{label.toPlainText()} in {plot._title} is cut by the view's edge"
                for key in plot.curve_keys():
                    x, y = plot.points(key)
                    if x.size < 2:
                        continue
                    xs = np.linspace(x[0], x[-1], 400)  # the drawn lines, not only the epoch dots
                    for px, py in zip(xs, np.interp(xs, x, y)):
                        point = vb.mapViewToScene(QPointF(px, np.log10(py) if plot._log_y else py))
                        assert not box.contains(point), f"{label.toPlainText()} covers {key} in {plot._title}"
                assert _contrast(label.color, background) >= 4.5
    finally:
        theme.apply_theme(QApplication.instance(), "light")


def test_phase_labels_of_narrow_phases_do_not_cover_each_other(qtbot):
    from kiln_lab.gui.panels.train_plots import TrainPlots

    plots = TrainPlots()
    qtbot.addWidget(plots)
    plots.resize(560, 420)  # a compared run's plots at the minimum window size: two one-epoch phases
    plots.show()
    plots.begin_run(0, 2, "classification")
    plots.add_phase(0, 1, "head")
    plots.add_phase(1, 2, "fine-tune")
    for plot in plots.plots:
        plot.append(plot.curve_keys()[-1], 1.0, 0.5)
        plot.append(plot.curve_keys()[-1], 2.0, 0.4)
        plot.refresh()
    plots.end_run()  # the view fits the points (epochs 1 and 2): the head phase's band starts left of it
    qtbot.wait(50)
    for plot in plots.plots:
        head, tune = (label.sceneBoundingRect() for label in plot.phase_labels())
        assert not head.intersects(tune), f"the phase names overlap in {plot._title}"
        view = plot.getPlotItem().vb.sceneBoundingRect()
        assert view.contains(head) and view.contains(tune)
