"""Kiln's from-scratch path on Keras's JAX and PyTorch backends, with TensorFlow blocked.

Each test trains a tiny model in a subprocess with ``KERAS_BACKEND`` set (a process picks
its Keras backend once, at import). TensorFlow is made unimportable there, so a pass shows
the path needs only keras, numpy and the backend: the situation on a machine with a JAX or
PyTorch GPU build and no TensorFlow. Skipped, with the reason, where the backend is not
installed (CI installs only ``.[test]``; ``pip install -e .[jax]`` or ``.[torch]`` adds them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCKED = ("tensorflow", "tensorflow_hub", "tf_keras")


def _hide_tensorflow(folder: Path) -> Path:
    """A folder for PYTHONPATH where importing TensorFlow fails as if it were not installed.

    (A stand-in package that raises ImportError: Keras and torch then see TensorFlow as absent
    through their own probes, and nothing is left half-imported in sys.modules.)
    """
    for name in BLOCKED:
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} is hidden in this test')\n")
    return folder


def _needs(backend: str) -> pytest.MarkDecorator:
    module = {"jax": "jax", "torch": "torch"}[backend]
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"Keras's {backend} backend is not installed (pip install -e .[{backend}])",
    )


BACKENDS = [pytest.param(name, marks=_needs(name)) for name in ("jax", "torch")]


def _run_child(backend: str, body: str, tmp_path: Path) -> dict:
    script = textwrap.dedent(body)
    hidden = _hide_tensorflow(tmp_path / "no-tensorflow")
    env = dict(os.environ, KERAS_BACKEND=backend, KILN_DATA_DIR=str(tmp_path / "kiln-data"), PYTHONPATH=str(hidden))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_trains_checkpoints_and_reloads_without_tensorflow(backend: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _run_child(
        backend,
        f"""
        import json, sys
        import numpy as np
        from kiln_lab.engine.data.config import DataConfig
        from kiln_lab.engine.models.recipe import ModelRecipe
        from kiln_lab.engine.training.config import RunConfig, TrainConfig
        from kiln_lab.engine.training.job import run_training
        from kiln_lab.engine.export.save import save_model
        from kiln_lab.engine.errors import KilnError
        import keras

        config = RunConfig(
            data=DataConfig(source="demo:digits"),
            model=ModelRecipe(arch="mlp", depth=1, width=16),
            # xla on torch is torch.compile, which takes minutes on a CPU; JAX always compiles.
            train=TrainConfig(epochs=3, batch_size=64, xla={backend == "jax"}, schedule="cosine"),
        )
        events = []
        result = run_training(config, out_dir={str(out)!r}, sink=lambda e: events.append(type(e).__name__))
        x = result.dataset.loader.read(result.dataset.splits["val"][:8])
        reloaded = keras.models.load_model({str(out / "model.keras")!r})
        same = np.allclose(reloaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5)
        try:
            save_model(result.model, {str(tmp_path / "m.tflite")!r})
            refusal = None
        except KilnError as exc:
            refusal = exc.sentence
        print(json.dumps({{
            "loss": result.history["loss"], "val_accuracy": result.metrics.get("val_accuracy"),
            "backend": keras.config.backend(), "tensorflow_loaded": "tensorflow" in sys.modules,
            "events": sorted(set(events)), "reloaded_same": bool(same), "refusal": refusal,
        }}))
        """,
        tmp_path,
    )
    assert result["backend"] == backend
    assert result["tensorflow_loaded"] is False
    assert len(result["loss"]) == 3 and result["loss"][-1] < result["loss"][0]
    assert result["val_accuracy"] > 0.3  # 10 classes: chance is 0.1
    assert {"RunStarted", "EpochEnd", "Finished"} <= set(result["events"])
    assert result["reloaded_same"]
    assert "TFLite export needs Keras's TensorFlow backend" in result["refusal"]
    record = json.loads((out / "run.json").read_text())
    assert record["environment"]["keras_backend"] == backend


@pytest.mark.slow
@_needs("jax")
def test_cnn_on_resized_augmented_images_with_mixed_precision_asked_on_jax(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    # Two classes a CNN separates at once: dark vs bright 20x20 pictures.
    x = rng.uniform(0, 60, size=(96, 20, 20, 3)).astype(np.float32)
    y = np.arange(96) % 2
    x[y == 1] += 150
    np.savez(tmp_path / "halves.npz", x=x, y=y)
    result = _run_child(
        "jax",
        f"""
        import json, sys
        from kiln_lab.engine.data.config import AugmentConfig, DataConfig
        from kiln_lab.engine.models.recipe import ModelRecipe
        from kiln_lab.engine.training.config import RunConfig, TrainConfig
        from kiln_lab.engine.training.job import run_training

        config = RunConfig(
            data=DataConfig(source={str(tmp_path / "halves.npz")!r}, image_size=(16, 16),
                            augment=AugmentConfig(contrast=0.1)),
            model=ModelRecipe(arch="cnn", depth=2, width=8),
            train=TrainConfig(epochs=4, batch_size=16, mixed_precision=True, xla=True, learning_rate=3e-3),
        )
        warnings = []
        sink = lambda e: warnings.append(e.message) if type(e).__name__ == "RunWarning" else None
        result = run_training(config, sink=sink)
        print(json.dumps({{
            "loss": result.history["loss"], "val_accuracy": result.metrics["val_accuracy"],
            "input_shape": list(result.model.input_shape), "warnings": warnings,
            "tensorflow_loaded": "tensorflow" in sys.modules,
        }}))
        """,
        tmp_path,
    )
    assert result["tensorflow_loaded"] is False
    assert result["input_shape"] == [None, 16, 16, 3]  # resized from 20x20 without tf.image
    assert result["loss"][-1] < result["loss"][0]
    assert result["val_accuracy"] >= 0.75
    assert any("Mixed precision needs a GPU" in w for w in result["warnings"])  # CPU here: said, not silent


def test_a_tensorflow_only_strategy_is_refused_with_a_sentence_on_another_backend(monkeypatch) -> None:
    from kiln_lab.engine import runtime
    from kiln_lab.engine.errors import ConfigError
    from kiln_lab.engine.training.distribution import SingleDevice, distribution_strategy

    monkeypatch.setattr(runtime, "keras_backend", lambda: "jax")
    assert isinstance(distribution_strategy("auto"), SingleDevice)
    with pytest.raises(ConfigError, match="'mirrored' strategy is TensorFlow's.*jax backend"):
        distribution_strategy("mirrored")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_tensorboard_asked_without_tensorflow_is_one_sentence_before_the_folder(backend: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _run_child(
        backend,
        f"""
        import json
        from kiln_lab.engine.errors import KilnError
        from kiln_lab.engine.training.config import RunConfig
        from kiln_lab.engine.training.job import run_training

        config = RunConfig().replace(model={{"arch": "mlp", "depth": 1, "width": 8}},
                                     train={{"epochs": 1, "tensorboard": True}})
        try:
            run_training(config, out_dir={str(out)!r})
            sentence = None
        except KilnError as exc:
            sentence = exc.sentence
        print(json.dumps({{"sentence": sentence}}))
        """,
        tmp_path,
    )
    assert "pip install tensorflow" in result["sentence"] and backend in result["sentence"]
    assert not out.exists()


def test_the_backend_named_in_keras_json_is_used_when_keras_backend_is_unset(tmp_path: Path) -> None:
    # As plain Keras on the same machine does: importing Kiln leaves KERAS_BACKEND unset, so Keras
    # reads the file (jax need not be installed: Keras itself is not imported here).
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)
    script = (
        "import json, os, kiln_lab.engine as engine, kiln_lab.engine.runtime as r, kiln_lab.engine.training.job; "
        "print(json.dumps([r.keras_backend(), os.environ.get('KERAS_BACKEND')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["jax", None]
