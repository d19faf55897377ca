"""Frozen-dataclass configs <-> plain dicts (TOML/JSON), and range checks for `validate()`.

A leaf module: every layer's config (`engine.data.config`, `engine.models.recipe`,
`engine.training.config`) uses it, and it imports nothing of theirs.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterable
from dataclasses import fields
from typing import Any, get_args, get_origin, get_type_hints

from kiln_lab.engine.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as the tomli package
    import tomli as tomllib


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text -> dict; raises ValueError (TOMLDecodeError) on bad TOML."""
    return tomllib.loads(text)


def to_plain(value: Any) -> Any:
    """A dataclass tree as dicts and lists (tuples become lists)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def drop_none(value: Any) -> Any:
    """TOML has no null: a missing key means "default", which for these fields is None."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def from_plain(cls: type, data: Any, where: str) -> Any:
    """Build ``cls`` from a dict, checking names and types; errors say which setting is wrong."""
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
        return from_plain(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"In the run config, '{where}' should be a list, not {value!r}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"In the run config, '{where}' should hold {len(args)} values, not {len(value)}.")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    if args and origin is not None:  # Optional[X] / X | None
        return _coerce(args[0], value, where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"In the run config, '{where}' should be a number, not {value!r}.")
        return float(value)
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"In the run config, '{where}' should be a whole number, not {value!r}.")
    if hint in (str, bool) and not isinstance(value, hint):
        kind = "text" if hint is str else "true or false"
        raise ConfigError(f"In the run config, '{where}' should be {kind}, not {value!r}.")
    return value


# -- range checks used by the sections' validate() ----------------------------------------


def check_number(
    where: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Refuse non-finite values and values outside [low, high] (or the open ends)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"'{where}' must be a finite number, not {value!r}.")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        rule = range_words(low, high, low_open=low_open, high_open=high_open)
        raise ConfigError(f"'{where}' must be {rule}, not {value!r}.")


def range_words(
    low: float | None, high: float | None, *, low_open: bool = False, high_open: bool = False
) -> str:
    """A range as the error sentences say it: "at least 1 and at most 100000", "above 0 and below 1"."""
    lo = "" if low is None else f"{'above' if low_open else 'at least'} {format_number(low)}"
    hi = "" if high is None else f"{'below' if high_open else 'at most'} {format_number(high)}"
    return " and ".join(part for part in (lo, hi) if part)


def format_number(value: float) -> str:
    """A bound for people: whole numbers in full (2147483647, not 2.14748e+09), others short."""
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:g}"


def check_choice(where: str, value: str, choices: Iterable[str]) -> None:
    options = list(choices)
    if value not in options:
        raise ConfigError(f"'{where}' cannot be {value!r}.", hint=f"Choose one of: {', '.join(options)}.")
