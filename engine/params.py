"""Each config setting declared once: its help, unit, range, choices and when it applies.

A config field is declared where its layer owns it, as a frozen-dataclass field carrying a
`Param` in its metadata (``epochs: int = param(10, help=..., low=1, high=100_000)``).
Everything else is made from that one declaration:

- each section's ``validate()`` (`check_declared`; cross-field rules stay explicit code),
- the JSON schema of a run config (`json_schema`),
- the CLI's ``train`` flags and their help (``engine/cli.py``),
- the GUI controls' ranges, choices, tooltips and enabled state (``gui/widgets/forms.py``).

Why dataclass metadata and not pydantic: the sections stay the frozen dataclasses that
configs already load into (same fields, defaults, TOML/JSON shape), this module is a leaf
that imports nothing but the standard library and `engine.schema`, and the GUI can read a
declaration without importing anything heavy. The vocabulary follows scikit-learn's
``_parameter_constraints`` (intervals with open or closed ends, option lists).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from kiln_lab.engine.schema import check_choice, check_number, range_words

PARAM_KEY = "kiln"  # the key under which a field's metadata holds its Param

# Option lists: {name: one-line help}, a sequence of names, or a function returning either
# (for registries that live in a module this one must not import at load time).
Choices = Union[Mapping[str, str], Sequence[Any], Callable[[], Union[Mapping[str, str], Sequence[Any]]]]
# When a setting applies: (other field in the same section, the values of it that use this
# setting), or a predicate on the section.
UsedWhen = Union[tuple[str, tuple[Any, ...]], Callable[[Any], bool]]


@dataclass(frozen=True)
class Param:
    """What one config field means and which values it takes.

    Args:
        help: one sentence for people (CLI help, GUI tooltip, JSON schema description).
        unit: what the number counts ("epochs", "fraction of a full turn"), shown beside help.
        low, high: the accepted range; ``low_open``/``high_open`` exclude the end itself.
        choices: the names it accepts (see `Choices`); a dict gives each name's help.
        step, decimals: hints for a GUI spin box (its arrow step and shown digits).
        cli: the ``kiln train`` flag; "" derives ``--field-name``; None: no flag of its own.
        used_when: when the setting applies (see `UsedWhen`); the GUI disables it otherwise.
        check_unused: False skips range checks while the setting does not apply (a dropout
            layer's unused ``units`` is 0).
        none_means: for an optional field, what leaving it out (None) means.
    """

    help: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: Choices | None = None
    step: float | None = None
    decimals: int | None = None
    cli: str | None = ""
    used_when: UsedWhen | None = None
    check_unused: bool = True
    none_means: str = ""

    # -- choices ------------------------------------------------------------------------

    def choice_help(self) -> dict[Any, str]:
        """``{name: help}`` of the accepted names ("" where a name has no help); {} for free values."""
        options = self.choices() if callable(self.choices) else self.choices
        if options is None:
            return {}
        if isinstance(options, Mapping):
            return dict(options)
        return {name: "" for name in options}

    def names(self) -> tuple[Any, ...]:
        return tuple(self.choice_help())

    # -- ranges -------------------------------------------------------------------------

    def range_text(self) -> str:
        """The range in words, as the validation sentence says it ("at least 1 and at most 100000")."""
        return range_words(self.low, self.high, low_open=self.low_open, high_open=self.high_open)

    def describe(self) -> str:
        """Help, unit and range (or choices) in one line: CLI help and GUI tooltips."""
        text = self.help.rstrip(".")
        extras = []
        if self.unit:
            extras.append(self.unit)
        if self.range_text():
            extras.append(self.range_text())
        if self.none_means:
            extras.append(f"unset: {self.none_means}")
        return f"{text} ({'; '.join(extras)})" if extras else text

    def shown_range(self, decimals: int = 0, scale: float = 1.0) -> tuple[float, float]:
        """The closed range a control showing ``decimals`` digits can offer (open ends stepped inside).

        ``scale`` converts the config's value to what the control shows (360 for a fraction of
        a turn shown in degrees, 100 for a share shown in percent).
        """
        tick = 10.0**-decimals
        low = -math.inf if self.low is None else self.low * scale + (tick if self.low_open else 0.0)
        high = math.inf if self.high is None else self.high * scale - (tick if self.high_open else 0.0)
        return round(low, decimals), round(high, decimals)

    def check(self, where: str, value: Any) -> None:
        """Raise `ConfigError` when ``value`` is outside the range or not one of the choices."""
        if value is None:
            return
        if self.choices is not None:
            check_choice(where, value, self.names())
        if self.low is not None or self.high is not None:
            for number in value if isinstance(value, (tuple, list)) else (value,):
                check_number(
                    where, number, low=self.low, high=self.high, low_open=self.low_open, high_open=self.high_open
                )

    def cli_flag(self, name: str) -> str | None:
        if self.cli is None:
            return None
        return self.cli or "--" + name.replace("_", "-")


def param(default: Any = MISSING, *, default_factory: Any = MISSING, **declaration: Any) -> Any:
    """A dataclass field with its `Param` declaration (``epochs: int = param(10, help=..., low=1)``)."""
    metadata = {PARAM_KEY: Param(**declaration)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# -- reading declarations -----------------------------------------------------------------


def declared(section: Any) -> dict[str, Param]:
    """``{field name: Param}`` of a config section (class or instance), in field order."""
    return {f.name: f.metadata[PARAM_KEY] for f in fields(section) if PARAM_KEY in f.metadata}


def declaration(root: Any, path: str) -> Param:
    """The `Param` at a dotted path under a config class: ``declaration(RunConfig, "train.epochs")``."""
    cls = root if isinstance(root, type) else type(root)
    *sections, name = path.split(".")
    for part in sections:
        cls = _dataclass_of(get_type_hints(cls)[part])
    try:
        return declared(cls)[name]
    except KeyError:
        raise KeyError(f"{path} has no declaration") from None


def field_type(root: Any, path: str) -> Any:
    """The annotated type at a dotted path (``int``, ``float | None``, ``tuple[int, int] | None``)."""
    cls = root if isinstance(root, type) else type(root)
    *sections, name = path.split(".")
    for part in sections:
        cls = _dataclass_of(get_type_hints(cls)[part])
    return get_type_hints(cls)[name]


def default_at(root: Any, path: str) -> Any:
    """The declared default at a dotted path (``default_at(RunConfig, "train.epochs") == 10``); None if none."""
    cls = root if isinstance(root, type) else type(root)
    *sections, name = path.split(".")
    for part in sections:
        cls = _dataclass_of(get_type_hints(cls)[part])
    found = next(f for f in fields(cls) if f.name == name)
    if found.default is not MISSING:
        return found.default
    if found.default_factory is not MISSING:
        return found.default_factory()
    return None


def is_used(section: Any, name: str) -> bool:
    """Whether setting ``name`` applies to this section's other values (momentum: only SGD, RMSprop)."""
    rule = declared(section)[name].used_when
    if rule is None:
        return True
    if callable(rule):
        return bool(rule(section))
    other, values = rule
    return getattr(section, other) in values


