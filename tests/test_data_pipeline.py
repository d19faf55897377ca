"""Splits, tf.data pipelines (shapes, dtypes, resize, cache, augmentation), demos, previews, predict inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import kiln_lab.engine.data.pipeline as pipeline_module
from kiln_lab.engine.data import DEMOS, load_dataset, load_inputs_for_prediction, make_pipelines
from kiln_lab.engine.data.preview import augmentation_preview, sample_thumbnails, table_preview
from kiln_lab.engine.data.split import stratified_split
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.training.config import AugmentConfig, DataConfig


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_stratified_split_keeps_class_shares():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    splits = stratified_split(labels, val_fraction=0.2, test_fraction=0.1, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 70, "val": 20, "test": 10}
    assert np.bincount(labels[splits["val"]]).tolist() == [10, 6, 4]
    assert np.bincount(labels[splits["test"]]).tolist() == [5, 3, 2]
    assert len(np.unique(np.concatenate(list(splits.values())))) == 100  # disjoint and complete
    again = stratified_split(labels, val_fraction=0.2, test_fraction=0.1, seed=3)
    np.testing.assert_array_equal(again["val"], splits["val"])


def test_image_pipeline_shapes_dtypes_and_resize():
    dataset = load_dataset(DataConfig(source="demo:digits", test_split=0.1))
    pipes = make_pipelines(dataset, batch_size=64, image_size=(16, 12), seed=1)
    assert pipes.image_size == (16, 12) and pipes.cache == "memory"
    assert pipes.steps_per_epoch == int(np.ceil(len(dataset.splits["train"]) / 64))
    x, y = _collect(pipes.val)
    assert x.shape == (len(dataset.splits["val"]), 16, 12, 1) and x.dtype == np.float32
    assert y.dtype == np.int64 and 0 <= x.min() and x.max() <= 255 and x.max() > 100
    np.testing.assert_array_equal(y, dataset.labels[dataset.splits["val"]])  # evaluation keeps the order
    test_x, _ = _collect(pipes.test)
    assert test_x.shape[0] == len(dataset.splits["test"])
    train_y = [_collect(pipes.train)[1] for _ in range(2)]
    assert sorted(train_y[0]) == sorted(dataset.labels[dataset.splits["train"]])
    assert not np.array_equal(train_y[0], train_y[1])  # reshuffled every epoch


def test_vector_pipeline_for_regression():
    dataset = load_dataset("demo:housing")
    pipes = make_pipelines(dataset, batch_size=50)
    x, y = _collect(pipes.val)
    assert pipes.image_size is None
    assert x.shape == (120, 11) and x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_allclose(y, dataset.labels[dataset.splits["val"]])


@pytest.mark.parametrize("cache", ["memory", "disk", "none"])
def test_cache_modes_give_the_same_samples(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline_module, "_cache_dir", str(tmp_path))
    dataset = load_dataset("demo:shapes")
    pipes = make_pipelines(dataset, batch_size=100, image_size=(16, 16), cache=cache)
    assert pipes.cache == cache
    x, y = _collect(pipes.val)
    expected = dataset.loader.read(dataset.splits["val"], (16, 16))
    np.testing.assert_allclose(x, expected, atol=1e-3)
    train_x, train_y = _collect(pipes.train)
    assert train_x.shape == (800, 16, 16, 3) and np.bincount(train_y).tolist() == [200] * 4
    if cache == "disk":
        assert any(name.startswith("train-") for name in os.listdir(tmp_path))


def test_auto_cache_goes_to_disk_over_the_memory_budget_then_streams(monkeypatch, tmp_path):
    monkeypatch.setattr(pipeline_module, "_cache_dir", str(tmp_path))
    monkeypatch.setattr(pipeline_module, "memory_budget", lambda: 1000)
    pipes = make_pipelines(load_dataset("demo:digits"), batch_size=32)
    assert pipes.cache == "disk" and pipes.estimated_bytes == 1797 * 8 * 8 * 4
    monkeypatch.setattr(pipeline_module, "disk_budget", lambda: 1000)
    assert make_pipelines(load_dataset("demo:digits"), batch_size=32).cache == "none"  # streams instead
    with pytest.raises(DataError, match="Unknown cache setting"):
        make_pipelines(load_dataset("demo:digits"), batch_size=32, cache="ssd")


def test_augmentation_changes_training_batches_only():
    dataset = load_dataset("demo:shapes")
    augment = AugmentConfig(flip=True, rotation=0.1, zoom=0.1, contrast=0.3)
    plain = make_pipelines(dataset, batch_size=1000, seed=5)
    varied = make_pipelines(dataset, batch_size=1000, seed=5, augment=augment)
    plain_x, plain_y = _collect(plain.train)
    varied_x, varied_y = _collect(varied.train)
    np.testing.assert_array_equal(plain_y, varied_y)  # same seeded order; only pixels differ
    assert varied_x.shape == plain_x.shape and varied_x.dtype == np.float32
    assert np.mean(np.abs(varied_x - plain_x)) > 5.0
    assert 0.0 <= varied_x.min() and varied_x.max() <= 255.0
    np.testing.assert_array_equal(_collect(varied.val)[0], _collect(plain.val)[0])


def test_demos_are_listed_and_deterministic():
    assert {"digits", "shapes", "housing"} <= set(DEMOS)
    first, second = load_dataset("demo:shapes"), load_dataset("demo:shapes")
    np.testing.assert_array_equal(first.loader.read(np.arange(5)), second.loader.read(np.arange(5)))
    assert first.class_names == ["circle", "cross", "square", "triangle"] and first.input_shape == (32, 32, 3)
    with pytest.raises(DataError, match="no demo dataset called 'nope'"):
        load_dataset("demo:nope")


def test_previews():
    dataset = load_dataset("demo:shapes")
    thumbnails = sample_thumbnails(dataset, per_class=3)
    assert list(thumbnails) == dataset.class_names
    assert all(v.shape == (3, 32, 32, 3) and v.dtype == np.uint8 for v in thumbnails.values())
    variants = augmentation_preview(dataset, AugmentConfig(flip=True, rotation=0.2), n=6, seed=1)
    assert variants.shape == (6, 32, 32, 3) and variants.dtype == np.uint8
    assert not np.array_equal(variants[0], variants[1]) or not np.array_equal(variants[0], variants[2])
    still = augmentation_preview(dataset, None, n=3, seed=1)
    np.testing.assert_array_equal(still[0], variants[0])
    assert sample_thumbnails(load_dataset("demo:housing")) == {}
    with pytest.raises(DataError):
        table_preview(dataset)


def test_vector_table_preview_and_prediction_rows(tmp_path):
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    np.savez(tmp_path / "v.npz", x=x, y=np.arange(10) % 2)
    dataset = load_dataset(str(tmp_path / "v.npz"))
    header, rows = table_preview(dataset, rows=2)
    assert header == ["x0", "x1", "label"] and rows[1][-1] == "1"
    encoded = load_inputs_for_prediction([[2.0, 3.0]], dataset.summary())
    np.testing.assert_allclose(encoded, dataset.loader.read(np.array([1])), atol=1e-6)


def test_prediction_images_match_training_decode(tmp_path):
    for k, name in enumerate(["a", "b"]):
        for i in range(3):
            (tmp_path / name).mkdir(exist_ok=True)
            pixels = np.random.default_rng(k * 10 + i).integers(0, 256, (40, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.jpg", quality=90)
    dataset = load_dataset(str(tmp_path))
    pipes = make_pipelines(dataset, batch_size=8, image_size=(20, 15), cache="none")
    trained = dict(zip([dataset.paths[i] for i in dataset.splits["val"]], _collect(pipes.val)[0], strict=True))
    path = next(iter(trained))
    summary = dataset.summary()
    inputs = load_inputs_for_prediction([path], summary, (20, 15))
    np.testing.assert_array_equal(inputs[0], trained[path])
    folder = load_inputs_for_prediction(str(tmp_path / "a"), summary, None)
    assert folder.shape == (3, *dataset.input_shape)
    (tmp_path / "broken.png").write_text("no")
    with pytest.raises(DataError, match="broken.png cannot be used: not an image"):
        load_inputs_for_prediction([tmp_path / "broken.png"], summary, (20, 15))
    digits = load_dataset("demo:digits")
    raw = np.load(os.path.join(os.path.dirname(pipeline_module.__file__), "../../resources/demo/digits.npz"))["x"][0]
    np.testing.assert_allclose(load_inputs_for_prediction([raw], digits.summary()), digits.loader.read(np.array([0])))


def test_pipelines_know_their_length():
    dataset = load_dataset("demo:housing")
    pipes = make_pipelines(dataset, batch_size=64, cache="none")
    assert int(pipes.train.cardinality()) == pipes.steps_per_epoch == 8
    assert int(pipes.val.cardinality()) == 2
    assert int(dataset.loader.tf_dataset(dataset.splits["val"], None).cardinality()) == 120


def test_with_split_returns_a_new_split_and_leaves_the_original() -> None:
    from kiln_lab.engine.data import load_dataset

    dataset = load_dataset("demo:digits")
    resplit = dataset.with_split(0.5, 0.1, seed=3)
    assert len(dataset.splits["val"]) == 359
    assert abs(len(resplit.splits["val"]) - 1797 * 0.5) < 10 and abs(len(resplit.splits["test"]) - 180) < 10
    assert sum(len(v) for v in resplit.splits.values()) == 1797
