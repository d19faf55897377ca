"""The fine-tuning card: a backbone (catalogue, hub handle or local model), its card, and the knobs.

Every control is bound to a ``model.*`` path; a value a control cannot show (a freeze
policy it does not list, a factor beyond a spin box's range) is kept as it was.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
)

from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.panels.path_card import PathCard
from kiln_lab.gui.widgets.forms import declared_spin, declared_tooltip, describe_count, enable_used, muted_label, select
from kiln_lab.gui.widgets.freeze_edit import FreezePolicyEdit

SOURCE_LABELS = {"demo": "ships with Kiln", "keras_applications": "Keras Applications", "hub": "TF Hub / Kaggle"}
META_ROWS = (
    ("description", "About"),
    ("source", "Source"),
    ("pretraining", "Pretrained on"),
    ("licence", "Licence"),
    ("caveats", "Known limits"),
    ("params", "Parameters"),
    ("input_size", "Input size"),
)


class FinetunePanel(PathCard):
    backbone_edited = Signal()  # a person chose another backbone (list, handle, or browse)

    def __init__(self, binding: FormBinding) -> None:
        super().__init__(
            "Fine-tune a pretrained model",
            "Start from a network already trained on a large dataset; add a new head",
            "Reuse what a network learned elsewhere: best with few images that look like "
            "its training data. Kiln adds a new head for your classes.",
        )
        self.binding = binding
        self.catalogue: dict[str, dict[str, Any]] = {}
        self.all_entries: list[dict[str, Any]] = []
        self.input_kind: str | None = None  # the loaded data's kind: the list shows only backbones that take it
        # Why this path cannot be chosen for the loaded data (tables): said above the greyed body.
        self.unavailable_label = muted_label("")
        self.unavailable_label.setVisible(False)
        self.layout().insertWidget(1, self.unavailable_label)
        layout = self.body_layout

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
        for key, label in META_ROWS:
            value = QLabel("–")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.meta_labels[key] = value
            meta.addRow(label, value)
        layout.addWidget(self.meta_box)

        tune = QFormLayout()
        self.freeze_edit = FreezePolicyEdit()
        tune.addRow("Freeze", self.freeze_edit)
        self.two_phase_check = QCheckBox("Two phases")
        self.two_phase_check.setToolTip(
            declared_tooltip("model.two_phase", "Protects pretrained weights from a random head")
        )
        self.head_epochs_spin = declared_spin(
            "model.head_epochs", suffix=" head epochs", special="half: head only", note="'half' uses half the epochs"
        )
        self.lr_factor_spin = declared_spin(
            "model.finetune_lr_factor", prefix="then rate × ", note="0.1 = ten times lower"
        )
        phase_row = QHBoxLayout()
        phase_row.addWidget(self.two_phase_check)
        phase_row.addWidget(self.head_epochs_spin)
        phase_row.addStretch(1)
        tune.addRow("Phases", phase_row)
        tune.addRow("Phase 2", self.lr_factor_spin)  # its own row: the card fits half a small window
        # What the policy and the phases will do, said whole: "frozen" alone was wrong with two phases.
        self.freeze_explanation = muted_label("")
        tune.addRow("", self.freeze_explanation)
        self.lr_mult_spin = declared_spin(
            "model.backbone_lr_mult", prefix="× ", suffix=" the head's rate",
            note="1 = the same rate; 0.1 = the backbone changes ten times more slowly than the new head",
        )
        row1 = QHBoxLayout()
        row1.addWidget(self.lr_mult_spin)
        row1.addStretch(1)
        tune.addRow("Backbone rate", row1)  # not "Backbone" again: that row picks the backbone
        self.l2sp_spin = declared_spin(
            "model.l2sp", special="off",
            note="L2-SP: a penalty that pulls each backbone weight back towards its pretrained value, so "
            "fine-tuning on little data forgets less of what the backbone knew. 0 = off; try 0.001 to 0.01",
        )
        l2sp_row = QHBoxLayout()
        l2sp_row.addWidget(self.l2sp_spin)
        self.l2sp_words = muted_label("pull weights back to pretrained (L2-SP)")
        self.l2sp_words.setToolTip(self.l2sp_spin.toolTip())
        l2sp_row.addWidget(self.l2sp_words, 1)
        tune.addRow("Stay close", l2sp_row)
        self.head_units_spin = declared_spin(
            "model.head_units", suffix=" hidden units", special="no hidden layer",
            note="With none, pooled features go straight to the output",
        )
        self.head_dropout_spin = declared_spin("model.head_dropout", prefix="dropout ")
        row2 = QHBoxLayout()
        row2.addWidget(self.head_units_spin)
        row2.addStretch(1)
        tune.addRow("Head", row2)
        dropout_row = QHBoxLayout()  # below, not beside: the scratch card's layer table needs the width
        dropout_row.addWidget(self.head_dropout_spin)
        dropout_row.addStretch(1)
        tune.addRow("", dropout_row)
        self.source_task_edit = QLineEdit()
        self.source_task_edit.setPlaceholderText("optional: data of the backbone's own task")
        self.source_task_edit.setToolTip(declared_tooltip("model.source_task", "A folder, a file or demo:NAME"))
        source_button = QPushButton("Folder…")
        source_button.setToolTip("A folder of images by class from the backbone's original task")
        source_button.clicked.connect(self._browse_source_task)
        row3 = QHBoxLayout()
        row3.addWidget(self.source_task_edit, 1)
        row3.addWidget(source_button)
        tune.addRow("Source", row3)  # short: a longer label widens the card past a small window
        layout.addLayout(tune)
        layout.addStretch(1)

        self.backbone_combo.currentIndexChanged.connect(lambda _i: self.backbone_edited.emit())
        self.handle_edit.editingFinished.connect(self.backbone_edited)
        binding.bind(
            "model.backbone", self.backbone_combo, read=self.backbone, write=self._show_backbone,
            signal=self.backbone_edited,
        )
        binding.bind(
            "model.freeze", self.freeze_edit, read=self.freeze_edit.value, write=self.freeze_edit.set_value,
            signal=self.freeze_edit.edited,
        )
        binding.bind("model.two_phase", self.two_phase_check)
        binding.bind(
            "model.head_epochs", self.head_epochs_spin,
            to_widget=lambda v: 0 if v is None else v, from_widget=lambda v: v or None,
        )
        binding.bind("model.finetune_lr_factor", self.lr_factor_spin)
        binding.bind("model.backbone_lr_mult", self.lr_mult_spin)
        binding.bind("model.l2sp", self.l2sp_spin)
        binding.bind("model.head_units", self.head_units_spin)
        binding.bind("model.head_dropout", self.head_dropout_spin)
        binding.bind(
            "model.source_task", self.source_task_edit,
            to_widget=lambda v: v or "", from_widget=lambda v: v.strip() or None,
        )
        binding.session.config_changed.connect(self.refresh)
        self.refresh(binding.session.config)

    # -- the backbone ----------------------------------------------------------------------

    def set_catalogue(self, entries: list[dict[str, Any]]) -> None:
        self.all_entries = list(entries)
        self._fill_backbones()

    def set_input_kind(self, input_kind: str) -> None:
        """Offer only the backbones that take ``input_kind`` data; say plainly when there are none."""
        from kiln_lab.engine.training.starting import finetune_unavailable_reason

        self.input_kind = input_kind
        reason = finetune_unavailable_reason(input_kind)
        self.radio.setEnabled(reason is None)
        self.unavailable_label.setText(reason or "")
        self.unavailable_label.setVisible(reason is not None)
        if self.all_entries:
            self._fill_backbones()

    def _fill_backbones(self) -> None:
        entries = [
            e for e in self.all_entries if self.input_kind is None or e.get("input_kind", "image") == self.input_kind
        ]
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
            empty = "No catalogue: enter a handle or a file below"
            if self.all_entries:
                empty = "No backbone takes this kind of data"
            self.backbone_combo.addItem(empty, None)
        self.backbone_combo.blockSignals(False)
        self.binding.show(self.binding.session.config)  # the held backbone may be in the list now
        self._show_metadata()

    def backbone(self) -> str | None:
        """What the controls show: a typed handle or path, else the list's choice."""
        typed = self.handle_edit.text().strip()
        return typed or self.backbone_combo.currentData()

    def _show_backbone(self, value: str | None) -> bool:
        blocked = self.handle_edit.blockSignals(True)
        if value and value in self.catalogue:
            select(self.backbone_combo, value)
            self.handle_edit.clear()
        else:
            self.handle_edit.setText(value or "")
        self.handle_edit.blockSignals(blocked)
        return value is None or self.backbone() == value

    def choose(self, name: str) -> None:
        """Pick ``name`` (a catalogue name, a handle or a path) as if a person had."""
        self._show_backbone(name)
        self.backbone_edited.emit()

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a SavedModel folder")
        if folder:
            self.choose(folder)

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", "", "Keras models (*.keras *.h5 *.hdf5)")
        if path:
            self.choose(path)

    def _browse_source_task(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose data from the backbone's original task")
        if folder:
            self.source_task_edit.setText(folder)
            self.source_task_edit.editingFinished.emit()  # as if typed: the binding takes it

    # -- texts that follow the recipe -------------------------------------------------------

    def refresh(self, config: RunConfig) -> None:
        enable_used({"head_epochs": self.head_epochs_spin, "finetune_lr_factor": self.lr_factor_spin}, config.model)
        self.freeze_explanation.setText(finetune_plan(config))
        self._show_metadata()

    def _show_metadata(self) -> None:
        name = self.binding.session.config.model.backbone or self.backbone()
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
            offline = "" if entry.get("offline") or entry.get("source") == "demo" else " (downloaded once, then cached)"
            values = {
                "description": entry.get("description", ""),
                "source": f"{SOURCE_LABELS.get(entry.get('source'), entry.get('source'))}: "
                f"{entry.get('handle', name)}{offline}",
                "pretraining": entry.get("pretraining_data") or "–",
                "licence": entry.get("licence") or entry.get("license") or "–",
                "params": describe_count(entry.get("params")) if entry.get("params") else "–",
                "input_size": " x ".join(str(s) for s in size) if isinstance(size, (list, tuple)) else str(size or "–"),
            }
        values.update(_terms_and_limits(name, entry))
        for key, label in self.meta_labels.items():
            label.setText(str(values.get(key, "–")))


def finetune_plan(config: RunConfig) -> str:
    """What fine-tuning will do with this recipe, phase by phase (the engine's own words for the plan)."""
    from kiln_lab.engine.errors import ConfigError
    from kiln_lab.engine.models.freeze import head_epochs_for, plan_sentence

    model, epochs = config.model, config.train.epochs
    head = head_epochs_for(model.head_epochs, epochs) if model.two_phase and epochs >= 2 else None
    try:
        return plan_sentence(model.freeze, model.two_phase, rate_factor=model.finetune_lr_factor, epochs=epochs,
                             head_epochs=head)
    except ConfigError as error:
        return str(error)


def _terms_and_limits(name: str | None, entry: dict[str, Any] | None) -> dict[str, str]:
    """The licence with its class and note, and the backbone's known limits (engine facts, shown as they come)."""
    if not name:
        return {}
    from kiln_lab.engine.models.caveats import backbone_caveats
    from kiln_lab.engine.models.licence import classify_licence

    entry = entry or {}
    verdict = classify_licence(entry.get("licence") or entry.get("license"))
    caveats = backbone_caveats({"name": name, "pretraining_data": entry.get("pretraining_data") or "unknown"})
    return {
        "licence": f"{verdict.text} — {verdict.category}. {verdict.note}",
        "caveats": "\n".join(f"• {c}" for c in caveats) or "–",
    }
