"""Arrays: .npz, .npy (+ sibling labels), x.npy/y.npy folders, HDF5 (streamed), label kinds, refusals."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from kiln_lab.engine.data import load_dataset
from kiln_lab.engine.data.hdf5 import H5Array, HDF5Loader
from kiln_lab.engine.data.labels import interpret_labels
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.training.config import DataConfig


def _images(n=40, size=(6, 5), channels=None, seed=0):
    shape = (n, *size) if channels is None else (n, *size, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_npz_images_with_int_labels(tmp_path):
    x, y = _images(channels=3), np.arange(40) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    dataset = load_dataset(str(tmp_path / "d.npz"))
    assert (dataset.task, dataset.input_kind, dataset.input_shape) == ("classification", "image", (6, 5, 3))
    assert dataset.class_names == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(dataset.loader.read(np.array([3, 1])), x[[3, 1]].astype(np.float32))
    assert dataset.split_sizes() == {"train": 32, "val": 8}


def test_npz_custom_keys_strings_and_unit_range_pixels(tmp_path):
    x = np.random.default_rng(1).random((30, 4, 4)).astype(np.float32)  # 0..1 floats
    labels = np.array(["ant", "bee", "cow"])[np.arange(30) % 3]
    np.savez(tmp_path / "d.npz", pics=x, names=labels)
    with pytest.raises(DataError, match="no array called 'x'"):
        load_dataset(str(tmp_path / "d.npz"))
    dataset = load_dataset(DataConfig(source=str(tmp_path / "d.npz"), x_key="pics", y_key="names"))
    assert dataset.class_names == ["ant", "bee", "cow"] and dataset.input_shape == (4, 4, 1)
    assert dataset.preprocessing["pixel_scale"] == 255.0
    np.testing.assert_allclose(dataset.loader.read(np.array([0]))[0, ..., 0], x[0] * 255, rtol=1e-6)
    assert any("0..1" in p for p in dataset.problems)


def test_common_key_spellings_are_found(tmp_path):
    np.savez(tmp_path / "d.npz", images=_images(), labels=np.arange(40) % 2)
    assert load_dataset(str(tmp_path / "d.npz")).preprocessing["x_key"] == "images"


def test_vectors_are_standardised_and_float_labels_are_regression(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(5, 3, (50, 4)).astype(np.float32)
    x[7, 2] = np.nan
    y = rng.normal(0, 1, 50).astype(np.float32)
    np.savez(tmp_path / "v.npz", x=x, y=y)
    dataset = load_dataset(str(tmp_path / "v.npz"))
    assert (dataset.task, dataset.input_kind, dataset.input_shape) == ("regression", "vector", (4,))
    train = dataset.loader.read(dataset.splits["train"])
    np.testing.assert_allclose(np.nanmean(train, axis=0), 0, atol=1e-5)
    assert dataset.loader.read(np.array([7]))[0, 2] == 0.0  # the missing value took the mean
    assert any("1 missing value" in p for p in dataset.problems)
    np.testing.assert_allclose(dataset.labels, y)


def test_npy_is_memory_mapped_with_sibling_labels(tmp_path):
    x = _images(n=20)
    np.save(tmp_path / "faces.npy", x)
    with pytest.raises(DataError, match="No labels found for faces.npy"):
        load_dataset(str(tmp_path / "faces.npy"))
    np.save(tmp_path / "faces_labels.npy", np.eye(2, dtype=np.float32)[np.arange(20) % 2])  # one-hot
    dataset = load_dataset(str(tmp_path / "faces.npy"))
    assert isinstance(dataset.loader.x, np.memmap)
    np.testing.assert_array_equal(dataset.labels, np.arange(20) % 2)
    assert any("one-hot" in p for p in dataset.problems)
    assert load_dataset(str(tmp_path / "faces_labels.npy")).preprocessing["x_file"] == "faces.npy"


def test_folder_with_x_and_y_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(12, 3)))
    np.save(tmp_path / "y.npy", np.array([True, False] * 6))
    dataset = load_dataset(str(tmp_path))
    assert dataset.source_kind == "arrays" and dataset.class_names == ["False", "True"]


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((10, 3)), np.arange(9) % 2, "10 samples but the labels have 9"),
        (np.zeros((10, 3)), np.zeros(10, dtype=int), "one class only"),
        (np.zeros((10, 3)), np.r_[np.zeros(9), np.nan], "missing or infinite"),
        (np.zeros((10, 3)), np.ones((10, 2)), "2 values per sample"),
        (np.zeros((10, 2, 2, 2, 2)), np.arange(10) % 2, "neither images nor feature rows"),
        (np.zeros((0, 3)), np.zeros(0), "are empty"),
    ],
)
def test_unusable_arrays_are_refused(tmp_path, x, y, message):
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    with pytest.raises(DataError) as caught:
        load_dataset(str(tmp_path / "bad.npz"))
    assert message in caught.value.sentence


def test_label_kinds():
    assert interpret_labels(np.array([b"b", b"a", b"b"])).class_names == ["a", "b"]
    labels = interpret_labels(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]]))
    np.testing.assert_array_equal(labels.values, [1, 0, 2])
    assert interpret_labels(np.array([3, 7, 7])).class_names == ["3", "7"]
    np.testing.assert_array_equal(interpret_labels(np.array([3, 7, 7])).values, [0, 1, 1])
    assert interpret_labels(np.array([0.5, 1.5])).task == "regression"


def _h5(path, n=1000, **names):
    with h5py.File(path, "w") as f:
        group = f.create_group("train")
        group.create_dataset("pixels", data=_images(n=n, size=(8, 8), channels=3), chunks=(min(n, 64), 8, 8, 3))
        group.create_dataset("kind", data=np.array([b"cat", b"dog"])[np.arange(n) % 2])


def test_hdf5_custom_keys_and_refusals(tmp_path):
    path = tmp_path / "d.h5"
    _h5(path, n=50)
    with pytest.raises(DataError, match="It holds: train/kind, train/pixels"):
        load_dataset(str(path))
    dataset = load_dataset(DataConfig(source=str(path), x_key="train/pixels", y_key="train/kind"))
    assert dataset.source_kind == "hdf5" and dataset.class_names == ["cat", "dog"]
    assert dataset.input_shape == (8, 8, 3)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(dataset.loader.read(np.array([9, 2])), f["train/pixels"][[2, 9]][::-1])
    with h5py.File(tmp_path / "short.h5", "w") as f:
        f["x"], f["y"] = np.zeros((5, 3)), np.arange(4) % 2
    with pytest.raises(DataError, match="5 samples but the labels have 4"):
        load_dataset(str(tmp_path / "short.h5"))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        load_dataset(str(tmp_path / "junk.h5"))


def test_hdf5_streams_in_chunks(tmp_path, monkeypatch):
    path = tmp_path / "big.h5"
    _h5(path, n=1000)
    dataset = load_dataset(DataConfig(source=str(path), x_key="train/pixels", y_key="train/kind"))
    assert isinstance(dataset.loader, HDF5Loader)
    reads: list[int] = []
    original = H5Array.__getitem__

    def counting(self, index):
        rows = original(self, index)
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(H5Array, "__getitem__", counting)
    train = dataset.splits["train"]
    seen = []
    for x, y in dataset.loader.tf_pairs(train, dataset.labels[train], (4, 4), shuffle=True, seed=1):
        seen.append(int(y))
        assert x.shape == (4, 4, 3)
    assert len(seen) == len(train) == 800
    assert sorted(seen) == sorted(dataset.labels[train].tolist())
    chunk = HDF5Loader.chunk
    assert len(reads) >= len(train) // chunk  # many small reads ...
    assert max(reads) <= 2 * chunk < 1000  # ... and never the whole dataset at once
    first_epoch = [int(y) for _, y in dataset.loader.tf_pairs(train[:300], dataset.labels[train[:300]], None)]
    np.testing.assert_array_equal(first_epoch, dataset.labels[train[:300]])  # unshuffled keeps the order


def test_new_arrays_reuse_the_trained_scaling_and_classes(tmp_path):
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "train.npz", x=rng.normal(10, 2, (40, 3)), y=np.array(["a", "b", "c", "d"])[np.arange(40) % 4])
    np.savez(tmp_path / "new.npz", x=rng.normal(0, 1, (6, 3)), y=np.array(["d", "b"] * 3))
    trained = load_dataset(str(tmp_path / "train.npz"))
    again = load_dataset(str(tmp_path / "new.npz"), preprocessing=trained.preprocessing)
    assert again.class_names == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(again.labels, [3, 1] * 3)
    mean, std = np.array(trained.preprocessing["mean"]), np.array(trained.preprocessing["std"])
    with np.load(tmp_path / "new.npz") as raw:
        np.testing.assert_allclose(again.loader.read(np.arange(6)), (raw["x"] - mean) / std, rtol=1e-4, atol=1e-5)
    np.savez(tmp_path / "wide.npz", x=np.zeros((4, 5)), y=np.array(["a", "b", "a", "b"]))
    with pytest.raises(DataError, match="5 features per sample; the model expects 3"):
        load_dataset(str(tmp_path / "wide.npz"), preprocessing=trained.preprocessing)
