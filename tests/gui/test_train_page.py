"""The Train page's panels: the form keeps what its controls cannot show; the drift tab leaves the plots' width."""

from __future__ import annotations

import pytest

from kiln_lab.engine.events import DriftMeasured


def test_train_form_keeps_a_learning_rate_finer_than_its_spin_box(qtbot):
    from kiln_lab.gui.pages.train_page import TrainPage
    from kiln_lab.gui.session import Session

    session = Session()
    lr = 1.234567891e-4  # the spin box holds 8 decimals: it shows 0.00012346
    session.update(train={"learning_rate": lr})
    page = TrainPage(session)
    qtbot.addWidget(page)
    page.show_config(session.config)
    assert page.lr_spin.value() != lr  # the control cannot show it exactly
    page.epochs_spin.setValue(session.config.train.epochs + 3)  # a person edits another control
    assert session.config.train.learning_rate == lr  # kept, not replaced by what the spin box shows
    page.lr_spin.setValue(0.01)  # an edit of the control itself does replace it
    assert session.config.train.learning_rate == pytest.approx(0.01)


def test_drift_view_is_a_tab_beside_the_log_and_the_loss_plot_keeps_its_width(qtbot):
    from kiln_lab.gui.pages.train_page import TrainPage
    from kiln_lab.gui.session import Session

    session = Session()
    page = TrainPage(session)
    qtbot.addWidget(page)
    page.resize(1280, 760)
    page.show()
    qtbot.waitExposed(page)
    width = page.plots.loss_plot.width()
    tabs = page.plots.tabs

    def names() -> list[str]:
        return [tabs.tabText(i) for i in range(tabs.count())]

    assert names() == ["Run log", "Live preview"]  # no drift tab before any drift is measured
    page.on_event(DriftMeasured(-1, 1.0, None, None))
    page.on_event(DriftMeasured(0, 0.8, None, None))
    qtbot.wait(50)
    assert names()[-1] == "Backbone drift" and page.plots.drift_view.isVisible()
    assert page.plots.loss_plot.width() == width
    page.plots.reset_drift()  # what a new run does: the tab goes until drift is measured again
    assert names() == ["Run log", "Live preview"]
