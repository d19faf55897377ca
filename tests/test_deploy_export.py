"""ONNX and quantised TFLite exports, each checked in its own runtime against the Keras model,
with accuracy, size and latency in the record and the model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiln_lab.engine.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deploy") / "run"
    code = main(["train", "--data", "demo:digits", "--out", str(out), "--epochs", "3", "--arch", "mlp",
                 "--width", "64", "--depth", "2", "--learning-rate", "0.005", "--test-split", "0.2"])
    assert code == 0
    return out


def _digits_test(record_path: Path):
    from kiln_lab.engine.analysis.deployment import samples_from_record

    samples = samples_from_record(json.loads(record_path.read_text()))
    assert samples is not None and samples.split == "test"
    return samples


def test_onnx_export_matches_keras_in_onnxruntime(run: Path, tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime", reason="the optional onnx extra is not installed")
    pytest.importorskip("tf2onnx", reason="the optional onnx extra is not installed")
    import keras

    assert main(["export", str(run / "model.keras"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    # checked here with onnxruntime directly, not only through Kiln's own check
    samples = _digits_test(run / "run.json")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: samples.x_eval})[0]
    expected = keras.models.load_model(run / "model.keras").predict(samples.x_eval, verbose=0)
    assert np.max(np.abs(got - expected)) < 1e-4 and (got.argmax(1) == expected.argmax(1)).all()
    check = json.loads((tmp_path / "m.onnx.run.json").read_text())["export_check"]
    assert check["runtime"].startswith("ONNX Runtime") and check["max_abs_diff"] < 1e-4
    assert check["top_class_agreement"] == 1.0 and check["keras"] == check["exported"] > 0.5
    assert check["samples"] == len(samples.x_eval) and check["checked_on"] == "test"
    assert "## Export check" in (tmp_path / "m.onnx.model_card.md").read_text()


def test_quantised_tflite_files_report_accuracy_size_and_latency(run: Path, tmp_path: Path, capsys) -> None:
    checks = {}
    for quantize in (None, "float16", "int8"):
        name = f"m-{quantize or 'float32'}.tflite"
        args = ["export", str(run / "model.keras"), "--format", "tflite", "--out", str(tmp_path / name)]
        assert main([*args, *(["--quantize", quantize] if quantize else [])]) == 0
        checks[quantize or "float32"] = json.loads((tmp_path / f"{name}.run.json").read_text())["export_check"]
        printed = " ".join(capsys.readouterr().out.split())
        assert "ms per sample" in printed and "accuracy" in printed
        card = (tmp_path / f"{name}.model_card.md").read_text()
        assert "Latency per sample (ms)" in card and "accuracy in Keras / in the file (test)" in card
    sizes = {name: check["size_bytes"] for name, check in checks.items()}
    assert sizes["int8"] < 0.5 * sizes["float32"] and sizes["float16"] < 0.75 * sizes["float32"]
    for name, check in checks.items():
        assert check["metric"] == "accuracy" and check["latency_ms_per_sample"] > 0
        assert check["within_margin"] == (check["keras"] - check["exported"] <= 0.01 + 1e-12), name
    assert checks["float32"]["exported"] == checks["float32"]["keras"]
    assert checks["float16"]["max_abs_diff"] < 1e-2 and checks["int8"]["top_class_agreement"] > 0.9


def test_int8_without_the_runs_data_is_refused_with_a_sentence(run: Path, tmp_path: Path, capsys) -> None:
    import shutil

    shutil.copy(run / "model.keras", tmp_path / "alone.keras")  # no run record beside it: no data
    args = ["export", str(tmp_path / "alone.keras"), "--format", "tflite", "--quantize", "int8"]
    assert main([*args, "--out", str(tmp_path / "q.tflite")]) == 2
    assert "calibrate" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "q.tflite").exists()


def test_a_file_that_loses_more_than_the_margin_says_so_plainly() -> None:
    from kiln_lab.engine.analysis.deployment import _scores, _sentence

    check = {"format": "tflite", "quantize": "int8", "size_bytes": 20_000, "runtime": "LiteRT 2.3",
             "latency_ms_per_sample": 0.1, "checked_on": "test", "samples": 4, "max_abs_diff": 0.3}
    expected = np.eye(4)[[0, 1, 2, 3]]
    got = np.eye(4)[[0, 1, 2, 0]]  # one of four samples now wrong
    _scores(check, "classification", expected, got, np.array([0, 1, 2, 3]))
    assert not check["within_margin"]
    sentence = _sentence(check)
    assert "loses 25.0 points, more than the 1-point margin" in sentence and "ship the float32 file" in sentence
