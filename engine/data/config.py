"""The data section of a run config: where the data is, how it is split and augmented.

`engine.data` owns this schema; `engine.training.config.RunConfig` composes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.schema import check_choice, check_number

CACHE_MODES = ("auto", "memory", "disk", "none")
MAX_IMAGE_SIDE = 2048  # a model input larger than this is a typo, and would not fit in memory


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

    def validate(self, where: str = "data.augment") -> None:
        check_number(f"{where}.rotation", self.rotation, low=0, high=0.5)
        check_number(f"{where}.zoom", self.zoom, low=0, high=0.9)
        check_number(f"{where}.contrast", self.contrast, low=0, high=1)


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

    def validate(self, where: str = "data") -> None:
        """Raise `ConfigError` for any value out of range; reads no file."""
        from engine.errors import ConfigError

        if not self.source.strip():
            raise ConfigError("The run config names no data source.", hint="Set data.source to a folder or file.")
        check_number(f"{where}.val_split", self.val_split, low=0, high=1, high_open=True)
        check_number(f"{where}.test_split", self.test_split, low=0, high=1, high_open=True)
        if self.val_split + self.test_split >= 1:
            raise ConfigError("Validation and test fractions together must leave data to train on.")
        if self.image_size is not None:
            for side in self.image_size:
                check_number(f"{where}.image_size", side, low=4, high=MAX_IMAGE_SIDE)
        check_choice(f"{where}.cache", self.cache, CACHE_MODES)
        check_number(f"{where}.seed", self.seed, low=0, high=2**31 - 1)
        self.augment.validate(f"{where}.augment")
