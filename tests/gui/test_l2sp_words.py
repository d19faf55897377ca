"""Issue 18.14's words that live in shared declarations: L2-SP is explained where it is shown."""

from __future__ import annotations

from kiln_lab.gui.app import create_window


def test_l2sp_control_explains_itself(qtbot, settings):
    window = create_window(settings)
    qtbot.addWidget(window)
    tip = window.model_page.finetune.l2sp_spin.toolTip()
    assert "Keeps the fine-tuned weights near the pretrained ones" in tip
    assert "forgetting" in tip
