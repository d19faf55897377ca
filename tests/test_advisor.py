"""The advisor: LogME on known answers, the input-compatibility checks, and its picks on clear cases."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine.analysis.advisor import Advice, advise, required_gain
from kiln_lab.engine.analysis.advisor_probes import linear_probe
from kiln_lab.engine.analysis.logme import logme
from kiln_lab.engine.data import load_dataset
from kiln_lab.engine.data.arrays import dataset_from_arrays
from tests.synthetic_images import hue_only_blobs


def test_logme_ranks_features_by_how_much_of_the_label_they_hold() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 600)
    onehot = np.eye(4)[y]
    clean = np.hstack([onehot + 0.1 * rng.normal(size=onehot.shape), rng.normal(size=(600, 12))])
    noisy = np.hstack([onehot + 1.0 * rng.normal(size=onehot.shape), rng.normal(size=(600, 12))])
    noise = rng.normal(size=(600, 16))
    scores = [logme(f, y) for f in (clean, noisy, noise)]
    assert scores[0] > scores[1] > scores[2]


def test_logme_for_regression_prefers_the_feature_that_holds_the_target() -> None:
    rng = np.random.default_rng(1)
    target = rng.normal(size=400)
    holds = np.c_[target + 0.05 * rng.normal(size=400), rng.normal(size=(400, 5))]
    lacks = rng.normal(size=(400, 6))
    assert logme(holds, target, regression=True) > logme(lacks, target, regression=True)


def test_linear_probe_scores_per_sample() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    x = np.eye(3)[y] * 3 + rng.normal(size=(300, 3))
    result = linear_probe("x", x[:200], y[:200], x[200:], y[200:], classes=3)
    assert result.per_sample.shape == (100,) and set(np.unique(result.per_sample)) <= {0.0, 1.0}
    assert result.score == pytest.approx(result.per_sample.mean()) and result.score > 0.85


def hue_only(count: int = 240, size: int = 16, seed: int = 0):
    """Blobs whose class is their hue; every colour has the background's luminance."""
    x, labels = hue_only_blobs(count, size, seed, radius=(3, 6), noise=3)
    split = {"val_split": 0.25, "test_split": 0.0, "seed": 1}
    return dataset_from_arrays(x, labels, source="hue", source_kind="arrays", **split)


@pytest.mark.slow
def test_the_colour_check_fires_on_hue_only_classes_through_a_grayscale_backbone() -> None:
    advice = advise(hue_only(), ["demo"])  # the demo backbone takes one channel
    report = advice.ranking[0]
    assert report.input_loss is not None and report.input_loss["low"] > 0.2  # grayscale loses the classes
    assert any("cannot see" in note for note in report.notes)
    assert advice.pick == "from scratch" and advice.side == "scratch"
    assert any("cannot see" in reason for reason in advice.reasons)


@pytest.mark.slow
def test_the_colour_check_stays_quiet_on_grayscale_data() -> None:
    advice = advise(load_dataset("demo:digits"), ["demo"])
    report = advice.ranking[0]
    assert report.applicable and report.input_loss is None  # nothing for the backbone to drop
    assert not any("cannot see" in note for note in report.notes)
    assert report.probe is not None and report.logme is not None
    assert advice.reasons and any(f"{report.probe:.3f}" in reason for reason in advice.reasons)


def test_no_image_backbone_applies_to_a_table() -> None:
    advice = advise(load_dataset("demo:housing"), ["demo"])
    assert advice.pick == "from scratch" and advice.side == "scratch"
    assert not advice.ranking[0].applicable
    assert "No backbone applies" in advice.reasons[0] and "table" in advice.reasons[0]
    assert advice.score_name == "MAE"


def test_the_bar_for_fine_tuning_rises_with_the_samples_per_class() -> None:
    assert required_gain(10) < required_gain(100) < required_gain(1000)
    unsure = Advice("unsure", 0.5, "fine-tuning", "demo", [], [], "classification", "accuracy", 0.9, 50.0)
    assert unsure.side is None and "unsure" in unsure.summary() and "leaning to fine-tuning" in unsure.summary()


