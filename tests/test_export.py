"""Saving: atomic writes, every format, and plain-Keras reload in a process without Kiln."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from kiln_lab.engine.export import load_model, save_model
from kiln_lab.engine.export.atomic import atomic_dir, atomic_path
from kiln_lab.engine.training.job import run_training


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from kiln_lab.engine.training.config import RunConfig

    out = tmp_path_factory.mktemp("run")
    config = RunConfig().replace(model={"arch": "cnn", "depth": 1, "width": 4}, train={"epochs": 1})
    result = run_training(config, out_dir=out)
    return result, out


def test_run_folder_has_model_history_and_record(trained) -> None:
    _, out = trained
    record = json.loads((out / "run.json").read_text())
    for key in ("config", "dataset", "metrics", "timing", "environment", "history"):
        assert key in record
    assert record["dataset"]["num_samples"] == 1797 and record["dataset"]["num_classes"] == 10
    assert record["dataset"]["skipped"] == []
    assert record["timing"]["samples_per_second"] > 0
    assert json.loads((out / "history.json").read_text())["loss"] == record["history"]["loss"]


def test_keras_file_loads_in_plain_keras_without_kiln(trained, tmp_path) -> None:
    result, out = trained
    x = result.dataset.loader.read(result.dataset.splits["val"][:5])
    np.save(tmp_path / "x.npy", x)
    expected = result.model.predict(x, verbose=0)
    script = (
        "import sys, numpy as np, keras;"
        f"m = keras.models.load_model(r'{out / 'model.keras'}');"
        f"print(repr(m.predict(np.load(r'{tmp_path / 'x.npy'}'), verbose=0).tolist()));"
        "assert not any(name.startswith(('engine', 'gui')) for name in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.array(eval(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_atomic_save_keeps_the_previous_file_when_writing_fails(tmp_path) -> None:
    target = tmp_path / "model.keras"
    target.write_bytes(b"previous good model")

    class Exploding:
        def save(self, path):
            with open(path, "wb") as handle:
                handle.write(b"half a mod")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_model(Exploding(), target)
    assert target.read_bytes() == b"previous good model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary left behind


def test_atomic_dir_restores_the_old_folder_on_failure(tmp_path) -> None:
    target = tmp_path / "saved"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            tmp.mkdir()
            raise RuntimeError("export crashed")
    assert (target / "keep.txt").read_text() == "old"
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("new")
    assert (tmp_path / "a.txt").read_text() == "new"


@pytest.mark.parametrize("fmt", ["h5", "savedmodel", "tflite"])
def test_every_export_format_predicts_the_same(trained, tmp_path, fmt: str) -> None:
    result, _ = trained
    x = result.dataset.loader.read(result.dataset.splits["val"][:4]).astype(np.float32)
    expected = result.model.predict(x, verbose=0)
    path = save_model(result.model, tmp_path / f"m.{fmt}", format=fmt, record={"note": "x"})
    if fmt == "h5":
        got = load_model(path).predict(x, verbose=0)
        assert (tmp_path / "m.h5.run.json").exists()
    elif fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        got = loaded.serve(tf.constant(x)).numpy()
        assert (path / "kiln.run.json").exists()
    else:
        from kiln_lab.engine.export.tflite_runtime import run_tflite, tflite_interpreter

        got = run_tflite(tflite_interpreter(path), x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_exports_into_one_folder_keep_their_own_side_files(trained, tmp_path) -> None:
    # m.keras, m.h5 and m.tflite side by side: each keeps its own run record and model card.
    import json

    from kiln_lab.engine.export.records import find_run_record

    result, _ = trained
    formats = ("keras", "h5", "tflite")
    paths = {fmt: save_model(result.model, tmp_path / f"m.{fmt}", record={"note": fmt}) for fmt in formats}
    for fmt, path in paths.items():
        card = json.loads((tmp_path / f"{path.name}.model_card.json").read_text())
        assert card["model"]["format"] == fmt and list(card["files"]) == [path.name]
        assert (tmp_path / f"{path.name}.model_card.md").read_text().startswith(f"# Model card: {path.name}")
        assert find_run_record(path) == {"note": fmt}


def test_tflite_files_run_without_the_deletion_notice_and_prefer_litert(trained, tmp_path, monkeypatch) -> None:
    import sys
    import types
    import warnings

    from kiln_lab.engine.export.tflite_runtime import run_tflite, tflite_interpreter

    result, _ = trained
    path = save_model(result.model, tmp_path / "m.tflite", card=False)
    x = result.dataset.loader.read(result.dataset.splits["val"][:2]).astype(np.float32)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # TensorFlow's interpreter only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = run_tflite(tflite_interpreter(path), x)
    assert not [w for w in caught if "deprecated" in str(w.message)]
    np.testing.assert_allclose(got, result.model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)

    made = []

    class LiteRTInterpreter:  # stands in for ai_edge_litert's, which has the same API
        def __init__(self, model_path, num_threads=None):
            made.append(model_path)

        def allocate_tensors(self):
            pass

    package = types.ModuleType("ai_edge_litert")
    module = types.ModuleType("ai_edge_litert.interpreter")
    module.Interpreter = LiteRTInterpreter
    monkeypatch.setitem(sys.modules, "ai_edge_litert", package)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", module)
    assert isinstance(tflite_interpreter(path), LiteRTInterpreter) and made == [str(path)]
