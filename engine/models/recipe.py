"""The model section of a run config: from scratch (a layer list) or on a pretrained backbone.

`engine.models` owns this schema; `engine.training.config.RunConfig` composes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.layer_types import ACTIVATIONS, PRESETS, LayerSpec  # LayerSpec: re-exported, configs name it here
from engine.schema import check_choice, check_number

KINDS = ("scratch", "finetune")
CUSTOM_ARCH = "custom"  # the layer list was edited: build it as it is, no preset


@dataclass(frozen=True)
class ModelRecipe:
    """How to build the model: from scratch (a layer list) or on a pretrained backbone."""

    kind: str = "scratch"  # scratch | finetune
    # from scratch
    arch: str = "mlp"  # preset name: mlp | cnn | resnet | custom
    depth: int = 2
    width: int = 64
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    layers: tuple[LayerSpec, ...] = ()  # empty: expand the preset
    kernel_initializer: str = "he_normal"
    bias_initializer: str = "zeros"
    init_scale: float = 0.05  # stddev / limit for plain random_normal / random_uniform
    # fine-tuning
    backbone: str | None = None  # catalogue name, hub handle, URL, folder or model file
    cut_layer: str | None = None  # for a user's own model file: the layer to cut at
    freeze: str = "all"  # all | none | top:N (unfreeze the top N layers) | from:LAYER
    two_phase: bool = False
    head_epochs: int | None = None  # two-phase: epochs with the backbone frozen (default: half)
    finetune_lr_factor: float = 0.1  # two-phase: phase 2 runs at this fraction of the rate
    backbone_lr_mult: float = 1.0  # backbone learns at this fraction of the head's rate
    l2sp: float = 0.0  # L2-SP strength: penalty on the distance from the pretrained weights
    head_units: int = 0  # a hidden dense layer in the head (0: none)
    head_dropout: float = 0.2
    # the backbone's original task (a data source) for the forgetting monitor's retention
    # probe; None: the demo backbone's own (digits 0-4), or no probe for other backbones
    source_task: str | None = None
    seed: int = 42  # initializer seed

    def validate(self, where: str = "model") -> None:
        """Raise `ConfigError` for any value out of range; builds and loads nothing."""
        from engine.errors import ConfigError
        from engine.models.freeze import parse_freeze
        from engine.models.initializers import BIAS_INITIALIZERS, INITIALIZERS

        check_choice(f"{where}.kind", self.kind, KINDS)
        check_choice(f"{where}.arch", self.arch, (*PRESETS, CUSTOM_ARCH))
        if self.arch == CUSTOM_ARCH and not self.layers and self.kind == "scratch":
            raise ConfigError(f"'{where}.arch' is custom but '{where}.layers' is empty.", hint="List the layers.")
        check_number(f"{where}.depth", self.depth, low=1, high=200)
        check_number(f"{where}.width", self.width, low=1, high=65536)
        check_choice(f"{where}.activation", self.activation, ACTIVATIONS)
        check_number(f"{where}.dropout", self.dropout, low=0, high=1, high_open=True)
        for i, layer in enumerate(self.layers):
            layer.validate(f"{where}.layers[{i}]")
        check_choice(f"{where}.kernel_initializer", self.kernel_initializer, INITIALIZERS)
        check_choice(f"{where}.bias_initializer", self.bias_initializer, BIAS_INITIALIZERS)
        check_number(f"{where}.init_scale", self.init_scale, low=0, high=1e9, low_open=True)
        if self.kind == "finetune" and not (self.backbone or "").strip():
            raise ConfigError("Fine-tuning needs a backbone.", hint="Set model.backbone (see `kiln backbones`).")
        parse_freeze(self.freeze)
        if self.head_epochs is not None:
            check_number(f"{where}.head_epochs", self.head_epochs, low=0, high=100000)
        check_number(f"{where}.finetune_lr_factor", self.finetune_lr_factor, low=0, high=10, low_open=True)
        check_number(f"{where}.backbone_lr_mult", self.backbone_lr_mult, low=0, high=10)
        check_number(f"{where}.l2sp", self.l2sp, low=0, high=1e6)
        check_number(f"{where}.head_units", self.head_units, low=0, high=65536)
        check_number(f"{where}.head_dropout", self.head_dropout, low=0, high=1, high_open=True)
        if self.source_task is not None and not self.source_task.strip():
            raise ConfigError(f"'{where}.source_task' is empty.", hint="Name a data source, or leave it out.")
        check_number(f"{where}.seed", self.seed, low=0, high=2**31 - 1)
