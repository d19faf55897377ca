"""`RunConfig`: everything about one run, saved and loaded as TOML or JSON.

A config saved from the GUI reruns unchanged from the CLI (``--config run.toml``) or on a
cluster. Sections mirror the flow: data -> model -> train.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.config import AugmentConfig, DataConfig
from engine.errors import ConfigError
from engine.models.recipe import LayerSpec, ModelRecipe
from engine.schema import check_choice, check_number, drop_none, from_plain, parse_toml, to_plain
from engine.training.choices import OPTIMIZERS, SCHEDULES, STRATEGIES

__all__ = ["AugmentConfig", "DataConfig", "LayerSpec", "ModelRecipe", "RunConfig", "TrainConfig", "CONFIG_VERSION"]

# The run config's schema version. Bump it when a field is renamed or changes meaning, and
# teach `migrate` to turn the older shape into the new one, so old run configs still open.
CONFIG_VERSION = 2


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
    tensorboard: bool = False  # write TensorBoard logs into RUN/tensorboard
    tensorboard_batches: bool = False  # TensorBoard logs also hold every batch's loss (larger files)
    mlflow: str = ""  # MLflow tracking URI to log the run to (sqlite:///mlflow.db, http://...); "" = off
    # Fine-tuning: measure backbone drift (CKA) and source-task retention every epoch. It costs
    # time, so a head-to-head turns it off to time both approaches fairly.
    forgetting_monitor: bool = True

    def validate(self, where: str = "train") -> None:
        check_number(f"{where}.epochs", self.epochs, low=1, high=100000)
        check_number(f"{where}.batch_size", self.batch_size, low=1, high=65536)
        check_choice(f"{where}.optimizer", self.optimizer, OPTIMIZERS)
        check_number(f"{where}.learning_rate", self.learning_rate, low=0, high=1e6, low_open=True)
        check_number(f"{where}.momentum", self.momentum, low=0, high=1, high_open=True)
        check_number(f"{where}.weight_decay", self.weight_decay, low=0, high=1)
        check_choice(f"{where}.schedule", self.schedule, SCHEDULES)
        check_number(f"{where}.step_every", self.step_every, low=1, high=100000)
        check_number(f"{where}.step_factor", self.step_factor, low=0, high=1, low_open=True, high_open=True)
        check_number(f"{where}.plateau_patience", self.plateau_patience, low=0, high=100000)
        check_number(f"{where}.early_stopping", self.early_stopping, low=0, high=100000)
        check_number(f"{where}.seed", self.seed, low=0, high=2**31 - 1)
        check_choice(f"{where}.distribution", self.distribution, STRATEGIES)
        if "@" in self.mlflow.split("//", 1)[-1].split("/", 1)[0]:  # user:secret@host: saved in config.toml
            raise ConfigError(
                f"{where}.mlflow names credentials in the tracking URI, which Kiln would save in config.toml.",
                hint="Give them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN).",
            )


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelRecipe = field(default_factory=ModelRecipe)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "run"
    version: int = CONFIG_VERSION

    def validate(self) -> RunConfig:
        """Check every section's ranges and names; the one check used by CLI, GUI and job.

        Reads no file and imports no TensorFlow, so it runs before anything is written.
        Returns the config itself so it can be chained.
        """
        if self.version != CONFIG_VERSION:
            raise ConfigError(f"This run config has version {self.version}; Kiln reads version {CONFIG_VERSION}.")
        self.data.validate()
        self.model.validate()
        self.train.validate()
        return self

    def with_seed(self, seed: int) -> RunConfig:
        """One seed for the whole run: the split, the initializers and training (CLI --seed, the GUI's seed)."""
        return self.replace(data={"seed": seed}, model={"seed": seed}, train={"seed": seed})

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
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Read a config dict of any known version (migrated to this one); types are checked, ranges not."""
        return from_plain(cls, migrate(data), "config")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(drop_none(self.to_dict()))

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
                data = parse_toml(raw.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The run config {path} is not valid {path.suffix[1:].upper() or 'TOML'}: {exc}."
            ) from exc
        return cls.from_dict(data)


def migrate(data: Any) -> Any:
    """Turn a run config dict of an older version into the current shape.

    Version 1 (no ``version`` key, Kiln 0.1): the same fields as version 2.
    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"The run config's version should be a whole number from 1, not {version!r}.")
    if version > CONFIG_VERSION:
        raise ConfigError(
            f"This run config was written by a newer Kiln (version {version}; this one reads up to {CONFIG_VERSION}).",
            hint="Update Kiln to open it.",
        )
    # 1 -> 2: the version key itself was added; nothing was renamed.
    data["version"] = CONFIG_VERSION
    return data
