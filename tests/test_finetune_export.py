"""A fine-tuned Hub-backbone model: reloads in a fresh process with its fine-tuned weights, exports
self-contained (SavedModel, TFLite) and runs with the source SavedModel deleted; trust is asked for."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.backbone_fixtures import arrays, finetune_config, image_dataset, make_hub_savedmodel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A model fine-tuned (fully) on a Hub-format backbone, with its validation inputs and outputs."""
    from kiln_lab.engine.models.build import build_model
    from kiln_lab.engine.training.compile import compile_for_phase

    folder = make_hub_savedmodel(tmp_path_factory.mktemp("hub") / "source")
    dataset = image_dataset()
    config = finetune_config(str(folder), freeze="none")
    built = build_model(config.model, dataset, epochs=2)
    compile_for_phase(built, built.phases[0], config, task=dataset.task, num_classes=dataset.num_classes)
    x, y = arrays(dataset, built.image_size)
    built.model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    x_val, _ = arrays(dataset, built.image_size, "val")
    return built.model, folder, x_val, built.model.predict(x_val, verbose=0)


def test_reloads_in_a_fresh_process_with_the_fine_tuned_weights(tuned, tmp_path):
    import tensorflow as tf

    from kiln_lab.engine.export.save import save_model

    model, folder, x, expected = tuned
    path = save_model(model, tmp_path / "tuned.keras")
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import numpy as np
        import engine.models.layers  # registers Kiln's layers with Keras
        from kiln_lab.engine.export.save import load_model
        model = load_model({str(path)!r})
        np.save({str(tmp_path / "y.npy")!r}, model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0))
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, timeout=120)
    assert np.allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)
    # ...and those are the fine-tuned weights, not the ones still in the source SavedModel
    original = tf.saved_model.load(str(folder))
    tuned_kernel = next(w for w in model.get_layer("backbone").weights if w.path.endswith("conv1_kernel"))
    source_kernel = next(v for v in original.variables if v.name.startswith("conv1/kernel"))
    assert not np.allclose(tuned_kernel.numpy(), source_kernel.numpy())


def test_a_file_kiln_did_not_write_needs_trust(tuned, tmp_path):
    from kiln_lab.engine.export.save import UntrustedModel, load_model

    model, _, x, expected = tuned
    path = tmp_path / "from_elsewhere.keras"
    model.save(path)  # not through Kiln's save_model: not in the trust registry
    with pytest.raises(UntrustedModel):
        load_model(path)
    assert np.allclose(load_model(path, trusted=True).predict(x, verbose=0), expected, atol=1e-5)


def test_self_contained_exports_run_without_the_source_savedmodel(tuned, tmp_path):
    import tensorflow as tf

    from kiln_lab.engine.export.save import save_model

    model, folder, x, expected = tuned
    exported = save_model(model, tmp_path / "export", format="savedmodel")
    tflite = save_model(model, tmp_path / "tuned.tflite", format="tflite")
    moved_away = folder.with_name("gone")
    shutil.move(str(folder), str(moved_away))  # the hub cache / source folder is deleted
    try:
        served = tf.saved_model.load(str(exported))
        assert np.allclose(served.serve(tf.constant(x)).numpy(), expected, atol=1e-5)
        from kiln_lab.engine.export.tflite_runtime import tflite_interpreter

        interpreter = tflite_interpreter(tflite)
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        assert np.allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, atol=1e-4)
    finally:
        shutil.move(str(moved_away), str(folder))
