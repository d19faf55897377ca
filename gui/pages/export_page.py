"""Export page: save the model (Keras, HDF5, SavedModel, TFLite with optional float16/int8
quantisation, ONNX), save or open the run config, open a saved model.

Every write goes through the engine (atomic, with the run record beside the model) in the
engine worker. TFLite and ONNX files are then run in their own runtime beside the Keras model
(`export_for_deployment`): the page shows the accuracy before and after, the file size, the
latency, and says plainly when a quantised file loses more than the margin. Beside each export,
a few lines of Python load that file and call it with the preprocessing the model needs
(`engine.export.snippets`). An export that takes more than a second shows its stage and a
Cancel button (local to this page).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine.export.formats import CHECKED_FORMATS, EXPORT_FORMATS, QUANTISATIONS, SUFFIXES, missing_sentence
from kiln_lab.engine.export.runs import metric_words
from kiln_lab.engine.export.snippets import usage_snippet
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.session import Session, TrainedModel
from kiln_lab.gui.widgets.forms import muted_label, title_label
from kiln_lab.gui.workers import Worker, WorkerContext, WorkerError, run_in_background

FORMAT_LABELS = {
    "keras": "Keras (.keras)",
    "h5": "Legacy HDF5 (.h5)",
    "savedmodel": "SavedModel (folder)",
    "tflite": "TensorFlow Lite (.tflite)",
    "onnx": "ONNX (.onnx)",
}
QUANTISE_LABELS = {
    "": "No quantisation (float32)",
    "float16": "float16: half the size",
    "int8": "int8: a quarter of the size",
}
CANCEL_AFTER_MS = 1000  # an export that takes longer than this shows its Cancel button


class ExportPage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    model_saved = Signal(str)  # the path written
    config_synced = Signal(str)  # the run config now equals this file (saved to it, or opened from it)
    model_opened = Signal(str)
    evaluate_requested = Signal()
    finetune_requested = Signal(str)  # a model path to use as the backbone

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._worker: Worker | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(12)
        layout.addWidget(title_label("Export"))
        layout.addWidget(
            muted_label(
                "Save the trained model for use elsewhere, keep the run config to rerun it "
                "from the command line or on a cluster, or open a model saved earlier."
            )
        )

        # The boxes keep their natural height and the page scrolls at the window's smallest size,
        # rather than squeezing the format notes, the report and the snippet.
        content = QWidget()
        row = QHBoxLayout(content)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        row.addWidget(self._build_save_box(), 3)
        right = QVBoxLayout()
        right.addWidget(self._build_config_box())
        right.addWidget(self._build_open_box())
        right.addWidget(self._build_snippet_box(), 1)
        row.addLayout(right, 2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        layout.addWidget(scroll, 1)
        session.model_changed.connect(self._on_model_changed)
        session.config_changed.connect(lambda _c: self._update_command())
        self._on_model_changed(None)

    # -- layout ---------------------------------------------------------------------------

    def _build_save_box(self) -> QGroupBox:
        box = QGroupBox("Save the model")
        layout = QVBoxLayout(box)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        layout.addWidget(self.model_label)
        self.licence_warning = QLabel("")  # the backbone's terms, before anything is exported
        self.licence_warning.setWordWrap(True)
        self.licence_warning.setStyleSheet("color: #b03a2e; font-weight: 600;")
        self.licence_warning.hide()
        layout.addWidget(self.licence_warning)
        self.format_group = QButtonGroup(self)
        self.format_radios: dict[str, QRadioButton] = {}
        self.missing_notes: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        row = 0
        for fmt, explanation in EXPORT_FORMATS.items():
            radio = QRadioButton(FORMAT_LABELS.get(fmt, fmt))
            radio.setProperty("format", fmt)
            radio.setToolTip(explanation)
            radio.setChecked(fmt == "keras")
            self.format_group.addButton(radio, row)
            self.format_radios[fmt] = radio
            note = muted_label(explanation.split(":", 1)[-1].strip() if ":" in explanation else explanation)
            grid.addWidget(radio, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(note, row, 1)
            row += 1
            if fmt == "tflite":
                self.quantize_combo = QComboBox()
                for value, label in QUANTISE_LABELS.items():
                    if not value or value in QUANTISATIONS:
                        self.quantize_combo.addItem(label, value)
                self.quantize_combo.setToolTip(
                    "Post-training quantisation stores the weights (int8: also the activations, calibrated "
                    "on 200 of the run's training samples) in fewer bits, for a smaller, faster file. Kiln "
                    "runs the file on the run's test split and reports the accuracy before and after."
                )
                grid.addWidget(self.quantize_combo, row, 1)
                row += 1
            missing = missing_sentence(fmt)
            if missing:  # say what to install instead of failing after the file dialog
                radio.setEnabled(False)
                label = muted_label(missing)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.missing_notes[fmt] = label
                grid.addWidget(label, row, 1)
                row += 1
        layout.addLayout(grid)
        layout.addWidget(
            muted_label(
                "The file is written to a temporary name and renamed when complete, so a "
                "failed save never damages an earlier file. The run record goes beside it as "
                "<file>.run.json (inside a SavedModel folder as kiln.run.json), and its model card as "
                "<file>.model_card.md. TFLite and ONNX files are then run beside the Keras model."
            )
        )
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save model…")
        self.save_button.setProperty("role", "primary")
        self.save_button.setToolTip("Choose where to save the model in the selected format (Ctrl+S)")
        self.save_button.clicked.connect(self.choose_save_path)
        buttons.addWidget(self.save_button)
        self.export_progress = QProgressBar()
        self.export_progress.setTextVisible(False)
        self.export_progress.setMaximumWidth(160)
        self.export_progress.hide()
        buttons.addWidget(self.export_progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the export: before the file is written nothing is saved")
        self.cancel_button.clicked.connect(self.cancel_export)
        self.cancel_button.hide()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.save_result = muted_label("")
        self.save_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.save_result)
        self.report = QLabel("")  # the exported file's check: accuracy before/after, size, latency
        self.report.setWordWrap(True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report.hide()
        layout.addWidget(self.report)
        self._cancel_timer = QTimer(self)
        self._cancel_timer.setSingleShot(True)
        self._cancel_timer.timeout.connect(self._show_cancel)
        self._cancelled = False
        self.last_export: tuple[str, str] | None = None  # (format, path) of the last file saved here
        self.format_group.buttonToggled.connect(lambda *_: self._format_changed())
        layout.addStretch(1)
        return box

    def _build_snippet_box(self) -> QGroupBox:
        box = QGroupBox("Use the file in Python")
        layout = QVBoxLayout(box)
        self.snippet_intro = muted_label("")
        layout.addWidget(self.snippet_intro)
        self.snippet = QPlainTextEdit()
        self.snippet.setReadOnly(True)
        self.snippet.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.snippet.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.snippet.setToolTip("Select and copy, or use Copy: it runs as it is once the path points at your file")
        self.snippet.setMinimumHeight(240)
        layout.addWidget(self.snippet, 1)
        buttons = QHBoxLayout()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the snippet to the clipboard")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.snippet.toPlainText()))
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        return box

    def _build_config_box(self) -> QGroupBox:
        box = QGroupBox("Run config")
        layout = QVBoxLayout(box)
        layout.addWidget(
            muted_label(
                "Everything about this run (data, model, training) in one TOML or JSON "
                "file. Rerun it from the command line:"
            )
        )
        self.command_edit = QLineEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setToolTip("The command that reruns the saved config; select and copy it")
        layout.addWidget(self.command_edit)
        buttons = QHBoxLayout()
        save = QPushButton("Save run config…")
        save.setToolTip("Save the current data, model and training choices (Ctrl+Shift+S)")
        save.clicked.connect(self.choose_config_save_path)
        open_button = QPushButton("Open run config…")
        open_button.setToolTip("Load the choices of a saved run config into every page")
        open_button.clicked.connect(self.choose_config_to_open)
        buttons.addWidget(save)
        buttons.addWidget(open_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.config_result = muted_label("")
        layout.addWidget(self.config_result)
        self.last_config_path: str | None = None
        self._update_command()
        return box

    def _build_open_box(self) -> QGroupBox:
        box = QGroupBox("Open a saved model")
        layout = QVBoxLayout(box)
        layout.addWidget(
            muted_label(
                "A .keras or .h5 file: evaluate it on the loaded data, or fine-tune it further "
                "as the backbone of a new model."
            )
        )
        buttons = QHBoxLayout()
        open_button = QPushButton("Open model…")
        open_button.setToolTip("Open a .keras or .h5 model file")
        open_button.clicked.connect(self.choose_model_to_open)
        self.evaluate_button = QPushButton("Evaluate it")
        self.evaluate_button.setToolTip("Go to the Evaluate page with this model")
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.finetune_button = QPushButton("Fine-tune it further")
        self.finetune_button.setToolTip("Use this model file as the backbone of a new fine-tuning run")
        self.finetune_button.clicked.connect(self._finetune_opened)
        for button in (open_button, self.evaluate_button, self.finetune_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.open_result = muted_label("")
        layout.addWidget(self.open_result)
        return box

    # -- state ----------------------------------------------------------------------------

    def _on_model_changed(self, trained: TrainedModel | None) -> None:
        self.save_button.setEnabled(trained is not None)
        if trained is None:
            self.model_label.setText("No model yet: train one on the Train page, or open a saved model.")
        else:
            where = f"opened from {trained.path}" if trained.source == "file" else "trained in this session"
            metrics = trained.record.get("metrics") or {}
            numbers = ", ".join(f"{metric_words(k)} {v:.4g}" for k, v in list(metrics.items())[:4])
            self.model_label.setText(f"<b>{trained.name}</b>, {where}." + (f"<br>{numbers}" if numbers else ""))
        from kiln_lab.engine.models.licence import record_export_warning

        licence = record_export_warning(trained.record if trained is not None else None)
        self.licence_warning.setText(f"Before you share this model: {licence}" if licence else "")
        self.licence_warning.setVisible(bool(licence))
        opened = trained is not None and trained.source == "file"
        self.evaluate_button.setEnabled(trained is not None)
        self.finetune_button.setEnabled(opened)
        self.last_export = None
        self.report.hide()
        self._update_snippet()

    def selected_format(self) -> str:
        button = self.format_group.checkedButton()
        return button.property("format") if button is not None else "keras"

    def selected_quantisation(self) -> str | None:
        return (self.quantize_combo.currentData() or None) if self.selected_format() == "tflite" else None

    def _format_changed(self) -> None:
        self.quantize_combo.setEnabled(self.selected_format() == "tflite")
        self._update_snippet()

    def _update_snippet(self) -> None:
        """The snippet for the selected format: the last saved file's path when it is that format."""
        trained = self.session.trained
        fmt = self.selected_format()
        if trained is None:
            self.snippet_intro.setText("Once there is a model, this shows how to load and call its export in Python.")
            self.snippet.setPlainText("")
            self.copy_button.setEnabled(False)
            return
        if self.last_export is not None and self.last_export[0] == fmt:
            path, where = self.last_export[1], "the file you saved"
        else:
            path, where = f"{trained.name}{SUFFIXES.get(fmt, '')}", "the file once saved (change the path)"
        record = trained.record or {}
        self.snippet_intro.setText(
            f"Loads {where} and prints its answer for one input, with the preprocessing this model needs."
        )
        try:
            text = usage_snippet(fmt, path, record)
        except ValueError:  # an opened file without its run record: what it takes is unknown here
            self.snippet_intro.setText(
                "This model's run record does not say what input it takes, so no snippet is written for it."
            )
            self.snippet.setPlainText("")
            self.copy_button.setEnabled(False)
            return
        self.snippet.setPlainText(text)
        self.copy_button.setEnabled(True)

    def _update_command(self) -> None:
        config = self.last_config_path or "run.toml"
        # The installed command; `python main.py` is the same from a source checkout.
        self.command_edit.setText(f"kiln train --config {config} --out runs/{self.session.config.name}")
        self.command_edit.setCursorPosition(0)

    # -- save model -----------------------------------------------------------------------

    def choose_save_path(self) -> None:
        trained = self.session.trained
        if trained is None:
            return
        fmt = self.selected_format()
        default = str(Path.home() / f"{trained.name}{SUFFIXES.get(fmt, '')}")
        if fmt == "savedmodel":
            path, _ = QFileDialog.getSaveFileName(self, "Save as a SavedModel folder", default, "Folder (*)")
        else:
            pattern = f"{FORMAT_LABELS[fmt]} (*{SUFFIXES[fmt]})"
            path, _ = QFileDialog.getSaveFileName(self, "Save the model", default, pattern)
        if path:
            self.save_model_to(path, fmt)

    def save_model_to(self, path: str, fmt: str | None = None, quantize: str | None = None) -> Worker | None:
        """Save the current model in the engine worker (atomic; run record beside it). TFLite and ONNX
        files are checked in their runtime too; ``quantize`` (TFLite): float16 | int8, else the page's choice."""
        trained = self.session.trained
        if trained is None:
            return None
        fmt = fmt or self.selected_format()
        quantize = quantize if quantize is not None else (self.selected_quantisation() if fmt == "tflite" else None)
        record = dict(trained.record) if trained.record else {"config": self.session.config.to_dict()}
        self.save_button.setEnabled(False)
        kind = f"{quantize}-quantised " if quantize else ""
        self.save_result.setText(f"Saving to {path}…")
        self.report.hide()
        self.busy.emit(f"Saving the model as {kind}{FORMAT_LABELS.get(fmt, fmt)}…")
        self._cancelled = False
        self.export_progress.setRange(0, 0)
        self.export_progress.show()
        self._cancel_timer.start(CANCEL_AFTER_MS)
        if fmt in CHECKED_FORMATS:
            call = Call.of("export_for_deployment", model=trained, path=path, format=fmt, record=record,
                           quantize=quantize)
            on_result = lambda found: self._on_saved(found["path"], fmt, found)  # noqa: E731
        else:
            call = Call.of("export_model", model=trained, path=path, format=fmt, record=record)
            on_result = lambda written: self._on_saved(written, fmt)  # noqa: E731
        self._worker = run_in_background(
            call,
            task="saving the model",
            on_result=on_result,
            on_error=self._on_save_error,
            on_progress=self._on_export_progress,
            on_finished=self._on_save_finished,
            parent=self,
            activity=f"Saving the model as {FORMAT_LABELS.get(fmt, fmt)}…",
        )
        return self._worker

    def _show_cancel(self) -> None:
        if self._worker is not None and self._worker.running:
            self.cancel_button.show()

    def cancel_export(self) -> None:
        """Cancel the running export: before its file is written nothing is saved."""
        if self._worker is not None and self._worker.running:
            self._cancelled = True
            self.cancel_button.setEnabled(False)
            self.save_result.setText("Cancelling…")
            self._worker.cancel()

    def _on_export_progress(self, event: object) -> None:
        total, done, message = getattr(event, "total", None), getattr(event, "done", 0), getattr(event, "message", "")
        if total:
            self.export_progress.setRange(0, int(total))
            self.export_progress.setValue(int(done))
        if message:
            self.save_result.setText(f"{message}…")

    def _on_saved(self, path: str, fmt: str, found: dict | None = None) -> None:
        self.last_export = (fmt, path)
        check = (found or {}).get("check") or {}
        cancelled = self._cancelled or getattr(self._worker, "cancel_requested", False)  # page's or status bar's
        if cancelled and not check:
            self.save_result.setText(f"Saved {path}: the cancel came after the file was written.")
        else:
            self.save_result.setText(f"Saved {path} (run record and model card beside it).")
        self._show_report(check, bool((found or {}).get("random_inputs")))
        self._update_snippet()
        self.model_saved.emit(path)

    def _show_report(self, check: dict, random_inputs: bool) -> None:
        """The exported file's check on the page: accuracy (or MAE) before and after, size, latency."""
        if not check:
            self.report.hide()
            return
        size = int(check.get("size_bytes") or 0)
        rows = [("File size", f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB")]
        if "latency_ms_per_sample" in check:
            rows.append(("Latency", f"{check['latency_ms_per_sample']:.2f} ms per sample in {check['runtime']}"))
        if check.get("metric") == "accuracy":
            rows += [("Accuracy in Keras", f"{check['keras']:.1%}"),
                     ("Accuracy of the file", f"{check['exported']:.1%}")]
        elif check.get("metric") == "mae":
            rows += [("MAE in Keras", f"{check['keras']:.4g}"), ("MAE of the file", f"{check['exported']:.4g}")]
        if "top_class_agreement" in check:
            rows.append(("Same top class as Keras", f"{check['top_class_agreement']:.1%} of samples"))
        table = "".join(f"<tr><td>{name}&nbsp;&nbsp;</td><td><b>{value}</b></td></tr>" for name, value in rows)
        where = f"Checked on {check.get('samples', 0)} samples ({check.get('checked_on', '')})."
        if random_inputs:
            where += " The run's data is not here, so the outputs were compared on random inputs: no accuracy."
        lost = check.get("within_margin") is False
        colour = "#b03a2e" if lost else "inherit"
        sentence = check.get("sentence", "")
        self.report.setText(
            f"<table>{table}</table><p>{where}</p><p style='color: {colour}; font-weight: {600 if lost else 400};'>"
            f"{sentence}</p>"
        )
        self.report.show()

    def _on_save_error(self, error: WorkerError) -> None:
        # A cancel ends here too (no on_cancelled): both exports raise the engine's ExportCancelled,
        # whose sentence says how far the export got (nothing written / written but not checked). A
        # worker ended after the grace sends none; the write it ended was atomic, so the page says so.
        if error.kind == "ExportCancelled":
            self.save_result.setText(error.sentence)
            return
        if getattr(self._worker, "cancel_requested", False):
            self.save_result.setText("Export cancelled; any earlier file there is unchanged.")
            return
        self.save_result.setText("Not saved; any earlier file there is unchanged.")
        self.failed.emit("The model was not saved", error)

    def _on_save_finished(self) -> None:
        self._cancel_timer.stop()
        self.cancel_button.hide()
        self.cancel_button.setEnabled(True)
        self.export_progress.hide()
        self.save_button.setEnabled(self.session.trained is not None)
        self.busy.emit("")

    # -- run config -----------------------------------------------------------------------

    def choose_config_save_path(self) -> None:
        default = str(Path.home() / f"{self.session.config.name}.toml")
        path, _ = QFileDialog.getSaveFileName(self, "Save the run config", default, "TOML (*.toml);;JSON (*.json)")
        if path:
            self.save_config_to(path)

    def save_config_to(self, path: str) -> Worker:
        config = self.session.config

        def save(_context: WorkerContext) -> str:
            config.save(path)
            return path

        return run_in_background(
            save,
            task="saving the run config",
            on_result=self._on_config_saved,
            on_error=lambda e: self.failed.emit("The run config was not saved", e),
            parent=self,
        )

    def _on_config_saved(self, path: str) -> None:
        self.last_config_path = path
        self.config_result.setText(f"Saved {path}.")
        self._update_command()
        self.config_synced.emit(path)

    def choose_config_to_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a run config", "", "Run configs (*.toml *.json)")
        if path:
            self.open_config(path)

    def open_config(self, path: str) -> Worker:
        return run_in_background(
            lambda _c: RunConfig.load(path),
            task="reading the run config",
            on_result=lambda config: self._on_config_opened(path, config),
            on_error=lambda e: self.failed.emit("Cannot open this run config", e),
            parent=self,
        )

    def _on_config_opened(self, path: str, config: RunConfig) -> None:
        self.session.load_config(config)
        self.last_config_path = path
        self.config_result.setText(f"Opened {path}: every page now shows its choices.")
        self._update_command()
        self.config_synced.emit(path)

    # -- open model -----------------------------------------------------------------------

    def choose_model_to_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", "Keras models (*.keras *.h5 *.hdf5)")
        if path:
            self.open_model(path)

    def open_model(self, path: str, *, trusted: bool = False) -> Worker:
        self.open_result.setText(f"Opening {path}…")
        self.busy.emit(f"Opening {Path(path).name}…")
        # The one trust gate: trusted=True records the person's yes for this file (by hash), so the
        # same file also opens as a backbone ("Fine-tune it further") without a second question.
        worker = run_in_background(
            Call.of("open_model", path=path, trusted=trusted),
            task="opening the model",
            on_result=self._on_model_opened,
            on_error=lambda e: self._on_open_error(path, e),
            on_finished=lambda: self.busy.emit(""),
            parent=self,
        )
        return worker

    def _on_model_opened(self, trained: TrainedModel) -> None:
        self.session.set_trained(trained)
        params = trained.params
        size = f" ({params:,} parameters)" if params else ""
        self.open_result.setText(f"Opened {trained.path}{size}.")
        self.model_opened.emit(trained.path or "")

    def _on_open_error(self, path: str, error: WorkerError) -> None:
        self.open_result.setText("")
        if error.kind == "UntrustedModel":
            answer = self.ask_trust(path, error.sentence)
            if answer:
                self.open_model(path, trusted=True)
            return
        self.failed.emit("Cannot open this model", error)

    def ask_trust(self, path: str, sentence: str) -> bool:
        """Ask before loading code from a model file Kiln did not write (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Open this model?",
            f"{sentence}\n\nOpen {Path(path).name} anyway?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Open

    def _finetune_opened(self) -> None:
        trained = self.session.trained
        if trained is not None and trained.path:
            self.finetune_requested.emit(trained.path)
