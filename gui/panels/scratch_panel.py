"""The from-scratch card: a preset that expands into an editable layer list, and the initializers.

Every control is bound to a ``model.*`` path. A preset (``arch`` = mlp | cnn | resnet) keeps
``layers`` empty: the engine expands it at build time and the editor shows that expansion.
Editing the list makes the recipe ``custom``: the layers are then built as they are, and the
preset knobs no longer rewrite them.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QLabel, QPushButton

from kiln_lab.engine.models.initializers import INITIALIZERS, recommended_initializer
from kiln_lab.engine.models.layer_types import PRESETS
from kiln_lab.engine.models.recipe import CUSTOM_ARCH, ModelRecipe
from kiln_lab.engine.models.scratch import expand_preset
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.binding import FormBinding, set_path
from kiln_lab.gui.panels.path_card import PathCard
from kiln_lab.gui.widgets.forms import declared_combo, declared_spin, declared_tooltip, enable_used, muted_label
from kiln_lab.gui.widgets.layer_editor import LayerEditor

CUSTOM_LABEL = "Custom: the layers below, as edited"
PRESET_KNOBS = ("model.depth", "model.width", "model.activation", "model.dropout", "model.batch_norm")


class ScratchPanel(PathCard):
    def __init__(self, binding: FormBinding) -> None:
        super().__init__(
            "Train from scratch",
            "Every weight starts random; the model learns only from your data",
            "Your data only: best when it is plentiful or unlike photos (tables, "
            "spectra, tiny images). You choose the layers and how weights start.",
        )
        self.binding = binding
        self.input_kind = "image"
        layout = self.body_layout

        form = QFormLayout()
        self.preset_combo = declared_combo("model.arch", labels={CUSTOM_ARCH: "custom"}, note="Edit its layers below")
        self.preset_combo.setItemData(self.preset_combo.findData(CUSTOM_ARCH), CUSTOM_LABEL, role=3)
        self.depth_spin = declared_spin("model.depth")
        self.width_spin = declared_spin("model.width")
        self.activation_combo = declared_combo("model.activation", labels={})
        self.dropout_spin = declared_spin("model.dropout")
        self.batchnorm_check = QCheckBox("Batch normalisation")
        self.batchnorm_check.setToolTip(
            declared_tooltip("model.batch_norm", "Trains faster, tolerates worse initialisation")
        )
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_combo, 1)
        self.apply_preset_button = QPushButton("Reset layers to preset")
        self.apply_preset_button.setToolTip("Replace the layer list below with the preset's layers")
        preset_row.addWidget(self.apply_preset_button)
        form.addRow("Preset", preset_row)
        knobs = QHBoxLayout()
        for label, widget in (("Depth", self.depth_spin), ("Width", self.width_spin)):
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
        dropout_row = QHBoxLayout()  # a row of its own: the card fits half a small window
        dropout_row.addWidget(self.dropout_spin)
        dropout_row.addStretch(1)
        form.addRow("Dropout", dropout_row)
        self.preset_description = muted_label("")
        form.addRow("", self.preset_description)
        layout.addLayout(form)

        init_form = QFormLayout()
        self.init_combo = declared_combo("model.kernel_initializer", note="Hover an entry for why you would pick it")
        self.init_explanation = muted_label("")
        self.bias_combo = declared_combo("model.bias_initializer")
        self.scale_spin = declared_spin("model.init_scale", note="Ignored by He, Glorot and LeCun")
        init_form.addRow("Weight initializer", self.init_combo)
        init_form.addRow("", self.init_explanation)
        bias_row = QHBoxLayout()
        bias_row.addWidget(self.bias_combo)
        bias_row.addWidget(QLabel("Scale"))
        bias_row.addWidget(self.scale_spin)
        bias_row.addStretch(1)
        init_form.addRow("Bias initializer", bias_row)
        layout.addLayout(init_form)
        self.layer_editor = LayerEditor()
        self.layer_editor.set_note("+ output layer, added for you")
        layout.addWidget(self.layer_editor, 1)

        binding.bind("model.arch", self.preset_combo, apply=self._apply_arch)
        for path, widget in zip(
            PRESET_KNOBS,
            (self.depth_spin, self.width_spin, self.activation_combo, self.dropout_spin, self.batchnorm_check),
        ):
            binding.bind(path, widget, apply=_knob_apply(path))
        binding.bind(
            "model.layers",
            self.layer_editor,
            to_widget=self._layers_to_show,
            apply=lambda config, layers: config.replace(model={"layers": tuple(layers), "arch": CUSTOM_ARCH}),
            read=self.layer_editor.specs,
            write=lambda specs: self.layer_editor.set_specs(specs) or True,
            signal=self.layer_editor.changed,
        )
        binding.bind("model.kernel_initializer", self.init_combo)
        binding.bind("model.bias_initializer", self.bias_combo)
        binding.bind("model.init_scale", self.scale_spin)
        binding.session.config_changed.connect(self.refresh)
        self.apply_preset_button.clicked.connect(self.reset_layers)
        self.refresh(binding.session.config)

    # -- what the controls mean ------------------------------------------------------------

    def _layers_to_show(self, layers: tuple) -> tuple:
        recipe = dataclasses.replace(self.binding.session.config.model, layers=tuple(layers))
        return expand_preset(recipe, self.input_kind)

    def _apply_arch(self, config: RunConfig, arch: str) -> RunConfig:
        """A preset is expanded by the engine (no layer list); "custom" freezes the list shown."""
        layers = self.layer_editor.specs() if arch == CUSTOM_ARCH else ()
        return config.replace(model={"arch": arch, "layers": tuple(layers)})

    def reset_layers(self) -> None:
        """Back to the preset's own layers (the list follows the knobs again)."""
        if self.binding.session.config.model.arch != CUSTOM_ARCH:
            self.binding.session.update(model={"layers": ()})

    def set_input_kind(self, input_kind: str) -> None:
        """The loaded data's kind: a preset expands differently for images and tables."""
        if input_kind != self.input_kind:
            self.input_kind = input_kind
            self.binding.show(self.binding.session.config)
            self.refresh(self.binding.session.config)

    def refresh(self, config: RunConfig) -> None:
        """The texts that follow the recipe: the preset's description and the initializer's advice."""
        recipe: ModelRecipe = config.model
        arch = recipe.arch
        custom = arch == CUSTOM_ARCH
        self.apply_preset_button.setEnabled(not custom and bool(recipe.layers))
        shown = self._layers_to_show(recipe.layers)
        if shown != self.layer_editor.specs():  # a preset's list follows its knobs
            self.layer_editor.set_specs(shown)
        note = ""
        if arch in ("cnn", "resnet") and self.input_kind != "image":
            note = " Your data is a table, so the dense (MLP) layers are used instead."
        self.preset_description.setText(CUSTOM_LABEL + "." if custom else PRESETS.get(arch, "") + note)
        self._update_init_text(recipe)

    def _update_init_text(self, recipe: ModelRecipe) -> None:
        name = recipe.kernel_initializer
        explanation = INITIALIZERS.get(name, "")
        enable_used({"init_scale": self.scale_spin}, recipe)
        activation = recipe.activation
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


def _knob_apply(path: str) -> Any:
    """A preset knob: write it, and let a preset's layer list follow (a custom list stays as it is)."""

    def apply(config: RunConfig, value: Any) -> RunConfig:
        config = set_path(config, path, value)
        if config.model.arch != CUSTOM_ARCH:
            config = config.replace(model={"layers": ()})
        return config

    return apply
