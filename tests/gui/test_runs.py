"""The runs library: GUI runs keep config.toml, the Runs page lists, renames, deletes with undo,
compares curves, opens a run in Evaluate, and "Train more" continues a run where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gui.conftest import TIMEOUT_MS, small_scratch_model


def _fake_run(
    folder: Path,
    name: str,
    *,
    accuracy: float,
    epochs: int = 2,
    kind: str = "scratch",
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 42,
    source: str = "demo:digits",
    seconds: float = 12.5,
    test: float | None = None,
    stamp: str | None = None,
) -> Path:
    """A run folder as the engine writes it, without training: run.json, history.json, model.keras."""
    stamp = stamp or f"20260101-1200{len(list(folder.glob('*'))) if folder.exists() else 0:02d}"
    run = folder / f"{stamp}-{name}"
    run.mkdir(parents=True)
    history = {"loss": [1.0 - 0.1 * i for i in range(epochs)], "val_accuracy": [accuracy - 0.05, accuracy][-epochs:]}
    model = {"kind": "scratch", "arch": "mlp", "kernel_initializer": "he_normal"}
    if kind == "finetune":
        model = {"kind": "finetune", "backbone": "demo", "freeze": "all", "two_phase": True, "finetune_lr_factor": 0.1}
    config = {
        "name": name,
        "data": {"source": source},
        "model": model,
        "train": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                  "optimizer": optimizer, "seed": seed},
    }
    metrics = {"val_accuracy": accuracy, "loss": 0.5} | ({"test_accuracy": test} if test is not None else {})
    record = {
        "config": config,
        "metrics": metrics,
        "history": history,
        "timing": {"seconds": seconds},
        "reason": "completed",
        "finished_at": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+0000",
    }
    (run / "run.json").write_text(json.dumps(record))
    (run / "history.json").write_text(json.dumps(history))
    (run / "model.keras").write_bytes(b"not opened in this test")
    return run


def _fake_comparison(folder: Path, name: str, stamp: str = "20260102-090000") -> Path:
    """A "Compare both" folder as `engine.analysis.compare` leaves it: compare.json, and its runs under
    runs/ in folders without a date, named by their config ("compare: fine-tune (run 2 of 2)")."""
    comparison = folder / f"{stamp}-{name}"
    scratch = _fake_run(comparison / "runs", "x", accuracy=0.81, stamp="s")
    finetune = _fake_run(comparison / "runs", "x", accuracy=0.93, kind="finetune", stamp="f", learning_rate=1e-4)
    for run, words, folder_name in (
        (scratch, "from scratch (run 1 of 2)", "scratch-100pct-r1"),
        (finetune, "fine-tune (run 2 of 2)", "finetune-100pct-r1"),
    ):
        record = json.loads((run / "run.json").read_text())
        record["config"]["name"] = f"compare: {words}"
        (run / "run.json").write_text(json.dumps(record))
        run.rename(run.with_name(folder_name))
    record = {
        "rows": [{"seconds": 10.0}, {"seconds": 20.0}],
        "verdict": [
            "Fine-tuning wins on all of the data (1,437 training samples): 0.930 accuracy against 0.810, "
            "0.120 higher (95% interval of the margin 0.090 to 0.150, 1 repeat).",
            "Scored on the test split (360 samples), which no run trained or early-stopped on.",
        ],
    }
    (comparison / "compare.json").write_text(json.dumps(record))
    return comparison


def _library(folder: Path) -> dict[str, Path]:
    """Six runs and a comparison (eight runs in all) with settings that sort differently as text."""
    return {
        "small-batch": _fake_run(folder, "small-batch", accuracy=0.71, batch_size=8, learning_rate=0.01, seed=7),
        "big-batch": _fake_run(folder, "big-batch", accuracy=0.88, batch_size=128, learning_rate=3e-4, test=0.86),
        "mid-batch": _fake_run(folder, "mid-batch", accuracy=0.9, batch_size=64, optimizer="sgd", seconds=95),
        "tuned": _fake_run(folder, "tuned", accuracy=0.95, kind="finetune", batch_size=16, learning_rate=1e-4,
                           test=0.94, seconds=130),
        "leaves": _fake_run(folder, "leaves", accuracy=0.62, source="/data/leaves", epochs=5, optimizer="sgd"),
        "tabular": _fake_run(folder, "tabular", accuracy=0.77, source="/data/iris.csv", batch_size=256),
        "comparison": _fake_comparison(folder, "scratch-or-finetune"),
    }


def _column(page, key: str) -> int:
    from kiln_lab.gui.widgets.runs_table import COLUMN_KEYS

    return COLUMN_KEYS.index(key)


def _shown_names(page) -> list[str]:
    return [e.name for e in page.table.entries_shown() if e.kind == "run"]


def _click_header(qtbot, page, key: str) -> None:
    from PySide6.QtCore import QPoint, Qt

    header = page.table.header()
    section = _column(page, key)
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def _page(qtbot, runs: Path, settings=None):
    from kiln_lab.gui.pages.runs_page import RunsPage
    from kiln_lab.gui.session import Session

    page = RunsPage(Session(), runs_folder=str(runs), settings=settings)
    qtbot.addWidget(page)
    page.resize(1400, 600)
    page.show()
    return page


def test_runs_library_lists_renames_and_deletes_with_undo(qtbot, tmp_path, monkeypatch):
    from kiln_lab.gui.pages.runs_page import RunsPage
    from kiln_lab.gui.session import Session

    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash of this test, not the user's
    runs = tmp_path / "runs"
    first = _fake_run(runs, "first", accuracy=0.8)
    _fake_run(runs, "second", accuracy=0.9)
    (runs / "not-a-run").mkdir()
    page = RunsPage(Session(), runs_folder=str(runs))
    qtbot.addWidget(page)
    assert sorted(e.name for e in page.entries) == ["first", "second"]
    model = page.table.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data() == "first")
    texts = [model.index(row, c).data() for c in range(model.columnCount())]
    assert "demo:digits" in texts and "scratch" in texts and "mlp" in texts and "12 s" in texts
    assert "0.800" in texts and "32" in texts and "0.001" in texts  # best validation, batch size, learning rate

    page.select(first)
    assert page.evaluate_button.isEnabled() and not page.compare_button.isEnabled()
    renamed = page.rename(page.selected_entries()[0], "baseline run")
    assert renamed is not None and renamed.name.endswith("-baseline-run") and not first.exists()

    page.select(renamed)
    assert page.delete_selected() == 1
    assert not renamed.exists() and len(page.entries) == 1
    assert page.undo_bar.isVisibleTo(page)
    page.undo_delete()
    assert renamed.exists() and len(page.entries) == 2

    page.select(*(e.path for e in page.entries))
    assert page.compare_button.isEnabled()
    dialog = page.compare_selected()
    qtbot.addWidget(dialog)
    assert len(dialog.metric_plot.curve_keys()) == 2  # one validation accuracy curve per run
    assert not dialog.loss_plot.empty_text_visible


def test_empty_library_says_what_will_appear(qtbot, tmp_path):
    from kiln_lab.gui.pages.runs_page import RunsPage
    from kiln_lab.gui.session import Session

    page = RunsPage(Session(), runs_folder=str(tmp_path / "none-yet"))
    qtbot.addWidget(page)
    page.show()
    assert page.empty_label.isVisible() and not page.table.isVisible()
    assert "appear here" in page.empty_label.text()


@pytest.mark.slow
def test_gui_run_keeps_config_and_train_more_continues_it(qtbot, window, load_demo, train, tmp_path):
    from kiln_lab.engine.training.config import RunConfig

    load_demo(window)
    small_scratch_model(window)
    train(window, epochs=1)
    runs_page = window.runs_page
    runs_page.refresh()
    assert len(runs_page.entries) == 1
    entry = runs_page.entries[0]
    assert RunConfig.load(entry.config_path).train.epochs == 1  # like a CLI run folder
    assert entry.has_checkpoint and entry.epochs == 1

    runs_page.select(entry.path)
    runs_page.train_more_requested.emit(str(entry.path), 2)
    qtbot.waitUntil(lambda: window.train_page.running, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=TIMEOUT_MS)
    runs_page.refresh()
    assert len(runs_page.entries) == 1  # the same run went on, no new folder
    assert runs_page.entries[0].epochs == 3
    history = json.loads((entry.path / "history.json").read_text())
    assert len(history["loss"]) == 3

    window.go_to("runs")
    runs_page.select(entry.path)
    runs_page.open_selected("evaluate")
    qtbot.waitUntil(lambda: window.current_page() is window.evaluate_page, timeout=TIMEOUT_MS)
    assert window.session.trained is not None and window.session.trained.path == str(entry.model_path)


def test_runs_sort_by_clicking_a_header_numbers_as_numbers(qtbot, tmp_path):
    """Issue 18 (Experiment Manager): one row per run with its settings; batch 8 < 64 < 128 < 256
    (as text "128" would come first), learning rates and scores likewise, empty cells last."""
    _library(tmp_path / "runs")
    page = _page(qtbot, tmp_path / "runs")
    _click_header(qtbot, page, "batch_size")
    assert _texts(page, "batch_size") == ["8", "16", "32", "64", "128", "256", ""]  # as text, "128" < "16" < "8"
    _click_header(qtbot, page, "batch_size")  # again: largest first, the comparison's empty cell still last
    assert _texts(page, "batch_size") == ["256", "128", "64", "32", "16", "8", ""]
    _click_header(qtbot, page, "learning_rate")
    assert _texts(page, "learning_rate")[:2] == ["1e-4 → 1e-5", "3e-4"]  # two-phase: both phases' rates
    _click_header(qtbot, page, "time")
    assert _texts(page, "time").index("1:35") < _texts(page, "time").index("2:10")  # 95 s before 130 s
    assert _texts(page, "time").index("30 s") < _texts(page, "time").index("1:35")  # the comparison: 30 s

    _click_header(qtbot, page, "test")  # only two runs scored a test split: they come first, the rest after
    assert _texts(page, "test") == ["0.860", "0.940", "", "", "", "", ""]
    _click_header(qtbot, page, "test")
    assert _texts(page, "test") == ["0.940", "0.860", "", "", "", "", ""]


def _texts(page, key: str) -> list[str]:
    """The column's cells, top-level rows, as the table shows them now."""
    model = page.table.model()
    return [model.index(row, _column(page, key)).data() for row in range(model.rowCount())]


