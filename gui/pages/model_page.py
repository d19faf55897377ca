"""Model page: the decision itself, side by side: train from scratch, or fine-tune a backbone.

The page composes panels (`gui/panels/`): the advisor (whose Apply sets the page to its
advice), the two path cards, each bound to ``model.*`` config paths, the built-model strip and
the initialisation diagnostics, in one column that scrolls as a whole. It owns what crosses
panels: which path is chosen, counting parameters in its task slot (a count for an older
recipe or dataset is dropped), and "Compare both". More cards go in with `add_panel`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QSplitter, QVBoxLayout, QWidget

from kiln_lab.engine.models.recipe import ModelRecipe
from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.panels.finetune_panel import FinetunePanel
from kiln_lab.gui.panels.model_summary import ModelSummaryPanel
from kiln_lab.gui.panels.path_card import scrolling
from kiln_lab.gui.panels.scratch_panel import ScratchPanel
from kiln_lab.gui.session import Session
from kiln_lab.gui.widgets.advisor_card import AdvisorCard
from kiln_lab.gui.widgets.compare_view import FractionsDialog
from kiln_lab.gui.widgets.init_diagnostics_card import InitDiagnosticsCard
from kiln_lab.gui.workers import TaskSlot, Worker

KIND_SCRATCH, KIND_FINETUNE = "scratch", "finetune"


class ModelPage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    # scratch, fine-tune RunConfigs, fractions, repeats, step budget
    compare_requested = Signal(object, object, object, int, int)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.compare_dialog: FractionsDialog | None = None
        self.last_summary: dict[str, Any] | None = None
        self.binding = FormBinding(session, self)
        self.count_slot = TaskSlot(self, current_key=self._count_key)

        self.scratch = ScratchPanel(self.binding)
        self.finetune = FinetunePanel(self.binding)
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.scratch.radio)
        self.mode_group.addButton(self.finetune.radio)
        self.binding.bind(
            "model.kind",
            self.finetune.radio,
            read=lambda: KIND_FINETUNE if self.finetune.radio.isChecked() else KIND_SCRATCH,
            write=self._show_kind,
            signal=self.mode_group.buttonToggled,
            apply=self._apply_kind,
        )

        paths = QSplitter(Qt.Orientation.Horizontal)
        paths.setChildrenCollapsible(False)
        paths.addWidget(self.scratch)
        paths.addWidget(self.finetune)
        paths.setSizes([600, 470])  # the layer table needs more than the fine-tune card
        for card in (self.scratch, self.finetune):
            card.let_combos_shrink()
        self.paths = paths
        self.summary = ModelSummaryPanel()
        # Shortcuts the window and tests use; the widgets belong to the summary panel.
        self.count_button = self.summary.count_button
        self.compare_button = self.summary.compare_button
        self.params_label = self.summary.params_label
        self.params_detail = self.summary.params_detail
        self.layers_tree = self.summary.layers_tree

        # One column that scrolls as a whole: the advice (with its Apply) on top, the two paths,
        # the built model, then the cards added with add_panel. Nothing inside scrolls on its
        # own, so every part keeps its natural height instead of a 60-pixel slice of the window.
        content = QWidget()
        content.setObjectName("ModelPageContent")
        self.column = QVBoxLayout(content)
        self.column.setContentsMargins(12, 10, 12, 10)
        self.column.setSpacing(10)
        self.column.addWidget(paths)
        self.column.addWidget(self.summary)
        self.page_scroll = scrolling(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.page_scroll)

        self.summary.count_button.clicked.connect(self.count_parameters)
        self.summary.compare_button.clicked.connect(self.compare_both)
        self._summary_key: tuple[Any, ...] | None = None  # what the shown summary was built for
        session.config_changed.connect(self._check_summary_current)
        session.config_loaded.connect(self.binding.show)
        session.dataset_changed.connect(self._on_dataset)
        self._style_mode()
        self.advisor = AdvisorCard(session, backbones=lambda: [self.finetune.backbone()])
        self.column.insertWidget(0, self.advisor)  # ask first: its Apply sets the paths below
        self.init_card = InitDiagnosticsCard(session)  # gradients per layer at init; the initializer showdown
        self.add_panel(self.init_card)

    def add_panel(self, panel: QWidget, stretch: int = 0, *, title: str | None = None) -> None:
        """Add a card at the foot of the page (diagnostics, comparisons...); the page scrolls to it.

        ``stretch`` and ``title`` are kept for callers of the older tabbed layout: the card shows
        its own title, at its own height.
        """
        del stretch, title
        self.column.addWidget(panel)

    # -- the chosen path ------------------------------------------------------------------

    def recipe(self) -> ModelRecipe:
        return self.session.config.model

    def _show_kind(self, kind: str) -> bool:
        radio = self.finetune.radio if kind == KIND_FINETUNE else self.scratch.radio
        blocked = radio.blockSignals(True)
        radio.setChecked(True)
        radio.blockSignals(blocked)
        self._style_mode()
        return kind in (KIND_SCRATCH, KIND_FINETUNE)

    def _apply_kind(self, config: Any, kind: str) -> Any:
        self._style_mode()
        model = {"kind": kind}
        if kind == KIND_FINETUNE and not config.model.backbone and self.finetune.backbone():
            model["backbone"] = self.finetune.backbone()  # choosing the path adopts the backbone it shows
        return config.replace(model=model)

    def _style_mode(self) -> None:
        finetune = self.finetune.radio.isChecked()
        for panel, active in ((self.scratch, not finetune), (self.finetune, finetune)):
            panel.body.setEnabled(active)  # the other path stays visible for comparison, but greyed out

    def use_backbone(self, name: str) -> None:
        """Switch to fine-tuning ``name`` (a catalogue name, handle or path)."""
        self.finetune.choose(name)
        self.finetune.radio.setChecked(True)

    def set_catalogue(self, entries: list[dict[str, Any]]) -> None:
        self.finetune.set_catalogue(entries)

    def set_can_compare(self, enabled: bool) -> None:
        self.summary.compare_button.setEnabled(enabled)

    def _on_dataset(self, dataset: Any) -> None:
        if dataset is not None:
            self.scratch.set_input_kind(dataset.input_kind)
            self.finetune.set_input_kind(dataset.input_kind)
        self._summary_key = None
        self.summary.clear("Count parameters to see the model for this data.")

    def _check_summary_current(self, _config: Any) -> None:
        """The path, the layers or the epochs changed (here or on the Train page): say the summary is stale."""
        if self._summary_key is not None and self._count_key() != self._summary_key:
            self._summary_key = None
            self.summary.clear("Out of date: the path, the layers or the epochs changed since it was built. "
                               "Count again to see the model as it is now.")

    # -- compare both ---------------------------------------------------------------------

    def comparison_configs(self) -> tuple[Any, Any]:
        """Two RunConfigs: the scratch panel's recipe and the fine-tune panel's, everything else shared."""
        config = self.session.config
        scratch = config.replace(model=dataclasses.replace(config.model, kind=KIND_SCRATCH))
        finetune = config.replace(model=dataclasses.replace(config.model, kind=KIND_FINETUNE))
        return scratch, finetune

    def compare_both(self) -> FractionsDialog | None:
        """Ask for the data shares, then ask the window to train both approaches head to head."""
        if self.session.dataset is None:
            self.summary.params_detail.setText("Load data first: both approaches train on the same loaded data.")
            return None
        if not self.session.config.model.backbone:
            if not self.finetune.backbone():
                self.summary.params_detail.setText(
                    "Pick a backbone in the fine-tune panel first: it is the other contender."
                )
                return None
            self.session.update(model={"backbone": self.finetune.backbone()})
        scratch, finetune = self.comparison_configs()
        backbone = backbone_display_name(finetune.model.backbone)
        summary = (
            f"Train a from-scratch {scratch.model.arch.upper()} and a fine-tuned {backbone} on the same data "
            "with the Train page's settings, then compare test score, time and size."
        )
        train = self.session.config.train
        settings = (
            f"Every run uses the Train page's settings: {train.optimizer} at learning rate {train.learning_rate:g}, "
            f"batch size {train.batch_size}, {train.schedule} schedule. Instead of the page's epochs, each run "
            "trains for the step budget below, the same for both approaches."
        )
        defaults = (self.session.engine.details.get("compare_defaults") if self.session.engine else None) or {}
        dialog = FractionsDialog(summary, self, defaults=defaults, settings=settings)
        dialog.accepted.connect(
            lambda: self.compare_requested.emit(scratch, finetune, dialog.fractions(), dialog.repeats(),
                                                dialog.max_steps())
        )
        self.compare_dialog = dialog
        dialog.open()  # window-modal but not blocking: the run starts when it is accepted
        return dialog

    # -- counting -------------------------------------------------------------------------

    def _count_key(self) -> tuple[Any, ...]:
        """What a count depends on: a result for other inputs is stale and dropped."""
        config = self.session.config
        return (config.model, id(self.session.dataset), config.data.image_size, config.train.epochs)

    def count_parameters(self) -> Worker | None:
        dataset = self.session.dataset
        if dataset is None:
            self.summary.params_detail.setText(
                "Load data first: the input shape and the classes decide the model's size."
            )
            return None
        key = self._count_key()
        if self.count_slot.running and not self.count_slot.is_stale(self.count_slot.worker):
            return self.count_slot.worker  # the same recipe is being counted already
        config = self.session.config  # the phases split the real epochs, not a stand-in
        self.summary.count_button.setEnabled(False)
        self.summary.say("…", "Building the model in the background…")
        self.busy.emit("Building the model to count its parameters…")

        return self.count_slot.start(
            Call.of("summarize_model", config=config),
            task="building the model",
            key=key,
            on_result=self._on_counted,
            on_error=self._on_count_error,
            on_finished=self._on_count_finished,
        )

    def _on_counted(self, summary: dict[str, Any]) -> None:
        self.last_summary = summary
        self._summary_key = self._count_key()  # the slot dropped results for other inputs: this is current
        self.summary.show_summary(summary)
        if summary.get("freeze_units"):
            self.finetune.freeze_edit.set_layer_names(summary["freeze_units"])

    def _on_count_error(self, error: Any) -> None:
        self.summary.clear("The model could not be built; the message says why.")
        self.summary.params_label.setText("Not built")
        self.failed.emit("Cannot build this model", error)

    def _on_count_finished(self) -> None:
        self.summary.count_button.setEnabled(True)
        if self.summary.params_label.text() == "…":  # a stale count was dropped
            self.summary.say("–", "Changed while counting: count again to see the new size.")
        self.busy.emit("")


def backbone_display_name(backbone: str | None) -> str:
    return Path(backbone).name if backbone else "backbone"
