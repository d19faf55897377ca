"""Data page: open a source, watch the scan, then see what Kiln found in it.

Three states in one stack: the start page (nothing loaded: open, demos, recent), the scan
in progress (progress + cancel), and the dataset view (kind, class counts, samples,
split, augmentation preview, problems). Scanning and reading samples run in workers.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data.config import AugmentConfig
from gui.session import Session
from gui.widgets.bar_chart import ClassCountsChart
from gui.widgets.forms import float_spin, muted_label, title_label
from gui.widgets.image_grid import ClassRows, ImageGrid
from gui.workers import Worker, WorkerContext, WorkerError, run_in_background

SOURCE_KINDS = {
    "images": "Image folder",
    "csv": "CSV table",
    "arrays": "NumPy arrays",
    "hdf5": "HDF5 file",
    "demo": "Demo dataset",
}
IMAGE_SIZES = [
    ("As the data (or the backbone's)", None),
    ("32 x 32", 32),
    ("64 x 64", 64),
    ("96 x 96", 96),
    ("128 x 128", 128),
    ("160 x 160", 160),
    ("224 x 224", 224),
]
THUMBNAILS_PER_CLASS = 8
AUGMENT_PREVIEWS = 12


def describe_dataset(dataset: Any) -> str:
    """ "Demo dataset · image classification · 10 classes · 1,797 samples · 8x8x1"."""
    kind = SOURCE_KINDS.get(dataset.source_kind, dataset.source_kind)
    shape = "x".join(str(d) for d in dataset.input_shape)
    task = f"{dataset.input_kind} {dataset.task}"
    classes = f"{dataset.num_classes} classes · " if dataset.is_classification else ""
    return f"{kind} · {task} · {classes}{dataset.num_samples:,} samples · input {shape}"


class StartPanel(QWidget):
    """Shown before any data is loaded: what to do first."""

    open_folder = Signal()
    open_file = Signal()
    load_source = Signal(str)
    demo_backbone = Signal()

    def __init__(self) -> None:
        super().__init__()
        from engine.data.demo import DEMOS

        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 36, 48, 36)
        outer.setSpacing(14)
        outer.addWidget(title_label("Train from scratch, or fine-tune?"))
        outer.addWidget(
            muted_label(
                "Start with data. Drop a folder of images (one sub-folder per class), a CSV table, a NumPy .npz "
                "or an HDF5 file anywhere on this window, or open one. Kiln scans it, shows what it found, and then "
                "helps you pick between a model trained from scratch and a pretrained backbone."
            )
        )

        buttons = QHBoxLayout()
        folder = QPushButton("Open folder…")
        folder.setProperty("role", "primary")
        folder.setToolTip("A folder with one sub-folder of images per class (Ctrl+Shift+O)")
        folder.clicked.connect(self.open_folder)
        file = QPushButton("Open file…")
        file.setToolTip("A CSV, .npz or .h5 file (Ctrl+O)")
        file.clicked.connect(self.open_file)
        buttons.addWidget(folder)
        buttons.addWidget(file)
        buttons.addStretch(1)
        outer.addLayout(buttons)

        cards = QHBoxLayout()
        cards.setSpacing(14)
        demos = QGroupBox("Try a demo dataset")
        demo_layout = QVBoxLayout(demos)
        for name, text in DEMOS.items():
            row = QHBoxLayout()
            description = QLabel(f"<b>demo:{name}</b><br>{text}")
            description.setWordWrap(True)
            button = QPushButton("Load")
            button.setObjectName(f"demo-{name}")
            button.setToolTip(f"Load demo:{name}; it ships with Kiln and needs no network.")
            button.clicked.connect(lambda _=False, n=name: self.load_source.emit(f"demo:{n}"))
            row.addWidget(description, 1)
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            demo_layout.addLayout(row)
        demo_layout.addStretch(1)
        cards.addWidget(demos, 1)

        backbone = QGroupBox("Or see fine-tuning at once")
        backbone_layout = QVBoxLayout(backbone)
        backbone_text = QLabel(
            "Load <b>demo:digits</b> and pick Kiln's small <b>demo backbone</b>, a network pretrained on other "
            "data that ships with Kiln. Then compare it with a model trained from scratch."
        )
        backbone_text.setWordWrap(True)
        backbone_button = QPushButton("Digits + demo backbone")
        backbone_button.setObjectName("demo-backbone")
        backbone_button.setToolTip("Load demo:digits and set up fine-tuning of the demo backbone.")
        backbone_button.clicked.connect(self.demo_backbone)
        backbone_layout.addWidget(backbone_text)
        backbone_layout.addWidget(backbone_button, 0, Qt.AlignmentFlag.AlignLeft)
        backbone_layout.addStretch(1)
        cards.addWidget(backbone, 1)
        outer.addLayout(cards)

        self.recent_box = QGroupBox("Recent datasets")
        recent_layout = QVBoxLayout(self.recent_box)
        self.recent_list = QListWidget()
        self.recent_list.setToolTip("Double-click to open again.")
        self.recent_list.itemActivated.connect(lambda item: self.load_source.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent_list.setMaximumHeight(150)
        recent_layout.addWidget(self.recent_list)
        outer.addWidget(self.recent_box)
        outer.addStretch(1)

    def set_recent(self, sources: list[str]) -> None:
        self.recent_list.clear()
        for source in sources:
            item = QListWidgetItem(source)
            item.setData(Qt.ItemDataRole.UserRole, source)
            item.setToolTip(source)
            self.recent_list.addItem(item)
        self.recent_box.setVisible(bool(sources))


class ScanPanel(QWidget):
    """A scan in progress."""

    cancel = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 120, 80, 80)
        self.title = title_label("Scanning…")
        self.message = muted_label("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scanning; nothing is changed (Esc)")
        self.cancel_button.setShortcut("Esc")
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    def begin(self, source: str) -> None:
        self.title.setText(f"Scanning {source}")
        self.message.setText("Looking for samples and checking every file…")
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)

    def report(self, done: int, total: int | None, message: str) -> None:
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.bar.setFormat(f"{done:,} of {total:,}")
        else:
            self.bar.setRange(0, 0)
        if message:
            self.message.setText(message)


class DataPage(QWidget):
    """The first step: a dataset, its split and its augmentation."""

    busy = Signal(str)  # status-bar text while scanning ("" when idle)
    failed = Signal(str, object)  # dialog title, WorkerError
    loaded = Signal(str)  # the source, for the recent list

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._scan: Worker | None = None
        self._preview_worker: Worker | None = None
        self._preview_pending = False

        self.start = StartPanel()
        self.scan_panel = ScanPanel()
        self.scan_panel.cancel.connect(self.cancel_scan)
        self.view = self._build_view()
        self.stack = QStackedWidget()
        for panel in (self.start, self.scan_panel, self.view):
            self.stack.addWidget(panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        self._split_timer = QTimer(self)
        self._split_timer.setSingleShot(True)
        self._split_timer.setInterval(150)
        self._split_timer.timeout.connect(self._apply_split)
        self._augment_timer = QTimer(self)
        self._augment_timer.setSingleShot(True)
        self._augment_timer.setInterval(300)
        self._augment_timer.timeout.connect(self.refresh_augment_preview)
        session.config_loaded.connect(self._show_config)

    # -- layout ---------------------------------------------------------------------------

    def _build_view(self) -> QWidget:
        view = QWidget()
        outer = QVBoxLayout(view)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(10)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        self.title = title_label("")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = muted_label("", wrap=False)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header.addLayout(titles, 1)
        self.reload_button = QPushButton("Rescan")
        self.reload_button.setToolTip("Scan the source again (after you changed files on disk)")
        self.reload_button.clicked.connect(lambda: self.load(self.session.config.data.source))
        self.close_button = QPushButton("Other data…")
        self.close_button.setToolTip("Back to the start page to open another dataset")
        self.close_button.clicked.connect(lambda: self.stack.setCurrentWidget(self.start))
        header.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(header)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 6, 0)
        self.counts_box = QGroupBox("Samples per class")
        counts_layout = QVBoxLayout(self.counts_box)
        self.counts_chart = ClassCountsChart()
        self.regression_label = muted_label("")
        self.regression_label.setVisible(False)
        counts_layout.addWidget(self.counts_chart)
        counts_layout.addWidget(self.regression_label)
        left_layout.addWidget(self.counts_box, 3)
        left_layout.addWidget(self._build_split_box())
        left_layout.addWidget(self._build_problems_box(), 1)
        splitter.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        self.samples_box = QGroupBox("Samples")
        samples_layout = QVBoxLayout(self.samples_box)
        self.samples_stack = QStackedWidget()
        self.thumbnails = ClassRows(tile_size=44)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.samples_stack.addWidget(self.thumbnails)
        self.samples_stack.addWidget(self.table)
        samples_layout.addWidget(self.samples_stack)
        right_layout.addWidget(self.samples_box, 3)
        right_layout.addWidget(self._build_augment_box(), 2)
        splitter.addWidget(right)
        splitter.setSizes([520, 700])
        outer.addWidget(splitter, 1)
        return view

    def _build_split_box(self) -> QGroupBox:
        box = QGroupBox("Split")
        grid = QGridLayout(box)
        self.val_slider = QSlider(Qt.Orientation.Horizontal)
        self.val_slider.setRange(0, 50)
        self.val_slider.setValue(20)
        self.val_slider.setToolTip("Share of each class held out to validate on while training (0-50 %)")
        self.test_slider = QSlider(Qt.Orientation.Horizontal)
        self.test_slider.setRange(0, 50)
        self.test_slider.setValue(0)
        self.test_slider.setToolTip("Share of each class kept aside for a final test, never seen in training (0-50 %)")
        self.val_label = QLabel()
        self.test_label = QLabel()
        self.split_summary = muted_label("")
        for label in (self.val_label, self.test_label):
            label.setMinimumWidth(48)
        grid.addWidget(QLabel("Validation"), 0, 0)
        grid.addWidget(self.val_slider, 0, 1)
        grid.addWidget(self.val_label, 0, 2)
        grid.addWidget(QLabel("Test"), 1, 0)
        grid.addWidget(self.test_slider, 1, 1)
        grid.addWidget(self.test_label, 1, 2)
        self.image_size_combo = QComboBox()
        for text, size in IMAGE_SIZES:
            self.image_size_combo.addItem(text, size)
        self.image_size_combo.setToolTip("Resize every image to this square size before the model sees it")
        self.image_size_label = QLabel("Image size")
        grid.addWidget(self.image_size_label, 2, 0)
        grid.addWidget(self.image_size_combo, 2, 1, 1, 2)
        grid.addWidget(self.split_summary, 3, 0, 1, 3)
        self.val_slider.valueChanged.connect(self._on_split_moved)
        self.test_slider.valueChanged.connect(self._on_split_moved)
        self.image_size_combo.currentIndexChanged.connect(self._on_image_size)
        self._update_split_labels()
        return box

    def _build_problems_box(self) -> QGroupBox:
        box = QGroupBox("Problems found")
        layout = QVBoxLayout(box)
        self.problems = QTreeWidget()
        self.problems.setHeaderLabels(["File or issue", "Reason"])
        self.problems.setRootIsDecorated(False)
        self.problems.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.problems.setAlternatingRowColors(True)
        self.problems.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.problems.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.problems_summary = muted_label("")
        layout.addWidget(self.problems_summary)
        layout.addWidget(self.problems)
        return box

    def _build_augment_box(self) -> QGroupBox:
        self.augment_box = QGroupBox("Augmentation (training batches only)")
        layout = QVBoxLayout(self.augment_box)
        controls = QFormLayout()
        controls.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        row = QHBoxLayout()
        self.flip_check = QCheckBox("Flip left-right")
        self.flip_check.setToolTip("Mirror images at random; wrong for digits or text, right for most photos")
        self.rotation_spin = float_spin(
            0.0, 0.0, 0.5, "Random rotation, as a fraction of a full turn (0.05 = up to ±18°)", step=0.01, special="off"
        )
        self.zoom_spin = float_spin(
            0.0, 0.0, 0.5, "Random zoom in or out by up to this fraction (0.1 = ±10 %)", step=0.05, special="off"
        )
        self.contrast_spin = float_spin(
            0.0, 0.0, 0.9, "Random contrast change by up to this fraction", step=0.05, special="off"
        )
        row.addWidget(self.flip_check)
        for name, spin in (
            ("Rotation", self.rotation_spin),
            ("Zoom", self.zoom_spin),
            ("Contrast", self.contrast_spin),
        ):
            row.addSpacing(12)
            row.addWidget(QLabel(name))
            row.addWidget(spin)
        row.addStretch(1)
        controls.addRow(row)
        layout.addLayout(controls)
        self.augment_preview = ImageGrid(tile_size=56, columns=AUGMENT_PREVIEWS // 2)
        self.augment_preview.setMinimumHeight(150)
        layout.addWidget(self.augment_preview, 1)
        for widget in (self.rotation_spin, self.zoom_spin, self.contrast_spin):
            widget.valueChanged.connect(self._on_augment_changed)
        self.flip_check.toggled.connect(self._on_augment_changed)
        return self.augment_box

    # -- loading --------------------------------------------------------------------------

    def load(self, source: str) -> Worker:
        """Scan ``source`` (a path or demo:NAME) in a worker; progress shows on the scan panel."""
        from engine.data import load_dataset

        self.cancel_scan()
        data_config = dataclasses.replace(self.session.config.data, source=source)
        self.scan_panel.begin(source)
        self.stack.setCurrentWidget(self.scan_panel)
        self.busy.emit(f"Scanning {Path(source).name or source}…")

        def scan(context: WorkerContext) -> Any:
            return load_dataset(data_config, progress=context.progress, cancel=context.cancel_event)

        worker = Worker(scan, task="scanning the dataset", parent=self)
        worker.progress.connect(self._on_scan_progress)
        worker.result.connect(lambda dataset: self._on_loaded(data_config, dataset))
        worker.error.connect(lambda error: self._on_scan_error(worker, error))
        worker.finished.connect(lambda: self._scan_finished(worker))
        self._scan = worker
        return worker.start()

    def cancel_scan(self) -> None:
        if self._scan is not None and self._scan.running:
            self._scan.cancel()
            self.scan_panel.message.setText("Cancelling…")
            self.scan_panel.cancel_button.setEnabled(False)

    @property
    def scanning(self) -> bool:
        return self._scan is not None and self._scan.running

    def _on_scan_progress(self, event: Any) -> None:
        done = getattr(event, "done", 0)
        total = getattr(event, "total", None)
        self.scan_panel.report(done, total, getattr(event, "message", ""))

    def _on_scan_error(self, worker: Worker, error: WorkerError) -> None:
        self._back_from_scan()
        if worker.context.cancelled:
            self.busy.emit("")
            return
        self.failed.emit("Cannot use this data", error)

    def _scan_finished(self, worker: Worker) -> None:
        if self._scan is worker:
            self._scan = None
            self.busy.emit("")

    def _back_from_scan(self) -> None:
        self.stack.setCurrentWidget(self.view if self.session.dataset is not None else self.start)

    def _on_loaded(self, data_config: Any, dataset: Any) -> None:
        self.session.update(data=data_config)
        self.session.set_dataset(dataset)
        self.show_dataset(dataset)
        self.loaded.emit(data_config.source)

    # -- showing --------------------------------------------------------------------------

    def show_dataset(self, dataset: Any) -> None:
        self.stack.setCurrentWidget(self.view)
        name = dataset.source if dataset.source.startswith("demo:") else Path(dataset.source).name
        self.title.setText(name)
        self.title.setToolTip(dataset.source)
        self.subtitle.setText(describe_dataset(dataset))
        is_image = dataset.input_kind == "image"
        self.augment_box.setVisible(is_image)
        self.image_size_combo.setVisible(is_image)
        self.image_size_label.setVisible(is_image)
        self._show_config(self.session.config)
        self._show_counts()
        self._show_problems(dataset)
        self._load_samples(dataset)
        self.refresh_augment_preview()

    def _show_config(self, config: Any) -> None:
        data = config.data
        for widget in (
            self.val_slider,
            self.test_slider,
            self.image_size_combo,
            self.flip_check,
            self.rotation_spin,
            self.zoom_spin,
            self.contrast_spin,
        ):
            widget.blockSignals(True)
        self.val_slider.setValue(int(round(data.val_split * 100)))
        self.test_slider.setValue(int(round(data.test_split * 100)))
        size = data.image_size[0] if data.image_size else None
        index = self.image_size_combo.findData(size)
        self.image_size_combo.setCurrentIndex(max(0, index))
        self.flip_check.setChecked(data.augment.flip)
        self.rotation_spin.setValue(data.augment.rotation)
        self.zoom_spin.setValue(data.augment.zoom)
        self.contrast_spin.setValue(data.augment.contrast)
        for widget in (
            self.val_slider,
            self.test_slider,
            self.image_size_combo,
            self.flip_check,
            self.rotation_spin,
            self.zoom_spin,
            self.contrast_spin,
        ):
            widget.blockSignals(False)
        self._update_split_labels()

    def _show_counts(self) -> None:
        dataset = self.session.dataset
        if dataset is None:
            return
        sizes = dataset.split_sizes()
        self.split_summary.setText(" · ".join(f"{name}: {n:,}" for name, n in sizes.items()))
        if dataset.is_classification:
            self.counts_box.setTitle("Samples per class")
            self.regression_label.setVisible(False)
            self.counts_chart.set_counts(
                dataset.class_names, {split: dataset.class_counts(split) for split in dataset.splits}
            )
        else:
            values = np.asarray(dataset.labels, dtype=float)
            self.counts_box.setTitle("Target values")
            self.counts_chart.set_histogram(values, {split: values[idx] for split, idx in dataset.splits.items()})
            self.regression_label.setVisible(True)
            self.regression_label.setText(
                f"Regression target: mean {values.mean():.4g}, std {values.std():.4g}, "
                f"range {values.min():.4g} to {values.max():.4g}."
            )

    def _show_problems(self, dataset: Any) -> None:
        """Sentences about the whole dataset above; skipped files, each with its reason, in the list."""
        self.problems.clear()
        root = Path(dataset.source)
        for skipped in dataset.skipped:
            shown = skipped.path
            if root.is_dir() and Path(skipped.path).is_relative_to(root):
                shown = str(Path(skipped.path).relative_to(root))  # cats/img_12.jpg, not a long absolute path
            item = QTreeWidgetItem([shown, skipped.reason])
            item.setToolTip(0, skipped.path)
            item.setToolTip(1, skipped.reason)
            self.problems.addTopLevelItem(item)
        n_skipped = len(dataset.skipped)
        self.problems.setVisible(n_skipped > 0)
        lines = [f"• {html.escape(problem)}" for problem in dataset.problems]
        if n_skipped and not lines:  # the engine's own sentences usually say it already
            lines.insert(0, f"{n_skipped} file{'s' if n_skipped != 1 else ''} skipped (not used for training):")
        if not lines:
            lines = ["No problems: every file was read."]
        self.problems_summary.setText("<br>".join(lines))

    def _load_samples(self, dataset: Any) -> None:
        if dataset.input_kind == "image":
            self.samples_box.setTitle(f"Samples ({THUMBNAILS_PER_CLASS} per class)")
            self.samples_stack.setCurrentWidget(self.thumbnails)
            self.thumbnails.set_rows({})
            run_in_background(
                lambda _c: read_thumbnails(dataset, THUMBNAILS_PER_CLASS),
                task="reading sample images",
                on_result=self._on_thumbnails,
                on_error=lambda e: self.failed.emit("Cannot show samples", e),
                parent=self,
            )
        else:
            self.samples_box.setTitle("First rows")
            self.samples_stack.setCurrentWidget(self.table)
            run_in_background(
                lambda _c: read_table(dataset, 50),
                task="reading the first rows",
                on_result=self._on_table,
                on_error=lambda e: self.failed.emit("Cannot show rows", e),
                parent=self,
            )

    def _on_thumbnails(self, rows: dict[str, np.ndarray]) -> None:
        self.thumbnails.set_rows(rows)

    def _on_table(self, table: tuple[list[str], list[list[Any]]]) -> None:
        header, rows = table
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([str(h) for h in header])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    # -- split ----------------------------------------------------------------------------

    def _on_split_moved(self) -> None:
        self._update_split_labels()
        self._split_timer.start()

    def _update_split_labels(self) -> None:
        self.val_label.setText(f"{self.val_slider.value()} %")
        self.test_label.setText(f"{self.test_slider.value()} %")

    def _apply_split(self) -> None:
        """Re-split the loaded dataset (seeded, stratified) without rescanning it."""
        val, test = self.val_slider.value() / 100.0, self.test_slider.value() / 100.0
        if val + test > 0.9:
            test = max(0.0, 0.9 - val)
            self.test_slider.blockSignals(True)
            self.test_slider.setValue(int(round(test * 100)))
            self.test_slider.blockSignals(False)
            self._update_split_labels()
        self.session.update(data={"val_split": val, "test_split": test})
        dataset = self.session.dataset
        if dataset is not None:
            # A new Dataset, not a mutation: a run already training keeps the split it started with.
            self.session.set_dataset(dataset.with_split(val, test, seed=self.session.config.data.seed))
            self._show_counts()

    def _on_image_size(self) -> None:
        size = self.image_size_combo.currentData()
        self.session.update(data={"image_size": (size, size) if size else None})

    # -- augmentation ---------------------------------------------------------------------

    def augment_config(self) -> AugmentConfig:
        return AugmentConfig(
            flip=self.flip_check.isChecked(),
            rotation=self.rotation_spin.value(),
            zoom=self.zoom_spin.value(),
            contrast=self.contrast_spin.value(),
        )

    def _on_augment_changed(self) -> None:
        self.session.update(data={"augment": self.augment_config()})
        self._augment_timer.start()

    def refresh_augment_preview(self) -> None:
        dataset = self.session.dataset
        if dataset is None or dataset.input_kind != "image":
            return
        augment = self.augment_config()
        if not augment.enabled:
            self.augment_preview.show_message(
                "No augmentation: training images are used as they are. Turn on a flip, rotation, zoom or "
                "contrast change to see examples of what the model will be shown."
            )
            return
        if self._preview_worker is not None and self._preview_worker.running:
            self._preview_pending = True  # one preview at a time; the latest choice wins
            return
        self.augment_preview.show_message("Preparing examples…")

        def preview(_context: WorkerContext) -> np.ndarray:
            from engine.data.preview import augmentation_preview

            return augmentation_preview(dataset, augment, AUGMENT_PREVIEWS)

        self._preview_worker = run_in_background(
            preview,
            task="previewing augmentation",
            on_result=self._on_augment_preview,
            on_error=lambda e: self.augment_preview.show_message(f"No preview: {e.sentence}"),
            on_finished=self._on_preview_finished,
            parent=self,
        )

    def _on_augment_preview(self, images: np.ndarray) -> None:
        self.augment_preview.set_images([(image, "original" if i == 0 else "") for i, image in enumerate(images)])

    def _on_preview_finished(self) -> None:
        if self._preview_pending:
            self._preview_pending = False
            self.refresh_augment_preview()


def read_thumbnails(dataset: Any, per_class: int) -> dict[str, np.ndarray]:
    """A few samples per class, read on a worker thread (the engine's helper when present)."""
    try:
        from engine.data.preview import sample_thumbnails
    except ImportError:
        sample_thumbnails = None
    if sample_thumbnails is not None:
        return sample_thumbnails(dataset, per_class)
    rows = {}
    for index, name in enumerate(dataset.class_names):
        picks = np.flatnonzero(dataset.labels == index)[:per_class]
        rows[name] = dataset.loader.read(picks) if len(picks) else np.zeros((0, 1, 1, 1), np.float32)
    return rows


def read_table(dataset: Any, rows: int) -> tuple[list[str], list[list[Any]]]:
    try:
        from engine.data.preview import table_preview
    except ImportError:
        table_preview = None
    if table_preview is not None:
        return table_preview(dataset, rows)
    picks = np.arange(min(rows, dataset.num_samples))
    values = dataset.loader.read(picks)
    header = list(dataset.feature_names) or [f"x{i}" for i in range(values.shape[1])]
    labels = dataset.labels[picks]
    names = [dataset.class_names[int(v)] if dataset.is_classification else float(v) for v in labels]
    return [*header, "target"], [[*map(float, row), label] for row, label in zip(values, names)]
