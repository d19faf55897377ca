"""The Train page's settings column: optimizer, schedule, run length, seeds and device.

It edits ``session.config.train`` (every change goes through `Session.update`) and shows a
loaded config again with :meth:`TrainForm.show_config`. Each control is bound to its field
through `gui.binding.FormBinding`, so a value a control cannot show is kept.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QLineEdit, QScrollArea, QVBoxLayout, QWidget

from kiln_lab.engine.training.config import TrainConfig
from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.panels.seeds_panel import SeedsPanel
from kiln_lab.gui.session import Session
from kiln_lab.gui.widgets.forms import (
    LearningRateSpin,
    declared_combo,
    declared_spin,
    declared_tooltip,
    enable_used,
    muted_label,
)


class TrainForm(QScrollArea):
    """The hyperparameter form, in a scroll area that never scrolls sideways."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        # Ranges, choices, steps and tooltips come from the settings' declarations (TrainConfig).
        self.optimizer_combo = declared_combo("train.optimizer")
        self.lr_spin = LearningRateSpin()
        self.momentum_spin = declared_spin("train.momentum")
        self.decay_spin = declared_spin("train.weight_decay")
        self.schedule_combo = declared_combo("train.schedule")
        self.step_every_spin = declared_spin("train.step_every")
        self.step_factor_spin = declared_spin("train.step_factor")
        self.patience_spin = declared_spin("train.plateau_patience")
        self.batch_spin = declared_spin("train.batch_size")
        self.epochs_spin = declared_spin("train.epochs")
        self.early_spin = declared_spin("train.early_stopping", special="off", suffix=" epochs")
        self.class_weights_check = QCheckBox("Balance classes")
        self.class_weights_check.setToolTip(declared_tooltip("train.class_weights"))
        self.seeds = SeedsPanel(self.session)  # one seed sets all three, as kiln --seed; a fold sets each
        self.seed_spin = self.seeds.seed_spin
        self.mixed_check = QCheckBox("Mixed precision (float16)")
        self.xla_check = QCheckBox("XLA compilation")
        self.strategy_combo = declared_combo("train.distribution", note="Multiworker: see docs/SCALING.md")
        self.tensorboard_check = QCheckBox("TensorBoard logs")
        self.tensorboard_check.setToolTip(declared_tooltip("train.tensorboard"))
        self.tensorboard_batches_check = QCheckBox("Every batch's loss too")
        self.tensorboard_batches_check.setToolTip(declared_tooltip("train.tensorboard_batches"))
        self.mlflow_edit = QLineEdit()
        self.mlflow_edit.setPlaceholderText("off (e.g. sqlite:///mlruns.db or a server URL)")
        self.mlflow_edit.setToolTip(declared_tooltip("train.mlflow"))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("named automatically")
        self.name_edit.setToolTip(declared_tooltip("name"))

        optimizer_box = QGroupBox("Optimizer")
        f1 = QFormLayout(optimizer_box)
        f1.addRow("Optimizer", self.optimizer_combo)
        f1.addRow("Learning rate", self.lr_spin)
        f1.addRow("Momentum", self.momentum_spin)
        f1.addRow("Weight decay", self.decay_spin)
        f1.addRow("Schedule", self.schedule_combo)
        f1.addRow("Drop every", self.step_every_spin)
        f1.addRow("Drop factor", self.step_factor_spin)
        f1.addRow("Plateau patience", self.patience_spin)

        run_box = QGroupBox("Run")
        f2 = QFormLayout(run_box)
        f2.addRow("Epochs", self.epochs_spin)
        f2.addRow("Batch size", self.batch_spin)
        f2.addRow("Early stopping", self.early_spin)
        f2.addRow("Seed", self.seeds)
        f2.addRow("", self.class_weights_check)
        f2.addRow("Name", self.name_edit)

        tracking_box = QGroupBox("Tracking")
        f4 = QFormLayout(tracking_box)
        f4.addRow("", self.tensorboard_check)
        f4.addRow("", self.tensorboard_batches_check)
        f4.addRow("MLflow", self.mlflow_edit)

        device_box = QGroupBox("Device")
        f3 = QVBoxLayout(device_box)
        f3.addWidget(self.mixed_check)
        f3.addWidget(self.xla_check)
        strategy_row = QFormLayout()
        strategy_row.addRow("Strategy", self.strategy_combo)
        f3.addLayout(strategy_row)
        self.device_note = muted_label("Waiting for TensorFlow…")
        f3.addWidget(self.device_note)

        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(0, 0, 8, 0)
        column.addWidget(optimizer_box)
        column.addWidget(run_box)
        column.addWidget(tracking_box)
        column.addWidget(device_box)
        column.addStretch(1)

        self.setWidgetResizable(True)
        self.setWidget(inner)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        # Never a sideways scrollbar: the column is as wide as its widest row, plus a vertical scrollbar.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 4)

        # Each control is bound to its config field: a value a control cannot show (a greyed-out
        # mixed-precision box, a learning rate finer than the spin box) is kept, not replaced.
        self.binding = FormBinding(session, self)
        for path, widget in (
            ("optimizer", self.optimizer_combo),
            ("learning_rate", self.lr_spin),
            ("momentum", self.momentum_spin),
            ("weight_decay", self.decay_spin),
            ("schedule", self.schedule_combo),
            ("step_every", self.step_every_spin),
            ("step_factor", self.step_factor_spin),
            ("plateau_patience", self.patience_spin),
            ("batch_size", self.batch_spin),
            ("epochs", self.epochs_spin),
            ("early_stopping", self.early_spin),
            ("class_weights", self.class_weights_check),
            ("mixed_precision", self.mixed_check),
            ("xla", self.xla_check),
            ("distribution", self.strategy_combo),
            ("tensorboard", self.tensorboard_check),
            ("tensorboard_batches", self.tensorboard_batches_check),
        ):
            self.binding.bind(f"train.{path}", widget)
        self.binding.bind("train.mlflow", self.mlflow_edit, read=lambda: self.mlflow_edit.text().strip())  # "": off
        self.binding.edited.connect(lambda _field: self.update_visibility())
        session.config_changed.connect(lambda _config: self.update_visibility())
        self.mixed_check.setEnabled(False)
        self.xla_check.setEnabled(False)
        self.update_visibility()

    def train_config(self) -> TrainConfig:
        """The train section as edited here (the binding writes every edit to the session)."""
        return self.session.config.train

    def show_config(self, config: Any) -> None:
        self.binding.show(config)
        self.seeds.binding.show(config)
        self.update_visibility()

    def form_widgets(self) -> list[QWidget]:
        return [
            self.tensorboard_check,
            self.tensorboard_batches_check,
            self.mlflow_edit,
            self.optimizer_combo,
            self.schedule_combo,
            self.lr_spin,
            self.momentum_spin,
            self.decay_spin,
            self.step_every_spin,
            self.step_factor_spin,
            self.patience_spin,
            self.batch_spin,
            self.epochs_spin,
            self.early_spin,
            self.seed_spin,
            self.class_weights_check,
            self.mixed_check,
            self.xla_check,
            self.strategy_combo,
        ]

    def update_visibility(self) -> None:
        """Grey out what the chosen optimizer and schedule do not use (declared in the engine: used_when)."""
        enable_used({f.path.removeprefix("train."): f.widget for f in self.binding.fields}, self.session.config.train)

    def on_engine_ready(self, info: Any) -> None:
        self.mixed_check.setEnabled(info.has_gpu)
        self.xla_check.setEnabled(info.has_gpu)
        if info.has_gpu:
            self.device_note.setText(f"Training runs on {info.device}.")
            self.mixed_check.setToolTip("Compute in float16 on the GPU: faster, half the memory; weights stay float32")
            self.xla_check.setToolTip("Compile the model with XLA: often faster on GPUs after a slower first epoch")
        else:
            self.device_note.setText("No GPU found: training runs on the CPU. Mixed precision and XLA need a GPU.")
            for check in (self.mixed_check, self.xla_check):
                check.setToolTip("Needs a GPU; none was found (the setting is kept for a run on a GPU machine)")
