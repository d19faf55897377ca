"""Tables against a scaled linear model (issue 20.10): the NumPy baseline, its row in every
table comparison, and the table defaults (long training with early stopping, a linear path)."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine.analysis.compare import Comparison, ComparisonRow
from kiln_lab.engine.analysis.linear_baseline import linear_baseline
from kiln_lab.engine.data.arrays import dataset_from_arrays
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.starting import is_table_source, starting_config, table_defaults


def _table(task: str, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)) * np.array([1, 10, 100, 0.1, 1, 1])  # unscaled columns: the baseline scales them
    signal = x @ np.array([1.0, 0.1, 0.01, 10.0, 0.0, 0.0])
    y = (signal > 0).astype(np.int64) if task == "class" else 50.0 + 3.0 * signal + rng.normal(0, 0.5, n)
    return dataset_from_arrays(x.astype(np.float32), y, source=task, source_kind="arrays", val_split=0.2,
                               test_split=0.2, seed=1)


def test_the_linear_baseline_learns_a_linear_table_and_scores_per_test_sample() -> None:
    classes = linear_baseline(_table("class"))
    assert classes.name == "logistic regression" and classes.score > 0.95
    assert len(classes.per_sample) == len(_table("class").splits["test"])
    numbers = linear_baseline(_table("number"))
    assert numbers.name == "ridge regression" and numbers.r2 > 0.99 and numbers.score < 1.0


def test_a_table_comparison_states_the_linear_baseline() -> None:
    base = [1.0] * 90 + [0.0] * 10  # the baseline: 0.90
    scratch = [1.0] * 60 + [0.0] * 40  # from scratch: 0.60, clearly below it
    rows = [ComparisonRow(approach=a, data_fraction=1.0, repeat=1, seed=1, train_samples=100, score_name="accuracy",
                          score=0.0, seconds=1.0, steps=10, samples_seen=100, stopped_by="step_cap", epochs_run=1,
                          params=10, trainable_params=10) for a in ("scratch", "finetune")]
    comparison = Comparison(rows=rows, eval_samples=100, repeats=1,
                            sample_scores={"scratch@1": [scratch], "finetune@1": [base]},
                            baseline_name="logistic regression", baseline_scores={"1": base})
    said = [s for s in comparison.verdict() if s.startswith("A linear baseline")]
    assert len(said) == 1 and "0.900" in said[0]
    assert "from scratch is below it" in said[0] and "fine-tuning is level with it" in said[0]
    again = Comparison.from_dict(comparison.to_dict())
    assert again.baseline_sentence() == said[0]
    from kiln_lab.engine.analysis.compare_report import markdown_report

    assert "| linear baseline (logistic regression) | 100% |" in markdown_report(comparison)


def test_tables_start_with_defaults_made_to_match_the_baseline() -> None:
    fresh = starting_config(RunConfig(), "vector")
    assert fresh.train.early_stopping > 0 and fresh.train.epochs >= 100 and fresh.model.dropout > 0
    images = starting_config(RunConfig(), "image")
    assert images.train.epochs == RunConfig().train.epochs  # images keep their own defaults
    kept = table_defaults(RunConfig().replace(train={"epochs": 7}), keep={"train.epochs"})
    assert kept.train.epochs == 7 and kept.train.early_stopping > 0
    assert is_table_source("data/prices.CSV") and is_table_source("demo:housing")
    assert not is_table_source("demo:digits") and not is_table_source("photos/")


def test_a_table_model_has_a_linear_path_beside_its_hidden_layers() -> None:
    from kiln_lab.engine.models.recipe import ModelRecipe
    from kiln_lab.engine.models.scratch import build_scratch_model

    table = build_scratch_model(ModelRecipe(), input_shape=(6,), input_kind="vector", task="classification",
                                num_classes=2)
    assert "linear_path" in [layer.name for layer in table.layers]
    image = build_scratch_model(ModelRecipe(arch="cnn", depth=1, width=4), input_shape=(8, 8, 1),
                                input_kind="image", task="classification", num_classes=2)
    assert "linear_path" not in [layer.name for layer in image.layers]


@pytest.mark.slow  # two short trainings on a small table
def test_kiln_train_on_a_csv_uses_the_table_defaults_unless_a_flag_says_otherwise(tmp_path) -> None:
    from kiln_lab.engine.cli import main
    from kiln_lab.engine.training.config import RunConfig as Config

    table = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b,label"] + [f"{u:.3f},{v:.3f},{'yes' if u + v > 0 else 'no'}" for u, v in rng.normal(size=(80, 2))]
    table.write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(table), "--out", str(tmp_path / "run"), "--early-stopping", "3"]) == 0
    saved = Config.load(tmp_path / "run" / "config.toml")
    assert saved.train.epochs == 300 and saved.train.early_stopping == 3 and saved.model.width == 32
