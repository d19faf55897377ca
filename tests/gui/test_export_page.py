"""The Export page's deployment formats: a quantised TFLite export shows its check (accuracy
before and after, size, latency) and a snippet for the actual model; a format whose packages
are missing says what to install; a slow export shows Cancel and stops before writing."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

TIMEOUT_MS = 120_000

pytestmark = pytest.mark.slow


def _trained(window, load_demo, tiny_model, train) -> None:
    load_demo(window)
    tiny_model(window)
    train(window, epochs=1)
    assert window.session.trained is not None


def test_a_quantised_tflite_export_shows_its_check_and_a_snippet(qtbot, window, load_demo, tiny_model, train,
                                                                 tmp_path: Path) -> None:
    _trained(window, load_demo, tiny_model, train)
    page = window.export_page
    window.go_to("export")
    page.format_radios["tflite"].setChecked(True)
    page.quantize_combo.setCurrentIndex(page.quantize_combo.findData("float16"))
    assert page.selected_quantisation() == "float16"
    target = tmp_path / "digits.tflite"
    worker = page.save_model_to(str(target))
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    assert target.is_file() and (tmp_path / "digits.tflite.run.json").is_file()
    report = page.report.text()
    assert page.report.isVisible()
    for words in ("Accuracy in Keras", "Accuracy of the file", "File size", "ms per sample", "float16-quantised"):
        assert words in report, words
    assert "Saved" in page.save_result.text()
    snippet = page.snippet.toPlainText()
    assert str(target) in snippet and "Interpreter" in snippet and "(1, 8, 8, 1)" in snippet
    assert '"0", "1", "2"' in snippet  # the model's own class names
    compile(snippet, "snippet", "exec")
    page.copy_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == snippet
    window.grab().save(str(tmp_path / "export.png"))


def test_a_format_whose_packages_are_missing_says_what_to_install(qtbot, monkeypatch) -> None:
    from kiln_lab.gui.pages.export_page import ExportPage
    from kiln_lab.gui.session import Session

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    page = ExportPage(Session())
    qtbot.addWidget(page)
    assert not page.format_radios["onnx"].isEnabled()
    sentence = page.missing_notes["onnx"].text()
    assert "tf2onnx" in sentence and "pip install onnx tf2onnx onnxruntime" in sentence
    assert page.format_radios["keras"].isEnabled() and "keras" not in page.missing_notes


@pytest.mark.engine_in_thread
def test_a_slow_export_shows_cancel_and_stops_before_writing(qtbot, window, load_demo, tiny_model, train,
                                                             monkeypatch, tmp_path: Path) -> None:
    _trained(window, load_demo, tiny_model, train)
    import kiln_lab.engine.analysis.deployment as deployment

    real = deployment.samples_from_record

    def slow(record):  # reading the run's data takes a while on a big data set
        time.sleep(2.0)
        return real(record)

    monkeypatch.setattr(deployment, "samples_from_record", slow)
    page = window.export_page
    window.go_to("export")
    target = tmp_path / "slow.tflite"
    worker = page.save_model_to(str(target), "tflite")
    assert not page.cancel_button.isVisible()  # not for the first second
    qtbot.waitUntil(page.cancel_button.isVisible, timeout=1900)
    assert page.export_progress.isVisible()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    assert page.save_result.text() == ("Export cancelled before anything was written; any earlier file at that "
                                       "path is unchanged.")
    assert not target.exists()
    assert not page.cancel_button.isVisible() and page.save_button.isEnabled()


def test_a_model_without_its_input_facts_gets_a_sentence_not_a_snippet(qtbot) -> None:
    from kiln_lab.gui.pages.export_page import ExportPage
    from kiln_lab.gui.session import Session, TrainedModel

    session = Session()
    page = ExportPage(session)
    qtbot.addWidget(page)
    session.set_trained(TrainedModel("k1", "bare", None, None, {"model": {"kind": "scratch"}}, "session"))
    assert page.snippet.toPlainText() == "" and not page.copy_button.isEnabled()
    assert "does not say what input it takes" in page.snippet_intro.text()
