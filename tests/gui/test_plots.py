"""Live plots that read and cost little: empty states, one repaint per tick, fixed axes while live,
phase bands, a hover read-out that leaves with the mouse, and a learning-rate axis that fits its data."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF


def _plot(qtbot, **kwargs):
    from kiln_lab.gui.plots import LivePlot

    plot = LivePlot("Loss", y_label="loss", **kwargs)
    qtbot.addWidget(plot)
    plot.resize(480, 300)
    plot.show()
    return plot


def test_empty_plot_says_what_will_appear_until_data_comes(qtbot):
    plot = _plot(qtbot, empty_text="The loss appears here once training starts.")
    plot.add_curve("train", "train", color=0, markers=True)
    assert plot.empty_text_visible and not plot.getPlotItem().getAxis("left").isVisible()
    plot.append("train", 1.0, 0.5)
    plot.refresh()
    assert not plot.empty_text_visible and plot.getPlotItem().getAxis("left").isVisible()


def test_refresher_repaints_at_most_one_plot_per_tick(qtbot):
    from kiln_lab.gui.plots import PlotRefresher

    plots = [_plot(qtbot) for _ in range(3)]
    for plot in plots:
        plot.add_curve("train", "train", color=0)
        plot.append("train", 1.0, 0.5)
    refresher = PlotRefresher(plots)
    refreshed = [refresher.tick() for _ in range(3)]
    assert refreshed == plots  # round robin, one each
    assert refresher.tick() is None  # nothing left to draw
    plots[0].append("train", 2.0, 0.4)
    assert refresher.tick() is None  # the same plot again within the repaint interval waits
    plots[1].hide()
    plots[1].append("train", 2.0, 0.4)
    assert plots[1].dirty  # a hidden plot keeps its points for later


def test_live_axes_change_only_when_a_point_falls_outside(qtbot):
    plot = _plot(qtbot)
    plot.add_curve("train", "train", color=0)
    plot.begin_run(0.0, 10.0)
    plot.append("train", 1.0, 1.0)
    plot.append("train", 2.0, 0.5)
    plot.refresh()
    first = plot.getPlotItem().vb.viewRange()
    assert first[0][0] <= 0.0 and first[0][1] >= 10.0  # the whole run's epochs from the start
    plot.append("train", 3.0, 0.7)  # inside: the axes (and their ticks) stay
    plot.refresh()
    assert plot.getPlotItem().vb.viewRange() == first
    plot.append("train", 4.0, 3.0)  # outside: the range grows to hold it
    plot.refresh()
    assert plot.getPlotItem().vb.viewRange()[1][1] >= 3.0
    assert plot.getPlotItem().getAxis("left").style["maxTickLevel"] == 0  # no minor grid while live
    plot.end_run()
    assert plot.getPlotItem().getAxis("left").style["maxTickLevel"] == 1


def test_learning_rate_axis_turns_logarithmic_only_across_decades(qtbot):
    plot = _plot(qtbot)
    plot.add_curve("lr", "learning rate", color=3)
    plot.set_auto_log_y(True)
    plot.begin_run(0.0, 4.0)
    plot.append("lr", 1.0, 1e-3)
    plot.append("lr", 2.0, 1e-3)
    plot.refresh()
    low, high = plot.getPlotItem().vb.viewRange()[1]
    assert not plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert low < 1e-3 * 0.7 and high > 1e-3 * 1.3  # a constant rate sits mid-axis, not as +-2 % noise
    plot.append("lr", 3.0, 1e-5)  # a second fine-tuning phase at a hundredth of the rate
    plot.refresh()
    assert plot.getPlotItem().ctrl.logYCheck.isChecked()


def test_phase_bands_and_hover_that_leaves_with_the_mouse(qtbot):
    plot = _plot(qtbot)
    plot.add_curve("train", "train", color=0)
    for epoch, loss in ((1, 0.9), (2, 0.5), (3, 0.3)):
        plot.append("train", epoch, loss)
    plot.refresh()
    plot.add_phase(0.0, 2.0, "head")
    plot.add_phase(2.0, 3.0, "fine-tune")
    assert len(plot._phases) == 2
    plot.getPlotItem().vb.autoRange()
    qtbot.wait(20)
    plot._on_mouse_moved(plot.getPlotItem().vb.mapViewToScene(QPointF(2.1, 0.6)))
    assert plot._hover_text.isVisible() and "train: 0.5 @ 2" in plot._hover_text.textItem.toPlainText()
    plot.leaveEvent(QEvent(QEvent.Type.Leave))
    assert not plot._hover_text.isVisible() and not plot._hover_line.isVisible()
    plot.clear_phases()
    assert not plot._phases and math.isfinite(plot.points("train")[1][-1])


def test_legend_sits_above_the_data_area(qtbot):
    plot = _plot(qtbot)
    plot.add_curve("train", "train", color=0)
    plot.add_curve("val", "validation", color=1)
    plot.append("train", 1.0, 0.5)
    plot.refresh()
    qtbot.wait(20)
    legend = plot.legend.sceneBoundingRect()
    data = plot.getPlotItem().vb.sceneBoundingRect()
    assert legend.bottom() <= data.top() + 1


def test_a_run_whose_axes_are_already_set_repaints_nothing_when_it_starts(qtbot):
    """The page sets the axes before the training thread starts; the run's first event then
    arrives while TensorFlow traces (every UI-thread step slow) and must change nothing."""
    plot = _plot(qtbot)
    plot.add_curve("train", "train", color=0)
    plot.begin_run(0.0, 12.0)
    plot.grab()  # paint once: each axis caches its drawing until its range, style or label changes
    axes = [plot.getPlotItem().getAxis(name) for name in ("left", "bottom")]
    assert all(axis.picture is not None for axis in axes)
    plot.begin_run(0.0, 12.0)  # the run's own RunStarted: the same epochs
    plot.set_title("Loss", "loss")  # the same title
    assert all(axis.picture is not None for axis in axes)  # nothing to redraw
    plot.begin_run(3.0, 12.0)  # a resumed run starts later: that does change the axis
    assert axes[1].picture is None


def test_garbage_collector_defers_full_sweeps_while_a_run_is_live(qtbot, monkeypatch):
    import gc

    from kiln_lab.gui import main_thread_gc

    collector = main_thread_gc.GuiThreadCollector(interval_ms=60_000)
    collector.timer.stop()  # driven by hand below
    try:
        assert not gc.isenabled()  # collections only from the GUI thread's timer
        collector.threshold = (-1, -1, -1)  # every generation due
        collector.defer_full_collections(True)
        assert collector.check() == 1  # young generations only while a run is live
        collector.defer_full_collections(True)  # a second live run (nested)
        collector.defer_full_collections(False)
        assert collector.check() == 1  # one run still live
        monkeypatch.setattr(main_thread_gc, "MAX_FULL_DEFERRAL_S", -1.0)
        assert collector.check() == 2  # overdue: a very long run still gets its sweep
        monkeypatch.setattr(main_thread_gc, "MAX_FULL_DEFERRAL_S", 600.0)
        collector.defer_full_collections(False)
        assert collector.check() == 2  # no run live: the full sweep goes ahead
        collector.threshold = (10**9, 10**9, 10**9)
        assert collector.check() is None  # nothing due
    finally:
        collector.deleteLater()


def test_a_plots_context_menus_go_when_the_plot_goes(qtbot):
    """pyqtgraph's parentless context menus outlived every closed plot (cycles through Qt), about a
    hundred widgets a window, each restyled by every theme change; they are deleted with the plot."""
    import shiboken6
    from PySide6.QtWidgets import QApplication, QDialog, QVBoxLayout

    from kiln_lab.gui.plots import LivePlot
    from kiln_lab.gui.widgets.confusion_matrix import ConfusionMatrixPlot

    dialog = QDialog()
    layout = QVBoxLayout(dialog)
    plots = [LivePlot("loss", y_label="loss"), ConfusionMatrixPlot()]
    for plot in plots:
        layout.addWidget(plot)
    menus = [m for p in plots for m in (p.getPlotItem().ctrlMenu, p.getPlotItem().getViewBox().menu) if m is not None]
    assert len(menus) == 3  # the confusion matrix turns its view's menu off (and drops it)
    assert all(shiboken6.isValid(m) for m in menus)
    dialog.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the dialog, then the menus
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not any(shiboken6.isValid(m) for m in menus)