def test_the_advice_on_a_table_says_its_sample_count_once() -> None:
    """Issue 20.7: "480 training samples training samples"."""
    advice = advise(load_dataset("demo:housing"), ["demo"])
    assert not any("training samples training samples" in reason for reason in advice.reasons)
    assert any(reason.startswith("A linear baseline (ridge regression") for reason in advice.reasons)  # 20.10
    assert any(reason.startswith(f"{advice.samples_per_class:.0f} training samples") for reason in advice.reasons)


@pytest.mark.slow  # probes the demo backbone on 50 images
def test_a_zero_width_interval_on_ten_validation_samples_is_stated_honestly() -> None:
    """Issue 20.7: "+0.000 to +0.000" on 10 validation samples read as certainty."""
    with np.load("resources/demo/digits.npz") as data:
        x, y = data["x"], data["y"].astype(np.int64)
    keep = np.flatnonzero(y < 2)[:50]  # two easy digits: both probes get all 10 validation samples right
    dataset = dataset_from_arrays(x[keep], y[keep], source="tiny", source_kind="arrays", val_split=0.2,
                                  test_split=0.0, seed=0)
    advice = advise(dataset, ["demo"])
    text = " ".join(advice.reasons)
    assert advice.probe_samples == 10
    assert "+0.000 to +0.000" not in text
    assert "Only 10 validation samples" in text
    assert advice.confidence <= 0.6


@pytest.mark.slow  # probes the demo backbone and trains a small CNN for 150 steps
def test_oriented_gratings_are_not_called_for_fine_tuning_against_a_blind_raw_probe() -> None:
    """Issue 20.1: a linear probe on the pixels cannot separate orientations (every class has the
    same mean image), so the old advisor said "partial fine-tune (95%)" where a small CNN from
    scratch reaches 1.000. The reference must be one that can learn the task."""
    from tests.synthetic_images import oriented_gratings

    x, y = oriented_gratings(500, 32, seed=1)
    dataset = dataset_from_arrays(x, y, source="gratings", source_kind="arrays", val_split=0.25, test_split=0.0,
                                  seed=1)
    advice = advise(dataset, ["demo"])
    assert advice.raw_probe < 0.6  # the raw probe is blind to orientation
    assert advice.scratch_reference is not None and advice.scratch_reference > 0.9
    assert advice.side != "finetune"
    assert any("small CNN" in reason for reason in advice.reasons)
    if advice.pick == "unsure":
        assert "cannot be told apart" in advice.reasons[0]


def test_the_front_door_passes_the_cut_layer_to_the_advisor(monkeypatch):
    """Merge of issue 20 with the worker's front door: `api.advise` takes --cut-layer's value too."""
    import kiln_lab.engine.analysis.advisor as advisor
    from kiln_lab.engine import api
    from kiln_lab.engine.data.config import DataConfig

    seen = {}

    def fake_advise(dataset, backbones=None, **kwargs):
        seen.update(kwargs, backbones=backbones)
        raise RuntimeError("stop here")  # the pass-through is what this test checks

    monkeypatch.setattr(advisor, "advise", fake_advise)
    with pytest.raises(RuntimeError):
        api.advise(DataConfig(source="demo:digits"), ["own.keras"], extra_defaults=False, cut_layer="conv1")
    assert seen["cut_layer"] == "conv1" and seen["backbones"] == ["own.keras"]
    with pytest.raises(RuntimeError):
        api.advise(DataConfig(source="demo:digits"), ["own.keras"], extra_defaults=False)
    assert seen["cut_layer"] is None


def test_the_advice_reads_as_a_sentence() -> None:
    """Issue 18.14: "partial fine-tune with demo" read as if "demo" were a technique."""
    advice = Advice("partial fine-tune", 0.8, None, "demo", [], [], "classification", "accuracy", 0.9, 50.0)
    assert advice.summary() == "Advice: partial fine-tune of the demo backbone (confidence 80%)."
