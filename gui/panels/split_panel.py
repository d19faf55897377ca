"""The split card: validation and test shares, the image size, and the resulting counts.

Bound to ``data.val_split``, ``data.test_split`` and ``data.image_size``. A value the
controls cannot show (a share finer than a percent, a non-square image size) is kept.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QLabel, QSlider

from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.widgets.forms import configure_from_declaration, declared_tooltip, muted_label

IMAGE_SIZES = [
    ("As the data (or the backbone's)", None),
    ("32 x 32", 32),
    ("64 x 64", 64),
    ("96 x 96", 96),
    ("128 x 128", 128),
    ("160 x 160", 160),
    ("224 x 224", 224),
]
MAX_HELD_OUT = 0.9  # validation + test together: leave at least a tenth to train on


def _percent(value: float) -> int:
    shown = int(round(value * 100))
    if abs(shown / 100 - value) > 1e-12:
        raise ValueError("finer than a percent")
    return shown


def _square_side(size: Any) -> int | None:
    if size is None:
        return None
    if size[0] != size[1]:
        raise ValueError("not square")
    return int(size[0])


def _share_apply(path: str, other: str) -> Any:
    """Write one share; shrink the other when together they would leave too little to train on."""

    def apply(config: RunConfig, value: float) -> RunConfig:
        data = {path: value}
        if value + getattr(config.data, other) > MAX_HELD_OUT:
            data[other] = round(max(0.0, MAX_HELD_OUT - value), 2)
        return config.replace(data=data)

    return apply


class SplitPanel(QGroupBox):
    def __init__(self, binding: FormBinding) -> None:
        super().__init__("Split")
        grid = QGridLayout(self)
        # In percent: the range is the declared one (data.val_split, data.test_split) times 100.
        self.val_slider = QSlider(Qt.Orientation.Horizontal)
        configure_from_declaration(self.val_slider, "data.val_split", scale=100, note="Shown in percent")
        self.test_slider = QSlider(Qt.Orientation.Horizontal)
        configure_from_declaration(self.test_slider, "data.test_split", scale=100, note="Shown in percent")
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
        self.image_size_combo.setToolTip(declared_tooltip("data.image_size", "The list holds square sizes"))
        self.image_size_combo.setProperty("kiln_path", "data.image_size")  # its sizes are checked against the range
        self.image_size_label = QLabel("Image size")
        grid.addWidget(self.image_size_label, 2, 0)
        grid.addWidget(self.image_size_combo, 2, 1, 1, 2)
        grid.addWidget(self.split_summary, 3, 0, 1, 3)

        for path, other, slider in (
            ("val_split", "test_split", self.val_slider),
            ("test_split", "val_split", self.test_slider),
        ):
            binding.bind(
                f"data.{path}", slider, to_widget=_percent, from_widget=lambda v: v / 100.0,
                apply=_share_apply(path, other),
            )
        binding.bind(
            "data.image_size", self.image_size_combo, to_widget=_square_side,
            from_widget=lambda side: (side, side) if side else None,
        )
        binding.session.config_changed.connect(self.refresh)
        self.refresh(binding.session.config)

    def refresh(self, config: RunConfig) -> None:
        self.val_label.setText(f"{config.data.val_split * 100:.3g} %")
        self.test_label.setText(f"{config.data.test_split * 100:.3g} %")

    def set_input_kind(self, input_kind: str) -> None:
        is_image = input_kind == "image"
        self.image_size_combo.setVisible(is_image)
        self.image_size_label.setVisible(is_image)

    def show_sizes(self, sizes: dict[str, int]) -> None:
        self.split_summary.setText(" · ".join(f"{name}: {n:,}" for name, n in sizes.items()))
