"""Paired bootstrap intervals for per-sample scores, over evaluation samples and repeats.

A comparison scores every evaluation sample once per repeat (seed), for each approach:
``scores[r, i]``. The difference between two approaches is paired: the same samples and
the same repeat seeds (the same training subset) for both, so the interval is computed on
the per-sample differences. Each bootstrap draw resamples the evaluation samples (and,
when there are several, the repeats) with replacement, which puts both the test-set noise
and the seed noise into the interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval."""

    value: float
    low: float
    high: float
    confidence: float = 0.95

    @property
    def holds_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high, "confidence": self.confidence}


def bootstrap_mean(
    scores: np.ndarray, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """The mean of ``scores`` (shape ``(repeats, samples)`` or ``(samples,)``) with its interval."""
    table = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if table.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, confidence)
    repeats, samples = table.shape
    rng = np.random.default_rng(seed)
    # Sample weights of each draw: how often each evaluation sample was picked.
    counts = rng.multinomial(samples, np.full(samples, 1.0 / samples), size=resamples).astype(np.float64)
    per_repeat = counts @ table.T / samples  # (resamples, repeats)
    if repeats > 1:
        picks = rng.integers(0, repeats, size=(resamples, repeats))
        draws = np.take_along_axis(per_repeat, picks, axis=1).mean(axis=1)
    else:
        draws = per_repeat[:, 0]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Interval(float(table.mean()), float(low), float(high), confidence)


def paired_bootstrap(
    first: np.ndarray, second: np.ndarray, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Mean of ``second - first`` per sample and repeat, with a paired bootstrap interval.

    Two identical score tables give a zero-width interval at 0.
    """
    first = np.atleast_2d(np.asarray(first, dtype=np.float64))
    second = np.atleast_2d(np.asarray(second, dtype=np.float64))
    if first.shape != second.shape:
        raise ValueError(f"paired scores need the same shape, not {first.shape} and {second.shape}")
    return bootstrap_mean(second - first, resamples=resamples, confidence=confidence, seed=seed)
