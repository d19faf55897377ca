"""The main window: the Data -> Model -> Train -> Evaluate -> Export flow in a sidebar.

It owns the session, the pages, the menus, toolbar and status bar, window-wide drag and
drop, settings persistence, and the start-up worker that imports TensorFlow after the
window is on screen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui import theme
from kiln_lab.gui.dialogs.error_dialog import ErrorDialog, show_error
from kiln_lab.gui.engine_link import shared_link
from kiln_lab.gui.main_thread_gc import collect_on_gui_thread
from kiln_lab.gui.pages.data_page import DataPage
from kiln_lab.gui.pages.evaluate_page import EvaluatePage
from kiln_lab.gui.pages.export_page import ExportPage
from kiln_lab.gui.pages.model_page import ModelPage
from kiln_lab.gui.pages.runs_page import wire_runs_page
from kiln_lab.gui.pages.train_page import TrainPage
from kiln_lab.gui.session import EngineInfo, Session
from kiln_lab.gui.settings import AppSettings
from kiln_lab.gui.widgets.activity_indicator import ActivityIndicator
from kiln_lab.gui.window_spec import ACTIONS, MENUS, PAGES, SP, THEMES, TOOLBAR
from kiln_lab.gui.workers import WorkerError, running_workers

CONFIG_SUFFIXES = {".toml", ".json"}
MODEL_SUFFIXES = {".keras", ".h5", ".hdf5"}  # files Export > Open model takes
DEMO_BACKBONE = "demo"  # the catalogue name of the backbone Kiln ships (engine.models catalogue)


def default_runs_folder() -> str:
    """Each GUI run keeps a folder (model, history, run record) here, so nothing trained is lost."""
    from kiln_lab.engine.paths import runs_dir

    return str(runs_dir())


class MainWindow(QMainWindow):
    """The composition root: makes the session and the pages from `PAGES`, the actions from
    `ACTIONS`, and wires pages to each other through their public signals and methods."""

    # Made from PAGES (one attribute per page, named NAME_page).
    data_page: DataPage
    model_page: ModelPage
    train_page: TrainPage
    evaluate_page: EvaluatePage
    export_page: ExportPage
    runs_page: QWidget

    def __init__(self, settings: AppSettings, *, runs_folder: str | None = None) -> None:
        super().__init__()
        collect_on_gui_thread()  # never free Qt objects from a worker or the training thread
        self.settings = settings
        self.runs_folder = runs_folder
        self.session = Session(self)
        self._close_when_stopped = False
        self._link_wired = False  # the engine link's signals, connected on the first load_engine()
        self._update_title()
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.setMinimumSize(1100, 680)

        self.page_specs = PAGES
        self.pages: list[QWidget] = []
        self.stack = QStackedWidget()
        for spec in self.page_specs:
            page = spec.make(self)
            setattr(self, f"{spec.name}_page", page)  # window.data_page, window.model_page, ...
            self.pages.append(page)
            self.stack.addWidget(page)
            page.busy.connect(self.show_activity)
            page.failed.connect(self.show_failure)
        self.sidebar = self._build_sidebar()
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._restore_settings()
        last = self.settings.last_page()  # where the person left off (the Runs page, say)
        self.go_to(self.pages[last] if 0 <= last < len(self.pages) else "data")

    # -- construction ---------------------------------------------------------------------

    def _build_sidebar(self) -> QListWidget:
        sidebar = QListWidget()
        sidebar.setObjectName("Sidebar")
        sidebar.setFixedWidth(196)
        sidebar.setIconSize(QSize(20, 20))
        sidebar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # long notes are elided
        for index, spec in enumerate(self.page_specs):
            item = QListWidgetItem(self.style().standardIcon(spec.icon), f"{index + 1}  {spec.title}")
            item.setToolTip(f"{spec.title} (Ctrl+{index + 1})")
            sidebar.addItem(item)
        sidebar.currentRowChanged.connect(self._on_page_selected)
        return sidebar

    def _action(self, text: str, slot: Callable[..., Any], shortcut: Any = None, icon: SP | None = None,
                tip: str = "") -> QAction:
        act = QAction(text, self)
        if icon is not None:
            act.setIcon(self.style().standardIcon(icon))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or text.replace("…", "").replace("&", ""))
        act.setStatusTip(act.toolTip())
        act.triggered.connect(lambda _checked=False: slot())
        return act

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        for spec in ACTIONS:
            slot = self._resolve(spec.slot)
            act = self._action(spec.text, slot, spec.shortcut, spec.icon, spec.tip)
            self.actions_by_name[spec.name] = act
            setattr(self, f"{spec.name}_action", act)  # window.start_action, window.stop_action, ...
        self.page_actions = [
            self._action(f"&{index + 1} {spec.title}", lambda n=spec.name: self.go_to(n), f"Ctrl+{index + 1}")
            for index, spec in enumerate(self.page_specs)
        ]
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for key, label in THEMES:
            act = QAction(label, self, checkable=True)
            act.triggered.connect(lambda _=False, k=key: self.set_theme(k))
            self.theme_group.addAction(act)
            self.theme_actions[key] = act

    def _resolve(self, dotted: str) -> Callable[..., Any]:
        target: Any = self
        for part in dotted.split("."):
            target = getattr(target, part)
        return target

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for title, entries in MENUS:
            menu = bar.addMenu(title)
            for entry in entries:
                if entry == "-":
                    menu.addSeparator()
                elif entry == "recent_datasets":
                    self.recent_datasets_menu = menu.addMenu("Recent &datasets")
                elif entry == "recent_models":
                    self.recent_models_menu = menu.addMenu("Recent mode&ls")
                elif entry == "pages":
                    for act in self.page_actions:
                        menu.addAction(act)
                elif entry == "theme":
                    theme_menu = menu.addMenu("&Theme")
                    for act in self.theme_actions.values():
                        theme_menu.addAction(act)
                else:
                    menu.addAction(self.actions_by_name[entry])
        self._refresh_recent_menus()

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("MainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(18, 18))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for entry in TOOLBAR:
            if entry == "-":
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.actions_by_name[entry])
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.activity_label = QLabel("Ready.")
        self.activity_label.setMinimumWidth(1)  # a long sentence is cut, never widens the window
        # Every task the window starts is on the activity board; the indicator shows the newest one's
        # progress and a Cancel once it has run a second (Esc cancels it too).
        self.activity = ActivityIndicator()
        self.activity_bar = self.activity.bar
        self.activity.changed.connect(self._refresh_activity)
        self.cancel_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.cancel_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.cancel_shortcut.activated.connect(self.activity.cancel_shown)
        self.cancel_shortcut.setEnabled(False)  # only while there is something to cancel: Esc stays Esc
        self.device_label = QLabel("Loading TensorFlow…")
        self.device_label.setToolTip("The compute device training will use")
        bar.addWidget(self.activity_label, 1)
        # A temporary message (a run's end, a restarted engine) is painted where the label is: the label
        # steps aside while it shows, or the two sentences are drawn over each other.
        bar.messageChanged.connect(lambda message: self.activity_label.setVisible(not message))
        bar.addPermanentWidget(self.activity)
        bar.addPermanentWidget(self.device_label)
        self._refresh_activity()

    def _connect(self) -> None:
        self.data_page.open_folder_requested.connect(self.choose_dataset_folder)
        self.data_page.open_file_requested.connect(self.choose_dataset_file)
        self.data_page.source_requested.connect(self.open_dataset)
        self.data_page.demo_backbone_requested.connect(self.start_demo_backbone)
        self.data_page.loaded.connect(self._on_dataset_loaded)
        self.train_page.run_state_changed.connect(self._on_run_state)
        self.train_page.run_completed.connect(self._on_run_completed)
        self.model_page.compare_requested.connect(self.start_comparison)
        self.train_page.open_run_requested.connect(self.open_run_model)
        wire_runs_page(self)
        self.export_page.model_saved.connect(self._remember_model)
        self.export_page.model_opened.connect(self._remember_model)
        self.export_page.evaluate_requested.connect(lambda: self.go_to("evaluate"))
        self.export_page.finetune_requested.connect(self._finetune_model_file)
        self.session.dataset_changed.connect(lambda _d: self._update_sidebar())
        self.session.dataset_changed.connect(lambda _d: self._update_title())
        # The title's [*] mark: the run config has changes not saved to a file since it was
        # last saved or opened.
        self.session.config_changed.connect(lambda _c: self.setWindowModified(True))
        self.export_page.config_synced.connect(lambda _path: self.setWindowModified(False))
        self.session.run_finished.connect(lambda _r: self._update_sidebar())  # compared runs count too
        self.session.model_changed.connect(lambda _m: self._update_actions())
        self.session.config_changed.connect(lambda _c: self._update_sidebar())
        self._update_actions()

    # -- engine start-up ------------------------------------------------------------------

    def load_engine(self) -> None:
        """Start (or reuse) the engine worker process; TensorFlow imports there, the window stays live."""
        link = shared_link()
        if not self._link_wired:
            self._link_wired = True
            link.ready.connect(self._on_engine_loaded)
            link.failed_to_start.connect(self._on_engine_error)
            link.died.connect(self._on_engine_died)
        if link.is_ready and link.info is not None:
            self._on_engine_loaded(link.info)
        else:
            self.show_activity("Loading TensorFlow…")
            link.start()

    def _on_engine_loaded(self, loaded: dict[str, Any]) -> None:
        gpus = tuple(loaded.get("gpus") or ())
        info = EngineInfo(str(loaded.get("device", "CPU")), gpus, str(loaded.get("tensorflow", "")),
                          str(loaded.get("keras", "")), dict(loaded))
        self.session.set_engine(info)
        self.model_page.set_catalogue(loaded.get("catalogue") or [])
        self.device_label.setText(("GPU: " if info.has_gpu else "") + info.device)
        self.device_label.setToolTip(
            f"TensorFlow {info.tensorflow}, Keras {info.keras}"
            + (f"; GPUs: {', '.join(info.gpus)}" if info.gpus else "; no GPU found")
            + ". The engine runs in its own process, so the window never waits for it."
        )
        if loaded.get("catalogue_error"):
            self.train_page.log_message(
                f"The backbone catalogue could not be read ({loaded['catalogue_error']}); "
                "enter a backbone handle or file instead.",
                "warning",
            )
        if self.activity_label.text().startswith("Loading TensorFlow"):
            self.show_activity("")

    def _on_engine_error(self, error: WorkerError) -> None:
        self.device_label.setText("TensorFlow unavailable")
        self.show_activity("")
        self.show_failure(
            "TensorFlow could not be loaded",
            WorkerError(
                "TensorFlow could not be loaded, so Kiln cannot build or train models. " + error.sentence,
                error.details,
                False,
                error.kind,
            ),
        )

    def _on_engine_died(self, sentence: str) -> None:
        """The engine process ended unexpectedly: say so once; a fresh one is already starting."""
        self.device_label.setText("Restarting the engine…")
        self.statusBar().showMessage(f"{sentence} A fresh engine is starting; your settings are as they were.", 15000)

    # -- navigation -----------------------------------------------------------------------

    def go_to(self, page: str | QWidget) -> None:
        """Show a page, given by its name in `PAGES` ("evaluate") or the page itself."""
        if isinstance(page, str):
            page = self.page(page)
        self.sidebar.setCurrentRow(self.pages.index(page))

    def page(self, name: str) -> QWidget:
        for spec, page in zip(self.page_specs, self.pages):
            if spec.name == name:
                return page
        raise KeyError(f"No page named {name!r}")

    def current_page(self) -> QWidget:
        return self.stack.currentWidget()

    def _on_page_selected(self, index: int) -> None:
        if index < 0:
            return
        self.stack.setCurrentIndex(index)
        if self.pages[index] is self.evaluate_page and self.evaluate_page.needs_evaluation:
            QTimer.singleShot(0, self.evaluate_page.evaluate)

    def _update_sidebar(self) -> None:
        for index, spec in enumerate(self.page_specs):
            note = spec.note(self)
            short = Path(note).name if "/" in note else note
            text = f"{index + 1}  {spec.title}" + (f"\n     {short[:22]}" if short else "")
            self.sidebar.item(index).setText(text)
        self._update_actions()

    def _update_actions(self) -> None:
        running = self.train_page.running
        self.start_action.setEnabled(self.session.dataset is not None and not running)
        self.pause_action.setEnabled(running)
        self.stop_action.setEnabled(running)
        self.model_page.set_can_compare(self.session.dataset is not None and not running)
        self.save_model_action.setEnabled(self.session.trained is not None)
        self.evaluate_action.setEnabled(self.session.trained is not None and self.session.dataset is not None)

    # -- data -----------------------------------------------------------------------------

    def open_dataset(self, source: str) -> None:
        self.go_to("data")
        self.data_page.load(source, fresh=True)  # a person opened it: it starts with the strong defaults

    def choose_dataset_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a dataset",
            self._last_folder(),
            "Datasets (*.csv *.tsv *.txt *.npz *.npy *.h5 *.hdf5);;All files (*)",
        )
        if path:
            self.open_dataset(path)

    def choose_dataset_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a folder of images (one sub-folder per class)", self._last_folder()
        )
        if path:
            self.open_dataset(path)

    def _last_folder(self) -> str:
        for source in self.settings.recent_datasets():
            if not source.startswith("demo:"):
                return str(Path(source).parent)
        return str(Path.home())

    def _on_dataset_loaded(self, source: str) -> None:
        self.settings.add_recent_dataset(source)
        self._refresh_recent_menus()
        dataset = self.session.dataset
        self.show_activity(f"Loaded {dataset.num_samples:,} samples." if dataset is not None else "")

    def start_demo_backbone(self) -> None:
        """The start page's fine-tuning demo: digits + the backbone Kiln ships."""
        self.model_page.use_backbone(DEMO_BACKBONE)
        self.open_dataset("demo:digits")

    # -- drag and drop anywhere -----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    def open_path(self, path: str) -> None:
        """What a dropped path means: a model, a run config, or (anything else) a dataset."""
        from kiln_lab.engine.data.imagefile import is_image_name

        suffix = Path(path).suffix.lower()
        if is_image_name(path) and self.current_page() is self.evaluate_page and self.session.trained is not None:
            self.evaluate_page.try_image(path)  # "Try it" on whatever part of the page it lands
        elif suffix in MODEL_SUFFIXES:
            self.go_to("export")
            self.export_page.open_model(path)
        elif suffix in CONFIG_SUFFIXES and _looks_like_run_config(path):
            self.export_page.open_config(path)
        else:
            self.open_dataset(path)

    # -- train / evaluate / export ---------------------------------------------------------

    def start_training(self) -> None:
        if self.session.dataset is None:
            self.go_to("data")
            self.show_activity("Load a dataset first.")
            return
        self.go_to("train")
        self.train_page.start()

    def start_comparison(self, scratch: Any, finetune: Any, fractions: Any, repeats: int | None = None,
                         max_steps: int | None = None) -> None:
        """Compare both approaches on the Train page, where the live plots and the log follow it."""
        self.go_to("train")
        self.train_page.start_comparison(scratch, finetune, tuple(fractions), repeats, max_steps)

    def open_run_model(self, path: str, target: str) -> None:
        """Open a saved run's model (a compared run, say) and show it on the Evaluate or Export page."""
        worker = self.export_page.open_model(path)
        worker.result.connect(lambda _trained: self.go_to(target))

    def count_parameters(self) -> None:
        self.go_to("model")
        self.model_page.count_parameters()

    def evaluate(self) -> None:
        self.go_to("evaluate")
        self.evaluate_page.evaluate()

    def save_model(self) -> None:
        if self.session.trained is None:
            self.show_activity("Nothing to save yet: train a model or open one.")
            return
        self.go_to("export")
        self.export_page.choose_save_path()

    def _on_run_state(self, running: bool) -> None:
        self._update_actions()
        self._refresh_activity()
        if not running and self._close_when_stopped:
            self._close_when_stopped = False
            QTimer.singleShot(0, self.close)

    def _on_run_completed(self, summary: Any) -> None:
        self._update_sidebar()
        self.statusBar().showMessage(
            f"{summary.name}: {summary.reason.replace('_', ' ')}. Evaluate it on the Evaluate page.", 8000
        )

    def _remember_model(self, path: str) -> None:
        if path:
            self.settings.add_recent_model(path)
            self._refresh_recent_menus()

    def _finetune_model_file(self, path: str) -> None:
        self.model_page.use_backbone(path)
        self.go_to("model")

    # -- status, errors -------------------------------------------------------------------

    def show_activity(self, text: str) -> None:
        """A page's word for what it does now, in the status bar ("" = idle). A task on the activity
        board says it in its own words while it runs: the bar never says "Ready." then."""
        self._page_activity = text
        self._refresh_activity()

    def _refresh_activity(self) -> None:
        if not hasattr(self, "activity"):
            return  # a page said something while the window was being built
        entry = self.activity.board.latest()
        running = self.train_page.running
        page_text = getattr(self, "_page_activity", "")
        if entry is not None:
            text = entry.text
        else:
            text = page_text or ("Training…" if running else "Ready.")
        self.activity_label.setText(text)
        self.activity_label.setToolTip(text)
        busy = bool(page_text) or running
        if busy != self.activity.busy:
            self.activity.busy = busy
            self.activity.refresh()  # calls back here once; busy is settled then
            return
        self.cancel_shortcut.setEnabled(self.activity.cancellable)

    def show_failure(self, title: str, error: WorkerError) -> ErrorDialog:
        self.show_activity("")
        return show_error(self, title, error)

    # -- theme, settings ------------------------------------------------------------------

    def set_theme(self, name: str) -> None:
        self.settings.set_theme(name)
        self.theme_actions[name].setChecked(True)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, name)

    def _restore_settings(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self.theme_actions[self.settings.theme()].setChecked(True)
        choices = self.settings.last_choices("config")
        if choices:
            try:
                config = RunConfig.from_dict(choices)
            except Exception:  # noqa: BLE001 - stale or hand-edited settings: start from defaults
                config = None
            if config is not None:
                self.session.load_config(config)
        self.data_page.set_recent(self.settings.recent_datasets())

    def save_settings(self) -> None:
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_window_state(self.saveState())
        self.settings.set_last_page(self.stack.currentIndex())
        self.settings.set_last_choices("config", self.session.config.to_dict())
        self.settings.sync()

    def _refresh_recent_menus(self) -> None:
        for menu, items, opener in (
            (self.recent_datasets_menu, self.settings.recent_datasets(), self.open_dataset),
            (self.recent_models_menu, self.settings.recent_models(), self.export_page.open_model),
        ):
            menu.clear()
            for item in items:
                act = menu.addAction(item)
                act.triggered.connect(lambda _=False, p=item, o=opener: o(p))
            menu.setEnabled(bool(items))
            if items:
                menu.addSeparator()
                clear = menu.addAction("Clear list")
                clear.triggered.connect(self._clear_recent)
        self.data_page.set_recent(self.settings.recent_datasets())

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._refresh_recent_menus()

    def show_about(self) -> None:
        info = self.session.engine
        versions = f"TensorFlow {info.tensorflow}, Keras {info.keras}, {info.device}" if info else "TensorFlow loading…"
        QMessageBox.about(
            self, "About Kiln", f"<b>Kiln</b><br>Train from scratch, or fine-tune a pretrained model.<br><br>{versions}"
        )

    def show_getting_started(self) -> QWidget:
        """Help > Getting started: the steps in a few lines and where runs are kept (not blocking)."""
        from kiln_lab.gui.dialogs.getting_started import GettingStartedDialog

        dialog = GettingStartedDialog(self.runs_folder or default_runs_folder(), self)
        dialog.open()
        return dialog

    def open_api_docs(self) -> None:
        docs = Path(__file__).resolve().parents[1] / "docs" / "ENGINE_API.md"
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(docs)))

    # -- closing --------------------------------------------------------------------------

    def confirm_stop_training(self) -> bool:
        """Ask before closing during a run (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Stop training and quit?",
            "A model is training. Stop it after the current batch and close Kiln? What it has learned so far "
            "is saved in its run folder (Runs page), where Train more continues it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _update_title(self) -> None:
        """"digits — Kiln" with Qt's [*] unsaved mark; the app name alone before any data is open."""
        dataset = self.session.dataset
        if dataset is None:
            self.setWindowTitle("Kiln[*]")
            return
        source = str(dataset.source)
        name = source if source.startswith("demo:") else (Path(source).name or source)
        self.setWindowTitle(f"{name} — Kiln[*]")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.train_page.running:
            event.ignore()
            if self._close_when_stopped or self.confirm_stop_training():
                # Stop cleanly, then close once the training thread has ended (see _on_run_state).
                self._close_when_stopped = True
                self.train_page.stop()
                self.show_activity("Stopping the run before closing…")
            return
        self.data_page.cancel_scan()
        self.save_settings()
        for worker in running_workers():
            worker.cancel()
        for worker in running_workers():
            worker.wait(10_000)
        event.accept()


def _looks_like_run_config(path: str) -> bool:
    """A .json file may be a dataset sidecar too; a run config has the [data]/[model]/[train] sections."""
    if Path(path).suffix.lower() == ".toml":
        return True
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool({"data", "model", "train"} & set(data))