def check_declared(section: Any, where: str) -> None:
    """Check every declared field of a section instance; nested sections check themselves.

    The error sentences are `engine.schema`'s: "'train.epochs' must be at least 1 and at most
    100000, not 0."
    """
    params = declared(section)
    for f in fields(section):
        value = getattr(section, f.name)
        path = f"{where}.{f.name}"
        if dataclasses.is_dataclass(value):
            value.validate(path)
            continue
        if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                item.validate(f"{path}[{i}]")
            continue
        spec = params.get(f.name)
        if spec is None or (not spec.check_unused and not is_used(section, f.name)):
            continue
        spec.check(path, value)


# -- JSON schema ----------------------------------------------------------------------------


def json_schema(cls: type, title: str | None = None) -> dict[str, Any]:
    """A JSON schema (draft 2020-12) of a config dataclass, from its declarations."""
    schema = _object_schema(cls)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title or cls.__name__, **schema}
    return schema


def _object_schema(cls: type) -> dict[str, Any]:
    hints = get_type_hints(cls)
    params = declared(cls)
    properties: dict[str, Any] = {}
    defaults = cls() if _all_defaulted(cls) else None
    for f in fields(cls):
        prop = _type_schema(hints[f.name])
        spec = params.get(f.name)
        if spec is not None:
            prop["description"] = spec.describe()
            options = spec.choice_help()
            if options:
                target = prop["items"] if "items" in prop else prop
                names = list(options)
                target["enum"] = [*names, None] if _optional(hints[f.name]) else names
            bounds = prop["items"] if "items" in prop else prop
            if spec.low is not None:
                bounds["exclusiveMinimum" if spec.low_open else "minimum"] = spec.low
            if spec.high is not None:
                bounds["exclusiveMaximum" if spec.high_open else "maximum"] = spec.high
        if defaults is not None:
            default = getattr(defaults, f.name)
            if not dataclasses.is_dataclass(default):
                from kiln_lab.engine.schema import to_plain

                prop["default"] = to_plain(default)
        properties[f.name] = prop
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    if required:
        schema["required"] = required
    return schema


def _type_schema(hint: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(hint):
        return _object_schema(hint)
    args = [a for a in get_args(hint) if a is not type(None)]
    if _optional(hint):
        inner = _type_schema(args[0])
        kind = inner.get("type")
        if isinstance(kind, str):
            inner["type"] = [kind, "null"]
            return inner
        return {"anyOf": [inner, {"type": "null"}]}
    if get_origin(hint) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0])}
        return {"type": "array", "items": _type_schema(args[0]), "minItems": len(args), "maxItems": len(args)}
    return {"type": {bool: "boolean", int: "integer", float: "number", str: "string"}[hint]}


def _optional(hint: Any) -> bool:
    return type(None) in get_args(hint) and get_origin(hint) is not tuple


def _dataclass_of(hint: Any) -> type:
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in get_args(hint):
        if dataclasses.is_dataclass(arg):
            return arg
    raise TypeError(f"{hint} is not a config section")


def _all_defaulted(cls: type) -> bool:
    return all(f.default is not MISSING or f.default_factory is not MISSING for f in fields(cls))
