"""Tables (CSV files, the housing demo) -> standardised feature vectors, and the encoder state.

The encoder is fitted once while loading and stored as plain JSON in
``Dataset.preprocessing``; `encode_rows` replays it on rows typed in later (``predict``, the
GUI's "try it"), so a saved model sees new rows exactly the way it saw its training rows.

- Numeric columns: standardised with the training rows' mean and standard deviation; a
  missing value takes the mean (0 after standardising).
- Text columns: one-hot, one slot per value; missing values get their own "missing" slot;
  values never seen while fitting get all zeros.
- Columns that look like identifiers (almost every row different text) are left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.arrays import ArrayLoader
from kiln_lab.engine.data.csvread import CsvTable, read_csv
from kiln_lab.engine.data.dataset import CLASSIFICATION, REGRESSION, VECTOR, Dataset
from kiln_lab.engine.data.files import printable
from kiln_lab.engine.data.labels import align_classes, target_stats
from kiln_lab.engine.data.split import stratified_split
from kiln_lab.engine.errors import DataError

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "#n/a", "missing", "-nan"})
# Infinite values carry no usable magnitude: like NaN in arrays, they count as missing.
INFINITE_TOKENS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
MISSING_CATEGORY = "missing"
OTHER_CATEGORY = "other"
MAX_CATEGORIES = 100  # the rarest values beyond this share one "other" slot
MAX_INTEGER_CLASSES = 20  # an integer target with more distinct values than this is a quantity
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_PREVIEW_ROWS = 200


class TableLoader(ArrayLoader):
    """Encoded rows in memory, plus the first raw rows for the table preview."""

    def __init__(self, matrix: np.ndarray, *, header: list[str], head: list[list[str]]) -> None:
        super().__init__(matrix, image=False)
        self.header = header
        self.head = head


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(value)
    if not isinstance(value, str):
        return False
    token = value.strip().lower()
    return token in MISSING_TOKENS or token in INFINITE_TOKENS


def parse_number(value: Any, *, decimal_comma: bool = False) -> float | None:
    """The number in ``value``, or None when it is not one ("3,5" counts where commas are decimals)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        if decimal_comma and _DECIMAL_COMMA.match(text):
            return float(text.replace(",", "."))
        return None
    return number if math.isfinite(number) else None


def load_csv(
    path: Path,
    *,
    target: str | None,
    val_split: float,
    test_split: float,
    seed: int,
    source_kind: str = "csv",
    fitted: dict[str, Any] | None = None,
    task: str = "auto",
) -> Dataset:
    table = read_csv(path)
    return dataset_from_table(
        table,
        target=target,
        task=task,
        val_split=val_split,
        test_split=test_split,
        seed=seed,
        source=str(path),
        source_kind=source_kind,
        fitted=fitted,
    )


