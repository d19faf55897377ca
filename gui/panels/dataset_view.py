"""The Data page once a dataset is loaded: what it is, its classes, split, samples, augmentation, problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QPushButton, QSplitter, QVBoxLayout, QWidget

from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.panels.augment_panel import AugmentPanel
from kiln_lab.gui.panels.problems_panel import ProblemsPanel
from kiln_lab.gui.panels.samples_panel import SamplesPanel
from kiln_lab.gui.panels.split_panel import SplitPanel
from kiln_lab.gui.panels.target_panel import TargetPanel
from kiln_lab.gui.widgets.bar_chart import ClassCountsChart
from kiln_lab.gui.widgets.forms import muted_label, title_label

SOURCE_KINDS = {
    "images": "Image folder",
    "csv": "CSV table",
    "arrays": "NumPy arrays",
    "hdf5": "HDF5 file",
    "demo": "Demo dataset",
}


def describe_dataset(dataset: Any) -> str:
    """ "Demo dataset · image classification · 10 classes · 1,797 samples · 8x8x1"."""
    kind = SOURCE_KINDS.get(dataset.source_kind, dataset.source_kind)
    shape = "x".join(str(d) for d in dataset.input_shape)
    task = f"{dataset.input_kind} {dataset.task}"
    classes = f"{dataset.num_classes} classes · " if dataset.is_classification else ""
    return f"{kind} · {task} · {classes}{dataset.num_samples:,} samples · input {shape}"


class CountsPanel(QGroupBox):
    """Samples per class and split (classification), or the target's histogram (regression)."""

    def __init__(self) -> None:
        super().__init__("Samples per class")
        layout = QVBoxLayout(self)
        self.chart = ClassCountsChart()
        self.regression_label = muted_label("")
        self.regression_label.setVisible(False)
        layout.addWidget(self.chart)
        layout.addWidget(self.regression_label)

    def show_dataset(self, dataset: Any) -> None:
        if dataset.is_classification:
            self.setTitle("Samples per class")
            self.regression_label.setVisible(False)
            self.chart.set_counts(dataset.class_names, {split: dataset.class_counts(split) for split in dataset.splits})
            return
        values = np.asarray(dataset.labels, dtype=float)
        self.setTitle("Target values")
        self.chart.set_histogram(values, {split: values[idx] for split, idx in dataset.splits.items()})
        self.regression_label.setVisible(True)
        self.regression_label.setText(
            f"Regression target: mean {values.mean():.4g}, std {values.std():.4g}, "
            f"range {values.min():.4g} to {values.max():.4g}."
        )


class DatasetView(QWidget):
    def __init__(self, binding: FormBinding, current_dataset: Any) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
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
        self.close_button = QPushButton("Other data…")
        self.close_button.setToolTip("Back to the start page to open another dataset")
        header.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(header)

        self.counts = CountsPanel()
        self.split = SplitPanel(binding)
        self.problems = ProblemsPanel()
        self.samples = SamplesPanel(current_dataset)
        self.target = TargetPanel(binding)
        self.target.setVisible(False)
        self.augment = AugmentPanel(binding, current_dataset)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 6, 0)
        left_layout.addWidget(self.counts, 3)
        left_layout.addWidget(self.split)
        left_layout.addWidget(self.problems, 1)
        splitter.addWidget(left)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.addWidget(self.target)  # tables only, beside the rows it picks from
        right_layout.addWidget(self.samples, 3)
        right_layout.addWidget(self.augment, 2)
        splitter.addWidget(right)
        splitter.setSizes([520, 700])
        outer.addWidget(splitter, 1)

    def show_dataset(self, dataset: Any) -> None:
        name = dataset.source if dataset.source.startswith("demo:") else Path(dataset.source).name
        self.title.setText(name)
        self.title.setToolTip(dataset.source)
        self.subtitle.setText(describe_dataset(dataset))
        self.augment.setVisible(dataset.input_kind == "image")
        self.target.show_dataset(dataset)
        self.split.set_input_kind(dataset.input_kind)
        self.show_split(dataset)
        self.problems.show_dataset(dataset)
        self.samples.show_dataset(dataset)
        self.augment.refresh_preview()

    def show_split(self, dataset: Any) -> None:
        self.split.show_sizes(dataset.split_sizes())
        self.counts.show_dataset(dataset)
