"""Augmentation: flip, rotation, zoom and contrast (bound to ``data.augment.*``) and a preview.

The preview runs in the panel's task slot after a short pause in editing; a preview made for
other settings or another dataset than the ones shown now is dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout

from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.widgets.forms import declared_spin, declared_tooltip
from kiln_lab.gui.widgets.image_grid import ImageGrid
from kiln_lab.gui.workers import TaskSlot

AUGMENT_PREVIEWS = 12


def turns_to_degrees(turns: float) -> float:
    """A fraction of a full turn (the config's rotation) as degrees; rounded so 1/36 shows as 10."""
    return round(float(turns) * 360.0, 6)


def degrees_to_turns(degrees: float) -> float:
    return float(degrees) / 360.0


class AugmentPanel(QGroupBox):
    def __init__(self, binding: FormBinding, current_dataset: Any) -> None:
        """``current_dataset()`` says which dataset the page shows now."""
        super().__init__("Augmentation (training batches only)")
        self.session = binding.session
        self._current_dataset = current_dataset
        layout = QVBoxLayout(self)
        controls = QFormLayout()
        controls.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        row = QHBoxLayout()
        self.flip_check = QCheckBox("Flip left-right")
        self.flip_check.setToolTip(
            declared_tooltip("data.augment.flip", "Wrong for digits or text, right for most photos")
        )
        # Degrees for people; the config keeps a fraction of a full turn (Keras' RandomRotation factor).
        self.rotation_spin = declared_spin(
            "data.augment.rotation", scale=360, decimals=1, step=5.0, suffix="°", special="off",
            note="Shown in degrees (10° suits most photos)",
        )
        self.zoom_spin = declared_spin("data.augment.zoom", special="off")
        self.contrast_spin = declared_spin("data.augment.contrast", special="off")
        controls.addRow(self.flip_check)  # a row of its own: the spins beside it fit a small window
        spins = (
            ("Rotation (°)", self.rotation_spin),
            ("Zoom", self.zoom_spin),
            ("Contrast", self.contrast_spin),
        )
        for index, (name, spin) in enumerate(spins):
            if index:
                row.addSpacing(12)
            row.addWidget(QLabel(name))
            row.addWidget(spin)
        row.addStretch(1)
        controls.addRow(row)
        layout.addLayout(controls)
        self.preview = ImageGrid(tile_size=56, columns=AUGMENT_PREVIEWS // 2)
        self.preview.setMinimumHeight(150)
        layout.addWidget(self.preview, 1)

        for path, widget in (("flip", self.flip_check), ("zoom", self.zoom_spin), ("contrast", self.contrast_spin)):
            binding.bind(f"data.augment.{path}", widget)
        binding.bind(
            "data.augment.rotation", self.rotation_spin,
            to_widget=turns_to_degrees, from_widget=degrees_to_turns,
        )
        self.slot = TaskSlot(self, current_key=self._preview_key)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.refresh_preview)
        binding.edited.connect(lambda field: field.path.startswith("data.augment.") and self._timer.start())
        self.session.engine_ready.connect(lambda _info: self.refresh_preview())

    def _preview_key(self) -> tuple[Any, Any]:
        dataset = self._current_dataset()
        return (getattr(dataset, "key", None), id(getattr(dataset, "labels", None))), self.session.config.data.augment

    def refresh_preview(self) -> None:
        dataset = self._current_dataset()
        if dataset is None or dataset.input_kind != "image":
            return
        augment = self.session.config.data.augment
        if augment.enabled and self.session.engine is None:
            # The engine process is still importing TensorFlow: the preview follows on engine_ready.
            self.preview.show_message("The preview appears once TensorFlow has loaded…")
            return
        if not augment.enabled:
            self.slot.cancel()
            self.preview.show_message(
                "No augmentation: training images are used as they are. Turn on a flip, rotation, zoom or "
                "contrast change to see examples of what the model will be shown."
            )
            return
        self.preview.show_message("Preparing examples…")

        self.slot.start(
            Call.of("augmentation_preview", data=dataset.data, augment=augment, n=AUGMENT_PREVIEWS),
            task="previewing augmentation",
            key=self._preview_key(),
            on_result=self._show_preview,
            on_error=lambda e: self.preview.show_message(f"No preview: {e.sentence}"),
        )

    def _show_preview(self, images: np.ndarray) -> None:
        self.preview.set_images([(image, "original" if i == 0 else "") for i, image in enumerate(images)])