def dataset_from_table(
    table: CsvTable,
    *,
    target: str | None,
    val_split: float,
    test_split: float,
    seed: int,
    source: str,
    source_kind: str,
    fitted: dict[str, Any] | None = None,
    task: str = "auto",
) -> Dataset:
    """Describe a table; with ``fitted`` (a stored tabular encoder) encode with it instead of fitting.

    ``task``: "auto" reads the target column by the rule in `_encode_target`; "classification"
    or "regression" reads it that way, or says in a sentence why the column cannot be read so.
    """
    fitted = fitted if fitted and fitted.get("kind") == "tabular" else None
    header = table.header
    target_name = _find_column(header, target or (fitted or {}).get("target"), source)
    target_index = header.index(target_name)
    problems: list[str] = []
    if table.bad_rows:
        problems.append(f"{table.bad_rows} row(s) had more fields than the header and were left out.")
    # Commas are decimal separators in files that use another delimiter (the usual European export).
    decimal_comma = table.delimiter != ","

    raw_targets = [row[target_index] for row in table.rows]
    keep = [i for i, value in enumerate(raw_targets) if not is_missing(value)]
    if len(keep) < len(table.rows):
        problems.append(f"{len(table.rows) - len(keep)} row(s) without a value in '{target_name}' were left out.")
    rows = [table.rows[i] for i in keep]
    if len(rows) < 2:
        raise DataError(
            f"{printable(Path(source).name)} has fewer than two rows with a value in '{target_name}'.",
            hint="Add more labelled rows, or pick another target column.",
        )
    targets = [row[target_index] for row in rows]
    if fitted is not None:
        task, labels, class_names = _encode_target_as(fitted, targets, decimal_comma)
    else:
        task, labels, class_names = _encode_target(targets, target_name, decimal_comma, task)
    splits = stratified_split(
        labels, val_fraction=val_split, test_fraction=test_split, seed=seed, stratify=task == CLASSIFICATION
    )
    train_rows = set(splits["train"].tolist())

    if fitted is not None:
        return _dataset_with_encoder(
            fitted, table, rows, task, labels, class_names, splits, problems, source, source_kind
        )
    columns: list[dict[str, Any]] = []
    for index, name in enumerate(header):
        if index == target_index:
            continue
        values = [row[index] for row in rows]
        spec = _fit_column(name, values, train_rows, decimal_comma, problems)
        columns.append(spec)
    used = [c for c in columns if c["type"] != "dropped"]
    if not used:
        raise DataError(
            f"{printable(Path(source).name)} has no usable input columns besides '{target_name}'.",
            hint="Add columns with numbers or categories to predict from.",
        )
    preprocessing: dict[str, Any] = {
        "kind": "tabular",
        "header": list(header),
        "target": target_name,
        "task": task,
        "class_names": list(class_names),
        "delimiter": table.delimiter,
        "encoding": table.encoding,
        "decimal_comma": decimal_comma,
        "columns": columns,
        **target_stats(labels, splits["train"], task),
    }
    feature_names = feature_names_of(preprocessing)
    preprocessing["feature_names"] = feature_names
    preprocessing["num_features"] = len(feature_names)
    matrix = _encode(preprocessing, rows, header)
    loader = TableLoader(matrix, header=list(header), head=[list(r) for r in table.rows[:_PREVIEW_ROWS]])
    return Dataset(
        source=source,
        source_kind=source_kind,
        task=task,
        input_kind=VECTOR,
        input_shape=(matrix.shape[1],),
        class_names=list(class_names),
        labels=labels,
        splits=splits,
        loader=loader,
        problems=problems,
        feature_names=feature_names,
        preprocessing=preprocessing,
    )


def encode_rows(preprocessing: dict[str, Any], rows: list[dict[str, Any] | list[Any]]) -> np.ndarray:
    """Encode raw rows the way the training rows were encoded; ``(len(rows), features)`` float32.

    A row is a dict keyed by column name (missing keys count as missing values) or a list of
    values in the file's column order, with or without the target column. Works for array
    sources of feature vectors too (lists of numbers, standardised with the stored mean/std).
    """
    kind = preprocessing.get("kind")
    if kind == VECTOR:
        return _encode_vectors(preprocessing, rows)
    if kind != "tabular":
        raise DataError("These rows cannot be encoded: the model was not trained on a table.")
    header = preprocessing["header"]
    inputs = [c["name"] for c in preprocessing["columns"]]
    dicts = []
    for number, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            dicts.append(_match_keys(row, header))
        elif len(row) == len(inputs):
            dicts.append(dict(zip(inputs, row, strict=False)))
        elif len(row) == len(header):
            dicts.append(dict(zip(header, row, strict=False)))
        else:
            raise DataError(
                f"Row {number} has {len(row)} values, but the model expects {len(inputs)}.",
                hint=f"Give the values in this order: {', '.join(inputs)}.",
            )
    return _encode(preprocessing, dicts)


