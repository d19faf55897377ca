"""Interleaved rounds and paired ratios: how the training benchmarks compare Kiln with a baseline.

A machine's speed drifts while a benchmark runs (other work, thermal limits, caches warming), so
the variants are not timed one block after another: every round runs each variant once, in the
given order on even rounds and reversed on odd ones, so that a drift falls on both sides of every
pair alike. What is reported is the median of the per-round ratios, with their range (the ratio is
what compares across machines; the seconds are not).

    rows = interleaved_rounds(["kiln", "plain"], ["mlp"], repeats=5, run=lambda arch, name: time_it(...))
    ratio = paired_ratio([r["total_s"] for r in rows["mlp"]["kiln"]], [r["total_s"] for r in rows["mlp"]["plain"]])
    print(f"{ratio.median:.2f} ({ratio.low:.2f}-{ratio.high:.2f})")
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

T = TypeVar("T")


def interleaved_rounds(
    names: Sequence[str], groups: Sequence[str], repeats: int, run: Callable[[str, str], T]
) -> dict[str, dict[str, list[T]]]:
    """``run(group, name)`` for every group and variant name, ``repeats`` rounds.

    In each round each group in turn runs every name once: in the order of ``names`` on even
    rounds, reversed on odd ones. Returns ``rows[group][name]``: one result per round, in order,
    so that ``rows[g][a][i]`` and ``rows[g][b][i]`` are a pair timed side by side.
    """
    rows: dict[str, dict[str, list[T]]] = {group: {name: [] for name in names} for group in groups}
    for index in range(repeats):
        order = list(names) if index % 2 == 0 else list(names)[::-1]
        for group in groups:
            for name in order:
                rows[group][name].append(run(group, name))
    return rows


class Ratio(NamedTuple):
    """The median of per-round ratios and their range (lower is faster when the values are seconds)."""

    median: float
    low: float
    high: float


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> Ratio:
    """``values[i] / baseline[i]`` for each round ``i``: their median, lowest and highest."""
    ratios = [value / base for value, base in zip(values, baseline, strict=True)]
    return Ratio(statistics.median(ratios), min(ratios), max(ratios))
