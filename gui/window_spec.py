"""What the main window is made of, as data: its pages, actions, menus and toolbar.

`gui.main_window.MainWindow` builds itself from these tables. A new page is one `PageSpec`
row (its position is its place in the sidebar and its Ctrl+N shortcut); a new command is
one `ActionSpec` row naming the window method (or ``page.method``) it calls, plus its
place in `MENUS` or `TOOLBAR`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from kiln_lab.gui.pages.data_page import DataPage
from kiln_lab.gui.pages.evaluate_page import EvaluatePage
from kiln_lab.gui.pages.export_page import ExportPage
from kiln_lab.gui.pages.model_page import ModelPage
from kiln_lab.gui.pages.runs_page import RunsPage
from kiln_lab.gui.pages.train_page import TrainPage
from kiln_lab.gui.session import Session
from kiln_lab.gui.settings import AppSettings

SP = QStyle.StandardPixmap


class Window(Protocol):
    """What a page row reads from the window that builds it (`gui.main_window.MainWindow`).

    Described here, not imported: the window imports these tables, and they stay below it.
    """

    session: Session
    runs_folder: str | None
    settings: AppSettings


@dataclass(frozen=True)
class PageSpec:
    """One step of the flow: its name (what `MainWindow.go_to` takes), title, icon, and how it is made."""

    name: str
    title: str
    icon: SP
    make: Callable[[Window], QWidget]
    note: Callable[[Window], str] = lambda _window: ""  # the sidebar's second line


@dataclass(frozen=True)
class ActionSpec:
    """One menu / toolbar action: ``slot`` is a dotted path from the window (``"train_page.stop"``)."""

    name: str
    text: str
    slot: str
    shortcut: Any = None
    icon: SP | None = None
    tip: str = ""


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "data", "Data", SP.SP_DirOpenIcon, lambda w: DataPage(w.session),
        lambda w: w.session.dataset.source.removeprefix("demo:") if w.session.dataset is not None else "no data",
    ),
    PageSpec(
        "model", "Model", SP.SP_FileDialogDetailedView, lambda w: ModelPage(w.session),
        lambda w: _model_note(w.session.config.model),
    ),
    PageSpec(
        "train", "Train", SP.SP_MediaPlay, lambda w: TrainPage(w.session, runs_folder=w.runs_folder),
        lambda w: f"{len(w.session.runs)} run{'s' if len(w.session.runs) != 1 else ''}",
    ),
    PageSpec(
        "evaluate", "Evaluate", SP.SP_FileDialogContentsView, lambda w: EvaluatePage(w.session),
        lambda w: w.session.trained.name if w.session.trained else "no model",
    ),
    PageSpec("export", "Export", SP.SP_DialogSaveButton, lambda w: ExportPage(w.session)),
    PageSpec(
        "runs", "Runs", SP.SP_FileDialogListView,
        lambda w: RunsPage(w.session, runs_folder=w.runs_folder, settings=w.settings),
        lambda w: "",
    ),
)

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_file", "&Open dataset…", "choose_dataset_file", QKeySequence.StandardKey.Open,
               SP.SP_DialogOpenButton, "Open a dataset file: CSV, .npz or .h5 (Ctrl+O)"),
    ActionSpec("open_folder", "Open dataset &folder…", "choose_dataset_folder", "Ctrl+Shift+O", SP.SP_DirOpenIcon,
               "Open a folder of images, one sub-folder per class"),
    ActionSpec("open_model", "Open &model…", "export_page.choose_model_to_open", "Ctrl+Shift+M",
               tip="Open a saved .keras or .h5 model to evaluate or fine-tune it"),
    ActionSpec("open_config", "Open run &config…", "export_page.choose_config_to_open", "Ctrl+Shift+L"),
    ActionSpec("save_config", "Save run config…", "export_page.choose_config_save_path", "Ctrl+Shift+S"),
    ActionSpec("save_model", "&Save model…", "save_model", QKeySequence.StandardKey.Save, SP.SP_DialogSaveButton,
               "Save the trained model (Ctrl+S)"),
    ActionSpec("quit", "&Quit", "close", QKeySequence.StandardKey.Quit),
    ActionSpec("start", "&Start training", "start_training", "Ctrl+R", SP.SP_MediaPlay, "Start training (Ctrl+R)"),
    ActionSpec("pause", "&Pause / resume", "train_page.toggle_pause", "Ctrl+P", SP.SP_MediaPause,
               "Pause or resume training (Ctrl+P)"),
    ActionSpec("stop", "S&top training", "train_page.stop", "Ctrl+.", SP.SP_MediaStop,
               "Stop training after the current batch (Ctrl+.)"),
    ActionSpec("count", "&Count parameters", "count_parameters", "Ctrl+B",
               tip="Build the chosen model and count its parameters (Ctrl+B)"),
    ActionSpec("evaluate", "&Evaluate", "evaluate", "Ctrl+E", tip="Evaluate the trained model (Ctrl+E)"),
    ActionSpec("getting_started", "&Getting started", "show_getting_started", QKeySequence.StandardKey.HelpContents,
               tip="Drop data, pick a path, train, evaluate, export: the steps in a few lines (F1)"),
    ActionSpec("about", "&About Kiln", "show_about"),
    ActionSpec("docs", "Engine &API (for scripts)", "open_api_docs"),
)
MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # "-" is a separator, "recent_datasets" / "recent_models" the recent-file menus, "pages" / "theme" generated
    ("&File", ("open_file", "open_folder", "recent_datasets", "-", "open_model", "recent_models", "save_model", "-",
               "open_config", "save_config", "-", "quit")),
    ("&Run", ("count", "start", "pause", "stop", "evaluate")),
    ("&View", ("pages", "-", "theme")),
    ("&Help", ("getting_started", "-", "docs", "about")),
)
TOOLBAR = ("open_file", "open_folder", "-", "start", "pause", "stop", "-", "save_model")
THEMES = (("system", "Follow the &system"), ("light", "&Light"), ("dark", "&Dark"))




def _model_note(recipe: Any) -> str:
    return "fine-tune" if recipe.kind == "finetune" else f"scratch: {recipe.arch}"
