"""A training budget in optimizer steps, the same for every run of a comparison.

A fixed number of epochs measures the budget, not the approach: on 35 images an epoch is
two steps, so "5 epochs" is ten updates. A comparison instead gives every run the same
cap in optimizer steps; validation loss stops a run early (its best weights restored), but
never before a floor of steps, so a small data share is not starved. An optional equal
wall-clock budget stops a run after that many seconds.

`Budget` is plain data; `budget_callback` (imports Keras) makes the Keras callback that
`run_training(..., callbacks=...)` runs in every phase and that records what was used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from kiln_lab.engine.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    """How long each run of a comparison may train."""

    max_steps: int = 200  # cap: optimizer steps per run, over all phases
    min_steps: int = 80  # floor: early stopping cannot end a run before this
    patience_steps: int = 50  # stop when validation loss has not improved for this many steps
    seconds: float | None = None  # optional equal wall-clock budget per run

    def validate(self) -> Budget:
        if self.max_steps < 1 or self.min_steps < 0 or self.patience_steps < 1:
            raise ConfigError("The step budget needs a cap of at least 1 step, a floor and a patience of 1 or more.")
        if self.min_steps > self.max_steps:
            raise ConfigError(
                f"The step floor ({self.min_steps}) is above the cap ({self.max_steps}).",
                hint="Lower --min-steps or raise --max-steps.",
            )
        if self.seconds is not None and self.seconds <= 0:
            raise ConfigError("The wall-clock budget must be a positive number of seconds.")
        return self

    def epochs_for(self, train_samples: int, batch_size: int) -> int:
        """Epochs that hold ``max_steps`` steps at this data size (the callback stops at the cap)."""
        per_epoch = steps_per_epoch(train_samples, batch_size)
        return max(2, math.ceil(self.max_steps / per_epoch))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def still_improving(stopped_by: str, steps: int, best_step: int, budget: Budget) -> bool:
    """A run cut off by the cap (or the clock) whose validation loss was still improving: its best
    came within the last patience window, so early stopping would have let it go on.
    """
    return stopped_by in ("step_cap", "time_budget") and steps - best_step < budget.patience_steps


def larger_budget(budget: Budget, factor: int = 4) -> Budget:
    """The budget to try when runs were still improving at the cap: ``factor`` times the steps."""
    return Budget(
        max_steps=budget.max_steps * factor,
        min_steps=budget.min_steps,
        patience_steps=budget.patience_steps,
        seconds=None if budget.seconds is None else budget.seconds * factor,
    )


def steps_per_epoch(train_samples: int, batch_size: int) -> int:
    return max(1, math.ceil(train_samples / max(1, batch_size)))


def budget_callback(budget: Budget, *, train_samples: int, batch_size: int, score_key: str) -> Any:
    """A Keras callback enforcing ``budget``; after the run, its ``usage()`` says what was used."""
    import time

    import keras
    import numpy as np

    class BudgetCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.steps = 0
            self.samples_seen = 0
            self.started: float | None = None
            self.cpu_started: float | None = None
            self.best_loss = math.inf
            self.best_step = 0
            self.patience_from = 0
            self.best_weights: list[Any] | None = None
            self.reason = "step_cap_not_reached"
            self.exhausted = False
            self.curve: list[tuple[int, float, float]] = []  # (steps, seconds, validation score)
            self.phases: list[dict[str, Any]] = []
            self._epoch_batches = 0

        def on_train_begin(self, logs: Any = None) -> None:
            if self.started is None:
                self.started = time.perf_counter()
                # CPU time of the whole process (every thread): unlike wall time, it does not grow
                # when other programs load the machine.
                self.cpu_started = time.process_time()
            trainable = int(sum(int(np.prod(w.shape)) for w in self.model.trainable_weights))
            self.phases.append({"trainable_params": trainable, "steps": 0})
            self.patience_from = self.steps  # each phase gets its own patience window
            if self.exhausted:
                self.model.stop_training = True

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._epoch_batches = 0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.steps += 1
            self._epoch_batches += 1
            self.phases[-1]["steps"] += 1
            if self.steps >= budget.max_steps:
                self._stop("step_cap")
            elif budget.seconds is not None and self.elapsed() >= budget.seconds:
                self._stop("time_budget")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            self.samples_seen += min(self._epoch_batches * batch_size, train_samples)
            score = logs.get(score_key)
            if score is not None:
                self.curve.append((self.steps, self.elapsed(), float(score)))
            loss = logs.get("val_loss", logs.get("loss"))
            if loss is None or not math.isfinite(float(loss)):
                return
            if float(loss) < self.best_loss - 1e-6:
                self.best_loss, self.best_step, self.patience_from = float(loss), self.steps, self.steps
                self.best_weights = self.model.get_weights()
            elif self.steps >= budget.min_steps and self.steps - self.patience_from >= budget.patience_steps:
                self.reason = "early_stopping"
                self.model.stop_training = True  # ends this phase; a later phase starts afresh

        def on_train_end(self, logs: Any = None) -> None:
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

        def elapsed(self) -> float:
            return 0.0 if self.started is None else time.perf_counter() - self.started

        def _stop(self, reason: str) -> None:
            self.reason, self.exhausted = reason, True
            self.model.stop_training = True

        def usage(self) -> dict[str, Any]:
            return {
                "steps": self.steps,
                "samples_seen": self.samples_seen,
                "seconds": round(self.elapsed(), 3),
                "cpu_seconds": round(0.0 if self.cpu_started is None else time.process_time() - self.cpu_started, 3),
                "stopped_by": self.reason,
                "best_step": self.best_step,
                "still_improving": still_improving(self.reason, self.steps, self.best_step, budget),
                "phases": self.phases,
                "curve": [list(point) for point in self.curve],
            }

    return BudgetCallback()
