"""Backbone sources: catalogue, bad handles, SavedModel folders, Keras Applications, model files."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kiln_lab.engine.errors import BackboneUnavailable, ModelError
from tests.backbone_fixtures import make_h5_classifier, make_hub_savedmodel, make_keras3_export


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    return make_hub_savedmodel(tmp_path_factory.mktemp("hub") / "feature_vector")


def test_catalogue_offers_the_offline_demo_first_with_full_metadata():
    from kiln_lab.engine.models.catalogue import find_entry, load_catalogue, offline_entries

    entries = load_catalogue()
    assert entries[0].name == "demo" and offline_entries()[0].name == "demo"
    assert entries[0].file.exists() and entries[0].file.stat().st_size < 1_000_000
    assert "How it was made" in entries[0].card_text()
    sources = {e.source for e in entries}
    assert sources == {"demo", "keras_applications", "hub", "kerashub"}
    for entry in entries:
        assert entry.licence != "unknown" and entry.pretraining_data != "unknown" and entry.params > 0
        assert entry.feature_dim > 0 and len(entry.input_size) == 2 and entry.input_range[0] < entry.input_range[1]
    assert find_entry("MOBILENET_V2").handle == "MobileNetV2"


@pytest.mark.parametrize("handle", ["https://tfhub.dev/kiln-tests/no-such-model/1", "kaggle:kiln/none/tensorFlow2/x/1"])
def test_unreachable_handle_gives_one_sentence_quickly(handle, tmp_path):
    from kiln_lab.engine.events import EventRecorder, Progress
    from kiln_lab.engine.models.backbones.hub import resolve_handle

    sink = EventRecorder()
    started = time.perf_counter()
    with pytest.raises(BackboneUnavailable) as caught:
        resolve_handle(handle, sink=sink, timeout=5, cache_dir=tmp_path)
    assert time.perf_counter() - started < 30
    sentence = caught.value.sentence
    assert handle in sentence and "demo" in sentence and sentence.count(". ") == 0
    assert sink.of_type(Progress)[0].task == "download"


def test_unknown_backbone_lists_what_is_accepted():
    from kiln_lab.engine.models.backbones import load_backbone

    with pytest.raises(BackboneUnavailable, match="catalogue name"):
        load_backbone("no_such_backbone")


def test_hub_format_savedmodel_is_a_keras3_layer_with_its_variables(hub_folder):
    from kiln_lab.engine.models.backbones import load_backbone

    backbone = load_backbone(str(hub_folder))
    layer = backbone.layer
    assert layer.accepts_training and backbone.feature_shape == (8,) and backbone.input_size == (16, 16)
    assert len(layer.weights) == 12 and len(layer.learnable_weights) == 8  # BN statistics are not learnable
    assert all(":" not in w.path for w in layer.weights)
    x = np.random.default_rng(0).uniform(0, 1, (4, 16, 16, 3)).astype("float32")
    # training reaches the SavedModel: batch statistics differ from the moving ones
    assert not np.allclose(layer(x, training=True), layer(x, training=False))
    layer.trainable = False
    assert np.allclose(layer(x, training=True), layer(x, training=False))


def test_keras3_export_folder_is_a_backbone(tmp_path):
    from kiln_lab.engine.models.backbones import load_backbone

    backbone = load_backbone(str(make_keras3_export(tmp_path / "export")))
    assert backbone.layer.endpoint == "serve" and not backbone.layer.accepts_training
    assert backbone.feature_shape == (8,) and any("inference mode" in note for note in backbone.info()["notes"])


@pytest.mark.parametrize(
    "name, size, features",
    [
        ("MobileNetV2", 32, 1280),
        ("MobileNetV3Small", 32, 576),
        ("EfficientNetV2B0", 32, 1280),
        ("resnet50v2", 32, 2048),
        ("keras:ConvNeXtTiny", 32, 768),
    ],
)
def test_keras_applications_build_offline_with_their_preprocessing(name, size, features):
    from kiln_lab.engine.models.backbones import load_backbone

    backbone = load_backbone(name, input_size=(size, size), pretrained=False)
    assert backbone.feature_shape == (features,) and backbone.card.source == "keras_applications"
    assert tuple(backbone.layer.output.shape[1:]) == (features,)
    expected_range = (-1.0, 1.0) if name.lower() in ("mobilenetv2", "resnet50v2") else (0.0, 255.0)
    assert backbone.input_range == expected_range


def test_keras_application_without_cached_weights_offline_is_unavailable(monkeypatch):
    import os

    import keras
    from keras.src.utils import file_utils

    from kiln_lab.engine.models.backbones import load_backbone

    cached = os.path.join(keras.config.keras_home() if hasattr(keras.config, "keras_home") else "~/.keras", "models")
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    if os.path.exists(os.path.join(os.path.expanduser(cached), name)):
        pytest.skip("the weights are cached on this machine")

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(BackboneUnavailable, match="MobileNetV2.*demo"):
        load_backbone("MobileNetV2", input_size=(96, 96))


def test_own_h5_model_is_cut_below_its_classifier(tmp_path):
    from kiln_lab.engine.models.backbones import load_backbone

    path = make_h5_classifier(tmp_path / "mine.h5")
    backbone = load_backbone(str(path))
    # the features the old classifier read: its input, past the Dropout in between
    assert backbone.layer.layers[-1].name == "hidden" and backbone.feature_shape == (16,)
    assert backbone.input_range == (0.0, 255.0)  # the model starts with its own Rescaling
    from kiln_lab.engine.models.backbones.model_file import open_model_file

    assert open_model_file(path, cut_layer="conv2").feature_shape == (8, 8, 8)
    with pytest.raises(ModelError, match="no layer called 'nope'"):
        open_model_file(path, cut_layer="nope")


def test_channel_adapter_converts_gray_and_colour():
    from kiln_lab.engine.models.channels import channel_adapter

    gray = np.arange(8, dtype="float32").reshape(2, 2, 2, 1)
    rgb = np.asarray(channel_adapter(1, 3)(gray))
    assert rgb.shape == (2, 2, 2, 3) and np.array_equal(rgb[..., 2], gray[..., 0])
    back = np.asarray(channel_adapter(3, 1)(rgb))
    assert np.allclose(back, gray, atol=1e-5)
    rgba = np.concatenate([rgb, np.ones_like(gray)], axis=-1)
    assert np.array_equal(channel_adapter(4, 3)(rgba), rgb)
    assert not channel_adapter(1, 3).trainable  # fine-tuning never changes the conversion


def _serve_once(payload: bytes):
    """A loopback HTTP server that answers every GET with ``payload`` (no network needed)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_tarball_with_members_outside_its_folder_is_named_as_unsafe_not_a_network_problem(tmp_path):
    import io
    import tarfile

    from kiln_lab.engine.models.backbones.hub import resolve_handle

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"planted"
        member = tarfile.TarInfo("../../escaped.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    server = _serve_once(buffer.getvalue())
    try:
        handle = f"http://127.0.0.1:{server.server_address[1]}/model.tar.gz"
        with pytest.raises(BackboneUnavailable) as caught:
            resolve_handle(handle, timeout=5, cache_dir=tmp_path / "cache")
    finally:
        server.shutdown()
    sentence = caught.value.sentence
    assert "network" not in sentence
    assert "outside" in sentence and "../../escaped.txt" in sentence
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_an_all_convolutional_classifier_is_cut_below_its_class_scores(tmp_path):
    """Issue 20.8: a Keras 2 style model with no Dense layer was cut at its 7-way softmax."""
    import keras

    from kiln_lab.engine.models.backbones.model_file import open_model_file

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(12, 3, activation="relu", name="features")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.Conv2D(7, 1, name="class_scores")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Activation("softmax", name="probabilities")(x)
    path = tmp_path / "emotions.keras"
    keras.Model(inputs, outputs).save(path)
    backbone = open_model_file(path)
    assert backbone.layer.layers[-1].name == "features" and backbone.feature_shape == (12, 12, 12)
    assert "'features'" in backbone.notes[0] and "'class_scores'" in backbone.notes[0]
    assert "--cut-layer" in backbone.notes[0]
    chosen = open_model_file(path, cut_layer="conv1")
    assert chosen.feature_shape == (14, 14, 8) and "as asked" in chosen.notes[0]


@pytest.mark.slow  # probes a tiny model file and trains the advisor's small reference CNN
def test_advise_takes_a_cut_layer_and_says_where_it_cut(tmp_path, capsys):
    """Issue 20.8: `advise` could not choose the cut layer of a model file, nor said which it used."""
    import json

    import keras
    import numpy as np

    from kiln_lab.engine.cli import main

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(7, 1, name="class_scores")(x)
    outputs = keras.layers.Activation("softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model_path = tmp_path / "own.keras"
    keras.Model(inputs, outputs).save(model_path)
    rng = np.random.default_rng(0)
    data = tmp_path / "data.npz"
    np.savez(data, x=rng.integers(0, 255, (60, 16, 16, 1)).astype(np.uint8), y=rng.integers(0, 2, 60))
    assert main(["advise", "--data", str(data), "--backbone", str(model_path), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    notes = default["ranking"][0]["notes"]
    assert any("Cut at layer 'conv1'" in note and "'class_scores'" in note for note in notes)
    assert main(["advise", "--data", str(data), "--backbone", str(model_path), "--cut-layer", "class_scores",
                 "--json"]) == 0
    chosen = json.loads(capsys.readouterr().out)
    assert any("Cut at layer 'class_scores'" in note and "as asked" in note for note in chosen["ranking"][0]["notes"])
