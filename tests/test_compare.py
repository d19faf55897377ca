"""The fair head-to-head: same split, a step budget with a floor, bootstrap intervals, the verdict."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from kiln_lab.engine.analysis.bootstrap import bootstrap_mean, paired_bootstrap
from kiln_lab.engine.analysis.budget import Budget
from kiln_lab.engine.analysis.compare import (
    Comparison,
    ComparisonRow,
    compare_approaches,
    repeat_small_training,
    subsample_training,
    with_test_split,
)
from kiln_lab.engine.analysis.costs import forward_flops
from kiln_lab.engine.data import load_dataset
from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.training.config import RunConfig


def test_subsample_keeps_every_class_and_leaves_validation_alone() -> None:
    dataset = load_dataset("demo:digits")
    small = subsample_training(dataset, 0.1, seed=0)
    assert 130 <= len(small.splits["train"]) <= 150
    assert set(np.unique(small.labels[small.splits["train"]])) == set(range(10))
    assert np.array_equal(small.splits["val"], dataset.splits["val"])
    assert set(small.splits["train"]) <= set(dataset.splits["train"])


def test_a_test_split_is_made_when_the_data_has_none() -> None:
    dataset = load_dataset("demo:digits")
    assert len(dataset.splits.get("test", [])) == 0
    made, was_made = with_test_split(dataset, 0.2, 0.2, seed=1)
    assert was_made and len(made.splits["test"]) == pytest.approx(0.2 * dataset.num_samples, abs=10)
    parts = [set(made.splits[s]) for s in ("train", "val", "test")]
    assert not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    again, was_made = with_test_split(made, 0.2, 0.2, seed=1)
    assert not was_made and again is made


def test_bootstrap_of_identical_predictions_is_zero_width_and_holds_zero() -> None:
    scores = np.random.default_rng(0).integers(0, 2, size=(3, 200)).astype(float)
    interval = paired_bootstrap(scores, scores.copy())
    assert interval.value == interval.low == interval.high == 0.0
    assert interval.holds_zero


def test_bootstrap_interval_covers_a_real_difference_and_not_zero() -> None:
    rng = np.random.default_rng(1)
    first = (rng.random((2, 400)) < 0.7).astype(float)
    second = (rng.random((2, 400)) < 0.9).astype(float)
    interval = paired_bootstrap(first, second)
    assert 0.1 < interval.value < 0.3 and interval.low > 0 and not interval.holds_zero
    single = bootstrap_mean(first)
    assert single.low < first.mean() < single.high


def _fit_with_budget(budget: Budget, *, epochs: int = 30) -> dict:
    """A tiny model on random labels (it can only overfit, so validation loss soon rises)."""
    import keras

    from kiln_lab.engine.analysis.budget import budget_callback

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 20)).astype("float32"), rng.integers(0, 2, 80)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    callback = budget_callback(budget, train_samples=64, batch_size=8, score_key="val_accuracy")
    model.fit(x[:64], y[:64], batch_size=8, epochs=epochs, validation_data=(x[64:], y[64:]), verbose=0,
              callbacks=[callback])
    return callback.usage()


@pytest.mark.slow  # two tiny fits: seconds on an idle machine
def test_step_budget_gives_a_small_share_at_least_the_floor() -> None:
    tiny = Budget().epochs_for(35, 32)  # 35 samples: 2 steps an epoch
    assert tiny * 2 >= Budget().max_steps  # the epochs hold the whole step cap, not "5 epochs"
    with pytest.raises(ConfigError):
        Budget(max_steps=10, min_steps=20).validate()
    # Early stopping with a patience of one step would end the run after its first epoch (8 steps);
    # the floor keeps it going to 40 steps at least, and the cap stops it at 200 at most.
    usage = _fit_with_budget(Budget(max_steps=200, min_steps=40, patience_steps=1))
    assert usage["stopped_by"] == "early_stopping"
    assert 40 <= usage["steps"] < 200 and usage["steps"] % 8 == 0
    assert usage["samples_seen"] == usage["steps"] * 8
    capped = _fit_with_budget(Budget(max_steps=44, min_steps=0, patience_steps=10_000))
    assert capped["stopped_by"] == "step_cap" and capped["steps"] == 44  # the cap, mid-epoch
    assert [point[0] for point in capped["curve"]] == [8, 16, 24, 32, 40, 44]


def test_a_small_share_trains_in_rounds_of_at_least_twenty_steps() -> None:
    dataset = load_dataset("demo:digits")
    small = subsample_training(dataset, 0.03, seed=0)  # ~40 samples: 2 steps an epoch
    rounds = repeat_small_training(small, batch_size=32)
    assert len(rounds.splits["train"]) >= 20 * 32 and set(rounds.splits["train"]) == set(small.splits["train"])
    assert repeat_small_training(dataset, batch_size=32) is dataset  # 45 steps an epoch already


@pytest.mark.slow
def test_both_approaches_see_the_same_split_and_the_runs_are_kept(tmp_path) -> None:
    dataset = load_dataset("demo:digits")
    base = RunConfig().replace(train={"checkpoint": False})
    scratch = base.replace(model={"arch": "mlp", "width": 8, "depth": 1})
    finetune = base.replace(model={"kind": "finetune", "backbone": "demo"})
    budget = Budget(max_steps=30, min_steps=10, patience_steps=10)
    comparison = compare_approaches(
        scratch, finetune, dataset, fractions=(0.3, 1.0), repeats=2, budget=budget, out_dir=tmp_path
    )
    rows = comparison.rows
    assert [(r.data_fraction, r.repeat, r.approach) for r in rows] == [
        (f, k, a) for f in (0.3, 1.0) for k in (1, 2) for a in ("scratch", "finetune")
    ]
    for first, second in zip(rows[::2], rows[1::2]):  # each pair: one seed, one subset, one test set
        assert first.train_digest == second.train_digest and first.eval_digest == second.eval_digest
        assert first.seed == second.seed and first.train_samples == second.train_samples
    assert rows[0].train_digest != rows[2].train_digest  # another repeat draws another 30%
    assert len({r.eval_digest for r in rows}) == 1
    assert comparison.scored_on == "test" and comparison.test_made_by_comparison
    assert rows[1].phase_trainable[0] < rows[1].params  # the head phase trains less than the whole
    assert all(r.forward_flops > 0 and r.train_flops > 0 for r in rows)
    assert all(budget.min_steps <= r.steps <= budget.max_steps for r in rows)
    for row in rows:
        folder = tmp_path / "runs" / f"{row.approach}-{round(row.data_fraction * 100):03d}pct-r{row.repeat}"
        assert row.run_dir == str(folder)
        assert {"model.keras", "run.json", "history.json"} <= {p.name for p in folder.iterdir()}
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert saved["verdict"] == comparison.verdict() and len(saved["rows"]) == 8
    assert Comparison.from_dict(saved).verdict() == comparison.verdict()
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and comparison.verdict()[0].split(":")[0] in page
    assert "| fine-tuning |" in (tmp_path / "report.md").read_text().replace("| fine-tuning | from", "")
    per_class = comparison.per_class()  # every digit of the test split, from the runs' own scores
    assert [r.name for r in per_class.rows] == list(dataset.class_names)
    assert sum(r.support for r in per_class.rows) == comparison.eval_samples
    assert saved["per_class"]["sentence"] == per_class.sentence()
    assert "## Per class" in (tmp_path / "report.md").read_text()


def _comparison(scores: dict[str, list[list[float]]], *, higher: bool) -> Comparison:
    rows = [
        ComparisonRow(
            approach=a, data_fraction=1.0, repeat=1, seed=1, train_samples=100, score_name="x",
            score=float(np.mean(scores[f"{a}@1"])), seconds=1.0, steps=10, samples_seen=100,
            stopped_by="step_cap", epochs_run=1, params=10, trainable_params=10,
        )
        for a in ("scratch", "finetune")
    ]
    return Comparison(
        rows=rows, score_name="accuracy" if higher else "mae", higher_is_better=higher, eval_samples=4,
        sample_scores=scores, repeats=1,
    )


def test_the_verdict_is_right_for_regression_lower_error_wins() -> None:
    rng = np.random.default_rng(2)
    low_error = list(np.abs(rng.normal(0, 1.0, 300)))
    high_error = [e + 2.0 for e in low_error]
    comparison = _comparison({"scratch@1": [high_error], "finetune@1": [low_error]}, higher=False)
    assert comparison.winner() == "finetune"
    first = comparison.verdict()[0]
    assert first.startswith("Fine-tuning wins") and "lower" in first and "test MAE" in first
    assert "2.000" in first  # the margin, in the score's units
    swapped = _comparison({"scratch@1": [low_error], "finetune@1": [high_error]}, higher=False)
    assert swapped.winner() == "scratch" and swapped.verdict()[0].startswith("From scratch wins")


def test_the_verdict_says_too_close_to_call_when_the_interval_holds_zero() -> None:
    rng = np.random.default_rng(3)
    a = list((rng.random(100) < 0.8).astype(float))
    b = list(np.roll(a, 1))  # the same accuracy, different samples right
    comparison = _comparison({"scratch@1": [a], "finetune@1": [b]}, higher=True)
    assert comparison.winner() is None
    assert comparison.verdict()[0].startswith("Too close to call")
    assert "holds zero" in comparison.verdict()[0]


def test_per_class_check_names_the_class_fine_tuning_serves_worse() -> None:
    """Known hits: fine-tuning gets every 'cat' wrong that from scratch gets right, and ties elsewhere."""
    labels = [0] * 60 + [1] * 60 + [2] * 60
    scratch = [1.0] * 180
    finetune = [1.0] * 60 + [0.0] * 60 + [1.0] * 60
    comparison = _comparison({"scratch@1": [scratch], "finetune@1": [finetune]}, higher=True)
    assert comparison.per_class() is None  # no labels kept: nothing to say per class
    comparison.eval_labels, comparison.class_names = labels, ["ant", "cat", "dog"]
    per_class = comparison.per_class()
    verdicts = {r.name: (r.verdict, round(r.difference, 3)) for r in per_class.rows}
    assert verdicts == {"ant": ("within noise", 0.0), "cat": ("worse", -1.0), "dog": ("within noise", 0.0)}
    assert "'cat'" in per_class.sentence() and "worse" in per_class.sentence()
    assert Comparison.from_dict(comparison.to_dict()).per_class().to_dict() == per_class.to_dict()
    regression = _comparison({"scratch@1": [[0.1, 0.2]], "finetune@1": [[0.2, 0.1]]}, higher=False)
    regression.eval_labels, regression.class_names = [0, 1], ["a", "b"]
    assert regression.per_class() is None  # per-class accuracy is for classification


def test_forward_flops_counts_dense_and_conv_layers_from_their_shapes() -> None:
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 2*3*3*1*4*64 = 4608
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)  # 2*256*10 = 5120
    assert forward_flops(keras.Model(inputs, outputs)) == 4608 + 5120


def test_class_names_reach_the_markdown_report_as_text() -> None:
    import re

    from kiln_lab.engine.analysis.compare_report import markdown_report

    hostile = "<script>x</script>|cell\n| injected | row |"
    labels = [0] * 60 + [1] * 60
    comparison = _comparison({"scratch@1": [[1.0] * 120], "finetune@1": [[1.0] * 60 + [0.0] * 60]}, higher=True)
    comparison.eval_labels, comparison.class_names = labels, ["ant", hostile]
    text = markdown_report(comparison)
    assert "<script>" not in text and "| injected |" not in text
    row = next(line for line in text.splitlines() if line.startswith("| ") and "cell" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 8  # seven cells, none added by the name


def test_a_table_with_an_image_backbone_is_refused_before_any_run_trains(tmp_path, monkeypatch) -> None:
    """Issue 20.6: the refusal comes before the from-scratch run, and leaves no folder behind."""
    import kiln_lab.engine.training.job as job
    from kiln_lab.engine.errors import KilnError

    def no_training(*args, **kwargs):  # today's code trains from scratch first, then fails
        raise AssertionError("a run was trained before the comparison was checked")

    monkeypatch.setattr(job, "run_training", no_training)
    dataset = load_dataset("demo:housing")
    base = RunConfig().replace(train={"checkpoint": False})
    scratch = base.replace(model={"arch": "mlp"})
    finetune = base.replace(model={"kind": "finetune", "backbone": "demo"})
    out = tmp_path / "compare"
    with pytest.raises(KilnError) as raised:
        compare_approaches(scratch, finetune, dataset, repeats=1, budget=Budget(20, 5, 5), out_dir=out)
    assert "takes images" in raised.value.sentence
    assert not out.exists()


def test_a_class_whose_repeats_disagree_in_sign_is_never_called_worse() -> None:
    """Issue 20.2: averaging hits over repeats hid that one repeat lost the class and the other gained it."""
    labels = [0] * 60 + [1] * 60 + [2] * 60
    scratch_1, scratch_2 = [1.0] * 180, [1.0] * 60 + [0.0] * 12 + [1.0] * 108
    finetune_1 = [1.0] * 60 + [0.0] * 30 + [1.0] * 90  # repeat 1: 'cat' -50%
    finetune_2 = [1.0] * 180  # repeat 2: 'cat' +20%
    comparison = _comparison({"scratch@1": [scratch_1, scratch_2], "finetune@1": [finetune_1, finetune_2]},
                             higher=True)
    comparison.eval_labels, comparison.class_names = labels, ["ant", "cat", "dog"]
    cat = comparison.per_class().rows[1]
    assert cat.difference < -0.1 and cat.repeat_differences == pytest.approx([-0.5, 0.2])
    assert cat.verdict == "within noise" and comparison.per_class().worse == []
    assert cat.low < 0 < cat.high  # the repeats are in the interval: resampling them spans both signs


def test_runs_cut_off_by_the_cap_while_improving_are_named_with_a_larger_budget() -> None:
    """Issue 20.3: scores at the 200-step cap while still improving, with no warning."""
    from kiln_lab.engine.analysis.budget import still_improving

    budget = Budget(max_steps=200, min_steps=80, patience_steps=50)
    assert still_improving("step_cap", 200, 190, budget)  # best loss 10 steps before the cap
    assert not still_improving("step_cap", 200, 120, budget)  # flat for 80 steps: converged enough
    assert not still_improving("early_stopping", 130, 80, budget)
    comparison = _comparison({"scratch@1": [[1.0, 0.0]], "finetune@1": [[1.0, 1.0]]}, higher=True)
    comparison.budget = budget.to_dict()
    assert not any("Still improving" in s for s in comparison.verdict())
    assert comparison.suggested_budget() is None
    comparison.rows[0].still_improving = True  # the from-scratch run
    said = [s for s in comparison.verdict() if "Still improving" in s]
    assert len(said) == 1 and "from scratch 1 of 1" in said[0] and "200-step cap" in said[0]
    assert "--max-steps 800" in said[0] and comparison.suggested_budget()["max_steps"] == 800
    assert Budget(**comparison.suggested_budget()).validate().max_steps == 800


@pytest.mark.slow  # one tiny fit
def test_the_budget_callback_says_a_run_was_still_improving_at_the_cap() -> None:
    capped = _fit_with_budget(Budget(max_steps=24, min_steps=0, patience_steps=10_000))
    assert capped["stopped_by"] == "step_cap" and capped["still_improving"]
    assert 0 < capped["cpu_seconds"]
    early = _fit_with_budget(Budget(max_steps=400, min_steps=8, patience_steps=1))
    assert early["stopped_by"] == "early_stopping" and not early["still_improving"]


def test_costs_report_cpu_time_and_say_when_wall_times_measured_the_machine() -> None:
    """Issue 20.4: two identical runs took 11.6 s and 39.1 s of wall time."""
    from kiln_lab.engine.analysis.compare_report import cost_rows

    comparison = _comparison({"scratch@1": [[1.0, 0.0], [1.0, 0.0]], "finetune@1": [[1.0, 1.0], [1.0, 1.0]]},
                             higher=True)
    second = [dataclasses.replace(r, repeat=2) for r in comparison.rows]
    comparison.rows += second
    for row, (wall, cpu) in zip(comparison.rows, [(11.6, 10.0), (12.0, 11.0), (39.1, 10.4), (12.5, 11.2)]):
        row.seconds, row.cpu_seconds = wall, cpu
    verdict = " ".join(comparison.verdict())
    assert "Wall times are not comparable" in verdict and "from scratch" in verdict.split("not comparable")[1]
    assert "s of CPU" in verdict
    rows = {what: (ft, sc) for what, ft, sc in cost_rows(comparison)}
    assert rows["CPU time per run (s, all threads)"] == ("11.1", "10.2")
    assert rows["optimizer steps used"] == ("10", "10")
    for row, wall in zip(comparison.rows, [11.6, 12.0, 12.1, 12.5]):
        row.seconds = wall
    assert "not comparable" not in " ".join(comparison.verdict())


def test_a_tiled_small_share_reports_its_unique_samples() -> None:
    """Issue 20.5: a 5% run's card said "train 650" for 26 unique images listed 25 times."""
    small = subsample_training(load_dataset("demo:digits"), 0.03, seed=0)
    unique = len(small.splits["train"])
    rounds = repeat_small_training(small, batch_size=32)
    assert len(rounds.splits["train"]) > unique
    train = rounds.summary()["splits"]["train"]
    assert train["size"] == unique and train["listed"] == len(rounds.splits["train"])
    assert sum(rounds.class_counts("train").values()) == unique
    assert "listed" not in small.summary()["splits"]["train"]


