"""The app asks before a backbone nobody trusted runs code, and the yes goes to the one trust gate."""

from __future__ import annotations

import pytest

from tests.backbone_fixtures import keras3_feature_model
from tests.gui.conftest import TIMEOUT_MS


@pytest.mark.slow
def test_an_untrusted_savedmodel_backbone_is_asked_about_then_trains(qtbot, window, load_demo, tmp_path):
    from kiln_lab.engine.export.trust import is_trusted

    load_demo(window)
    folder = tmp_path / "export"
    keras3_feature_model(size=8, channels=1).export(str(folder), format="tf_saved_model", verbose=False)
    assert not is_trusted(folder)
    asked: list[tuple[str, str]] = []
    window.train_page.ask_trust = lambda path, sentence: asked.append((path, sentence)) or True
    window.session.update(
        model={"kind": "finetune", "backbone": str(folder), "two_phase": False}, train={"epochs": 1, "batch_size": 64}
    )
    window.train_page.show_config(window.session.config)
    with qtbot.waitSignal(window.train_page.run_completed, timeout=TIMEOUT_MS):
        assert window.train_page.start()
    assert [path for path, _ in asked] == [str(folder)]
    assert str(folder) in asked[0][1]  # the question names the folder
    assert is_trusted(folder)  # the yes is recorded by hash, for the CLI and every later load too
