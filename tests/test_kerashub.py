"""KerasHub presets as backbones, offline: a tiny random ResNet preset the test writes itself.

Skipped (with the reason) where the optional ``kerashub`` extra is not installed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.backbone_fixtures import finetune_config, image_dataset

keras_hub = pytest.importorskip("keras_hub", reason="the optional kerashub extra is not installed")

pytestmark = pytest.mark.slow

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    """A tiny randomly initialised ResNet backbone + an ImageNet-style converter, saved as a preset."""
    folder = tmp_path_factory.mktemp("kerashub") / "tiny_resnet"
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(None, None, 3),
    )
    backbone.save_to_preset(str(folder))
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(16, 16), scale=[1 / (255 * s) for s in STD], offset=[-m / s for m, s in zip(MEAN, STD)]
    )
    converter.save_to_preset(str(folder))
    return folder


def test_a_preset_folder_is_recognised_and_opened_with_its_converter(preset: Path) -> None:
    from kiln_lab.engine.models.backbones import describe_spec, load_backbone

    assert describe_spec(str(preset)) == "kerashub"
    assert describe_spec(f"kerashub:{preset}") == "kerashub"
    backbone = load_backbone(f"kerashub:{preset}")
    assert backbone.card.source == "kerashub"
    assert backbone.default_size == (16, 16) and backbone.channels == 3
    scale, offset = backbone.input_scale
    assert scale == pytest.approx([1 / (255 * s) for s in STD])
    assert offset == pytest.approx([-m / s for m, s in zip(MEAN, STD)])
    assert backbone.card.params == backbone.layer.count_params() > 0


def test_the_converter_normalisation_is_part_of_the_model(preset: Path) -> None:
    from kiln_lab.engine.models.build import build_model

    dataset = image_dataset(n=12, size=8, channels=3)
    built = build_model(finetune_config(str(preset)).model, dataset, epochs=1)
    scaler = built.model.get_layer("scale_to_backbone")
    pixel = np.full((1, 1, 1, 3), 255.0, dtype="float32")
    expected = [(1.0 - m) / s for m, s in zip(MEAN, STD)]  # ImageNet normalisation of a white pixel
    assert np.asarray(scaler(pixel)).ravel() == pytest.approx(expected, rel=1e-5)


def test_fine_tuning_a_preset_with_adam_moves_only_what_is_unfrozen_and_reloads(preset: Path, tmp_path) -> None:
    import keras

    from kiln_lab.engine.export import load_model
    from kiln_lab.engine.training.job import run_training

    dataset = image_dataset(n=48, size=8, channels=3)
    config = finetune_config(str(preset), freeze="top:1").replace(
        train={"epochs": 2, "optimizer": "adam", "learning_rate": 0.01, "checkpoint": False}
    )
    from kiln_lab.engine.models.build import build_model

    reference = build_model(config.model, dataset, epochs=2)  # the pretrained weights, untouched
    result = run_training(config, dataset=dataset, out_dir=tmp_path / "run")
    name = result.record["model"]["backbone_layer"]
    trained_bb, fresh_bb = result.model.get_layer(name), reference.model.get_layer(name)
    trainable = {w.path for w in trained_bb.trainable_weights}
    assert trainable and len(trainable) < len(trained_bb.weights)
    moved = {w.path: not np.allclose(w.numpy(), f.numpy()) for w, f in zip(trained_bb.weights, fresh_bb.weights)}
    kernels = [p for p in moved if p.endswith("kernel")]
    assert all(not moved[p] for p in kernels if p not in trainable), "a frozen kernel moved"
    assert any(moved[p] for p in kernels if p in trainable), "no unfrozen kernel moved"

    x = dataset.loader.read(np.arange(6), result.image_size)
    reloaded = load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5)
    plain = keras.models.load_model(tmp_path / "run" / "model.keras")  # plain Keras, keras_hub installed
    np.testing.assert_allclose(plain.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5)


def test_an_uncached_preset_name_offline_is_one_sentence(monkeypatch) -> None:
    from kiln_lab.engine.errors import BackboneUnavailable
    from kiln_lab.engine.models.backbones import load_backbone

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    monkeypatch.setattr(keras_hub.models.Backbone, "from_preset", classmethod(lambda cls, *a, **k: offline()))
    with pytest.raises(BackboneUnavailable, match="not in KerasHub's cache") as caught:
        load_backbone("kerashub_resnet_18")
    assert "\n" not in caught.value.sentence


def test_the_catalogue_lists_kerashub_presets() -> None:
    from kiln_lab.engine.models.catalogue import load_catalogue

    presets = [e for e in load_catalogue() if e.source == "kerashub"]
    assert {e.handle for e in presets} >= {"resnet_18_imagenet", "mobilenet_v3_small_100_imagenet"}
    assert all(e.params > 0 and e.licence != "unknown" for e in presets)


def test_cli_fine_tunes_a_local_preset_two_phase(preset: Path, tmp_path) -> None:
    import subprocess

    out = tmp_path / "kh"
    done = subprocess.run(
        [sys.executable, "main.py", "train", "--data", "demo:digits", "--backbone", str(preset), "--two-phase",
         "--epochs", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((out / "run.json").read_text())
    assert record["model"]["backbone"]["source"] == "kerashub"
    assert len(record["history"]["loss"]) == 2