@pytest.mark.slow  # one tiny two-phase fine-tune
def test_a_two_phase_run_records_what_each_phase_trained(tmp_path) -> None:
    """Issue 20.5: the card said "2,565 trainable" when phase 2 trained 16,693."""
    from kiln_lab.engine.training.job import run_training

    config = RunConfig().replace(
        data={"source": "demo:digits"},
        model={"kind": "finetune", "backbone": "demo", "two_phase": True},
        train={"checkpoint": False, "epochs": 2, "forgetting_monitor": False},
    )
    dataset = subsample_training(load_dataset("demo:digits"), 0.05, seed=0)
    result = run_training(config, dataset=dataset, out_dir=tmp_path / "run")
    phases = result.record["model"]["phase_trainable"]
    assert [p["phase"] for p in phases] == ["head", "fine-tune"]
    assert phases[1]["trainable_params"] > phases[0]["trainable_params"] == result.record["model"]["trainable_params"]
    card = (tmp_path / "run" / "model_card.md").read_text()
    assert f"{phases[1]['trainable_params']:,}" in card and "per phase" in card


def test_the_compare_command_takes_a_cut_layer_and_refuses_a_table_before_training(tmp_path, capsys) -> None:
    """Issues 20.6 and 20.8 through the CLI: exit 2 with the sentence, and no folder left behind."""
    from kiln_lab.engine.cli import main

    out = tmp_path / "cmp"
    code = main(["compare", "--data", "demo:housing", "--arch", "mlp", "--cut-layer", "features", "--out", str(out)])
    assert code == 2 and "takes images" in capsys.readouterr().err
    assert not out.exists()


