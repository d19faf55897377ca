"""The Train page's live preview: what the model predicts now on a few fixed samples, each epoch.

The engine picks the samples once per run (from the validation split, spread over the classes)
and after every epoch sends its `PreviewPredictions`: the true label, the predicted one and its
confidence per sample (regression: the true and predicted values), with small uint8 thumbnails
for pictures and each row's values for tables. Pictures show as tiles, framed and marked green
with a tick when right, red with a cross when wrong; table rows as a table. The same samples
every epoch, so a person watches the model's answers change as it learns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine import events as ev
from kiln_lab.gui import theme
from kiln_lab.gui.widgets.images import array_to_pixmap

TILE = 40  # a thumbnail's side on screen, in pixels (the tab beside the run log is small at 1100x680)
TILE_WIDTH = TILE + 36  # room for "✗ 6 100%" under it; longer names are elided (the tooltip has them whole)
SPLIT_WORDS = {"val": "validation", "test": "test", "train": "training"}
WAITING = (
    "While a run trains, the model's predictions on a few fixed validation samples appear here after "
    "each epoch: the same samples every time, so you can watch its answers change as it learns."
)


def verdict_colors() -> tuple[str, str]:
    """(right, wrong) text colours readable on this theme's background."""
    return ("#5fd38d", "#ff7b54") if theme.is_dark() else ("#1f7a3f", "#c0392b")


def sample_caption(sample: dict[str, Any], regression: bool) -> tuple[str, str]:
    """The two lines under a sample: what the model says now, and the truth."""
    if regression:
        return f"predicted {sample['predicted']:.4g}", f"true {sample['true']:.4g}"
    mark = "✓" if sample["right"] else "✗"
    return f"{mark} {sample['predicted']} {sample['confidence']:.0%}", f"true {sample['true']}"


class PreviewTile(QFrame):
    """One sample's thumbnail with the model's current answer under it."""

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        self.setObjectName("PreviewTile")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(1)
        picture = QLabel()
        picture.setPixmap(array_to_pixmap(image, TILE))
        picture.setFixedSize(TILE, TILE)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(picture, 0, Qt.AlignmentFlag.AlignHCenter)
        self.answer = QLabel()
        self.truth = QLabel()
        self.truth.setProperty("role", "muted")
        for label in (self.answer, self.truth):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("font-size: 8.5pt;")
            layout.addWidget(label)
        self.setFixedWidth(TILE_WIDTH)

    def show_sample(self, sample: dict[str, Any], regression: bool) -> None:
        answer, truth = sample_caption(sample, regression)
        room = TILE_WIDTH - 8
        self.answer.setText(self.answer.fontMetrics().elidedText(answer, Qt.TextElideMode.ElideRight, room))
        self.truth.setText(self.truth.fontMetrics().elidedText(truth, Qt.TextElideMode.ElideRight, room))
        right, wrong = verdict_colors()
        color = "" if regression else (right if sample["right"] else wrong)
        weight = "600" if color else "400"
        self.answer.setStyleSheet(f"font-size: 8.5pt; font-weight: {weight};" + (f" color: {color};" if color else ""))
        border = color or "palette(mid)"
        self.setStyleSheet(f"QFrame#PreviewTile {{ border: 2px solid {border}; border-radius: 5px; }}")
        if regression:
            self.setToolTip(f"Sample {sample['index']}: true {sample['true']:.6g}, predicted {sample['predicted']:.6g}")
        else:
            verdict = "right" if sample["right"] else "wrong"
            self.setToolTip(
                f"Sample {sample['index']}: the model says {sample['predicted']} with {sample['confidence']:.0%} "
                f"confidence; it is {sample['true']} ({verdict})"
            )


