"""Model cards: written beside every saved model, with the fields a person needs to trust it."""

from __future__ import annotations

import hashlib
import json

import pytest

from kiln_lab.engine.export.model_card import NO_NETWORK


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_from_scratch_run_and_an_export_carry_a_full_card(tiny_config, tmp_path):
    from kiln_lab.engine.export import save_model
    from kiln_lab.engine.training.job import run_training

    out = tmp_path / "run"
    result = run_training(tiny_config.replace(train={"checkpoint": False}), out_dir=out)
    card = json.loads((out / "model_card.json").read_text())
    assert (out / "model_card.md").read_text().startswith("# Model card: model.keras")
    assert card["model"]["approach"] == "from scratch"
    assert card["data"]["samples"] == 1797 and len(card["data"]["classes"]) == 10
    assert card["data"]["skipped_files"] == 0
    assert card["metrics"]["overall"]["val_accuracy"] == pytest.approx(result.metrics["val_accuracy"])
    assert len(card["metrics"]["per_class"]) == 10
    assert {"precision", "recall", "f1", "support"} <= set(card["metrics"]["per_class"][0])
    assert card["backbone"] is None
    assert card["training"]["config"]["model"]["kind"] == "scratch"
    assert card["training"]["initializers"]["kernel"] == tiny_config.model.kernel_initializer
    assert card["versions"]["keras"] and card["versions"]["tensorflow"]
    assert card["files"]["model.keras"] == _sha(out / "model.keras")
    assert card["files"]["run.json"] == _sha(out / "run.json")
    assert card["privacy"] == NO_NETWORK
    # an export of the same model gets its own card beside the file
    exported = save_model(result.model, tmp_path / "export" / "digits.h5", record=result.record)
    side = json.loads((tmp_path / "export" / "digits.h5.model_card.json").read_text())
    assert side["model"]["format"] == "h5"
    assert side["files"]["digits.h5"] == _sha(exported)


@pytest.mark.slow
def test_a_fine_tuned_run_card_names_the_backbone_licence_caveats_and_drift(tmp_path):
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    config = RunConfig().replace(
        model={"kind": "finetune", "backbone": "demo", "freeze": "all"},
        train={"epochs": 1, "batch_size": 64, "checkpoint": False},
    )
    run_training(config, out_dir=tmp_path)
    card = json.loads((tmp_path / "model_card.json").read_text())
    backbone = card["backbone"]
    assert card["model"]["approach"] == "fine-tuned"
    assert backbone["source"] == "demo"
    assert backbone["licence"]["class"] == "permissive" and "Apache-2.0" in backbone["licence"]["licence"]
    assert "digits" in backbone["pretraining_data"]
    assert any("general-purpose" in c for c in card["caveats"])
    assert card["forgetting"]["cka"] == pytest.approx([1.0], abs=1e-6)
    text = (tmp_path / "model_card.md").read_text()
    for heading in ("## Data", "## Metrics", "## Backbone and licence", "## Caveats", "## Forgetting",
                    "## Training", "## Versions", "## Files (SHA-256)", "## Privacy"):
        assert heading in text


HOSTILE_NAME = "<img src=x onerror=alert(1)>|pwned\n| injected | row |"


def _unescaped_pipes(line: str) -> int:
    import re

    return len(re.findall(r"(?<!\\)\|", line))


def test_class_names_reach_the_markdown_card_as_text(tmp_path):
    """A class name with HTML, table pipes and a line break cannot add markup, cells or rows."""
    from kiln_lab.engine.export.model_card import build_card, render_markdown

    model = tmp_path / "model.keras"
    model.write_bytes(b"stand-in")
    record = {
        "dataset": {"class_names": [HOSTILE_NAME, "b"], "class_counts": {HOSTILE_NAME: 3, "b": 4}},
        "per_class": [{"name": HOSTILE_NAME, "precision": 1.0, "recall": 0.5, "f1": 0.6, "support": 3}],
        "evaluated_split": "val",
    }
    text = render_markdown(build_card(model, "keras", record))
    assert "<img" not in text and "&lt;img" in text
    assert "| injected |" not in text
    rows = [line for line in text.splitlines() if "pwned" in line]
    table_rows = [line for line in rows if line.startswith("| ")]
    assert len(table_rows) == 1 and _unescaped_pipes(table_rows[0]) == 6  # class + 4 figures: 6 pipes
    assert "\\x0a" in table_rows[0]  # the line break shown, not kept
