"""The forgetting monitor: linear CKA's invariances, and drift/retention on real fine-tuning runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from kiln_lab.engine.monitors import forgetting_callback
from kiln_lab.engine.monitors.forgetting import CKA_WARNING, LinearProbe, linear_cka


def _features(n: int = 80, d: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def test_cka_of_a_representation_with_itself_is_one():
    x = _features()
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_orthogonal_rotation_and_isotropic_scaling():
    x = _features()
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(24, 24)))
    assert linear_cka(x, x @ q) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, 7.5 * x) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, 0.01 * (x @ q) + 3.0) == pytest.approx(1.0, abs=1e-9)  # and a shift (centred away)


def test_cka_of_unrelated_representations_is_low_and_not_invariant_to_any_linear_map():
    x, y = _features(seed=0), _features(seed=2)
    assert linear_cka(x, y) < 0.5
    stretch = np.diag(np.r_[np.full(12, 10.0), np.full(12, 0.1)])  # anisotropic: not a similarity
    assert linear_cka(x, x @ stretch) < 0.9


def test_the_probe_reads_what_the_features_say():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    features = np.eye(3)[labels] * 4 + rng.normal(size=(300, 3)) * 0.3
    probe = LinearProbe.fit(features, labels)
    assert probe.accuracy(features, labels) > 0.95
    assert probe.accuracy(rng.normal(size=(300, 3)), labels) < 0.6  # scrambled features: near chance


@pytest.fixture(scope="module")
def other_digits(tmp_path_factory) -> str:
    """Digits 5-9 only (the demo backbone was pretrained on 0-4): training on them overwrites the backbone."""
    with np.load(Path(__file__).resolve().parents[1] / "resources" / "demo" / "digits.npz") as data:
        x, y = data["x"], data["y"]
    keep = np.flatnonzero(y >= 5)[:300]
    path = tmp_path_factory.mktemp("digits") / "digits_5_9.npz"
    np.savez(path, x=x[keep], y=y[keep])
    return str(path)


def _finetune(source: str, out_dir: Path | None, **model):
    from kiln_lab.engine.events import DriftMeasured, EventRecorder, RunWarning
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    config = RunConfig().replace(
        data={"source": source},
        model={"kind": "finetune", "backbone": "demo", "head_dropout": 0.0, **model},
        train={"epochs": 2, "batch_size": 32, "learning_rate": 0.02, "checkpoint": False},
    )
    events = EventRecorder()
    result = run_training(config, sink=events, out_dir=out_dir)
    return result, events.of_type(DriftMeasured), [w for w in events.of_type(RunWarning) if w.kind == "forgetting"]


@pytest.fixture(scope="module")
def hard_run(other_digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("hard")
    with pytest.MonkeyPatch.context() as patch:  # these tests read every epoch's drift: no time budget
        patch.setattr(forgetting_callback, "MONITOR_SHARE", None)
        return (out, *_finetune(other_digits, out, freeze="none"))


@pytest.mark.slow
def test_training_the_backbone_hard_on_other_classes_drifts_forgets_and_warns(hard_run):
    out, result, drift, warnings = hard_run
    baseline, *epochs = drift
    assert baseline.epoch == -1 and baseline.cka == 1.0
    assert baseline.source_accuracy is not None and baseline.source_accuracy > 0.9  # the pretrained probe works
    assert [e.epoch for e in epochs] == [0, 1]
    assert epochs[-1].cka < CKA_WARNING
    assert epochs[-1].source_accuracy < baseline.source_accuracy - 0.2  # the source task is forgotten
    assert len(warnings) == 1
    assert "backbone learning-rate multiplier" in warnings[0].message and "L2-SP" in warnings[0].message
    # the numbers and the per-epoch weights for roll-back are in the run folder
    record = json.loads((out / "run.json").read_text())
    assert record["forgetting"]["cka"] == pytest.approx([e.cka for e in epochs], abs=1e-3)
    # counted as the warning counts ("after epoch N"), in run.json and in the model card
    said = int(re.search(r"after epoch (\d+)", warnings[0].message).group(1))
    assert record["forgetting"]["warned_at_epoch"] == said
    assert f"warned about forgetting after epoch {said}." in (out / "model_card.md").read_text()
    for relative in record["forgetting"]["roll_back_weights"]:
        assert (out / relative).is_file()


@pytest.mark.slow
def test_a_frozen_backbone_stays_at_cka_one_and_does_not_warn(other_digits, monkeypatch):
    monkeypatch.setattr(forgetting_callback, "MONITOR_SHARE", None)
    result, drift, warnings = _finetune(other_digits, None, freeze="all")
    assert [e.cka for e in drift] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    assert drift[-1].source_accuracy == drift[0].source_accuracy
    assert warnings == []


@pytest.mark.slow
def test_roll_back_restores_an_earlier_epochs_backbone(hard_run):
    from kiln_lab.engine.export import load_model
    from kiln_lab.engine.monitors.forgetting_callback import roll_back

    out, result, drift, _ = hard_run
    model = load_model(out / "model.keras")
    before = [w.copy() for w in model.get_weights()]
    roll_back(model, out, 1)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


def test_a_user_named_source_task_is_read_and_an_empty_one_refused():
    from kiln_lab.engine.errors import ConfigError
    from kiln_lab.engine.models.recipe import ModelRecipe
    from kiln_lab.engine.monitors.forgetting import source_task_for

    task = source_task_for({"source": "keras_file"}, "demo:digits", (8, 8), 3)
    assert task is not None and task.name == "demo:digits"
    assert set(np.unique(task.y_fit)) == set(range(10))
    assert task.x_fit.shape[1:] == (8, 8, 3)  # grey repeated into the model's three channels
    assert source_task_for({"source": "keras_file"}, None, (8, 8), 1) is None  # unknown backbone: no probe
    with pytest.raises(ConfigError):
        ModelRecipe(kind="finetune", backbone="demo", source_task="  ").validate()


def test_roll_back_suggests_the_last_kept_epoch_within_both_thresholds(tmp_path):
    from kiln_lab.engine.monitors.forgetting_callback import EPOCH_WEIGHTS_DIR, kept_epochs, suggested_roll_back

    assert kept_epochs(tmp_path) == []  # a run that kept nothing
    folder = tmp_path / EPOCH_WEIGHTS_DIR
    folder.mkdir(parents=True)
    for name in ("epoch_001.weights.h5", "epoch_002.weights.h5", "epoch_010.weights.h5", ".epoch_003.tmp.weights.h5"):
        (folder / name).write_bytes(b"")
    assert kept_epochs(tmp_path) == [1, 2, 10]  # a half-written temporary file is not an epoch
    record = {"cka": [0.99, 0.95, 0.94], "source_accuracy": [0.97, 0.80, 0.96], "source_baseline": 0.98}
    assert suggested_roll_back(record, [1, 2, 3]) == 3  # epoch 2 lost 18 points of the source task
    record["cka"][2] = 0.85
    assert suggested_roll_back(record, [1, 2, 3]) == 1  # epoch 3 drifted below the CKA line
    assert suggested_roll_back({"cka": [0.5, 0.4]}, [1, 2]) is None  # no epoch qualifies


def test_a_multi_worker_fine_tune_says_it_runs_without_the_monitor():
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import unmonitored_note

    finetune = RunConfig().replace(model={"kind": "finetune", "backbone": "demo"})
    assert unmonitored_note(finetune) is None
    assert unmonitored_note(finetune.replace(train={"distribution": "mirrored"})) is None
    note = unmonitored_note(finetune.replace(train={"distribution": "multiworker"}))
    assert "forgetting monitor" in note and "one machine" in note
    assert unmonitored_note(RunConfig().replace(train={"distribution": "multiworker"})) is None  # from scratch
    off = finetune.replace(train={"distribution": "multiworker", "forgetting_monitor": False})
    assert unmonitored_note(off) is None


@pytest.mark.slow  # a tiny fine-tune of 12 short epochs
def test_the_monitor_measures_within_its_time_budget_and_always_the_last_epoch(other_digits, tmp_path):
    """Issue 20.9: measuring every epoch made fine-tuning on tiny data ~6x slower."""
    from kiln_lab.engine.events import DriftMeasured, EventRecorder
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    config = RunConfig().replace(
        data={"source": other_digits},
        model={"kind": "finetune", "backbone": "demo", "freeze": "none"},
        train={"epochs": 12, "batch_size": 64, "checkpoint": False},
    )
    events = EventRecorder()
    result = run_training(config, sink=events, out_dir=tmp_path / "run")
    record = result.record["forgetting"]
    measured = record["measured_epochs"]
    epochs_run = result.record["timing"]["epochs_run"]
    assert epochs_run == 12 and measured[-1] == 12  # the run's final backbone is always measured
    assert len(measured) < epochs_run  # not every epoch: one measurement costs more than a short epoch
    assert [e.epoch + 1 for e in events.of_type(DriftMeasured) if e.epoch >= 0] == measured
    assert len(record["cka"]) == len(record["roll_back_weights"]) == len(measured)
    one = record["monitor_seconds"] / (len(measured) + 1)  # the baseline costs about one measurement
    assert record["monitor_seconds"] <= forgetting_callback.MONITOR_SHARE * record["training_seconds"] + 3 * one
    assert "epoch 12 " in (tmp_path / "run" / "model_card.md").read_text()
