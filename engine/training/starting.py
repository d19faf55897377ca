"""The choices a freshly opened dataset starts with: the strong path first.

A person who drops a folder of photos should start where good results are likely: fine-tuning
the best backbone that works offline, with mild augmentation, and a held-out test share so the
final evaluation uses data no run was tuned on. Tables start from scratch, because every
backbone Kiln knows takes images, and train long with early stopping and dropout so that they
match a scaled linear baseline (`table_defaults`, also what `kiln train` uses on a CSV file
without --config). A config opened from a file is never passed through here.
"""

from __future__ import annotations

from kiln_lab.engine.data.config import AugmentConfig
from kiln_lab.engine.training.config import RunConfig

# Mild, label-safe changes: a few degrees and a tenth of zoom. No mirror flip: a flipped digit
# or letter is another symbol, and Kiln cannot tell photos from text.
STARTING_AUGMENT = AugmentConfig(flip=False, rotation=10 / 360, zoom=0.1)
STARTING_TEST_SPLIT = 0.15  # held out from training and tuning, for Evaluate
# Tables: a scaled logistic / ridge regression is the bar (engine/analysis/linear_baseline.py).
# With 10 epochs, no early stopping and a 2x64 MLP, Kiln ended below it on real public tables
# (breast cancer, wine, diabetes). Train long at a higher rate, let the validation rows stop
# it (the best epoch's weights restored), and keep the hidden part small and regularised; the
# builder adds a linear path for tables (models/scratch.py). Measured against the baseline in
# docs/DECISION.md.
TABLE_TRAIN = {"epochs": 300, "early_stopping": 30, "learning_rate": 3e-3}
TABLE_MODEL = {"depth": 1, "width": 32, "dropout": 0.2}
TABLE_SOURCES = (".csv", ".tsv")


def is_table_source(source: str) -> bool:
    """A source that is a table without loading it: a CSV file or the housing demo."""
    text = source.strip().lower()
    return text.endswith(TABLE_SOURCES) or text == "demo:housing"


def table_defaults(config: RunConfig, *, keep: set[str] = frozenset()) -> RunConfig:
    """``config`` with the table defaults, except the fields named in ``keep`` ("train.epochs", ...)."""
    train = {k: v for k, v in TABLE_TRAIN.items() if f"train.{k}" not in keep}
    model = {k: v for k, v in TABLE_MODEL.items() if f"model.{k}" not in keep}
    return config.replace(train=train, model=model)


def finetune_unavailable_reason(input_kind: str) -> str | None:
    """Why fine-tuning cannot be chosen for data of ``input_kind``, or None when it can."""
    from kiln_lab.engine.models.catalogue import entries_for

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
    from kiln_lab.engine.models.catalogue import entries_for, find_entry

    data: dict[str, object] = {}
    if config.data.test_split == 0:
        data["test_split"] = STARTING_TEST_SPLIT
    if input_kind == "image" and not config.data.augment.enabled:
        data["augment"] = STARTING_AUGMENT
    backbones = entries_for(input_kind)
    if input_kind == "vector":
        config = table_defaults(config)
    if not backbones:
        model: dict[str, object] = {"kind": "scratch"}
    else:
        chosen = config.model.backbone
        entry = find_entry(chosen) if chosen else None
        if not chosen or (entry is not None and entry.input_kind != input_kind):
            chosen = backbones[0].name
        model = {"kind": "finetune", "backbone": chosen}
    return config.replace(data=data, model=model)
