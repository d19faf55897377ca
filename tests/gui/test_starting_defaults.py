"""A freshly opened dataset starts on the strong path; a config opened from a file is kept as it is."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import TIMEOUT_MS

SHOTS = Path(os.environ["KILN_SHOTS"]) if os.environ.get("KILN_SHOTS") else None  # look at the pages by eye


def test_images_open_on_finetuning_with_augmentation_and_a_test_share(qtbot, window, load_demo):
    load_demo(window)  # digits: images
    config = window.session.config
    assert config.model.kind == "finetune" and config.model.backbone == "demo"
    assert config.data.augment.enabled and config.data.test_split == 0.15
    assert window.session.dataset.split_sizes()["test"] > 0  # the scan split it off: Evaluate has unseen data
    finetune = window.model_page.finetune
    assert finetune.radio.isChecked() and finetune.radio.isEnabled() and finetune.body.isEnabled()
    assert not finetune.unavailable_label.isVisible()
    window.go_to("model")
    window.model_page.grab().save(str(SHOTS / "model_page_images.png")) if SHOTS else None


def test_tables_open_from_scratch_and_say_why_fine_tuning_is_off(qtbot, window, load_demo):
    load_demo(window, "demo:housing")
    assert window.session.config.model.kind == "scratch"
    finetune = window.model_page.finetune
    assert not finetune.radio.isEnabled() and not finetune.radio.isChecked()
    window.go_to("model")
    assert finetune.unavailable_label.isVisible() and "images" in finetune.unavailable_label.text()
    assert finetune.backbone_combo.currentData() is None  # no backbone takes a table
    window.model_page.grab().save(str(SHOTS / "model_page_table.png")) if SHOTS else None


def test_a_config_opened_from_a_file_keeps_its_choices(qtbot, window):
    from kiln_lab.engine.training.config import RunConfig

    config = RunConfig().replace(model={"kind": "scratch", "arch": "mlp"}, data={"source": "demo:digits"})
    window.session.load_config(config)
    window.data_page.load("demo:digits")  # as the Runs page and a config's data load it: not fresh
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=TIMEOUT_MS)
    kept = window.session.config
    assert kept.model.kind == "scratch" and kept.data.test_split == 0.0 and not kept.data.augment.enabled
