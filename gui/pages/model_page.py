"""Model page: the decision itself, side by side: train from scratch, or fine-tune a backbone.

From scratch: a preset expands into an editable layer list, plus the weight initializer
with a one-line reason for each choice. Fine-tune: a catalogue backbone, a hub handle or a
local model, with its freeze policy and fine-tuning knobs. Either way, "Count parameters"
builds the model in a worker and shows its size layer by layer.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.models.initializers import BIAS_INITIALIZERS, INITIALIZERS, recommended_initializer
from engine.models.recipe import ModelRecipe
from engine.models.scratch import ACTIVATIONS, PRESETS, expand_preset
from gui.session import Session
from gui.widgets.compare_view import FractionsDialog
from gui.widgets.forms import combo, float_spin, int_spin, muted_label, select
from gui.widgets.layer_editor import LayerEditor
from gui.workers import Worker, WorkerContext, run_in_background

FREEZE_POLICIES = {
    "all": "Freeze the whole backbone: only the new head learns (fast, safest with little data).",
    "none": "Train everything: the backbone adapts too (needs more data and a lower rate).",
    "top": "Unfreeze the top N layers of the backbone; the rest stay as pretrained.",
}


def describe_count(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 10_000:
        return f"{n / 1e3:.1f} k"
    return f"{n:,}"


def read_catalogue() -> list[dict[str, Any]]:
    """The engine's backbone catalogue as plain dicts (name, title, source, handle, licence, params, input_size...)."""
    from engine.models.catalogue import load_catalogue

    return [entry.to_dict() for entry in load_catalogue()]


