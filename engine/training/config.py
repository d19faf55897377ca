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

from kiln_lab.engine.data.config import AugmentConfig, DataConfig
from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.models.recipe import LayerSpec, ModelRecipe
from kiln_lab.engine.params import Param, check_declared, declaration, json_schema, param
from kiln_lab.engine.schema import drop_none, from_plain, parse_toml, to_plain
from kiln_lab.engine.training.choices import (
    OPTIMIZER_SETTINGS,
    OPTIMIZERS,
    SCHEDULE_SETTINGS,
    SCHEDULES,
    STRATEGIES,
    users_of,
)

__all__ = ["AugmentConfig", "DataConfig", "LayerSpec", "ModelRecipe", "RunConfig", "TrainConfig", "CONFIG_VERSION"]

# The run config's schema version. Bump it when a field is renamed or changes meaning, and
# teach `migrate` to turn the older shape into the new one, so old run configs still open.
CONFIG_VERSION = 2
CONFIG_BUDGET = 64 * 2**20  # a run config is a few KB; more than this is not one


def _used_by_optimizers(setting: str) -> tuple[str, tuple[str, ...]]:
    return ("optimizer", users_of(setting, OPTIMIZER_SETTINGS))


def _used_by_schedules(setting: str) -> tuple[str, tuple[str, ...]]:
    return ("schedule", users_of(setting, SCHEDULE_SETTINGS))


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, run length, seed and device."""

    epochs: int = param(10, help="Passes over the training split", unit="epochs", low=1, high=100000)
    batch_size: int = param(
        32, help="Samples per weight update: larger is faster per epoch but needs more memory", unit="samples",
        low=1, high=65536,
    )
    optimizer: str = param("adam", help="How the weights are updated from the gradients", choices=OPTIMIZERS)
    learning_rate: float = param(
        1e-3, help="The step size (type a value such as 3e-4)", low=0, high=1e6, low_open=True, decimals=8,
    )
    momentum: float = param(
        0.9, help="How much of the last step carries into the next", low=0, high=1, high_open=True,
        step=0.05, decimals=3, used_when=_used_by_optimizers("momentum"),
    )
    weight_decay: float = param(
        1e-4, help="Decoupled weight decay: shrinks weights each step", low=0, high=1, step=1e-4, decimals=5,
        used_when=_used_by_optimizers("weight_decay"),
    )
    schedule: str = param("constant", help="How the learning rate changes over the epochs", choices=SCHEDULES)
    step_every: int = param(
        10, help="Step schedule: epochs between two drops of the rate", unit="epochs", low=1, high=100000,
        used_when=_used_by_schedules("step_every"),
    )
    step_factor: float = param(
        0.5, help="Step and plateau schedules: the rate is multiplied by this at each drop", low=0, high=1,
        low_open=True, high_open=True, step=0.05, decimals=2, used_when=_used_by_schedules("step_factor"),
    )
    plateau_patience: int = param(
        3, help="Plateau schedule: epochs without improvement before the rate drops", unit="epochs",
        low=0, high=100000, used_when=_used_by_schedules("plateau_patience"),
    )
    early_stopping: int = param(
        0, help="Stop when the validation loss has not improved for this many epochs, and keep the best "
        "weights (0 = off)", unit="epochs", low=0, high=100000,
    )
    class_weights: bool = param(False, help="Weight the loss so rare classes count as much as common ones")
    seed: int = param(
        42, help="Random seed for the whole run (split, initial weights, training order); --split-seed and "
        "--init-seed set the first two on their own", low=0, high=2**31 - 1,
    )
    mixed_precision: bool = param(False, help="Compute in float16 on a GPU: faster, half the memory")
    xla: bool = param(False, help="Compile the model with XLA: often faster on GPUs after a slower first epoch")
    distribution: str = param("auto", help="How training spreads over devices (multiworker uses TF_CONFIG)",
                              choices=STRATEGIES)
    checkpoint: bool = param(True, help="Save checkpoints so an interrupted run can --resume")
    tensorboard: bool = param(
        False, help="Write TensorBoard logs into RUN/tensorboard (watch with: tensorboard --logdir RUN/tensorboard)"
    )
    tensorboard_batches: bool = param(
        False, help="With --tensorboard: also log every batch's loss (larger logs)",
        used_when=("tensorboard", (True,)),
    )
    mlflow: str = param(
        "", help="Also log the run to MLflow at this tracking URI (sqlite:///mlflow.db, http://host:5000; "
        "needs pip install mlflow-skinny); empty: off",
    )
    # Fine-tuning: measure backbone drift (CKA) and source-task retention every epoch. It costs
    # time, so a head-to-head turns it off to time both approaches fairly.
    forgetting_monitor: bool = param(
        True, help="Fine-tuning: measure backbone drift and source-task retention every epoch"
    )

    def validate(self, where: str = "train") -> None:
        check_declared(self, where)
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
    name: str = param("run", help="A name for this run: it labels the curves when runs are compared", cli=None)
    version: int = param(CONFIG_VERSION, help="The run config's schema version", cli=None)

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

    @classmethod
    def declaration(cls, path: str) -> Param:
        """The declaration of the setting at a dotted path: ``RunConfig.declaration("train.epochs").high``."""
        return declaration(cls, path)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """A JSON schema of a run config (TOML or JSON), made from the fields' declarations."""
        schema = json_schema(cls, title="Kiln run config")
        schema["properties"]["version"]["const"] = CONFIG_VERSION
        return schema

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
        from kiln_lab.engine.export.atomic import atomic_write_text

        path = Path(path)
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_toml()
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        from kiln_lab.engine.data.files import read_limited

        path = Path(path)
        try:
            # Through the data files' gate: a pipe would block, a link to /dev/zero would never end.
            raw = read_limited(path, CONFIG_BUDGET, what="run config (TOML or JSON)")
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
        except RecursionError:  # tables or arrays nested thousands deep: no config looks like that
            raise ConfigError(f"The run config {path} nests its tables too deeply to be a run config.") from None
        if isinstance(data, dict) and not migrate(data).keys() & {"data", "model", "train"}:
            # An empty (or truncated) file would otherwise train the demo with every default.
            raise ConfigError(
                f"The run config {path} names no [data], [model] or [train] settings"
                f"{' (it is empty)' if not raw.strip() else ''}.",
                hint="Save a config from Kiln (the app's Save, or a run folder's config.toml) and name that file.",
            )
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
