"""The runs table: one row per run with its key settings and results as columns.

What MATLAB's Experiment Manager users expect: click any header to sort (numbers as numbers,
empty cells last), type in a filter box or pick a path and a data source to narrow the rows,
right-click the header to show or hide columns. A comparison is a row whose runs hang under
it. The rows are `engine.export.runs.RunEntry` values; Qt's model/view classes do the
sorting and filtering (`RunsModel` under a `RunsFilter` proxy, shown by `RunsTable`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QStyle, QTreeView, QWidget

from kiln_lab.engine.export.runs import RunEntry

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the value a column sorts by: a number, a string or None
ENTRY_ROLE = Qt.ItemDataRole.UserRole  # the row's RunEntry
REASONS = {"stopped": "stopped by you", "early_stopping": "stopped early", "nan": "loss became NaN"}


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def format_finished(finished: str, now: datetime | None = None) -> str:
    """As a file manager says it: "today 09:14", "03-28 17:02" this year, "2025-11-30" before
    (the full time is in the cell's tooltip)."""
    try:
        when = datetime.strptime(finished, "%Y-%m-%d %H:%M")
    except ValueError:
        return finished
    now = now or datetime.now()
    if when.date() == now.date():
        return when.strftime("today %H:%M")
    return when.strftime("%m-%d %H:%M") if when.year == now.year else when.strftime("%Y-%m-%d")


def format_rate(rate: float | None) -> str:
    """0.001, 0.01; small rates as 3e-4 (not 0.0003 nor 3e-04): short and read at a glance."""
    if rate is None:
        return ""
    if 0 < rate < 1e-3:
        mantissa, exponent = f"{rate:.3e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{rate:g}"


def _number_text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    """One column: its key (kept in settings), header, tooltip, cell text and sort value."""

    key: str
    title: str
    tip: str
    text: Callable[[RunEntry], str]
    sort: Callable[[RunEntry], Any]
    shown: bool = True  # shown until the person hides it
    numeric: bool = False  # right-aligned


def _name(entry: RunEntry) -> str:
    return entry.name + (f" ({REASONS[entry.reason]})" if entry.reason in REASONS else "")


def _setting(key: str) -> Callable[[RunEntry], Any]:
    return lambda entry: entry.settings.get(key)


def _path(entry: RunEntry) -> str:
    return "both" if entry.kind == "comparison" else entry.settings.get("path") or ""


def _model(entry: RunEntry) -> str:
    if entry.kind == "comparison":  # its runs' models, "mlp vs demo": short enough for the column
        models = dict.fromkeys(c.settings.get("model") for c in entry.children if c.settings.get("model"))
        return " vs ".join(models) or entry.model
    return entry.settings.get("model") or ""


def _rates(entry: RunEntry) -> str:
    first, second = entry.settings.get("learning_rate"), entry.settings.get("phase2_learning_rate")
    return format_rate(first) + (f" → {format_rate(second)}" if second is not None else "")


def _score(value: float | None) -> str:
    """Three decimals for accuracies (0.900 beside 0.935, not 0.9), four figures for larger errors."""
    if value is None:
        return ""
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.4g}"


COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", "The run's name; hover for its folder", _name, lambda e: e.name.lower()),
    Column("finished", "Finished", "When the run ended", lambda e: format_finished(e.finished), lambda e: e.finished),
    Column(
        "path", "Path", "Trained from scratch, or fine-tuned from a pretrained backbone", _path, lambda e: _path(e)
    ),
    Column("data", "Data", "The data the run trained on", lambda e: e.data, lambda e: e.data.lower()),
    Column("model", "Model", "The starting architecture (from scratch) or the backbone (fine-tuning)", _model, _model),
    Column(
        "epochs", "Epochs", "Epochs the run trained (early stopping may end a run before its planned epochs)",
        lambda e: _number_text(e.epochs or None), lambda e: e.epochs or None, numeric=True,
    ),
    Column(
        "batch_size", "Batch", "Batch size: samples per weight update",
        lambda e: _number_text(e.settings.get("batch_size")), _setting("batch_size"), numeric=True,
    ),
    Column(
        "learning_rate", "Learning rate",
        "The step size of each update; two-phase fine-tuning shows the rate of phase 1 → phase 2",
        _rates, _setting("learning_rate"), numeric=True,
    ),
    Column(
        "optimizer", "Optimizer", "How the weights are updated from the gradients",
        lambda e: e.settings.get("optimizer") or "", _setting("optimizer"), shown=False,
    ),
    Column(
        "start", "Start", "How the weights start: the initialiser from scratch, the frozen layers when fine-tuning",
        lambda e: e.settings.get("start") or "", _setting("start"), shown=False,
    ),
    Column(
        "phases", "Phases", "Fine-tuning in two phases: the head first with the backbone frozen, then all of it",
        lambda e: _number_text(e.settings.get("phases")), _setting("phases"), shown=False, numeric=True,
    ),
    Column(
        "seed", "Seed", "The training seed: the same seed repeats the same shuffles",
        lambda e: _number_text(e.settings.get("seed")), _setting("seed"), shown=False, numeric=True,
    ),
    Column(
        "best_val", "Validation", "The best validation figure over the epochs (hover a cell for its metric)",
        lambda e: _score(e.best_val), lambda e: e.best_val, numeric=True,
    ),
    Column(
        "test", "Test", "The figure on the held-out test split, when the run kept one",
        lambda e: _score(e.test), lambda e: e.test, numeric=True,
    ),
    Column("time", "Time", "How long the run trained", lambda e: format_seconds(e.seconds), lambda e: e.seconds,
           numeric=True),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)


class RunsModel(QAbstractItemModel):
    """Runs and comparisons (their runs as children); each cell's text and sort value come from `COLUMNS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[RunEntry] = []

    def set_entries(self, entries: list[RunEntry]) -> None:
        self.beginResetModel()
        self.entries = list(entries)
        self.endResetModel()

    def entry(self, index: QModelIndex) -> RunEntry | None:
        if not index.isValid():
            return None
        parent_row = index.internalId()  # 0: a top-level row, n: a child of top-level row n - 1
        if parent_row == 0:
            return self.entries[index.row()]
        return self.entries[parent_row - 1].children[index.row()]

    # -- QAbstractItemModel ---------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, 0 if not parent.isValid() else parent.row() + 1)

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        if not parent.isValid():
            return len(self.entries)
        if parent.column() != 0 or parent.internalId() != 0:
            return 0  # runs of a comparison have no children
        return len(self.entries[parent.row()].children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.entry(index)
        if entry is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(entry)
        if role == SORT_ROLE:
            return column.sort(entry)
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tip(entry, column.key)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tip + ". Click to sort, right-click to choose the columns."
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _tip(entry: RunEntry, key: str) -> str | None:
        if entry.kind == "comparison":
            return entry.score_name or str(entry.path)  # the verdict, in full
        if key == "name":
            return str(entry.path)
        if key == "finished":
            return entry.finished
        if key == "best_val" and entry.best_val is not None:
            return f"Best {entry.best_val_name} on the validation split over {entry.epochs} epochs"
        if key == "test" and entry.test is not None:
            return f"{entry.test_name.capitalize()} on the test split"
        if key == "epochs" and entry.settings.get("epochs"):
            return f"{entry.epochs} of {entry.settings['epochs']} planned epochs"
        return None


class RunsFilter(QSortFilterProxyModel):
    """Sorts by each column's value (numbers as numbers, empty cells last) and keeps the rows that
    match every word of the filter text (in any column) and the chosen path and data."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.words: list[str] = []
        # not `data`, `path`: a Python attribute named like a Qt method hides the method from Qt
        self.path_kind = ""  # "", "scratch" or "fine-tune"
        self.data_source = ""  # "" or a data source as the table shows it
        self.setRecursiveFilteringEnabled(True)  # a comparison stays while one of its runs matches
        self.setSortRole(SORT_ROLE)

    def set_filter(self, text: str | None = None, *, path: str | None = None, data: str | None = None) -> None:
        if text is not None:
            self.words = text.lower().split()
        if path is not None:
            self.path_kind = path
        if data is not None:
            self.data_source = data
        self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        model: RunsModel = self.sourceModel()
        entry = model.entry(model.index(source_row, 0, source_parent))
        if entry is None:
            return False
        if entry.kind == "comparison" and entry.children:
            return False  # shown while one of its runs is (recursive filtering)
        if self.path_kind and entry.settings.get("path") != self.path_kind:
            return False
        if self.data_source and entry.data != self.data_source:
            return False
        if not self.words:
            return True
        # every column, hidden ones too: "sgd" finds the runs that used SGD whether or not Optimizer shows
        texts = " ".join(column.text(entry) for column in COLUMNS)
        if source_parent.isValid():  # a comparison's run: the comparison's name finds it too
            texts += " " + model.entry(source_parent).name
        texts = texts.lower()
        return all(word in texts for word in self.words)

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:  # noqa: N802
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            # empty cells last whichever way the column sorts (Qt reverses the order for descending)
            return a is None and b is not None and self.sortOrder() == Qt.SortOrder.DescendingOrder or (
                b is None and a is not None and self.sortOrder() == Qt.SortOrder.AscendingOrder
            )
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a) < str(b)