def test_runs_filter_box_and_choices_show_how_many_runs(qtbot, tmp_path):
    _library(tmp_path / "runs")
    page = _page(qtbot, tmp_path / "runs")
    assert page.count_label.text() == "8 runs"
    qtbot.keyClicks(page.filter_box, "sgd")  # a hidden column's text finds its runs too
    assert sorted(_shown_names(page)) == ["leaves", "mid-batch"]
    assert page.count_label.text() == "2 of 8 runs"
    page.filter_box.clear()
    page.path_filter.setCurrentIndex(page.path_filter.findData("fine-tune"))
    assert sorted(_shown_names(page)) == ["fine-tune (run 2 of 2)", "tuned"]  # a comparison's run counts too
    assert page.count_label.text() == "2 of 8 runs"
    page.path_filter.setCurrentIndex(0)
    page.data_filter.setCurrentIndex(page.data_filter.findData("leaves"))
    assert _shown_names(page) == ["leaves"] and page.count_label.text() == "1 of 8 runs"
    page.data_filter.setCurrentIndex(0)
    qtbot.keyClicks(page.filter_box, "scratch-or")  # the comparison's name finds its runs
    assert sorted(_shown_names(page)) == ["fine-tune (run 2 of 2)", "from scratch (run 1 of 2)"]


