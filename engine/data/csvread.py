"""Reading a delimited text file whose dialect nobody wrote down: encoding and delimiter are sniffed."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataError

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".tab", ".dat"})
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50


@dataclass
class CsvTable:
    header: list[str]
    rows: list[list[str]]  # every row has len(header) fields ("" where the row was short)
    delimiter: str
    encoding: str
    bad_rows: int = 0  # rows with more fields than the header, left out


def decode_text(raw: bytes) -> tuple[str, str]:
    """Text and the encoding that read it: a BOM wins, then UTF-8, then Windows-1252, then Latin-1."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(name), name
    for name in ("utf-8", "cp1252"):
        try:
            return raw.decode(name), name
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"  # every byte is a Latin-1 character: this cannot fail


def sniff_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number (> 1) of fields most often."""
    lines = [line for line in text.splitlines()[:_SNIFF_LINES] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(path: Path, *, delimiter: str | None = None, encoding: str | None = None) -> CsvTable:
    """Read a whole CSV file (header row first). Raises `DataError` when there is nothing to use."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if encoding:
        text = raw.decode(encoding, errors="replace")
    else:
        text, encoding = decode_text(raw)
    return parse_csv(text, name=path.name, delimiter=delimiter, encoding=encoding)


def parse_csv(text: str, *, name: str = "the CSV", delimiter: str | None = None, encoding: str = "utf-8") -> CsvTable:
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise DataError(f"{name} is empty.", hint="Choose a CSV file with a header row and at least two data rows.")
    delimiter = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = [row for row in reader if any(field.strip() for field in row)]
    except csv.Error as exc:
        raise DataError(f"{name} is not valid CSV ({exc}).", hint="Check its quoting around line breaks.") from None
    header = [field.strip() for field in records[0]]
    if len(header) < 2:
        raise DataError(
            f"{name} has a single column, so there is nothing to predict from.",
            hint="Give it input columns and a label column separated by commas, semicolons or tabs.",
        )
    header = _unique_names(header)
    rows: list[list[str]] = []
    bad = 0
    for record in records[1:]:
        if len(record) > len(header) and any(field.strip() for field in record[len(header) :]):
            bad += 1
            continue
        rows.append([field.strip() for field in record[: len(header)]] + [""] * (len(header) - len(record)))
    if not rows:
        raise DataError(f"{name} has a header row but no data rows.", hint="Add at least two rows of data.")
    return CsvTable(header=header, rows=rows, delimiter=delimiter, encoding=encoding, bad_rows=bad)


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for index, name in enumerate(header):
        name = name or f"column_{index + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    return names
