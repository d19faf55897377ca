"""GUI for the risk watchers: the layer heatmap and showdown on the Model page, the drift plot and
forgetting warning on the Train page, the licence warning on the Export page. Offscreen, real widgets."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine.events import DriftMeasured, RunWarning


@pytest.fixture
def digits_session(qtbot):
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.data.config import DataConfig
    from kiln_lab.gui.session import Session

    session = Session()
    session.update(model={"kind": "scratch", "arch": "mlp", "depth": 6, "width": 16,
                          "kernel_initializer": "random_normal", "init_scale": 0.01})
    session.set_dataset(load_dataset(DataConfig(source="demo:digits")))
    return session


@pytest.mark.slow
def test_diagnose_paints_the_layer_heatmap_and_says_the_gradients_vanish(qtbot, digits_session, tmp_path):
    from kiln_lab.gui.widgets.init_diagnostics_card import DIAGNOSE_STEPS, InitDiagnosticsCard

    card = InitDiagnosticsCard(digits_session)
    qtbot.addWidget(card)
    card.resize(900, 420)
    card.show()
    worker = card.diagnose()
    assert worker is not None
    qtbot.waitUntil(lambda: card.diagnosis is not None, timeout=120_000)
    heatmap = card.heatmap
    assert heatmap.values.shape == (7, DIAGNOSE_STEPS)  # 6 hidden layers + the head, one column per step
    assert heatmap.names[0] == "dense_0"
    assert np.all(heatmap.values[:, 0] < -6)  # log10 of vanishing gradients at initialisation
    assert "vanishing" in card.sentence.text()
    ticks = heatmap.plot.getPlotItem().getAxis("left")._tickLevels[0]
    assert any("(vanishing)" in label for _, label in ticks)
    qtbot.waitUntil(card.diagnose_button.isEnabled, timeout=60_000)  # enabled again once the task ends
    card.grab().save(str(tmp_path / "heatmap.png"))


@pytest.mark.slow
def test_a_stale_diagnosis_for_an_earlier_recipe_is_dropped(qtbot, digits_session):
    from kiln_lab.gui.widgets.init_diagnostics_card import InitDiagnosticsCard

    card = InitDiagnosticsCard(digits_session)
    qtbot.addWidget(card)
    card.diagnose()
    digits_session.update(model={"kernel_initializer": "he_normal"})  # changed while it runs
    qtbot.waitUntil(lambda: not card.slot.running, timeout=120_000)
    assert card.diagnosis is None
    assert card.slot.dropped == 1


def test_showdown_plot_overlays_one_curve_per_initializer(qtbot):
    from kiln_lab.engine.analysis.showdown import Showdown, ShowdownRow
    from kiln_lab.gui.widgets.showdown_plot import ShowdownPlot

    plot = ShowdownPlot()
    qtbot.addWidget(plot)
    rows = [
        ShowdownRow("He normal", "he_normal", 0.05, {"loss": [2.0, 1.0], "val_loss": [1.5, 0.8]}, 1.0, 0.8, 0.8, 1.0,
                    "completed"),
        ShowdownRow("random normal, std 1.0", "random_normal", 1.0, {"loss": [900.0, float("nan")]},
                    float("nan"), None, None, 1.0, "nan"),
    ]
    plot.show_result(Showdown(rows, epochs=2))
    assert list(plot.curves) == ["He normal", "random normal, std 1.0"]
    assert plot.points["He normal"] == [1.5, 0.8]
    assert list(plot.curves["He normal"].yData) == [1.5, 0.8]
    assert len(plot.points["random normal, std 1.0"]) == 1  # the NaN epoch ends that curve
    assert "He normal has the lowest validation loss" in plot.table.text()
    assert "Stalled or blew up: random normal, std 1.0" in plot.table.text()


def test_drift_view_plots_epochs_and_shows_the_forgetting_warning(qtbot, tmp_path):
    from kiln_lab.gui.widgets.drift_view import DriftView

    view = DriftView()
    qtbot.addWidget(view)
    view.resize(360, 300)
    view.reset()
    assert view.isHidden()
    view.add(DriftMeasured(-1, 1.0, 0.98, 0.98))
    view.add(DriftMeasured(0, 0.85, 0.45, 0.98, "checkpoint/epochs/epoch_001.weights.h5"))
    x, y = view.cka_curve.getData()
    assert list(x) == [0.0, 1.0] and list(y) == [1.0, 0.85]
    assert list(view.source_curve.getData()[1]) == [0.98, 0.45]
    assert "CKA 0.850" in view.figures.text()
    view.show_warning("Forgetting after epoch 1: ... lower the backbone learning-rate multiplier")
    assert view.warning.isVisibleTo(view) and "Forgetting" in view.warning.text()
    view.grab().save(str(tmp_path / "drift.png"))
    view.reset()
    assert view.cka == [] and not view.warning.isVisibleTo(view)


def test_train_page_routes_drift_events_and_forgetting_warnings(qtbot):
    from kiln_lab.gui.pages.train_page import TrainPage
    from kiln_lab.gui.session import Session

    session = Session()
    session.update(model={"kind": "finetune", "backbone": "demo", "freeze": "none"})
    page = TrainPage(session)
    qtbot.addWidget(page)
    page.show()
    assert not page.plots.drift_view.isVisible()  # from-scratch runs do not show it
    page.on_event(DriftMeasured(-1, 1.0, None, None))
    page.on_event(DriftMeasured(0, 0.7, None, None))
    page.on_event(RunWarning("Forgetting after epoch 1: the backbone drifted.", kind="forgetting"))
    assert page.plots.drift_view.isVisible()
    assert page.plots.drift_view.cka[-1] == (1.0, 0.7)
    assert "Forgetting" in page.plots.drift_view.warning.text()
    # each remedy is one click away and changes the next run's config
    labels = [b.text() for b in page.plots.drift_view.remedy_buttons]
    assert labels == ["Backbone LR x0.1", "Freeze the backbone", "L2-SP 0.01"]
    page.plots.drift_view.remedy_buttons[0].click()
    assert page.session.config.model.backbone_lr_mult == pytest.approx(0.1)
    page.plots.drift_view.remedy_buttons[2].click()
    assert page.session.config.model.l2sp == pytest.approx(0.01)


def test_export_page_warns_about_a_restrictive_backbone_licence(qtbot):
    from kiln_lab.gui.pages.export_page import ExportPage
    from kiln_lab.gui.session import Session, TrainedModel

    session = Session()
    page = ExportPage(session)
    qtbot.addWidget(page)
    record = {"model": {"kind": "finetune", "backbone": {"name": "x", "licence": "CC BY-NC 4.0"}}}
    session.set_trained(TrainedModel("k1", "ft", None, None, record, "session"))
    assert page.licence_warning.isVisibleTo(page)
    assert "restricts commercial use" in page.licence_warning.text()
    permissive = {"model": {"kind": "finetune", "backbone": {"name": "demo", "licence": "Apache-2.0"}}}
    session.set_trained(TrainedModel("k2", "ft2", None, None, permissive, "session"))
    assert not page.licence_warning.isVisibleTo(page)


def test_roll_back_gives_the_trained_model_an_earlier_epochs_weights(qtbot, tmp_path):
    """After a fine-tuning run the drift view offers the kept epochs, the last one within the
    thresholds first; rolling back gives the session's model (held by the engine process, which
    Evaluate and Export use) that epoch's weights."""
    import keras

    from kiln_lab.engine import api
    from kiln_lab.engine.monitors.forgetting_callback import EPOCH_WEIGHTS_DIR
    from kiln_lab.gui.engine_link import Call
    from kiln_lab.gui.pages.train_page import TrainPage
    from kiln_lab.gui.session import Session, TrainedModel
    from kiln_lab.gui.workers import run_in_background

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    kept = tmp_path / EPOCH_WEIGHTS_DIR
    kept.mkdir(parents=True)
    per_epoch = {}
    for epoch in (1, 2, 3):
        weights = [np.full(w.shape, float(epoch), dtype="float32") for w in model.get_weights()]
        model.set_weights(weights)
        model.save_weights(kept / f"epoch_{epoch:03d}.weights.h5")
        per_epoch[epoch] = weights
    model.save(tmp_path / "model.keras")  # the run folder's model: the last epoch's weights
    forgetting = {"cka": [0.97, 0.93, 0.71], "source_accuracy": [], "source_baseline": None}

    class Result:  # what the engine's train task hands back, reduced to what the page reads
        roll_back = api._roll_back_offer({"forgetting": forgetting}, tmp_path)

    # Issue 18.6: a run whose last epoch stayed within the thresholds has nothing to roll back to.
    assert api._roll_back_offer({"forgetting": {**forgetting, "cka": [0.97, 0.95, 0.93]}}, tmp_path) is None

    session = Session()
    page = TrainPage(session)
    qtbot.addWidget(page)
    page.show()
    session.set_trained(TrainedModel("not-in-this-engine", "finetune-demo-1", str(tmp_path / "model.keras"), None,
                                     {"forgetting": forgetting}, "run"))
    page._offer_roll_back(Result())
    view = page.plots.drift_view
    assert not view.roll_back_row.isHidden()
    assert (view.roll_back_epoch.minimum(), view.roll_back_epoch.maximum()) == (1, 3)
    assert view.roll_back_epoch.value() == 2  # epoch 3 drifted below the 0.9 line

    def weights_of_session_model(name: str) -> list[np.ndarray]:
        """Export the session's model through the engine, then read the file here."""
        target = tmp_path / f"{name}.keras"
        worker = run_in_background(Call.of("export_model", model=session.trained, path=str(target)), task="saving")
        qtbot.waitUntil(lambda: not worker.running, timeout=120_000)
        return keras.models.load_model(target).get_weights()

    with qtbot.waitSignal(session.model_changed, timeout=120_000):
        view.roll_back_button.click()
    assert session.trained.name == "finetune-demo-1 (epoch 2)"
    assert session.trained.record["rolled_back_to_epoch"] == 2
    np.testing.assert_array_equal(weights_of_session_model("epoch2")[0], per_epoch[2][0])
    view.roll_back_epoch.setValue(1)  # again from the rolled-back model: "(epoch 1)", not "(epoch 2) (epoch 1)"
    with qtbot.waitSignal(session.model_changed, timeout=120_000):
        view.roll_back_button.click()
    assert session.trained.name == "finetune-demo-1 (epoch 1)"
    np.testing.assert_array_equal(weights_of_session_model("epoch1")[1], per_epoch[1][1])
