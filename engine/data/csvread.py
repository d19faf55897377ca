"""Reading a delimited text file whose dialect nobody wrote down: encoding and delimiter are sniffed."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiln_lab.engine.data.files import memory_budget, printable, read_limited
from kiln_lab.engine.errors import DataError

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".tab", ".dat"})
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50
_SNIFF_CHARS = 4 * 2**20
_LONE_CR = re.compile(r"\r(?!\n)")
_PROBE_BYTES = 64 * 1024  # how much of a file the binary check looks at
# Python rows of strings take several times the file's size: keep a whole-file read well inside memory.
# Measured (inspect of a 203 MB CSV of 20 six-digit numbers and a label a row, the costly shape:
# one 57-byte str object per 9-byte field): peak RSS 10.2x the file's size (16x before the rows
# were read without a StringIO copy and encoded without a dict per row). 12 leaves a margin.
_ROWS_PER_BYTE_OVERHEAD = 12


def csv_budget() -> int:
    """The largest CSV file Kiln reads into memory on this machine now."""
    return max(1 << 20, memory_budget() // _ROWS_PER_BYTE_OVERHEAD)


@dataclass
class CsvTable:
    header: list[str]
    rows: list[list[str]]  # every row has len(header) fields ("" where the row was short)
    delimiter: str
    encoding: str
    bad_rows: int = 0  # rows with more fields than the header, left out


def decode_text(raw: bytes, name: str = "the file") -> tuple[str, str]:
    """Text and the encoding that read it: a BOM wins, then UTF-8, then Windows-1252, then Latin-1.

    Raises `DataError` for bytes that are not text at all (NUL bytes, many control
    characters, or a "Latin-1" reading full of C1 control characters).
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError:
                raise _not_text(name, "it starts like Unicode text but does not decode") from None
    probe = raw[:_PROBE_BYTES]
    if b"\x00" in probe:
        raise _not_text(name, "it holds NUL bytes (it may be UTF-16 without a byte-order mark)")
    controls = sum(1 for byte in probe if byte < 0x20 and byte not in b"\t\n\r\x0c") + probe.count(0x7F)
    if probe and controls > max(2, len(probe) // 20):  # random bytes: about 11%; text: almost none
        raise _not_text(name, f"{controls} of its first {len(probe)} bytes are control characters")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        pass
    # Bytes Windows-1252 leaves undefined read as C1 control characters in Latin-1: a few are
    # plausible in an old export, many mean the bytes are not text.
    c1 = sum(1 for byte in probe if 0x80 <= byte <= 0x9F)
    if c1 > max(2, len(probe) // 100):
        raise _not_text(name, "it is not UTF-8, and read as Latin-1 it is full of control characters")
    return raw.decode("latin-1"), "latin-1"


def _not_text(name: str, why: str) -> DataError:
    return DataError(
        f"{name} does not look like a text table: {why}.",
        hint="Choose a CSV file saved as text (UTF-8, UTF-16 with a byte-order mark, or Latin-1).",
    )


def sniff_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number (> 1) of fields most often."""
    # The first few MB hold the first lines: splitting the whole text would copy all of it, line by line.
    lines = [line for line in text[:_SNIFF_CHARS].splitlines()[:_SNIFF_LINES] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:  # a wide row read with the wrong delimiter is one field past csv's limit
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(path: Path, *, delimiter: str | None = None, encoding: str | None = None) -> CsvTable:
    """Read a whole CSV file (header row first). Raises `DataError` when there is nothing to use."""
    name = printable(path.name)
    raw = read_limited(path, csv_budget(), what="CSV file")
    if encoding:
        text = raw.decode(encoding, errors="replace")
    else:
        text, encoding = decode_text(raw, name)
    del raw  # the bytes are not needed once decoded: a whole file's worth less while the rows are built
    return parse_csv(text, name=name, delimiter=delimiter, encoding=encoding)


def parse_csv(text: str, *, name: str = "the CSV", delimiter: str | None = None, encoding: str = "utf-8") -> CsvTable:
    text = text.lstrip("\ufeff")
    if not text or text.isspace():  # not text.strip(): that would copy the whole file
        raise DataError(f"{name} is empty.", hint="Choose a CSV file with a header row and at least two data rows.")
    delimiter = delimiter or sniff_delimiter(text)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    # One pass, each row kept as it is read: no list of every record beside the rows made from them.
    header: list[str] | None = None
    rows: list[list[str]] = []
    bad = 0
    try:
        for record in reader:
            if not any(field.strip() for field in record):
                continue
            if header is None:
                header = record
                width = len(header)
                continue
            if len(record) > width and any(field.strip() for field in record[width:]):
                bad += 1
                continue
            rows.append([field.strip() for field in record[:width]] + [""] * (width - len(record)))
    except csv.Error as exc:
        raise DataError(
            f"{name} is not valid CSV ({printable(exc)}).", hint="Check its quoting around line breaks."
        ) from None
    if header is None:
        raise DataError(f"{name} is empty.", hint="Choose a CSV file with a header row and at least two data rows.")
    header = [printable(field.strip(), limit=100) for field in header]
    if len(header) < 2:
        raise DataError(
            f"{name} has a single column, so there is nothing to predict from.",
            hint="Give it input columns and a label column separated by commas, semicolons or tabs.",
        )
    header = _unique_names(header)
    if not rows:
        raise DataError(f"{name} has a header row but no data rows.", hint="Add at least two rows of data.")
    return CsvTable(header=header, rows=rows, delimiter=delimiter, encoding=encoding, bad_rows=bad)


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time, for `csv.reader`.

    ``io.StringIO(text)`` would hold a second copy of the whole file at up to four bytes a
    character. Files with old Mac line endings (a lone ``\r``) still go through it, since
    that is what splits them.
    """
    if _LONE_CR.search(text):
        yield from io.StringIO(text, newline="")
        return
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


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
