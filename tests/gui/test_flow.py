"""The whole flow on the demo data: load -> model -> train -> plots -> evaluate -> save -> reload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

TIMEOUT_MS = 120_000


def drop_path(win, path: Path) -> None:
    """Drag a file or folder from the desktop and drop it on the window, as Qt delivers it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    position = QPointF(win.width() / 2, win.height() / 2)
    enter = QDragEnterEvent(
        position.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(win, drop)
    assert drop.isAccepted()


def test_dropping_a_folder_on_the_window_loads_it(qtbot, window, tmp_path, image_folder):
    folder = image_folder(tmp_path / "pets", {"cat": 8, "dog": 8}, broken=1)
    drop_path(window, folder)
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=TIMEOUT_MS)
    dataset = window.session.dataset
    assert dataset.class_names == ["cat", "dog"]
    assert dataset.num_samples == 16
    page = window.data_page
    assert page.stack.currentWidget() is page.view
    assert "Image folder" in page.view.subtitle.text() and "2 classes" in page.view.subtitle.text()
    # The broken file is listed with its reason, and the chart holds every sample.
    problems = page.view.problems.tree
    paths = [problems.topLevelItem(i).text(0) for i in range(problems.topLevelItemCount())]
    assert any("broken_0.png" in p for p in paths)
    assert page.view.counts.chart.totals().sum() == 16
    qtbot.waitUntil(lambda: page.view.samples.thumbnails.rows == 2, timeout=TIMEOUT_MS)
    assert str(folder) in window.settings.recent_datasets()


def test_full_flow_from_scratch_on_digits(qtbot, window, load_demo, train, tmp_path, tiny_model):
    dataset = load_demo(window)
    assert dataset.num_classes == 10
    tiny_model(window)
    worker = window.model_page.count_parameters()
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    summary = window.model_page.last_summary
    assert summary["params"] == (64 * 16 + 16) + (16 * 10 + 10)  # 8x8 pixels -> 16 -> 10 classes
    assert window.model_page.layers_tree.topLevelItemCount() == len(summary["layers"])

    train(window, epochs=2)
    page = window.train_page
    assert window.session.runs[-1].reason == "completed"
    for plot, key in (
        (page.plots.loss_plot, "train"),
        (page.plots.loss_plot, "val"),
        (page.plots.metric_plot, "train"),
        (page.plots.metric_plot, "val"),
        (page.plots.lr_plot, "lr"),
    ):
        x, y = plot.points(key)
        assert list(x) == [1.0, 2.0], (plot, key)
        assert np.all(np.isfinite(y))
    assert page.plots.loss_plot.points("batch")[0].size >= 2  # per-batch points, throttled by the engine
    history = window.session.runs[-1].history
    assert np.allclose(page.plots.loss_plot.points("train")[1], history["loss"])
    assert page.controls.progress.value() == 1000
    assert window.session.trained is not None

    window.go_to("evaluate")  # the Evaluate page evaluates a new model on its own
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    report = window.session.evaluation
    evaluate_page = window.evaluate_page
    assert evaluate_page.confusion.matrix.shape == (10, 10)
    assert report.split == "test"  # the held-out split, when there is one (issue 18.10)
    assert evaluate_page.confusion.matrix.sum() == len(dataset.splits["test"])
    assert evaluate_page.per_class.rowCount() == 10
    assert "Accuracy" in evaluate_page.metrics_label.text()
    assert evaluate_page.misclassified.count == min(32, len(report.misclassified))

    from kiln_lab.engine import (
        api,  # the test reads a sample and predicts in its own process, beside the window's engine
    )

    sample = api.read_samples(window.session.config.data, [int(dataset.splits["val"][0])])[0]
    evaluate_page.try_array(sample)
    qtbot.waitUntil(lambda: len(evaluate_page.try_it.bars.predictions) == 5, timeout=TIMEOUT_MS)
    probabilities = [p for _, p in evaluate_page.try_it.bars.predictions]
    assert probabilities == sorted(probabilities, reverse=True)

    target = tmp_path / "saved" / "digits.keras"
    worker = window.export_page.save_model_to(str(target), "keras")
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    assert target.is_file()
    record = json.loads((target.parent / "digits.keras.run.json").read_text())
    assert record["config"]["train"]["epochs"] == 2
    assert str(target) in window.settings.recent_models()

    # The file reloads: through the engine, and through the window (to evaluate it again). Its
    # prediction is the one the window's engine gave in Try it.
    from kiln_lab.engine.export.save import load_model

    reloaded = load_model(target)
    shown = dict(window.evaluate_page.try_it.bars.predictions)
    probabilities = reloaded.predict(sample[None], verbose=0)[0]
    names = window.session.dataset.class_names
    for name, p in shown.items():
        assert abs(probabilities[names.index(name)] - p) < 1e-4
    drop_path(window, target)  # a model file dropped on the window opens as a model, not as data
    qtbot.waitUntil(
        lambda: window.session.trained is not None and window.session.trained.source == "file", timeout=TIMEOUT_MS
    )
    assert window.session.trained.record["config"]["train"]["epochs"] == 2
    worker = window.evaluate_page.evaluate()
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    assert window.session.evaluation.metrics["accuracy"] == report.metrics["accuracy"]