def test_column_chooser_hides_and_shows_columns_and_remembers(qtbot, tmp_path):
    from kiln_lab.gui.settings import AppSettings

    _library(tmp_path / "runs")
    settings = AppSettings(str(tmp_path / "settings.ini"))
    page = _page(qtbot, tmp_path / "runs", settings)
    header = page.table.header()
    assert header.isSectionHidden(_column(page, "seed")) and not header.isSectionHidden(_column(page, "time"))
    menu = page.table.column_menu()
    actions = {a.text(): a for a in menu.actions()}
    assert not actions["Name"].isEnabled()  # a row always says which run it is
    actions["Seed"].trigger()
    actions["Time"].trigger()
    assert not header.isSectionHidden(_column(page, "seed")) and header.isSectionHidden(_column(page, "time"))
    _click_header(qtbot, page, "seed")
    settings.sync()

    again = _page(qtbot, tmp_path / "runs", AppSettings(str(tmp_path / "settings.ini")))
    header = again.table.header()
    assert not header.isSectionHidden(_column(again, "seed")) and header.isSectionHidden(_column(again, "time"))
    assert header.sortIndicatorSection() == _column(again, "seed")


def test_rename_keeps_the_comparison_open_and_the_row_selected(qtbot, tmp_path):
    """Issue 18.13: renaming collapsed an open comparison and lost the selection."""
    library = _library(tmp_path / "runs")
    page = _page(qtbot, tmp_path / "runs")
    page.table.expand_path(library["comparison"])
    arm = next(c for c in page.entries if c.kind == "comparison").children[0]
    page.select(arm.path)
    renamed = page.rename(arm, "scratch arm v2")
    assert renamed is not None and renamed.parent == arm.path.parent
    assert str(library["comparison"]) in page.table.expanded_paths()
    assert [e.path for e in page.selected_entries()] == [renamed]

    top = next(e for e in page.entries if e.name == "tuned")
    page.select(top.path)
    renamed = page.rename(top, "tuned-best")
    assert str(library["comparison"]) in page.table.expanded_paths()
    assert [e.name for e in page.selected_entries()] == ["tuned-best"]


