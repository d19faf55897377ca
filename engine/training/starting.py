"""The choices a freshly opened dataset starts with: the strong path first.

A person who drops a folder of photos should start where good results are likely: fine-tuning
the best backbone that works offline, with mild augmentation, and a held-out test share so the
final evaluation uses data no run was tuned on. Tables start from scratch, because every
backbone Kiln knows takes images. A config opened from a file is never passed through here.
"""

from __future__ import annotations

from engine.data.config import AugmentConfig
from engine.training.config import RunConfig

# Mild, label-safe changes: a few degrees and a tenth of zoom. No mirror flip: a flipped digit
# or letter is another symbol, and Kiln cannot tell photos from text.
STARTING_AUGMENT = AugmentConfig(flip=False, rotation=10 / 360, zoom=0.1)
STARTING_TEST_SPLIT = 0.15  # held out from training and tuning, for Evaluate


def finetune_unavailable_reason(input_kind: str) -> str | None:
    """Why fine-tuning cannot be chosen for data of ``input_kind``, or None when it can."""
    from engine.models.catalogue import entries_for

    if entries_for(input_kind):
        return None
    return (
        "Fine-tuning needs images: every backbone Kiln knows was pretrained on pictures, and this data "
        "is a table of numbers. Train from scratch instead."
    )


def starting_config(config: RunConfig, input_kind: str) -> RunConfig:
    """``config`` with the defaults for a freshly opened dataset of ``input_kind`` (image | vector).

    Keeps what a person chose already where it still fits: a test share or augmentation that
    is set, a backbone that takes this kind of data.
    """
    from engine.models.catalogue import entries_for, find_entry

    data: dict[str, object] = {}
    if config.data.test_split == 0:
        data["test_split"] = STARTING_TEST_SPLIT
    if input_kind == "image" and not config.data.augment.enabled:
        data["augment"] = STARTING_AUGMENT
    backbones = entries_for(input_kind)
    if not backbones:
        model: dict[str, object] = {"kind": "scratch"}
    else:
        chosen = config.model.backbone
        entry = find_entry(chosen) if chosen else None
        if not chosen or (entry is not None and entry.input_kind != input_kind):
            chosen = backbones[0].name
        model = {"kind": "finetune", "backbone": chosen}
    return config.replace(data=data, model=model)
