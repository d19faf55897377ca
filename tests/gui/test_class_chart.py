"""The Data page's class chart keeps its names readable at the window's sizes (issue 18.11)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from kiln_lab.gui.widgets.bar_chart import ClassCountsChart, short_names
from tests.gui.test_layout import axis_label_problems

LONG = [f"Long class name number {i:02d} of many" for i in range(40)]
DIGITS = [str(i) for i in range(10)]
WORDS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _chart(qtbot, names, width):
    chart = ClassCountsChart()
    qtbot.addWidget(chart)
    chart.resize(width, 260)
    chart.show()
    counts = {split: {name: n for name in names} for split, n in (("train", 13), ("val", 4), ("test", 3))}
    chart.set_counts(names, counts)
    for _ in range(5):
        QApplication.processEvents()
    return chart


# 330 px: the chart's width in the Data page's left column at 1100x680; 420 px: at 1280x800.
@pytest.mark.parametrize("names", [DIGITS, WORDS, LONG], ids=["10 digits", "10 words", "40 long names"])
@pytest.mark.parametrize("width", [330, 420])
def test_class_names_do_not_overlap_and_are_drawn(qtbot, names, width):
    chart = _chart(qtbot, names, width)
    assert axis_label_problems(chart.axis) == []
    drawn = chart.axis.label_specs()
    assert len(drawn) >= len(names) // 2  # at least every second bar is named
    assert all(min(rect.height(), rect.width()) >= 5 for rect, *_ in drawn)  # not squeezed to nothing
    if len(names) == 40:  # upright, shortened to the part that differs
        assert all(upright for *_, upright in drawn)
        assert {text for _, text, *_ in drawn} <= {f"…{i:02d}…" for i in range(40)}
    else:
        assert [text for _, text, *_ in drawn] == names  # ten names: every one, whole


def test_every_bar_tells_its_whole_name_and_counts(qtbot):
    chart = _chart(qtbot, LONG, 300)
    assert chart.bar_text(7) == "Long class name number 07 of many: train 13, validation 4, test 3"
    assert chart.bar_text(40) == ""


def test_the_check_finds_names_drawn_on_top_of_each_other(qtbot):
    """What the chart did before: one label per bar, cut to 12 letters, on pyqtgraph's own axis."""
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.resize(300, 260)
    plot.show()
    plot.getPlotItem().addItem(pg.BarGraphItem(x=np.arange(40), height=np.ones(40), width=0.7))
    plot.getPlotItem().getAxis("bottom").setTicks([[(float(i), name[:12]) for i, name in enumerate(LONG)]])
    plot.getPlotItem().setXRange(-0.6, 39.6, padding=0)
    QApplication.processEvents()
    assert any("overlap" in p for p in axis_label_problems(plot.getPlotItem().getAxis("bottom")))


def test_histogram_bins_read_as_numbers(qtbot):
    chart = ClassCountsChart()
    qtbot.addWidget(chart)
    chart.resize(300, 260)
    chart.show()
    values = np.linspace(1000, 5000, 300)
    chart.set_histogram(values, {"train": values[:200], "val": values[200:]})
    QApplication.processEvents()
    assert axis_label_problems(chart.axis) == []
    texts = [text for _, text, *_ in chart.axis.label_specs()]
    assert texts and all(text.isdigit() for text in texts)  # 2036, not 2.04e+03


def test_short_names_drop_what_all_names_share():
    assert short_names(LONG[:2]) == ["…00…", "…01…"]
    assert short_names(["cat", "dog"]) == ["cat", "dog"]
