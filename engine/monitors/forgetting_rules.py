"""The forgetting monitor's thresholds and remedies: plain rules the app shows beside the drift plot.

Apart from `engine.monitors.forgetting` (which measures, with the data pipeline) so the
window's process can draw the threshold and offer the remedies without the engine.
"""

from __future__ import annotations

from typing import Any

# Below this CKA the backbone's features have changed enough that what it learned in
# pretraining is being overwritten (a frozen backbone stays at 1.0; see docs/RISKS.md).
CKA_WARNING = 0.9
# A source-task probe accuracy this far (absolute) below its pretrained value warns too.
SOURCE_DROP_WARNING = 0.10


def remedy_changes(backbone_lr_mult: float, l2sp: float, freeze: str) -> list[tuple[str, dict[str, Any]]]:
    """The remedies as config changes for the next run: (label, ``model`` section changes), one click each."""
    options: list[tuple[str, dict[str, Any]]] = [
        (f"Backbone LR x{max(backbone_lr_mult / 10, 0.01):g}", {"backbone_lr_mult": max(backbone_lr_mult / 10, 0.01)}),
    ]
    if freeze != "all":
        options.append(("Freeze the backbone", {"freeze": "all"}))
    options.append((f"L2-SP {max(l2sp * 10, 0.01):g}", {"l2sp": max(l2sp * 10, 0.01)}))
    return options