def test_evaluate_title_names_the_run_opened(qtbot, tmp_path):
    """Issue 18.13: a run opened from the Runs page was called "Evaluate model"."""
    from kiln_lab.engine.results import ModelHandle
    from kiln_lab.gui.pages.evaluate_page import EvaluatePage
    from kiln_lab.gui.session import Session

    run = _fake_run(tmp_path / "runs", "leaf-classifier", accuracy=0.9)
    session = Session()
    page = EvaluatePage(session)
    qtbot.addWidget(page)
    session.set_trained(ModelHandle("k1", "model", str(run / "model.keras"), source="file"))
    assert page.title.text() == "Evaluate leaf-classifier"
    session.set_trained(ModelHandle("k2", "elsewhere", str(tmp_path / "elsewhere.keras"), source="file"))
    assert page.title.text() == "Evaluate elsewhere"


def test_runs_page_cuts_no_column_with_a_comparison_open(qtbot, window):
    """Issue 18.13: with a comparison expanded the table cut its last column. At the smallest
    window every cell shows whole and the shown columns fit without scrolling sideways."""
    from PySide6.QtWidgets import QAbstractItemView

    from tests.gui.test_layout import cell_problems, page_problems

    _library(Path(window.runs_folder))
    window.resize(window.minimumWidth(), window.minimumHeight())
    qtbot.waitUntil(lambda: window.width() == window.minimumWidth(), timeout=5_000)
    page = window.runs_page
    window.go_to("runs")
    page.refresh()
    view = next(v for v in page.findChildren(QAbstractItemView) if v.isVisible())
    view.expandAll()
    problems = page_problems(window, page)
    assert not problems, problems
    assert not cell_problems(page)
    assert not view.horizontalScrollBar().isVisible(), "the columns do not fit: the table scrolls sideways"


def test_a_runs_settings_and_results_are_read_from_its_record(tmp_path):
    """The table's columns come from run.json: settings from the config, the best validation figure
    over the epochs (highest accuracy, lowest error) and the test figure."""
    from kiln_lab.engine.export.runs import best_validation, list_runs

    tuned = _fake_run(tmp_path, "tuned", accuracy=0.95, kind="finetune", batch_size=16, learning_rate=1e-4, test=0.94)
    (entry,) = list_runs(tmp_path)
    assert entry.path == tuned
    assert entry.settings == {
        "path": "fine-tune", "model": "demo", "epochs": 2, "batch_size": 16, "learning_rate": 1e-4,
        "phase2_learning_rate": pytest.approx(1e-5), "optimizer": "adam", "start": "freeze all", "phases": 2,
        "seed": 42,
    }
    assert (entry.best_val_name, entry.best_val) == ("accuracy", 0.95)
    assert (entry.test_name, entry.test) == ("accuracy", 0.94)
    assert best_validation({"val_mae": [3.0, 1.5, 2.0]}) == ("mean absolute error", 1.5)
    assert best_validation({"val_accuracy": [0.5, None, 0.7, 0.6]}) == ("accuracy", 0.7)
    assert best_validation({}) == ("", None)