def count_parameters(recipe: ModelRecipe, dataset: Any, image_size: tuple[int, int] | None) -> dict[str, Any]:
    """Build the model once (in a worker) and describe it in plain values."""
    import numpy as np

    from engine.models.build import build_model

    built = build_model(recipe, dataset, epochs=2, image_size=image_size)
    model = built.model
    if built.phases and built.phases[0].prepare is not None:
        built.phases[0].prepare(model)  # the first phase's frozen layers, as training will start

    def count(weights: list[Any]) -> int:
        return int(sum(int(np.prod(w.shape)) for w in weights))

    layers = []
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape)).replace("None", "batch")
        except (AttributeError, ValueError):
            shape = ""
        layers.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output": shape,
                "params": count(layer.weights),
                "trainable": count(layer.trainable_weights),
            }
        )
    phases = [{"name": p.name, "epochs": p.epochs, "description": p.description} for p in built.phases]
    return {
        "name": model.name,
        "params": count(model.weights),
        "trainable": count(model.trainable_weights),
        "layers": layers,
        "image_size": built.image_size,
        "phases": phases,
        "info": _plain(built.info),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _scrolling(body: QWidget) -> QScrollArea:
    """Let a card's content scroll instead of squeezing when the window is short."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(body)
    scroll.setStyleSheet("QScrollArea, QScrollArea > QWidget > QWidget { background: transparent; }")
    return scroll


def _path_card(panel: QGroupBox, title: str, tooltip: str, description: str) -> QVBoxLayout:
    """One of the two paths: a radio button that chooses it, over a scrolling body.

    Sets ``panel.radio`` and ``panel.body``; returns the body's layout for the controls.
    """
    outer = QVBoxLayout(panel)
    panel.radio = QRadioButton(title)
    panel.radio.setStyleSheet("font-size: 12pt; font-weight: 600;")
    panel.radio.setToolTip(tooltip)
    outer.addWidget(panel.radio)
    panel.body = QWidget()
    layout = QVBoxLayout(panel.body)
    layout.setContentsMargins(0, 0, 6, 0)
    outer.addWidget(_scrolling(panel.body), 1)
    layout.addWidget(muted_label(description))
    return layout


class ScratchPanel(QGroupBox):
    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        defaults = ModelRecipe()
        layout = _path_card(
            self,
            "Train from scratch",
            "Every weight starts random; the model learns only from your data",
            "Your data only: best when it is plentiful or unlike photos (tables, "
            "spectra, tiny images). You choose the layers and how weights start.",
        )

        form = QFormLayout()
        self.preset_combo = combo(PRESETS, defaults.arch, "A starting architecture; edit its layers below")
        self.depth_spin = int_spin(
            defaults.depth, 1, 12, "Preset depth: number of dense layers, conv blocks or residual blocks"
        )
        self.width_spin = int_spin(
            defaults.width,
            4,
            2048,
            "Preset width: units of dense layers, or filters of the first conv block (doubling per block)",
            step=8,
        )
        self.activation_combo = combo(list(ACTIVATIONS), defaults.activation, "Activation of the preset's layers")
        self.dropout_spin = float_spin(
            defaults.dropout,
            0.0,
            0.9,
            "Preset dropout: share of units dropped at random while training (0 = none)",
            step=0.05,
        )
        self.batchnorm_check = QCheckBox("Batch normalisation")
        self.batchnorm_check.setToolTip(
            "Normalise activations between layers: trains faster, tolerates worse initialisation"
        )
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_combo, 1)
        self.apply_preset_button = QPushButton("Reset layers to preset")
        self.apply_preset_button.setToolTip("Replace the layer list below with the preset's layers")
        preset_row.addWidget(self.apply_preset_button)
        form.addRow("Preset", preset_row)
        knobs = QHBoxLayout()
        for label, widget in (("Depth", self.depth_spin), ("Width", self.width_spin), ("Dropout", self.dropout_spin)):
            knobs.addWidget(QLabel(label))
            knobs.addWidget(widget)
            knobs.addSpacing(6)
        knobs.addStretch(1)
        form.addRow("", knobs)
        act_row = QHBoxLayout()
        act_row.addWidget(self.activation_combo)
        act_row.addWidget(self.batchnorm_check)
        act_row.addStretch(1)
        form.addRow("Activation", act_row)
        self.preset_description = muted_label(PRESETS.get(defaults.arch, ""))
        form.addRow("", self.preset_description)
        layout.addLayout(form)

        init_form = QFormLayout()
        self.init_combo = combo(
            INITIALIZERS, defaults.kernel_initializer, "How the weights start; hover an entry for why you would pick it"
        )
        self.init_explanation = muted_label("")
        self.bias_combo = combo(BIAS_INITIALIZERS, defaults.bias_initializer, "How the biases start")
        self.scale_spin = float_spin(
            defaults.init_scale,
            0.0001,
            10.0,
            "Std (normal) or limit (uniform) of plain random initializers; ignored by He, Glorot and LeCun",
            step=0.01,
            decimals=4,
        )
        init_form.addRow("Weight initializer", self.init_combo)
        init_form.addRow("", self.init_explanation)
        bias_row = QHBoxLayout()
        bias_row.addWidget(self.bias_combo)
        bias_row.addWidget(QLabel("Scale"))
        bias_row.addWidget(self.scale_spin)
        bias_row.addStretch(1)
        init_form.addRow("Bias initializer", bias_row)
        layout.addLayout(init_form)
        self.layer_editor = LayerEditor(ACTIVATIONS, INITIALIZERS)
        self.layer_editor.setMinimumHeight(130)
        self.layer_editor.set_note("+ output layer, added for you")
        layout.addWidget(self.layer_editor, 1)

        self.apply_preset_button.clicked.connect(self.reset_layers)
        self.preset_combo.currentIndexChanged.connect(self.reset_layers)
        for widget in (self.depth_spin, self.width_spin, self.dropout_spin):
            widget.valueChanged.connect(self.reset_layers)
        self.activation_combo.currentIndexChanged.connect(self._on_activation)
        self.batchnorm_check.toggled.connect(self.reset_layers)
        self.layer_editor.changed.connect(self.changed)
        self.init_combo.currentIndexChanged.connect(self._on_init)
        self.bias_combo.currentIndexChanged.connect(self.changed)
        self.scale_spin.valueChanged.connect(self.changed)
        self.input_kind = "image"
        self._update_init_text()

    def recipe_fields(self) -> dict[str, Any]:
        return {
            "arch": self.preset_combo.currentData(),
            "depth": self.depth_spin.value(),
            "width": self.width_spin.value(),
            "activation": self.activation_combo.currentData(),
            "dropout": self.dropout_spin.value(),
            "batch_norm": self.batchnorm_check.isChecked(),
            "layers": self.layer_editor.specs(),
            "kernel_initializer": self.init_combo.currentData(),
            "bias_initializer": self.bias_combo.currentData(),
            "init_scale": self.scale_spin.value(),
        }

    def show_recipe(self, recipe: ModelRecipe, input_kind: str) -> None:
        self.input_kind = input_kind
        widgets = [
            self.preset_combo,
            self.depth_spin,
            self.width_spin,
            self.activation_combo,
            self.dropout_spin,
            self.batchnorm_check,
            self.init_combo,
            self.bias_combo,
            self.scale_spin,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        select(self.preset_combo, recipe.arch)
        self.depth_spin.setValue(recipe.depth)
        self.width_spin.setValue(recipe.width)
        select(self.activation_combo, recipe.activation)
        self.dropout_spin.setValue(recipe.dropout)
        self.batchnorm_check.setChecked(recipe.batch_norm)
        select(self.init_combo, recipe.kernel_initializer)
        select(self.bias_combo, recipe.bias_initializer)
        self.scale_spin.setValue(recipe.init_scale)
        for widget in widgets:
            widget.blockSignals(False)
        self.layer_editor.set_specs(expand_preset(recipe, input_kind))
        self.preset_description.setText(PRESETS.get(recipe.arch, ""))
        self._update_init_text()

    def reset_layers(self) -> None:
        fields = self.recipe_fields()
        fields["layers"] = ()
        recipe = ModelRecipe(**fields)
        self.layer_editor.set_specs(expand_preset(recipe, self.input_kind))
        arch = self.preset_combo.currentData()
        note = ""
        if arch in ("cnn", "resnet") and self.input_kind != "image":
            note = " Your data is a table, so the dense (MLP) layers are used instead."
        self.preset_description.setText(PRESETS.get(arch, "") + note)
        self.changed.emit()

    def _on_activation(self) -> None:
        self._update_init_text()
        self.reset_layers()

    def _on_init(self) -> None:
        self._update_init_text()
        self.changed.emit()

    def _update_init_text(self) -> None:
        name = self.init_combo.currentData()
        explanation = INITIALIZERS.get(name, "")
        self.scale_spin.setEnabled(name.startswith("random") or self.bias_combo.currentData().startswith("random"))
        activation = self.activation_combo.currentData()
        advised = recommended_initializer(activation)
        if name.startswith("random"):
            hint = (
                f"<span style='color:#d48a00'>⚠ Expect slow or failed training; {advised.replace('_', ' ')} "
                f"suits {activation}.</span>"
            )
        elif name.split("_")[0] != advised.split("_")[0]:
            hint = (
                f"<span style='color:#d48a00'>For {activation}, {advised.replace('_', ' ')} is the usual choice.</span>"
            )
        else:
            hint = f"<span style='color:#2a9d55'>✓ A good match for {activation}.</span>"
        self.init_explanation.setText(f"{html.escape(explanation)} {hint}")


class FinetunePanel(QGroupBox):
    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        defaults = ModelRecipe()
        self.catalogue: dict[str, dict[str, Any]] = {}
        layout = _path_card(
            self,
            "Fine-tune a pretrained model",
            "Start from a network already trained on a large dataset; add a new head",
            "Reuse what a network learned elsewhere: best with few images that look like "
            "its training data. Kiln adds a new head for your classes.",
        )

        form = QFormLayout()
        self.backbone_combo = QComboBox()
        self.backbone_combo.setToolTip(
            "Backbones Kiln knows: the demo backbone ships with it; others download once and are cached"
        )
        self.backbone_combo.addItem("Loading the catalogue…", None)
        self.handle_edit = QLineEdit()
        self.handle_edit.setPlaceholderText("or a hub handle / URL / SavedModel folder / .keras or .h5 file")
        self.handle_edit.setToolTip(
            "A TF Hub or Kaggle Models handle, a URL, a local SavedModel folder, or a "
            ".keras / .h5 model file. Overrides the list above when filled in"
        )
        folder_button = QPushButton("Folder…")
        folder_button.setToolTip("A local SavedModel folder")
        file_button = QPushButton("File…")
        file_button.setToolTip("A .keras or .h5 model file; Kiln cuts off its head and adds a new one")
        folder_button.clicked.connect(self._browse_folder)
        file_button.clicked.connect(self._browse_file)
        form.addRow("Backbone", self.backbone_combo)
        handle_row = QHBoxLayout()
        handle_row.addWidget(self.handle_edit, 1)
        handle_row.addWidget(folder_button)
        handle_row.addWidget(file_button)
        form.addRow("", handle_row)
        layout.addLayout(form)

        self.meta_box = QFrame()
        self.meta_box.setProperty("role", "card")
        meta = QFormLayout(self.meta_box)
        meta.setContentsMargins(10, 8, 10, 8)
        self.meta_labels: dict[str, QLabel] = {}
        for key, label in (
            ("description", "About"),
            ("source", "Source"),
            ("pretraining", "Pretrained on"),
            ("licence", "Licence"),
            ("params", "Parameters"),
            ("input_size", "Input size"),
        ):
            value = QLabel("–")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.meta_labels[key] = value
            meta.addRow(label, value)
        layout.addWidget(self.meta_box)

        tune = QFormLayout()
        self.freeze_combo = combo(FREEZE_POLICIES, "all", "Which backbone layers learn")
        self.top_spin = int_spin(2, 1, 1000, "How many of the backbone's top layers learn")
        freeze_row = QHBoxLayout()
        freeze_row.addWidget(self.freeze_combo, 1)
        freeze_row.addWidget(QLabel("N"))
        freeze_row.addWidget(self.top_spin)
        tune.addRow("Freeze", freeze_row)
        self.freeze_explanation = muted_label(FREEZE_POLICIES["all"])
        tune.addRow("", self.freeze_explanation)
        self.two_phase_check = QCheckBox("Two phases")
        self.two_phase_check.setToolTip(
            "Train the new head with the backbone frozen, then train the unfrozen "
            "layers at a lower rate: protects pretrained weights from a random head"
        )
        self.head_epochs_spin = int_spin(
            0, 0, 1000, "Phase 1 epochs (head only); 'half' uses half the epochs", special="half"
        )
        self.lr_factor_spin = float_spin(
            defaults.finetune_lr_factor,
            0.001,
            1.0,
            "Phase 2 learning rate as a fraction of the rate (0.1 = ten times lower)",
            step=0.05,
            decimals=3,
        )
        phase_row = QHBoxLayout()
        phase_row.addWidget(self.two_phase_check)
        phase_row.addWidget(self.head_epochs_spin)
        phase_row.addWidget(self.lr_factor_spin)
        phase_row.addStretch(1)
        self.head_epochs_spin.setSuffix(" head epochs")
        self.head_epochs_spin.setSpecialValueText("half: head only")
        self.lr_factor_spin.setPrefix("then rate × ")
        tune.addRow("Phases", phase_row)
        self.lr_mult_spin = float_spin(
            defaults.backbone_lr_mult,
            0.0,
            1.0,
            "The backbone learns at this fraction of the head's rate (discriminative learning rates; 1 = same rate)",
            step=0.05,
            decimals=3,
        )
        self.l2sp_spin = float_spin(
            defaults.l2sp,
            0.0,
            10.0,
            "L2-SP: pull fine-tuned weights back towards their "
            "pretrained values (0 = off); fights forgetting with small data",
            step=0.001,
            decimals=4,
            special="off",
        )
        self.head_units_spin = int_spin(
            defaults.head_units,
            0,
            4096,
            "A hidden dense layer in the new head (0 = none: pooled features go straight to the output)",
            step=32,
            special="none",
        )
        self.head_dropout_spin = float_spin(
            defaults.head_dropout, 0.0, 0.9, "Dropout before the head's output", step=0.05
        )
        row1 = QHBoxLayout()
        row1.addWidget(self.lr_mult_spin)
        row1.addWidget(self.l2sp_spin)
        row1.addStretch(1)
        self.lr_mult_spin.setPrefix("rate × ")
        self.l2sp_spin.setPrefix("L2-SP ")
        self.l2sp_spin.setSpecialValueText("L2-SP off")
        tune.addRow("Backbone", row1)
        row2 = QHBoxLayout()
        row2.addWidget(self.head_units_spin)
        row2.addWidget(self.head_dropout_spin)
        self.head_units_spin.setSuffix(" hidden units")
        self.head_units_spin.setSpecialValueText("no hidden layer")
        self.head_dropout_spin.setPrefix("dropout ")
        row2.addStretch(1)
        tune.addRow("Head", row2)
        layout.addLayout(tune)
        layout.addStretch(1)

        self.backbone_combo.currentIndexChanged.connect(self._on_backbone)
        self.handle_edit.editingFinished.connect(self._on_backbone)
        self.freeze_combo.currentIndexChanged.connect(self._on_freeze)
        self.two_phase_check.toggled.connect(self._on_freeze)
        for widget in (
            self.top_spin,
            self.head_epochs_spin,
            self.lr_factor_spin,
            self.lr_mult_spin,
            self.l2sp_spin,
            self.head_units_spin,
            self.head_dropout_spin,
        ):
            widget.valueChanged.connect(self.changed)
        self._on_freeze()

    def set_catalogue(self, entries: list[dict[str, Any]]) -> None:
        current = self.backbone()
        self.backbone_combo.blockSignals(True)
        self.backbone_combo.clear()
        self.catalogue = {str(e.get("name")): e for e in entries}
        for name, entry in self.catalogue.items():
            label = entry.get("title") or name
            if entry.get("source") == "demo" or entry.get("offline"):
                label = f"{label}  (offline)"
            self.backbone_combo.addItem(str(label), name)
            self.backbone_combo.setItemData(self.backbone_combo.count() - 1, entry.get("description", ""), role=3)
        if not entries:
            self.backbone_combo.addItem("No catalogue: enter a handle or a file below", None)
        self.backbone_combo.blockSignals(False)
        if current and current in self.catalogue:
            select(self.backbone_combo, current)
        self._show_metadata()

    def backbone(self) -> str | None:
        typed = self.handle_edit.text().strip()
        return typed or self.backbone_combo.currentData()

    def recipe_fields(self) -> dict[str, Any]:
        policy = self.freeze_combo.currentData()
        freeze = f"top:{self.top_spin.value()}" if policy == "top" else policy
        return {
            "backbone": self.backbone(),
            "freeze": freeze,
            "two_phase": self.two_phase_check.isChecked(),
            "head_epochs": self.head_epochs_spin.value() or None,
            "finetune_lr_factor": self.lr_factor_spin.value(),
            "backbone_lr_mult": self.lr_mult_spin.value(),
            "l2sp": self.l2sp_spin.value(),
            "head_units": self.head_units_spin.value(),
            "head_dropout": self.head_dropout_spin.value(),
        }

    def show_recipe(self, recipe: ModelRecipe) -> None:
        widgets = [
            self.backbone_combo,
            self.handle_edit,
            self.freeze_combo,
            self.top_spin,
            self.two_phase_check,
            self.head_epochs_spin,
            self.lr_factor_spin,
            self.lr_mult_spin,
            self.l2sp_spin,
            self.head_units_spin,
            self.head_dropout_spin,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        if recipe.backbone and recipe.backbone in self.catalogue:
            select(self.backbone_combo, recipe.backbone)
            self.handle_edit.clear()
        elif recipe.backbone:
            self.handle_edit.setText(recipe.backbone)
        freeze = recipe.freeze
        if freeze.startswith("top:"):
            select(self.freeze_combo, "top")
            self.top_spin.setValue(int(freeze.split(":", 1)[1] or 1))
        else:
            select(self.freeze_combo, freeze if freeze in FREEZE_POLICIES else "all")
        self.two_phase_check.setChecked(recipe.two_phase)
        self.head_epochs_spin.setValue(recipe.head_epochs or 0)
        self.lr_factor_spin.setValue(recipe.finetune_lr_factor)
        self.lr_mult_spin.setValue(recipe.backbone_lr_mult)
        self.l2sp_spin.setValue(recipe.l2sp)
        self.head_units_spin.setValue(recipe.head_units)
        self.head_dropout_spin.setValue(recipe.head_dropout)
        for widget in widgets:
            widget.blockSignals(False)
        self._on_freeze(emit=False)
        self._show_metadata()

    def _on_backbone(self) -> None:
        self._show_metadata()
        self.changed.emit()

    def _on_freeze(self, *_args: Any, emit: bool = True) -> None:
        policy = self.freeze_combo.currentData()
        self.top_spin.setEnabled(policy == "top")
        self.freeze_explanation.setText(FREEZE_POLICIES.get(policy, ""))
        two_phase = self.two_phase_check.isChecked()
        self.head_epochs_spin.setEnabled(two_phase)
        self.lr_factor_spin.setEnabled(two_phase)
        if emit:
            self.changed.emit()

    def _show_metadata(self) -> None:
        name = self.backbone()
        entry = self.catalogue.get(name or "", None)
        if entry is None:
            values = {
                "description": "Your own backbone: Kiln reads its size when you count parameters."
                if name
                else "Pick a backbone.",
                "source": name or "–",
                "pretraining": "–",
                "licence": "as its source says",
                "params": "–",
                "input_size": "–",
            }
        else:
            size = entry.get("input_size") or entry.get("image_size")
            source = {"demo": "ships with Kiln", "keras_applications": "Keras Applications", "hub": "TF Hub / Kaggle"}
            offline = "" if entry.get("offline") or entry.get("source") == "demo" else " (downloaded once, then cached)"
            values = {
                "description": entry.get("description", ""),
                "source": f"{source.get(entry.get('source'), entry.get('source'))}: "
                f"{entry.get('handle', name)}{offline}",
                "pretraining": entry.get("pretraining_data") or "–",
                "licence": entry.get("licence") or entry.get("license") or "–",
                "params": describe_count(entry.get("params")) if entry.get("params") else "–",
                "input_size": " x ".join(str(s) for s in size) if isinstance(size, (list, tuple)) else str(size or "–"),
            }
        for key, label in self.meta_labels.items():
            label.setText(str(values.get(key, "–")))

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a SavedModel folder")
        if folder:
            self.handle_edit.setText(folder)
            self._on_backbone()

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", "", "Keras models (*.keras *.h5 *.hdf5)")
        if path:
            self.handle_edit.setText(path)
            self._on_backbone()


class ModelPage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    compare_requested = Signal(object, object, object)  # scratch RunConfig, fine-tune RunConfig, fractions

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._count_worker: Worker | None = None
        self.compare_dialog: FractionsDialog | None = None

        self.scratch = ScratchPanel()
        self.finetune = FinetunePanel()
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.scratch.radio)
        self.mode_group.addButton(self.finetune.radio)
        self.scratch.radio.setChecked(True)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.scratch)
        splitter.addWidget(self.finetune)
        splitter.setSizes([640, 600])

        summary = QGroupBox("Built model")
        summary_layout = QHBoxLayout(summary)
        numbers = QVBoxLayout()
        self.count_button = QPushButton("Count parameters")
        self.count_button.setProperty("role", "primary")
        self.count_button.setToolTip(
            "Build the chosen model for the loaded data (in the background) and show its layers and parameter counts"
        )
        self.params_label = QLabel("–")
        self.params_label.setProperty("role", "big-number")
        self.params_detail = muted_label("Load data, then count the parameters of the model you chose.")
        self.compare_button = QPushButton("Compare both…")
        self.compare_button.setToolTip(
            "Train the from-scratch model and the fine-tuned model head to head on the same data, "
            "with the Train page's settings, and compare accuracy, time, data and size"
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        numbers.addLayout(buttons)
        numbers.addWidget(self.params_label)
        numbers.addWidget(self.params_detail)
        numbers.addStretch(1)
        self.layers_tree = QTreeWidget()
        self.layers_tree.setHeaderLabels(["Layer", "Type", "Output", "Parameters", "Trainable"])
        self.layers_tree.setRootIsDecorated(False)
        self.layers_tree.setAlternatingRowColors(True)
        self.layers_tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        summary_layout.addLayout(numbers, 1)
        summary_layout.addWidget(self.layers_tree, 3)
        summary.setMaximumHeight(150)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(splitter, 1)
        layout.addWidget(summary)

        self.scratch.changed.connect(self._on_changed)
        self.finetune.changed.connect(self._on_changed)
        self.mode_group.buttonToggled.connect(self._on_mode)
        self.count_button.clicked.connect(self.count_parameters)
        self.compare_button.clicked.connect(self.compare_both)
        session.config_loaded.connect(lambda config: self.show_recipe(config.model))
        session.dataset_changed.connect(self._on_dataset)
        self.show_recipe(session.config.model)
        self._on_mode()

    # -- recipe ---------------------------------------------------------------------------

    def recipe(self) -> ModelRecipe:
        current = self.session.config.model
        kind = "finetune" if self.finetune.radio.isChecked() else "scratch"
        return dataclasses.replace(current, kind=kind, **self.scratch.recipe_fields(), **self.finetune.recipe_fields())

    def show_recipe(self, recipe: ModelRecipe) -> None:
        input_kind = self.session.dataset.input_kind if self.session.dataset is not None else "image"
        self.scratch.show_recipe(recipe, input_kind)
        self.finetune.show_recipe(recipe)
        radio = self.finetune.radio if recipe.kind == "finetune" else self.scratch.radio
        radio.blockSignals(True)
        radio.setChecked(True)
        radio.blockSignals(False)
        self._style_mode()

    def use_backbone(self, name: str) -> None:
        """Switch to fine-tuning ``name`` (a catalogue name, handle or path)."""
        self.finetune.handle_edit.setText("" if name in self.finetune.catalogue else name)
        if name in self.finetune.catalogue:
            select(self.finetune.backbone_combo, name)
        self.finetune.radio.setChecked(True)
        self._store_recipe()

    def set_catalogue(self, entries: list[dict[str, Any]]) -> None:
        self.finetune.set_catalogue(entries)
        if self.session.config.model.backbone:
            self.finetune.show_recipe(self.session.config.model)

    def _on_changed(self) -> None:
        self._store_recipe()  # at once: a run started right after an edit must use it
        self.params_label.setText("–")
        self.params_detail.setText("Changed: count again to see the new size.")

    def _on_mode(self, *_args: Any) -> None:
        self._style_mode()
        self._on_changed()

    def _style_mode(self) -> None:
        finetune = self.finetune.radio.isChecked()
        for panel, active in ((self.scratch, not finetune), (self.finetune, finetune)):
            panel.body.setEnabled(active)  # the other path stays visible for comparison, but greyed out

    def _store_recipe(self) -> None:
        self.session.update(model=self.recipe())

    def _on_dataset(self, dataset: Any) -> None:
        if dataset is not None and dataset.input_kind != self.scratch.input_kind:
            self.scratch.input_kind = dataset.input_kind
            if not self.session.config.model.layers:
                self.scratch.reset_layers()
        self.params_label.setText("–")

    # -- compare both ---------------------------------------------------------------------

    def comparison_configs(self) -> tuple[Any, Any]:
        """Two RunConfigs: the scratch panel's recipe and the fine-tune panel's, everything else shared."""
        recipe = self.recipe()
        config = self.session.config
        scratch = config.replace(model=dataclasses.replace(recipe, kind="scratch"))
        finetune = config.replace(model=dataclasses.replace(recipe, kind="finetune"))
        return scratch, finetune

    def compare_both(self) -> FractionsDialog | None:
        """Ask for the data shares, then ask the window to train both approaches head to head."""
        if self.session.dataset is None:
            self.params_detail.setText("Load data first: both approaches train on the same loaded data.")
            return None
        if not self.finetune.backbone():
            self.params_detail.setText("Pick a backbone in the fine-tune panel first: it is the other contender.")
            return None
        self._store_recipe()
        scratch, finetune = self.comparison_configs()
        backbone = backbone_display_name(finetune.model.backbone)
        summary = (
            f"Train a from-scratch {scratch.model.arch.upper()} and a fine-tuned {backbone} on the same data "
            "with the Train page's settings, then compare validation score, time and size."
        )
        dialog = FractionsDialog(summary, self)
        dialog.accepted.connect(lambda: self.compare_requested.emit(scratch, finetune, dialog.fractions()))
        self.compare_dialog = dialog
        dialog.open()  # window-modal but not blocking: the run starts when it is accepted
        return dialog

    # -- counting -------------------------------------------------------------------------

    def count_parameters(self) -> Worker | None:
        dataset = self.session.dataset
        if dataset is None:
            self.params_detail.setText("Load data first: the input shape and the classes decide the model's size.")
            return None
        if self._count_worker is not None and self._count_worker.running:
            return self._count_worker
        self._store_recipe()
        recipe = self.session.config.model
        image_size = self.session.config.data.image_size
        self.count_button.setEnabled(False)
        self.params_label.setText("…")
        self.params_detail.setText("Building the model in the background…")
        self.busy.emit("Building the model to count its parameters…")

        def build(_context: WorkerContext) -> dict[str, Any]:
            return count_parameters(recipe, dataset, image_size)

        self._count_worker = run_in_background(
            build,
            task="building the model",
            on_result=self._on_counted,
            on_error=self._on_count_error,
            on_finished=self._on_count_finished,
            parent=self,
        )
        return self._count_worker

    def _on_counted(self, summary: dict[str, Any]) -> None:
        self.last_summary = summary
        self.params_label.setText(f"{summary['params']:,} parameters")
        frozen = summary["params"] - summary["trainable"]
        size = summary.get("image_size")
        parts = [f"{summary['trainable']:,} trainable, {frozen:,} frozen"]
        if size:
            parts.append(f"images resized to {size[0]} x {size[1]}")
        if len(summary.get("phases", [])) > 1:
            parts.append(" then ".join(f"{p['name']} ({p['epochs']} epochs)" for p in summary["phases"]))
        self.params_detail.setText("; ".join(parts) + ".")
        self.layers_tree.clear()
        for layer in summary["layers"]:
            item = QTreeWidgetItem(
                [layer["name"], layer["type"], layer["output"], f"{layer['params']:,}", f"{layer['trainable']:,}"]
            )
            for column in (3, 4):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.layers_tree.addTopLevelItem(item)

    def _on_count_error(self, error: Any) -> None:
        self.params_label.setText("Not built")
        self.params_detail.setText("The model could not be built; the message says why.")
        self.failed.emit("Cannot build this model", error)

    def _on_count_finished(self) -> None:
        self.count_button.setEnabled(True)
        self.busy.emit("")


def backbone_display_name(backbone: str | None) -> str:
    return Path(backbone).name if backbone else "backbone"