class LivePreviewPanel(QWidget):
    """Tiles (pictures) or a table (rows), updated from each `PreviewPredictions` of the current run."""

    def __init__(self) -> None:
        super().__init__()
        self.status = QLabel(WAITING)
        self.status.setWordWrap(True)
        self.status.setProperty("role", "muted")
        self.status.setToolTip(
            "The samples are chosen once per run (seeded, spread over the classes) from the validation split; "
            "each epoch the model predicts on them once, which costs about a millisecond."
        )

        self.grid_area = QScrollArea()
        self.grid_area.setWidgetResizable(True)
        self.grid_area.setFrameShape(QFrame.Shape.NoFrame)
        self.grid_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # tiles re-flow instead
        inner = QWidget()
        self.grid = QGridLayout(inner)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.grid.setSpacing(6)
        self.grid_area.setWidget(inner)
        self.tiles: list[PreviewTile] = []
        self._flowed_columns = 0

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        self.views = QStackedWidget()
        self.views.addWidget(self.grid_area)
        self.views.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.status)
        layout.addWidget(self.views, 1)
        self.last: ev.PreviewPredictions | None = None
        self._indices: list[int] = []
        # A bound method, not a lambda: Qt drops the connection when this panel is deleted.
        theme.theme_changes.changed.connect(self._restyle)

    def _restyle(self, _dark: bool = False) -> None:
        if self.last is not None:
            self.show_preview(self.last)

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """An engine event of the current run: a new run clears the preview; a preview is shown."""
        if isinstance(event, ev.RunStarted):
            self.reset()
            self.status.setText("Waiting for the first epoch's predictions…")
        elif isinstance(event, ev.PreviewPredictions):
            self.show_preview(event)

    def reset(self) -> None:
        self.last = None
        self._indices = []
        self._clear_tiles()
        self.table.setRowCount(0)
        self.status.setText(WAITING)

    # -- showing --------------------------------------------------------------------------

    def show_preview(self, preview: ev.PreviewPredictions) -> None:
        self.last = preview
        regression = preview.task == "regression"
        samples = preview.samples
        where = SPLIT_WORDS.get(preview.split, preview.split)
        if regression:
            errors = [abs(s["predicted"] - s["true"]) for s in samples]
            summary = f"typical error {np.mean(errors):.4g}" if errors else ""
        else:
            summary = f"{sum(1 for s in samples if s['right'])} of {len(samples)} right"
        self.status.setText(f"Epoch {preview.epoch + 1}: {summary} on {len(samples)} fixed {where} samples.")
        if preview.images is not None:
            self._show_tiles(preview, regression)
        else:
            self._show_rows(preview, regression)

    def _show_tiles(self, preview: ev.PreviewPredictions, regression: bool) -> None:
        self.views.setCurrentWidget(self.grid_area)
        indices = [s["index"] for s in preview.samples]
        if indices != self._indices:  # new samples (a new run): new pictures; else only the answers change
            self._clear_tiles()
            self.tiles = [PreviewTile(image) for image in np.asarray(preview.images)]
            self._indices = indices
            self._flow()
        for tile, sample in zip(self.tiles, preview.samples, strict=False):
            tile.show_sample(sample, regression)

    def _flow(self, *, force: bool = True) -> None:
        columns = self._columns()
        if not force and columns == self._flowed_columns:
            return
        self._flowed_columns = columns
        for tile in self.tiles:
            self.grid.removeWidget(tile)
        for i, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, i // columns, i % columns)

    def _columns(self) -> int:
        """Tiles that fit across. From the panel's own width: a tab's page is sized even while hidden,
        but the layouts inside it are not, so the scroll area's width is stale until it is shown."""
        margins = self.layout().contentsMargins()
        grid = self.grid.contentsMargins()
        room = (self.width() - margins.left() - margins.right() - grid.left() - grid.right()
                - self.grid_area.verticalScrollBar().sizeHint().width())
        return max(1, (room + self.grid.horizontalSpacing()) // (TILE_WIDTH + self.grid.horizontalSpacing()))

    def _clear_tiles(self) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(event)
        if self.tiles:
            self._flow(force=False)

    def _show_rows(self, preview: ev.PreviewPredictions, regression: bool) -> None:
        self.views.setCurrentWidget(self.table)
        samples = preview.samples
        columns = [name for name, _text in (samples[0].get("values") or [])] if samples else []
        # The verdict first: the tab is narrow, and the row's values can scroll.
        heads = ["True", "Predicted", "Error" if regression else "Confidence", *columns]
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        self.table.setRowCount(len(samples))
        right, wrong = verdict_colors()
        for r, sample in enumerate(samples):
            values = [text for _name, text in (sample.get("values") or [])]
            if regression:
                verdict = [f"{sample['true']:.4g}", f"{sample['predicted']:.4g}",
                           f"{sample['predicted'] - sample['true']:+.3g}"]
            else:
                mark = "✓" if sample["right"] else "✗"
                verdict = [str(sample["true"]), f"{mark} {sample['predicted']}", f"{sample['confidence']:.0%}"]
            for c, text in enumerate([*verdict, *values]):
                item = QTableWidgetItem(text)
                if c < len(verdict):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if not regression and c == 1:
                    item.setForeground(QBrush(QColor(right if sample["right"] else wrong)))
                self.table.setItem(r, c, item)
