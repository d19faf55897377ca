"""`RunConfig`: everything about one run, saved and loaded as TOML or JSON.

A config saved from the GUI reruns unchanged from the CLI (``--config run.toml``) or on a
cluster. Sections mirror the flow: data -> model -> train.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import tomllib

from engine.errors import ConfigError


@dataclass(frozen=True)
class AugmentConfig:
    """Random image augmentation, applied to training batches only."""

    flip: bool = False  # horizontal flip
    rotation: float = 0.0  # fraction of a full turn, e.g. 0.05 = +-18 degrees
    zoom: float = 0.0  # fraction, e.g. 0.1 = +-10 %
    contrast: float = 0.0  # fraction, e.g. 0.2

    @property
    def enabled(self) -> bool:
        return self.flip or self.rotation > 0 or self.zoom > 0 or self.contrast > 0


@dataclass(frozen=True)
class DataConfig:
    source: str = "demo:digits"  # folder, file, or demo:NAME
    target: str | None = None  # CSV label column (default: the last)
    x_key: str = "x"  # array name in .npz / HDF5
    y_key: str = "y"
    val_split: float = 0.2
    test_split: float = 0.0
    image_size: tuple[int, int] | None = None  # (height, width); None = the model's or the data's
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    cache: str = "auto"  # auto | memory | disk | none
    seed: int = 42  # the split's seed


@dataclass(frozen=True)
class LayerSpec:
    """One entry in a from-scratch model's layer list (the GUI's layer editor edits these)."""

    type: str  # dense | conv2d | maxpool | avgpool | globalpool | flatten | dropout | batchnorm | residual
    units: int = 0  # dense units / conv filters
    kernel_size: int = 3
    activation: str = "relu"
    rate: float = 0.0  # dropout rate
    kernel_initializer: str | None = None  # per-layer override of ModelRecipe.kernel_initializer


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
    seed: int = 42  # initializer seed


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"  # sgd | adam | adamw | rmsprop
    learning_rate: float = 1e-3
    momentum: float = 0.9  # SGD / RMSprop
    weight_decay: float = 1e-4  # AdamW
    schedule: str = "constant"  # constant | step | cosine | plateau
    step_every: int = 10  # step schedule: epochs between drops
    step_factor: float = 0.5  # step and plateau: multiply by this
    plateau_patience: int = 3
    early_stopping: int = 0  # patience in epochs; 0 = off
    class_weights: bool = False
    seed: int = 42
    mixed_precision: bool = False
    xla: bool = False
    distribution: str = "auto"  # auto | none | mirrored | multiworker
    checkpoint: bool = True


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelRecipe = field(default_factory=ModelRecipe)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "run"

    def replace(self, **sections: Any) -> RunConfig:
        """``config.replace(train={"epochs": 3})`` merges into a section; dataclass values replace it."""
        changes: dict[str, Any] = {}
        for key, value in sections.items():
            current = getattr(self, key)
            if isinstance(value, dict) and dataclasses.is_dataclass(current):
                changes[key] = dataclasses.replace(current, **value)
            else:
                changes[key] = value
        return dataclasses.replace(self, **changes)

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return _from_plain(cls, data, "config")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self.to_dict()))

    def save(self, path: str | Path) -> None:
        """Write as TOML or JSON by the file's suffix, atomically."""
        from engine.export.atomic import atomic_write_text

        path = Path(path)
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_toml()
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"Cannot read the run config {path}: {exc.strerror}.") from exc
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(raw.decode("utf-8-sig"))
            else:
                data = tomllib.loads(raw.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The run config {path} is not valid {path.suffix[1:].upper() or 'TOML'}: {exc}."
            ) from exc
        return cls.from_dict(data)


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _drop_none(value: Any) -> Any:
    # TOML has no null: a missing key means "default", which for these fields is None.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _from_plain(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"In the run config, '{where}' should be a table of settings.")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"The run config has unknown setting(s) {', '.join(unknown)} in '{where}'.",
            hint=f"Known settings there: {', '.join(sorted(known))}.",
        )
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"The run config section '{where}' is incomplete: {exc}.") from exc


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    args = [a for a in get_args(hint) if a is not type(None)]
    if dataclasses.is_dataclass(hint):
        return _from_plain(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"In the run config, '{where}' should be a list.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    if args and origin is not None:  # Optional[X] / X | None
        return _coerce(args[0], value, where)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"In the run config, '{where}' should be {hint.__name__}, not {value!r}.")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"In the run config, '{where}' should be a whole number, not {value!r}.")
    return value
