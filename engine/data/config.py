"""The data section of a run config: where the data is, how it is split and augmented.

`engine.data` owns this schema; `engine.training.config.RunConfig` composes it. Each field
is declared once (`engine.params.param`): its help, unit and range make `validate()`, the
CLI's flags and the GUI's controls.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln_lab.engine.params import check_declared, declared, param

CACHE_MODES: dict[str, str] = {
    "auto": "In memory when the decoded data fits comfortably, else on disk.",
    "memory": "Keep decoded samples in memory after the first epoch.",
    "disk": "Keep decoded samples in a cache file beside the run.",
    "none": "Decode every sample every epoch.",
}
MAX_IMAGE_SIDE = 2048  # a model input larger than this is a typo, and would not fit in memory
# What a table's target column is read as. "auto" follows the rule in `engine.data.tabular`:
# text -> classes; whole numbers with few distinct values -> classes; other numbers -> regression.
TASKS: dict[str, str] = {
    "auto": "Decide from the target column: text or whole numbers with few distinct values are classes, "
            "other numbers a quantity.",
    "classification": "Predict which class (category) a sample belongs to.",
    "regression": "Predict a number (a quantity such as a price).",
}
AUGMENT_DEFAULTS = {"rotation": 0.05, "zoom": 0.1, "contrast": 0.2}  # `--augment zoom` without a number


@dataclass(frozen=True)
class AugmentConfig:
    """Random image augmentation, applied to training batches only."""

    flip: bool = param(False, help="Mirror images left-right at random", cli=None)
    rotation: float = param(
        0.0, help="Random rotation by up to this much either way (0.05 = 18 degrees)",
        unit="fraction of a full turn", low=0, high=0.5, cli=None,
    )
    zoom: float = param(
        0.0, help="Random zoom in or out by up to this fraction (0.1 = 10 %)", unit="fraction", low=0, high=0.9,
        step=0.05, decimals=2, cli=None,
    )
    contrast: float = param(
        0.0, help="Random contrast change by up to this fraction", unit="fraction", low=0, high=1,
        step=0.05, decimals=2, cli=None,
    )

    @property
    def enabled(self) -> bool:
        return self.flip or self.rotation > 0 or self.zoom > 0 or self.contrast > 0

    def validate(self, where: str = "data.augment") -> None:
        check_declared(self, where)

    @classmethod
    def parse(cls, text: str) -> AugmentConfig:
        """``"flip,rotation=0.05,zoom"`` (the CLI's ``--augment``): a name alone takes a usual amount."""
        from kiln_lab.engine.errors import ConfigError

        values: dict[str, object] = {}
        numeric = [name for name in declared(cls) if name != "flip"]
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, number = item.partition("=")
            if name == "flip":
                values["flip"] = True
            elif name in numeric:
                try:
                    values[name] = float(number) if number else AUGMENT_DEFAULTS[name]
                except ValueError:
                    raise ConfigError(f"--augment {name} needs a number, not '{number}'.") from None
            else:
                raise ConfigError(f"'{name}' is not an augmentation.", hint="Use flip, rotation=F, zoom=F, contrast=F.")
        return cls(**values)

    @classmethod
    def parse_help(cls) -> str:
        """The ``--augment`` help, from the declarations."""
        params = declared(cls)
        parts = ["flip"] + [f"{name}=F ({params[name].unit}, {params[name].range_text()})"
                            for name in params if name != "flip"]
        return "comma list of " + ", ".join(parts) + "; e.g. flip,zoom=0.1"


@dataclass(frozen=True)
class DataConfig:
    source: str = param("demo:digits", help="The data: an image folder, CSV, .npz/.npy, .h5, or demo:NAME",
                        cli="--data")
    target: str | None = param(None, help="CSV label column", none_means="the last column")
    task: str = param(
        "auto", help="What to predict from a table's target column: classes, a number, or decided from the column",
        choices=TASKS,
    )
    x_key: str = param("x", help="Inputs array name in .npz / HDF5")
    y_key: str = param("y", help="Labels array name in .npz / HDF5")
    val_split: float = param(
        0.2, help="Share of each class held out to validate on while training", unit="fraction",
        low=0, high=1, high_open=True, decimals=2,
    )
    test_split: float = param(
        0.0, help="Share of each class kept aside for a final test, never seen in training", unit="fraction",
        low=0, high=1, high_open=True, decimals=2,
    )
    image_size: tuple[int, int] | None = param(
        None, help="Resize images to this height and width", unit="pixels", low=4, high=MAX_IMAGE_SIDE,
        none_means="the backbone's input size, or the data's",
    )
    augment: AugmentConfig = param(
        default_factory=AugmentConfig, help="Random augmentation of training batches", cli="--augment",
    )
    cache: str = param("auto", help="Where decoded samples are kept between epochs", choices=CACHE_MODES)
    seed: int = param(42, help="Split seed: which samples go to validation and test", low=0, high=2**31 - 1,
                      cli="--split-seed")

    def validate(self, where: str = "data") -> None:
        """Raise `ConfigError` for any value out of range; reads no file."""
        from kiln_lab.engine.errors import ConfigError

        if not self.source.strip():
            raise ConfigError("The run config names no data source.", hint="Set data.source to a folder or file.")
        check_declared(self, where)
        if self.val_split + self.test_split >= 1:
            raise ConfigError("Validation and test fractions together must leave data to train on.")