def test_full_flow_with_the_demo_backbone(qtbot, window, train, tmp_path):
    window.start_demo_backbone()
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=TIMEOUT_MS)
    recipe = window.session.config.model
    assert recipe.kind == "finetune" and recipe.backbone == "demo"
    assert "ships with Kiln" in window.model_page.finetune.meta_labels["source"].text()

    worker = window.model_page.count_parameters()
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    summary = window.model_page.last_summary
    assert summary["trainable"] < summary["params"]  # the backbone is frozen, only the head learns

    train(window, epochs=1, batch_size=64)
    x, _ = window.train_page.plots.loss_plot.points("train")
    assert list(x) == [1.0]
    assert window.session.runs[-1].reason == "completed"

    window.go_to("evaluate")
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    assert window.evaluate_page.confusion.matrix.shape == (10, 10)

    target = tmp_path / "finetuned.keras"
    worker = window.export_page.save_model_to(str(target), "keras")
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    from kiln_lab.engine.export.save import load_model

    reloaded = load_model(target)
    assert reloaded.count_params() == window.session.trained.params


def test_regression_table_evaluates_with_scatter_and_residuals(qtbot, window, load_demo, train, tiny_model):
    dataset = load_demo(window, "demo:housing")
    assert dataset.task == "regression"
    assert window.data_page.view.samples.stack.currentWidget() is window.data_page.view.samples.table
    qtbot.waitUntil(lambda: window.data_page.view.samples.table.rowCount() > 0, timeout=TIMEOUT_MS)
    tiny_model(window)
    train(window, epochs=2)
    assert window.train_page.plots.metric_plot.getPlotItem().titleLabel.text == "Mean absolute error"
    window.go_to("evaluate")
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    page = window.evaluate_page
    assert page.results.currentIndex() == 1
    x, y = page.scatter.getData()
    assert len(x) == len(dataset.splits[window.session.evaluation.split])
    rx, ry = page.residuals.getData()
    assert np.allclose(ry, y - x)
    # Try it with a typed row (the table's input columns, in order).
    table = window.data_page.view.samples.table
    header, rows = table.columnCount(), table.item(0, 0)
    assert header > 0 and rows is not None
    values = [table.item(0, c).text() for c in range(table.columnCount() - 1)]
    page.try_row(", ".join(values))
    qtbot.waitUntil(lambda: bool(page.try_it.bars.predictions), timeout=TIMEOUT_MS)
    assert page.try_it.bars.predictions[0][0] == "value"
