"""The backbone catalogue: resources/backbones/catalogue.toml, as entries the GUI and CLI list."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import ModelError
from kiln_lab.engine.schema import parse_toml

BACKBONE_RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "backbones"
CATALOGUE_PATH = BACKBONE_RESOURCES / "catalogue.toml"
SOURCES = ("demo", "keras_applications", "hub", "kerashub")


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    title: str
    source: str  # demo | keras_applications | hub | kerashub
    handle: str
    input_size: tuple[int, int]
    input_range: tuple[float, float]
    channels: int = 3
    feature_dim: int = 0
    params: int = 0
    licence: str = "unknown"
    pretraining_data: str = "unknown"
    description: str = ""
    card: str | None = None  # markdown file in resources/backbones
    offline: bool = False
    input_kind: str = "image"  # the data a backbone takes (dataset.input_kind); every one in the catalogue takes images
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> Path | None:
        """The shipped file, for the demo backbone."""
        return BACKBONE_RESOURCES / self.handle if self.source == "demo" else None

    def card_text(self) -> str:
        """The backbone's card (markdown), or a generated summary when none ships."""
        if self.card and (BACKBONE_RESOURCES / self.card).exists():
            return (BACKBONE_RESOURCES / self.card).read_text(encoding="utf-8")
        return (
            f"# {self.title}\n\n{self.description}\n\n- Source: {self.source} ({self.handle})\n"
            f"- Licence: {self.licence}\n- Pretraining data: {self.pretraining_data}\n- Parameters: {self.params:,}\n"
        )

    def meta(self) -> dict[str, Any]:
        """The facts a loader needs from the catalogue."""
        return {
            "name": self.name,
            "input_size": list(self.input_size),
            "input_range": list(self.input_range),
            "channels": self.channels,
            "licence": self.licence,
            "pretraining_data": self.pretraining_data,
            "description": self.description,
            **self.extra,
        }

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["input_size"], data["input_range"] = list(self.input_size), list(self.input_range)
        return data


@functools.lru_cache(maxsize=4)
def load_catalogue(path: str | Path = CATALOGUE_PATH) -> tuple[CatalogueEntry, ...]:
    """Every catalogue entry, in file order (the demo first)."""
    path = Path(path)
    try:
        raw = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The backbone catalogue {path} cannot be read: {exc}.") from exc
    entries = []
    known = set(CatalogueEntry.__dataclass_fields__) - {"extra"}
    for item in raw.get("backbone", []):
        if item.get("source") not in SOURCES or not item.get("name") or not item.get("handle"):
            raise ModelError(f"The backbone catalogue {path} has an invalid entry: {item.get('name', item)}.")
        fields = {k: v for k, v in item.items() if k in known}
        fields["input_size"] = tuple(int(v) for v in item.get("input_size", (224, 224)))
        fields["input_range"] = tuple(float(v) for v in item.get("input_range", (0, 1)))
        fields.setdefault("title", item["name"])
        entries.append(CatalogueEntry(**fields, extra={k: v for k, v in item.items() if k not in known}))
    return tuple(entries)


def find_entry(name: str) -> CatalogueEntry | None:
    """The entry called ``name`` (case-insensitive), or None."""
    lowered = name.strip().lower()
    return next((e for e in load_catalogue() if e.name.lower() == lowered), None)


def catalogue_names() -> list[str]:
    return [entry.name for entry in load_catalogue()]


def entries_for(input_kind: str) -> list[CatalogueEntry]:
    """The backbones that take data of ``input_kind`` (image | vector), best offline ones first."""
    fitting = [entry for entry in load_catalogue() if entry.input_kind == input_kind]
    return sorted(fitting, key=lambda entry: not entry.offline)


def offline_entries() -> list[CatalogueEntry]:
    """What the app offers first when there is no network."""
    return [entry for entry in load_catalogue() if entry.offline]