class RunsHeader(QHeaderView):
    """A header that keeps room for the sort arrow in the sorted column only (Qt keeps it in every
    column): a dozen columns then fit the smallest window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)  # as a tree's own
        self.sortIndicatorChanged.connect(lambda *_: self.resizeSections(QHeaderView.ResizeMode.ResizeToContents))

    def sectionSizeFromContents(self, logical_index: int) -> QSize:  # noqa: N802 - Qt override
        size = super().sectionSizeFromContents(logical_index)
        if self.isSortIndicatorShown() and logical_index != self.sortIndicatorSection():
            margin = self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, self)
            size.setWidth(size.width() - size.height() - margin)
        return size


class RunsTable(QTreeView):
    """The runs as a sortable, filterable table; right-click the header to choose the columns.

    ``columns_changed`` says which columns are hidden and how the table sorts, for the settings.
    """

    columns_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeader(RunsHeader(self))
        self.runs_model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.runs_model)
        self.setModel(self.proxy)
        self.setRootIsDecorated(True)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSortingEnabled(True)
        self.setIndentation(14)  # a comparison's runs step in a little; the width goes to the columns
        header = self.header()
        header.setSectionsMovable(False)  # the name stays first, where a comparison's runs hang
        # Every column as wide as its widest text (children of an expanded comparison included):
        # no cell is ever cut. The spare width stays on the right: a stretched last column would
        # carry its right-aligned figures away from the rest of the row.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setSortIndicator(COLUMN_KEYS.index("finished"), Qt.SortOrder.DescendingOrder)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self.show_column_menu)
        header.sortIndicatorChanged.connect(lambda *_: self.columns_changed.emit())
        for index, column in enumerate(COLUMNS):
            header.setSectionHidden(index, not column.shown)

    # -- rows -----------------------------------------------------------------------------

    def set_entries(self, entries: list[RunEntry], renamed: dict[str, str] | None = None) -> None:
        """Show these rows, keeping which are selected and which comparisons are open
        (``renamed``: old folder -> new folder, for a row that has just been renamed)."""
        renamed = renamed or {}
        selected = {renamed.get(str(e.path), str(e.path)) for e in self.selected_entries()}
        expanded = {renamed.get(p, p) for p in self.expanded_paths()}
        self.runs_model.set_entries(entries)
        for proxy_index in self._all_rows():
            entry = proxy_index.data(ENTRY_ROLE)
            if str(entry.path) in expanded:
                self.setExpanded(proxy_index, True)
        self.select_paths(selected)

    def entries_shown(self) -> list[RunEntry]:
        return [index.data(ENTRY_ROLE) for index in self._all_rows()]

    def selected_entries(self) -> list[RunEntry]:
        if self.selectionModel() is None:
            return []
        return [index.data(ENTRY_ROLE) for index in self.selectionModel().selectedRows(0)]

    def select_paths(self, paths: Iterable[str | Path]) -> None:
        wanted = {str(Path(p)) for p in paths}
        selection = QItemSelection()
        for index in self._all_rows():
            if str(index.data(ENTRY_ROLE).path) in wanted:
                selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.selectionModel().select(selection, flags)

    def expanded_paths(self) -> set[str]:
        return {str(index.data(ENTRY_ROLE).path) for index in self._all_rows() if self.isExpanded(index)}

    def expand_path(self, path: str | Path) -> None:
        for index in self._all_rows():
            if str(index.data(ENTRY_ROLE).path) == str(Path(path)):
                self.setExpanded(index, True)

    def _all_rows(self) -> list[QPersistentModelIndex | QModelIndex]:
        """Every shown row's first cell (comparisons' runs included, open or not), top to bottom."""
        rows = []
        for row in range(self.proxy.rowCount()):
            top = self.proxy.index(row, 0)
            rows.append(top)
            rows.extend(self.proxy.index(child, 0, top) for child in range(self.proxy.rowCount(top)))
        return rows

    def run_count(self) -> tuple[int, int]:
        """(runs shown, runs in all): a comparison counts its runs."""

        def runs(entries: Iterable[RunEntry]) -> int:
            return sum(len(e.children) if e.kind == "comparison" else 1 for e in entries)

        shown = sum(1 for index in self._all_rows() if index.data(ENTRY_ROLE).kind == "run")
        return shown, runs(self.runs_model.entries)

    def data_sources(self) -> list[str]:
        """The data the runs trained on, most runs first, for a filter's choices."""
        counts = Counter(
            child.data for e in self.runs_model.entries for child in (e.children or [e]) if child.data
        )
        return [name for name, _ in counts.most_common()]

    # -- columns --------------------------------------------------------------------------

    def hidden_columns(self) -> list[str]:
        return [c.key for i, c in enumerate(COLUMNS) if self.header().isSectionHidden(i)]

    def set_column_shown(self, key: str, shown: bool) -> None:
        if key == "name":
            return  # a row always says which run it is
        self.header().setSectionHidden(COLUMN_KEYS.index(key), not shown)
        self.columns_changed.emit()

    def column_state(self) -> dict[str, Any]:
        """What the settings keep: hidden columns and the sort."""
        header = self.header()
        order = "descending" if header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder else "ascending"
        section = header.sortIndicatorSection()
        return {
            "hidden": self.hidden_columns(),
            "sort": [COLUMN_KEYS[section] if 0 <= section < len(COLUMNS) else "finished", order],
        }

    def restore_column_state(self, state: dict[str, Any]) -> None:
        hidden = state.get("hidden")
        if isinstance(hidden, list):
            for index, column in enumerate(COLUMNS):
                self.header().setSectionHidden(index, column.key in hidden and column.key != "name")
        sort = state.get("sort")
        if isinstance(sort, list) and len(sort) == 2 and sort[0] in COLUMN_KEYS:
            order = Qt.SortOrder.DescendingOrder if sort[1] == "descending" else Qt.SortOrder.AscendingOrder
            self.sortByColumn(COLUMN_KEYS.index(sort[0]), order)

    def column_menu(self) -> QMenu:
        """Show or hide each column (the name always shows)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for index, column in enumerate(COLUMNS):
            action = menu.addAction(column.title)
            action.setCheckable(True)
            action.setChecked(not self.header().isSectionHidden(index))
            action.setEnabled(column.key != "name")
            action.setToolTip(column.tip)
            action.toggled.connect(lambda shown, key=column.key: self.set_column_shown(key, shown))
        return menu

    def show_column_menu(self, position: QPoint) -> None:
        self.column_menu().exec(self.header().mapToGlobal(position))
