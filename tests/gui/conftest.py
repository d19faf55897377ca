"""GUI tests run offscreen with pytest-qt; each test gets its own settings file and run folder."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import: no screen on CI
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402
import weakref  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import shiboken6  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TIMEOUT_MS = 120_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    """Delete the widgets a test leaves behind before the next test starts.

    pytest-qt closes each widget a test registered and calls ``deleteLater``, but a deferred
    delete posted outside a running event loop is never carried out by ``processEvents``: every
    window, page and plot (with its timers) stayed alive for the rest of the worker's session, and
    each theme change restyled all of them (the dark-theme tests took 25-50 s in the full suite,
    under 1 s alone; every new window applies the theme too). This runs after pytest-qt's
    teardown, so the closed widgets are gone.
    """
    result = yield
    from PySide6.QtCore import QEvent

    app = QApplication.instance()
    if app is not None:
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        _delete_menus_of_deleted_plots()
    return result


_PLOT_ITEMS: weakref.WeakSet = weakref.WeakSet()


@pytest.fixture(autouse=True, scope="session")
def _track_plot_items() -> Iterator[None]:
    """Note every pyqtgraph PlotItem made, so its menus can be deleted after the plot (below)."""
    import pyqtgraph as pg

    made = pg.PlotItem.__init__

    def init(self, *args, **kwargs) -> None:
        made(self, *args, **kwargs)
        _PLOT_ITEMS.add(self)

    pg.PlotItem.__init__ = init
    yield
    pg.PlotItem.__init__ = made


def _delete_menus_of_deleted_plots() -> None:
    """pyqtgraph gives each plot parentless context menus (the ViewBox's, the PlotItem's 'Plot
    Options' with its sub-menus): ~100 menus and their widgets per window. Signal connections
    between them and the plot form cycles through Qt that Python's collector cannot see, so they
    outlived their plots (thousands per worker, each restyled by every theme change). Only menus
    whose plot's Qt object is already deleted are deleted here."""
    import pyqtgraph as pg

    for view in list(pg.ViewBox.AllViews):
        if not shiboken6.isValid(view):
            _delete(view.__dict__.get("menu"))
    for plot in list(_PLOT_ITEMS):
        if not shiboken6.isValid(plot):
            _delete(plot.__dict__.get("ctrlMenu"))
            _PLOT_ITEMS.discard(plot)


def _delete(widget) -> None:
    if widget is not None and shiboken6.isValid(widget):
        shiboken6.delete(widget)


@pytest.fixture
def settings(tmp_path: Path):
    from kiln_lab.gui.settings import AppSettings

    return AppSettings(str(tmp_path / "settings.ini"))


@pytest.fixture
def engine_in_thread() -> Iterator:
    """The engine served on a thread of the test's process (same protocol, same pipe), so a test
    can replace an engine function with ``monkeypatch`` and the engine sees it."""
    from kiln_lab.gui.engine_link import EngineLink, use_link

    link = EngineLink(in_thread=True)
    previous = use_link(link)
    link.start()
    yield link
    use_link(previous)
    link.shutdown()


@pytest.fixture
def window(qtbot, settings, tmp_path: Path, request) -> Iterator:
    """The real main window, shown, with its engine ready (a worker process; a thread of this
    process for tests marked ``engine_in_thread``)."""
    from kiln_lab.gui.app import create_window

    if request.node.get_closest_marker("engine_in_thread"):
        request.getfixturevalue("engine_in_thread")

    win = create_window(settings, runs_folder=str(tmp_path / "runs"))
    win.confirm_stop_training = lambda: True  # no modal question in tests
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.load_engine()
    qtbot.waitUntil(lambda: win.session.engine is not None, timeout=TIMEOUT_MS)
    yield win
    if win.train_page.running:
        win.train_page.stop()
        win.train_page.runner.wait(60_000)
    from kiln_lab.gui.workers import running_workers

    for worker in running_workers():
        worker.cancel()
        worker.wait(30_000)
    QApplication.processEvents()


@pytest.fixture
def load_demo(qtbot) -> Callable:
    def load(win, name: str = "demo:digits"):
        win.open_dataset(name)
        qtbot.waitUntil(
            lambda: win.session.dataset is not None and win.session.dataset.source == name, timeout=TIMEOUT_MS
        )
        return win.session.dataset

    return load


@pytest.fixture
def train(qtbot) -> Callable:
    """Start a run with ``epochs`` and wait until it has ended."""

    def run(win, epochs: int = 2, **train_changes):
        win.session.update(train={"epochs": epochs, **train_changes})
        win.train_page.show_config(win.session.config)
        assert win.train_page.start()
        qtbot.waitUntil(lambda: not win.train_page.running, timeout=TIMEOUT_MS)

    return run


@pytest.fixture
def tiny_model() -> Callable:
    return small_scratch_model


@pytest.fixture
def image_folder() -> Callable:
    return make_image_folder


def small_scratch_model(win) -> None:
    """A tiny MLP: GUI tests test the GUI, not the model."""
    scratch = win.model_page.scratch
    scratch.radio.setChecked(True)
    scratch.preset_combo.setCurrentIndex(scratch.preset_combo.findData("mlp"))
    scratch.depth_spin.setValue(1)
    scratch.width_spin.setValue(16)


def make_image_folder(root: Path, classes: dict[str, int], *, broken: int = 1) -> Path:
    """Class sub-folders of small PNGs, plus ``broken`` files that are not images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for index, (name, count) in enumerate(classes.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 60, (16, 16, 3), dtype=np.uint8)
            pixels[:, index * 4 : index * 4 + 4] = 230  # a class-specific bright stripe
            Image.fromarray(pixels).save(folder / f"{name}_{i}.png")
    first = root / next(iter(classes))
    for i in range(broken):
        (first / f"broken_{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


def wait_seconds(qtbot, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qtbot.wait(20)
