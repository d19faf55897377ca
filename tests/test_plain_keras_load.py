"""A run's `model.keras` opens in plain Keras: every backbone source x every channel count,
loaded in a fresh process that cannot import Kiln (the README's promise).

SavedModel / TF Hub backbones are left out on purpose: they live in Kiln's `SavedModelLayer`,
which only Kiln's trust gate opens (docs/RELIABILITY.md); their self-contained exports are
tested in tests/test_finetune_export.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.backbone_fixtures import arrays, finetune_config, image_dataset, keras3_feature_model, make_h5_classifier

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

CHANNELS = (1, 3, 4)

# What the fresh process runs: Kiln's packages cannot be imported, then the plain Keras loads.
PLAIN_LOAD = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoKiln(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("kiln_lab", "engine", "gui", "main", "resources", "tests"):
                raise ImportError(f"this process must not import Kiln ({name})")
            return None

    sys.meta_path.insert(0, NoKiln())
    import numpy as np
    import keras

    for folder in sys.argv[1:]:
        model = keras.models.load_model(f"{folder}/run/model.keras")
        np.save(f"{folder}/y.npy", model.predict(np.load(f"{folder}/x.npy"), verbose=0))
    assert not any(name.split(".")[0] in ("kiln_lab", "engine") for name in sys.modules)
    """
)


def _backbone(source: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backbone spec for ``source``, made offline in ``folder``."""
    if source == "demo":
        return "demo"
    if source == "h5_file":
        return str(make_h5_classifier(folder / "own.h5", size=16, channels=3))
    if source == "keras_file":
        path = folder / "own.keras"
        keras3_feature_model(size=16, channels=3).save(str(path))
        return str(path)
    if source == "keras_applications":
        # Random weights: the same layers as the ImageNet ones, without a download.
        import kiln_lab.engine.models.backbones.applications as applications

        original = applications.open_application

        def random_weights(*args, **kwargs):
            return original(*args, **{**kwargs, "weights": None})

        monkeypatch.setattr(applications, "open_application", random_weights)
        return "MobileNetV3Small"
    if source == "kerashub":
        keras_hub = pytest.importorskip("keras_hub", reason="the optional kerashub extra is not installed")
        preset = folder / "tiny_resnet"
        keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],  # as tests/test_kerashub.py's tiny preset
            input_conv_kernel_sizes=[3],
            stackwise_num_filters=[64, 16],
            stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2],
            block_type="basic_block",
            image_shape=(None, None, 3),
        ).save_to_preset(str(preset))
        keras_hub.layers.ResNetImageConverter(image_size=(16, 16), scale=1 / 255.0).save_to_preset(str(preset))
        return f"kerashub:{preset}"
    raise AssertionError(source)


@pytest.mark.parametrize("source", ["demo", "h5_file", "keras_file", "keras_applications", "kerashub"])
def test_a_fine_tuned_run_loads_in_plain_keras_for_every_channel_count(source, tmp_path, monkeypatch):
    from kiln_lab.engine.training.job import run_training

    spec = _backbone(source, tmp_path, monkeypatch)
    expected = {}
    for channels in CHANNELS:
        folder = tmp_path / f"c{channels}"
        dataset = image_dataset(n=24, size=32 if source == "keras_applications" else 16, channels=channels)
        config = finetune_config(spec).replace(train={"epochs": 1, "checkpoint": False})
        if source == "keras_applications":
            config = config.replace(data={"image_size": (32, 32)})
        result = run_training(config, dataset=dataset, out_dir=folder / "run")
        x, _ = arrays(dataset, result.image_size, "val")
        np.save(folder / "x.npy", x)
        expected[channels] = result.model.predict(x, verbose=0)

    # Nothing of the repository on the path (other entries, e.g. a folder holding keras_hub, stay).
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(kept)}
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_LOAD, *(str(tmp_path / f"c{c}") for c in CHANNELS)],
        cwd=tmp_path,  # not the repository: nothing of Kiln's on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for channels in CHANNELS:
        assert np.allclose(np.load(tmp_path / f"c{channels}" / "y.npy"), expected[channels], atol=1e-5), channels