def feature_names_of(preprocessing: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for column in preprocessing["columns"]:
        if column["type"] == "numeric":
            names.append(column["name"])
        elif column["type"] == "categorical":
            names.extend(f"{column['name']}={value}" for value in column["categories"])
    return names


# -- fitting ---------------------------------------------------------------------------------


def _find_column(header: list[str], target: str | None, source: str) -> str:
    if target is None or not str(target).strip():
        return header[-1]
    wanted = str(target).strip()
    if wanted in header:
        return wanted
    folded = [name for name in header if name.lower() == wanted.lower()]
    if folded:
        return folded[0]
    raise DataError(
        f"{printable(Path(source).name)} has no column called '{printable(wanted)}'.",
        hint=f"Its columns are: {', '.join(header)}. Pick one of them as the target.",
    )


def _encode_target(
    values: list[str], name: str, decimal_comma: bool, task: str = "auto"
) -> tuple[str, np.ndarray, list[str]]:
    """The target column as classes or numbers.

    "auto": text -> classes; whole numbers with at most 10 distinct values (or at most
    `MAX_INTEGER_CLASSES` with ten rows per value) -> classes; other numbers -> regression.
    """
    numbers = [parse_number(v, decimal_comma=decimal_comma) for v in values]
    numeric = all(n is not None for n in numbers)
    if task == REGRESSION:
        if not numeric:
            bad = next(v for v, n in zip(values, numbers, strict=True) if n is None)
            raise DataError(
                f"The target column '{printable(name)}' holds text such as '{printable(bad.strip())}', "
                "so it cannot be predicted as a number.",
                hint="Choose classification, or a target column of numbers.",
            )
        return _regression(np.asarray(numbers, dtype=np.float64), name)
    if numeric:
        array = np.asarray(numbers, dtype=np.float64)
        distinct = np.unique(array)
        integral = bool(np.all(array == np.round(array)))
        few = len(distinct) <= 10 or (len(distinct) <= MAX_INTEGER_CLASSES and len(array) >= 10 * len(distinct))
        if task == CLASSIFICATION or (integral and few):
            if not (integral and few):
                _check_class_count(len(distinct), len(array), name)
            lookup = {value: i for i, value in enumerate(distinct)}
            codes = np.fromiter((lookup[v] for v in array), dtype=np.int64, count=len(array))
            return _check_classes(codes, [_number_name(v) for v in distinct], name)
        return _regression(array, name)
    names = sorted({v.strip() for v in values})
    lookup = {value: i for i, value in enumerate(names)}
    codes = np.fromiter((lookup[v.strip()] for v in values), dtype=np.int64, count=len(values))
    return _check_classes(codes, names, name)


def _number_name(value: float) -> str:
    return f"{value:.0f}" if value == round(value) else f"{value:g}"


def _regression(array: np.ndarray, name: str) -> tuple[str, np.ndarray, list[str]]:
    distinct = np.unique(array)
    if len(distinct) < 2:
        raise DataError(f"Every row has the same '{name}' ({distinct[0]:g}), so there is nothing to learn.")
    return REGRESSION, array.astype(np.float32), []


def _check_class_count(classes: int, rows: int, name: str) -> None:
    """Refuse a "class" column where most classes would have a single sample (an id, a measurement)."""
    if classes > 10 and classes * 2 > rows:
        raise DataError(
            f"The target column '{printable(name)}' has {classes:,} different values in {rows:,} rows: "
            "as classes, most would have a single sample to learn from.",
            hint="Choose regression for a quantity, or another target column.",
        )


def _encode_target_as(
    fitted: dict[str, Any], values: list[str], decimal_comma: bool
) -> tuple[str, np.ndarray, list[str]]:
    """Targets coded the way a trained model's were (its class order, or plain numbers)."""
    if fitted["task"] == REGRESSION:
        numbers = [parse_number(v, decimal_comma=decimal_comma) for v in values]
        bad = next((v for v, n in zip(values, numbers, strict=True) if n is None), None)
        if bad is not None:
            raise DataError(f"'{printable(bad)}' in the target column '{printable(fitted['target'])}' is not a number.")
        return REGRESSION, np.asarray(numbers, dtype=np.float32), []
    texts = [_class_text(v, decimal_comma) for v in values]
    names = sorted(set(texts))
    lookup = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((lookup[t] for t in texts), dtype=np.int64, count=len(texts))
    trained = list(fitted["class_names"])
    return CLASSIFICATION, align_classes(codes, names, trained), trained


def _class_text(value: str, decimal_comma: bool) -> str:
    number = parse_number(value, decimal_comma=decimal_comma)
    if number is not None and number == round(number):
        return f"{number:.0f}"  # "2" and "2.0" are the same class of a numeric target
    return value.strip()


def _dataset_with_encoder(
    fitted: dict[str, Any],
    table: CsvTable,
    rows: list[list[str]],
    task: str,
    labels: np.ndarray,
    class_names: list[str],
    splits: dict[str, np.ndarray],
    problems: list[str],
    source: str,
    source_kind: str,
) -> Dataset:
    absent = [c["name"] for c in fitted["columns"] if c["type"] != "dropped" and c["name"] not in table.header]
    if absent:
        problems.append(f"Column(s) the model uses are missing here and count as missing values: {', '.join(absent)}.")
    preprocessing = {
        **fitted,
        "delimiter": table.delimiter,
        "encoding": table.encoding,
        "decimal_comma": table.delimiter != ",",
    }
    matrix = _encode(preprocessing, rows, table.header)
    return Dataset(
        source=source,
        source_kind=source_kind,
        task=task,
        input_kind=VECTOR,
        input_shape=(matrix.shape[1],),
        class_names=class_names,
        labels=labels,
        splits=splits,
        loader=TableLoader(matrix, header=list(table.header), head=[list(r) for r in table.rows[:_PREVIEW_ROWS]]),
        problems=problems,
        feature_names=list(fitted.get("feature_names") or feature_names_of(fitted)),
        preprocessing=preprocessing,
    )


def _check_classes(codes: np.ndarray, names: list[str], column: str) -> tuple[str, np.ndarray, list[str]]:
    if len(names) < 2:
        raise DataError(
            f"The target column '{printable(column)}' holds one class only ('{printable(names[0])}'); "
            "a classifier needs at least two.",
            hint="Pick another target column or add rows of other classes.",
        )
    return CLASSIFICATION, codes, names


def _fit_column(
    name: str, values: list[str], train_rows: set[int], decimal_comma: bool, problems: list[str]
) -> dict[str, Any]:
    missing = [is_missing(v) for v in values]
    n_missing = sum(missing)
    present = [v for v, gone in zip(values, missing, strict=False) if not gone]
    if not present:
        problems.append(f"Column '{name}' is empty and was left out.")
        return {"name": name, "type": "dropped", "reason": "empty"}
    numbers = [parse_number(v, decimal_comma=decimal_comma) for v in present]
    if all(n is not None for n in numbers):
        train_numbers = [
            parse_number(v, decimal_comma=decimal_comma)
            for i, (v, gone) in enumerate(zip(values, missing, strict=False))
            if i in train_rows and not gone
        ]
        sample = np.asarray(train_numbers or numbers, dtype=np.float64)
        mean, std = float(sample.mean()), float(sample.std())
        if n_missing:
            problems.append(
                f"Column '{name}' has {n_missing} missing value(s); they were filled with its mean ({mean:.4g})."
            )
        return {"name": name, "type": "numeric", "mean": mean, "std": std if std > 1e-12 else 1.0, "missing": n_missing}
    counts = Counter(present)
    if len(counts) > 50 and len(counts) > 0.5 * len(values):
        problems.append(
            f"Column '{name}' has {len(counts)} different text values (like names or IDs) and was left out."
        )
        return {"name": name, "type": "dropped", "reason": "identifier-like"}
    ranked = [value for value, _ in counts.most_common()]
    categories = sorted(ranked[:MAX_CATEGORIES])
    if len(ranked) > MAX_CATEGORIES:
        categories.append(OTHER_CATEGORY)
        problems.append(
            f"Column '{name}' has {len(ranked)} different values; "
            f"the rarest {len(ranked) - MAX_CATEGORIES} share one '{OTHER_CATEGORY}' slot."
        )
    if n_missing:
        categories.append(MISSING_CATEGORY)
        problems.append(
            f"Column '{name}' has {n_missing} missing value(s); they form their own category '{MISSING_CATEGORY}'."
        )
    return {
        "name": name,
        "type": "categorical",
        "categories": categories,
        "missing": n_missing,
        "other": len(ranked) > MAX_CATEGORIES,
    }


# -- encoding --------------------------------------------------------------------------------


def _encode(
    preprocessing: dict[str, Any], rows: list[dict[str, Any]] | list[list[str]], header: list[str] | None = None
) -> np.ndarray:
    """The float32 matrix of ``rows``: dicts keyed by column name, or, with ``header``, lists in its order.

    A big table's rows are read as the lists they are (a dict per row took about six times the
    file's size) and each column is written straight into the one output matrix.
    """
    decimal_comma = bool(preprocessing.get("decimal_comma"))
    if header is None:
        def values_of(name: str) -> list[Any]:
            return [row.get(name) for row in rows]  # type: ignore[union-attr]
    else:
        position = {column: i for i, column in enumerate(header)}

        def values_of(name: str) -> list[Any]:
            index = position.get(name)
            return [None] * len(rows) if index is None else [row[index] for row in rows]
    columns = [c for c in preprocessing["columns"] if c["type"] in ("numeric", "categorical")]
    widths = [1 if c["type"] == "numeric" else len(c["categories"]) for c in columns]
    out = np.zeros((len(rows), sum(widths)), dtype=np.float32)
    at = 0
    for column, width in zip(columns, widths, strict=True):
        name = column["name"]
        values = values_of(name)
        if column["type"] == "numeric":
            block = np.empty(len(rows), dtype=np.float64)
            for i, value in enumerate(values):
                if is_missing(value):
                    block[i] = column["mean"]
                    continue
                number = parse_number(value, decimal_comma=decimal_comma)
                if number is None:
                    raise DataError(
                        f"'{printable(value)}' in column '{printable(name)}' is not a number.",
                        hint="Type a number, or leave it empty.",
                    )
                block[i] = number
            out[:, at] = (block - column["mean"]) / column["std"]
        else:
            categories = column["categories"]
            slot = {value: i for i, value in enumerate(categories)}
            for i, value in enumerate(values):
                if is_missing(value):
                    slot_index = slot.get(MISSING_CATEGORY)
                else:
                    text = _category_text(value)
                    slot_index = slot.get(text, slot.get(OTHER_CATEGORY) if column.get("other") else None)
                if slot_index is not None:
                    out[i, at + slot_index] = 1.0
        at += width
    return out


def _category_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 typed into a category column of "3"s
    return str(value).strip()


def _match_keys(row: dict[str, Any], header: list[str]) -> dict[str, Any]:
    folded = {name.lower(): name for name in header}
    return {folded.get(str(key).strip().lower(), key): value for key, value in row.items()}


def _encode_vectors(preprocessing: dict[str, Any], rows: list[dict[str, Any] | list[Any]]) -> np.ndarray:
    mean = np.asarray(preprocessing["mean"], dtype=np.float32)
    std = np.asarray(preprocessing["std"], dtype=np.float32)
    width = len(mean)
    out = np.empty((len(rows), width), dtype=np.float32)
    for number, row in enumerate(rows, start=1):
        values = [row.get(f"x{i}") for i in range(width)] if isinstance(row, dict) else list(row)
        if len(values) != width:
            raise DataError(f"Row {number} has {len(values)} values, but the model expects {width}.")
        parsed = [np.nan if is_missing(v) else parse_number(v) for v in values]
        if any(p is None for p in parsed):
            raise DataError(f"Row {number} holds a value that is not a number.", hint="Type numbers only.")
        out[number - 1] = parsed
    out = np.where(np.isnan(out), mean, out)
    return ((out - mean) / std).astype(np.float32)