def test_stopping_one_trial_leaves_the_others_running_and_out_of_the_verdict(tmp_path) -> None:
    from kiln_lab.engine.events import BatchEnd, EventRecorder, TrialState
    from kiln_lab.engine.training.control import RunControl

    dataset = load_dataset("demo:digits")
    base = RunConfig().replace(train={"checkpoint": False})
    scratch = base.replace(model={"arch": "mlp", "width": 8, "depth": 1})
    other = base.replace(model={"arch": "mlp", "width": 4, "depth": 1})
    control = RunControl()
    control.stop_trial(6)  # a trial still to come: skipped when its turn comes
    recorder = EventRecorder()
    running: list[int] = []

    def sink(event) -> None:
        recorder(event)
        if isinstance(event, TrialState) and event.state == "running":
            running.append(event.number)
        if isinstance(event, BatchEnd) and running[-1] == 1:
            control.stop_trial(1)  # the running trial: it stops at its next batch, the comparison goes on

    budget = Budget(max_steps=20, min_steps=10, patience_steps=10)
    comparison = compare_approaches(
        scratch, other, dataset, repeats=3, budget=budget, out_dir=tmp_path, sink=sink, control=control
    )
    assert running == [1, 2, 3, 4, 5]  # 6 never started; 2..5 ran although 1 was stopped
    assert not control.stop_requested
    assert [(r.repeat, r.approach) for r in comparison.rows] == [(2, "scratch"), (2, "finetune")]
    assert [len(v) for v in comparison.sample_scores.values()] == [1, 1]
    states = {s["number"]: s["state"] for s in comparison.stopped}
    assert states == {1: "stopped", 2: "left_out", 6: "stopped", 5: "left_out"}
    final = {e.number: e.state for e in recorder.of_type(TrialState)}
    assert final == {1: "stopped", 2: "left_out", 3: "finished", 4: "finished", 5: "left_out", 6: "stopped"}
    sentence = comparison.stopped_sentence()
    assert sentence in comparison.verdict()
    assert "You stopped 2 runs" in sentence and "the 1 pair of runs that both finished" in sentence
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert Comparison.from_dict(saved).stopped == comparison.stopped
