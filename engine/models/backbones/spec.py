"""`Backbone`: what every backbone source produces, whatever it was loaded from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BackboneCard:
    """The facts a run record and the GUI show about a backbone."""

    name: str
    source: str  # demo | keras_applications | hub | savedmodel | keras_file
    handle: str  # catalogue name, URL, Kaggle handle, folder or file it was opened from
    licence: str = "unknown"
    pretraining_data: str = "unknown"
    params: int = 0
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Backbone:
    """A pretrained feature extractor ready to sit in a Keras 3 model.

    ``layer`` is a Keras 3 layer or sub-model that takes images of ``input_size`` with
    ``channels`` channels scaled to ``input_range`` and returns ``feature_shape`` features
    (a vector, or a feature map that the head pools).
    """

    layer: Any  # keras.layers.Layer or keras.Model
    card: BackboneCard
    input_size: tuple[int, int] | None  # (H, W) the backbone expects; None: any size
    channels: int | None  # None: vector input
    input_range: tuple[float, float]  # the value range it expects, e.g. (0, 1), (-1, 1), (0, 255)
    feature_shape: tuple[int, ...]  # per sample, without the batch axis
    default_size: tuple[int, int] | None = None  # for size-agnostic backbones: the size it was trained at
    notes: list[str] = field(default_factory=list)  # facts worth a line in the run record
    # (scale, offset) applied to 0..255 pixels instead of ``input_range``; each a number or a
    # per-channel list (a KerasHub preset's ImageNet mean/std normalisation).
    input_scale: tuple[Any, Any] | None = None

    @property
    def input_kind(self) -> str:
        return "vector" if self.channels is None else "image"

    def info(self) -> dict[str, Any]:
        """The card plus the input contract, for BuiltModel.info / the run record."""
        return {
            **self.card.to_dict(),
            "input_size": list(self.input_size) if self.input_size else None,
            "channels": self.channels,
            "input_range": list(self.input_range),
            "feature_shape": list(self.feature_shape),
            "notes": list(self.notes),
            "input_scale": list(self.input_scale) if self.input_scale else None,
        }
