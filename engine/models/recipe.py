"""The model section of a run config: from scratch (a layer list) or on a pretrained backbone.

`engine.models` owns this schema; `engine.training.config.RunConfig` composes it. Each field
is declared once (`engine.params.param`): its help, unit and range make `validate()`, the
CLI's flags and the GUI's controls; the rules between fields stay code in `validate()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln_lab.engine.models.layer_types import (  # LayerSpec: re-exported, configs name it here
    ACTIVATIONS,
    PRESETS,
    LayerSpec,
)
from kiln_lab.engine.params import check_declared, param

KINDS: dict[str, str] = {
    "scratch": "Train from scratch: every weight starts random.",
    "finetune": "Fine-tune a pretrained backbone under a new head.",
}
CUSTOM_ARCH = "custom"  # the layer list was edited: build it as it is, no preset
CUSTOM_ARCH_HELP = "Custom: the layer list as given (model.layers), no preset."
MAX_SEED = 2**31 - 1


def _archs() -> dict[str, str]:
    return {**PRESETS, CUSTOM_ARCH: CUSTOM_ARCH_HELP}


def _initializers() -> dict[str, str]:
    from kiln_lab.engine.models.initializers import INITIALIZERS

    return INITIALIZERS


def _bias_initializers() -> dict[str, str]:
    from kiln_lab.engine.models.initializers import BIAS_INITIALIZERS

    return BIAS_INITIALIZERS


def _plain_random(recipe: ModelRecipe) -> bool:
    """init_scale applies to the plain random initializers only (He, Glorot, LeCun scale themselves)."""
    return recipe.kernel_initializer.startswith("random") or recipe.bias_initializer.startswith("random")


@dataclass(frozen=True)
class ModelRecipe:
    """How to build the model: from scratch (a layer list) or on a pretrained backbone."""

    kind: str = param("scratch", help="Train from scratch or fine-tune a backbone (--backbone implies finetune)",
                      choices=KINDS)
    # from scratch
    arch: str = param("mlp", help="A starting architecture (preset), or custom: the layer list as given",
                      choices=_archs)
    depth: int = param(2, help="Preset depth: number of dense layers, conv blocks or residual blocks",
                       low=1, high=200)
    width: int = param(
        64, help="Preset width: units of dense layers, or filters of the first conv block (doubling per block)",
        low=1, high=65536, step=8,
    )
    activation: str = param("relu", help="Activation of the preset's layers", choices=ACTIVATIONS)
    dropout: float = param(
        0.0, help="Preset dropout: share of units dropped at random while training", unit="fraction",
        low=0, high=1, high_open=True, step=0.05, decimals=2,
    )
    batch_norm: bool = param(False, help="Batch normalisation between the preset's layers")
    layers: tuple[LayerSpec, ...] = param(
        (), help="The layer list, built as it is when arch is custom", cli=None,
    )  # empty: expand the preset
    kernel_initializer: str = param("he_normal", help="How the weights start", choices=_initializers, cli="--init")
    bias_initializer: str = param("zeros", help="How the biases start", choices=_bias_initializers,
                                  cli="--bias-init")
    init_scale: float = param(
        0.05, help="Std (normal) or limit (uniform) of the plain random initializers", low=0, high=1e9,
        low_open=True, step=0.01, decimals=4, used_when=_plain_random,
    )
    # fine-tuning
    backbone: str | None = param(
        None, help="The pretrained backbone: catalogue name, TF Hub URL, Kaggle handle, SavedModel folder, "
        ".keras/.h5 file",
    )
    cut_layer: str | None = param(None, help="For your own model file: the layer to cut at",
                                  none_means="below its output layers")
    freeze: str = param("all", help="Which backbone layers stay frozen: all | none | top:N | from:LAYER")
    two_phase: bool = param(False, help="Train the head with the backbone frozen first, then unfreeze")
    head_epochs: int | None = param(
        None, help="Two-phase: epochs with the backbone frozen", unit="epochs", low=0, high=100000,
        used_when=("two_phase", (True,)), none_means="half the epochs",
    )
    finetune_lr_factor: float = param(
        0.1, help="Two-phase: phase 2 runs at this fraction of the learning rate", low=0, high=10, low_open=True,
        step=0.05, decimals=3, used_when=("two_phase", (True,)),
    )
    backbone_lr_mult: float = param(
        1.0, help="The backbone learns at this fraction of the head's rate (1 = the same rate)", low=0, high=10,
        step=0.05, decimals=3,
    )
    l2sp: float = param(
        0.0, help="Keeps the fine-tuned weights near the pretrained ones (L2-SP): how hard each weight is pulled "
                  "back toward its pretrained value, which fights forgetting when there is little data (0 = off)",
        low=0, high=1e6, step=0.001, decimals=4,
    )
    head_units: int = param(0, help="A hidden dense layer in the new head (0 = none)", unit="units",
                            low=0, high=65536, step=32)
    head_dropout: float = param(
        0.2, help="Dropout before the head's output", unit="fraction", low=0, high=1, high_open=True,
        step=0.05, decimals=2,
    )
    # the backbone's original task (a data source) for the forgetting monitor's retention
    # probe; None: the demo backbone's own (digits 0-4), or no probe for other backbones
    source_task: str | None = param(
        None, help="The backbone's original task (a data source): the forgetting monitor measures how much "
        "of it is kept each epoch", none_means="the demo backbone's own digits 0-4; drift only for others",
    )
    seed: int = param(42, help="Initializer seed: the model's starting weights", low=0, high=MAX_SEED,
                      cli="--init-seed")

    def validate(self, where: str = "model") -> None:
        """Raise `ConfigError` for any value out of range; builds and loads nothing."""
        from kiln_lab.engine.errors import ConfigError
        from kiln_lab.engine.models.freeze import parse_freeze

        check_declared(self, where)
        if self.arch == CUSTOM_ARCH and not self.layers and self.kind == "scratch":
            raise ConfigError(f"'{where}.arch' is custom but '{where}.layers' is empty.", hint="List the layers.")
        if self.kind == "finetune" and not (self.backbone or "").strip():
            raise ConfigError("Fine-tuning needs a backbone.", hint="Set model.backbone (see `kiln backbones`).")
        parse_freeze(self.freeze)
        if self.source_task is not None and not self.source_task.strip():
            raise ConfigError(f"'{where}.source_task' is empty.", hint="Name a data source, or leave it out.")
