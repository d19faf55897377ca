"""Image folders: formats, modes, EXIF orientation, broken files, refusals, progress and cancel."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiln_lab.engine.data import load_dataset
from kiln_lab.engine.data.imagefile import BadImage, decode_image, inspect_image
from kiln_lab.engine.data.images import default_image_size
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.events import EventRecorder, Progress


def _noise(size=(12, 16), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _folder(root: Path, classes=("cats", "dogs"), per_class=3, size=(12, 16), mode="RGB") -> Path:
    for k, name in enumerate(classes):
        for i in range(per_class):
            image = Image.fromarray(_noise(size, seed=10 * k + i))
            _save(root / name / f"{i}.png", image.convert(mode))
    return root


def test_every_format_and_mode_loads(tmp_path):
    rgb = Image.fromarray(_noise((10, 14)))
    files = {
        "a/photo.jpg": (rgb, {"quality": 95}),
        "a/plain.png": (rgb, {}),
        "a/bitmap.bmp": (rgb, {}),
        "a/anim.gif": (rgb.convert("P"), {}),
        "a/web.webp": (rgb, {"quality": 95}),
        "b/scan.tiff": (rgb, {}),
        "b/gray.png": (rgb.convert("L"), {}),
        "b/alpha.png": (rgb.convert("RGBA"), {}),
        "b/print.jpg": (rgb.convert("CMYK"), {}),
        "b/deep/nested/wide.png": (Image.fromarray(np.full((10, 14), 40000, dtype=np.uint16)), {}),
        "b/bilevel.bmp": (rgb.convert("1"), {}),
    }
    for name, (image, kwargs) in files.items():
        _save(tmp_path / name, image, **kwargs)
    dataset = load_dataset(str(tmp_path))
    assert dataset.class_names == ["a", "b"]
    assert dataset.class_counts() == {"a": 5, "b": 6}  # the nested file counts for class b
    assert dataset.skipped == []
    assert dataset.input_shape == (10, 14, 3)  # colour present -> 3 channels; median size under 64
    batch = dataset.loader.read(np.arange(dataset.num_samples))
    assert batch.shape == (11, 10, 14, 3) and batch.dtype == np.float32
    assert 0.0 <= batch.min() and batch.max() <= 255.0
    json.dumps(dataset.summary())  # the report is plain JSON
    wide = dataset.paths.index(str(tmp_path / "b/deep/nested/wide.png"))
    np.testing.assert_allclose(batch[wide], round(40000 / 257), atol=0.5)  # 16-bit scaled, not clipped


def test_grayscale_only_folder_has_one_channel(tmp_path):
    _folder(tmp_path, mode="L")
    _save(tmp_path / "cats" / "deep.png", Image.fromarray(np.full((12, 16), 65535, dtype=np.uint16)))
    dataset = load_dataset(str(tmp_path))
    assert dataset.input_shape == (12, 16, 1)
    assert dataset.preprocessing["channels"] == 1
    white = dataset.loader.read(np.array([dataset.paths.index(str(tmp_path / "cats" / "deep.png"))]))
    assert white.shape == (1, 12, 16, 1) and float(white.min()) == 255.0


def test_exif_orientation_is_applied(tmp_path):
    # Stored 20 wide x 10 high: left half red, right half blue. Orientation 6 = turn 90 degrees clockwise.
    pixels = np.zeros((10, 20, 3), dtype=np.uint8)
    pixels[:, :10, 0] = 255
    pixels[:, 10:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(tmp_path / "turned.jpg", Image.fromarray(pixels), exif=exif.tobytes(), quality=95)
    info = inspect_image(path)
    assert (info.height, info.width) == (20, 10)
    decoded = decode_image(path, channels=3)
    assert decoded.shape == (20, 10, 3)
    assert decoded[2:8, :, 0].mean() > 200 and decoded[2:8, :, 2].mean() < 60  # red on top after turning
    assert decoded[12:18, :, 2].mean() > 200 and decoded[12:18, :, 0].mean() < 60


def test_modes_are_normalised(tmp_path):
    cmyk = _save(tmp_path / "red.tiff", Image.new("CMYK", (4, 4), (0, 255, 255, 0)))
    np.testing.assert_array_equal(decode_image(cmyk, 3)[0, 0], [255, 0, 0])
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (10, 20, 30, 255))
    clear = decode_image(_save(tmp_path / "clear.png", rgba), 3)
    np.testing.assert_array_equal(clear[1, 1], [255, 255, 255])  # transparent -> white
    np.testing.assert_array_equal(clear[0, 0], [10, 20, 30])
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    np.testing.assert_array_equal(decode_image(_save(tmp_path / "p.gif", palette), 3)[2, 2], [0, 200, 0])
    gray16 = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000
    decoded = decode_image(_save(tmp_path / "g16.png", Image.fromarray(gray16)), 1)
    np.testing.assert_array_equal(decoded[..., 0], np.round(gray16 / 257).astype(np.uint8))
    assert decode_image(_save(tmp_path / "to_gray.png", Image.new("RGB", (4, 4), (255, 0, 0))), 1).shape == (4, 4, 1)
    resized = decode_image(tmp_path / "to_gray.png", 3, (6, 2))
    assert resized.shape == (6, 2, 3)


def test_broken_files_are_skipped_with_reasons(tmp_path):
    _folder(tmp_path, per_class=3)
    buffer = io.BytesIO()
    Image.fromarray(_noise((64, 64))).save(buffer, format="JPEG", quality=90)
    (tmp_path / "cats" / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (tmp_path / "cats" / "empty.png").write_bytes(b"")
    (tmp_path / "dogs" / "notes.png").write_text("these are my notes, not a picture")
    (tmp_path / "dogs" / "readme.txt").write_text("ignored by its name")
    dataset = load_dataset(str(tmp_path))
    reasons = {Path(s.path).name: s.reason for s in dataset.skipped}
    assert set(reasons) == {"cut.jpg", "empty.png", "notes.png"}
    assert reasons["cut.jpg"].startswith("truncated")
    assert reasons["empty.png"].startswith("zero bytes")
    assert reasons["notes.png"].startswith("not an image")
    assert dataset.class_counts() == {"cats": 3, "dogs": 3}
    assert any("3 file(s) skipped" in p and "cats/cut.jpg" in p for p in dataset.problems)
    assert any("not images by their name" in p for p in dataset.problems)
    assert dataset.summary()["skipped"][0].keys() == {"path", "reason"}


def test_bad_image_reason_for_direct_inspection(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    with pytest.raises(BadImage) as caught:
        inspect_image(tmp_path / "x.png")
    assert caught.value.reason


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("missing", "does not exist"),
        ("no_classes", "no class subfolders"),
        ("one_class", "one class only"),
        ("all_broken", "could be read"),
    ],
)
def test_unusable_folders_are_refused(tmp_path, layout, message):
    root = tmp_path / "data"
    root.mkdir()
    if layout == "missing":
        root = tmp_path / "nowhere"
    elif layout == "no_classes":
        _save(root / "loose.png", Image.new("RGB", (4, 4)))
    elif layout == "one_class":
        _folder(root, classes=("only",))
    elif layout == "all_broken":
        for name in ("a", "b"):
            (root / name).mkdir()
            (root / name / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(DataError) as caught:
        load_dataset(str(root))
    assert message in caught.value.sentence
    assert caught.value.hint  # every refusal says what to do


def test_a_single_broken_image_is_named_as_broken(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DataError, match="photo.png is a broken image") as caught:
        load_dataset(str(path))
    assert caught.value.items == ((str(path), "not an image (Pillow does not recognise the contents)"),)


def test_unknown_file_type_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"1234")
    with pytest.raises(DataError, match="not a data file type"):
        load_dataset(str(path))


def test_scan_reports_progress(tmp_path):
    _folder(tmp_path, per_class=4)
    events = EventRecorder()
    load_dataset(str(tmp_path), progress=events)
    progress = events.of_type(Progress)
    assert progress[0] == Progress(task="scan", done=0, total=8, message=progress[0].message)
    assert progress[-1].done == progress[-1].total == 8
    assert all(p.task == "scan" for p in progress)


def test_scan_can_be_cancelled_midway(tmp_path, monkeypatch):
    import kiln_lab.engine.data.images as images

    _folder(tmp_path, per_class=300, size=(8, 8))
    cancel = threading.Event()
    inspected = []
    original = images._inspect

    def inspect_then_cancel(path):
        inspected.append(path)
        if len(inspected) == 10:
            cancel.set()  # as the GUI's Cancel button would, from another thread
        return original(path)

    monkeypatch.setattr(images, "_inspect", inspect_then_cancel)
    with pytest.raises(DataError, match="Scanning was cancelled"):
        load_dataset(str(tmp_path), cancel=cancel)
    assert len(inspected) < 600  # stopped within the first window of files
    with pytest.raises(DataError, match="Scanning was cancelled"):
        load_dataset("demo:digits", cancel=cancel)


def test_default_image_size_is_median_capped_at_64():
    assert default_image_size([(10, 20), (12, 20), (30, 40)]) == (12, 20)
    assert default_image_size([(480, 640), (480, 640), (100, 100)]) == (48, 64)


def test_decode_matches_between_loader_and_tf_pipeline(tmp_path):
    _folder(tmp_path, per_class=2, size=(30, 40))
    dataset = load_dataset(str(tmp_path))
    indices = dataset.splits["train"]
    numpy_batch = dataset.loader.read(indices, (15, 20))
    tf_batch = np.stack([x.numpy() for x in dataset.loader.tf_dataset(indices, (15, 20))])
    np.testing.assert_array_equal(numpy_batch, tf_batch)
    assert tf_batch.shape == (len(indices), 15, 20, 3)


def test_new_folder_uses_the_trained_channels_size_and_classes(tmp_path):
    trained = load_dataset(str(_folder(tmp_path / "train", classes=("cats", "dogs", "owls"), mode="L")))
    fresh = _folder(tmp_path / "new", classes=("dogs", "owls"), size=(30, 30))  # colour files, other size
    dataset = load_dataset(str(fresh), preprocessing=trained.preprocessing)
    assert dataset.input_shape == (12, 16, 1)
    assert dataset.class_names == ["cats", "dogs", "owls"]
    assert sorted(set(dataset.labels.tolist())) == [1, 2]
    assert dataset.loader.read(np.array([0])).shape == (1, 12, 16, 1)
    one_class = _folder(tmp_path / "owls_only", classes=("owls",))
    assert load_dataset(str(one_class), preprocessing=trained.preprocessing).class_counts()["owls"] == 3


def test_links_to_images_outside_the_folder_are_skipped_not_read(tmp_path):
    """Kiln reads only what lies in the folder named; a link inside it to elsewhere is named as skipped."""
    root = _folder(tmp_path / "data")
    secret = _save(tmp_path / "elsewhere" / "secret.png", Image.fromarray(_noise(seed=9)))
    (root / "cats" / "innocent.png").symlink_to(secret)
    (root / "dogs" / "alias.png").symlink_to(root / "cats" / "0.png")  # inside the folder: followed
    (root / "birds").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # a class folder elsewhere
    dataset = load_dataset(str(root))
    assert str(secret) not in dataset.paths and str(root / "cats" / "innocent.png") not in dataset.paths
    assert str(root / "dogs" / "alias.png") in dataset.paths
    skipped = {Path(item.path).name: item.reason for item in dataset.skipped}
    assert skipped["innocent.png"] == skipped["secret.png"] == "a link to a file outside the data folder, not read"
    assert dataset.class_names == ["cats", "dogs"]
    assert any("outside the data folder" in problem for problem in dataset.problems)


@pytest.mark.parametrize("delay", [0.0, 0.002])
def test_the_scan_reads_in_one_thread_from_memory_and_in_many_when_reads_wait(tmp_path, monkeypatch, delay):
    """Headers in the page cache are read in the calling thread (threads only queue on the GIL);
    reads that wait (a slow disk, a network share: here a 2 ms sleep) go to a pool after the
    first few files. Either way the results come back in the files' order."""
    import time

    import kiln_lab.engine.data.images as images

    _folder(tmp_path, per_class=60, size=(8, 8))
    threads: list[str] = []
    original = images._inspect

    def inspect(path):
        threads.append(threading.current_thread().name)
        time.sleep(delay)
        return original(path)

    monkeypatch.setattr(images, "_inspect", inspect)
    monkeypatch.setattr(images, "SLOW_FILE_S", 0.001)  # between the two cases, whatever the machine
    dataset = load_dataset(str(tmp_path))
    assert dataset.num_samples == 120
    expected = [str(tmp_path / c / name) for c in ("cats", "dogs") for name in sorted(os.listdir(tmp_path / c))]
    assert dataset.paths == expected
    pooled = [name for name in threads if name.startswith("kiln-scan")]
    if delay:
        assert threads[: images._PROBE] == [threading.current_thread().name] * images._PROBE
        assert len(pooled) == 120 - images._PROBE
    else:
        assert pooled == []


def test_a_second_scan_of_an_unchanged_folder_reads_no_header_again(tmp_path, monkeypatch):
    """The Data page scans a folder, then the training run scans it again in the same engine
    process: unchanged files are not read twice; a file changed in between is."""
    import kiln_lab.engine.data.images as images

    _folder(tmp_path, per_class=3)
    read: list[str] = []
    original = images.inspect_image
    def counted(path, *rest):
        read.append(Path(path).name)
        return original(path, *rest)

    monkeypatch.setattr(images, "inspect_image", counted)
    first = load_dataset(str(tmp_path))
    assert len(read) == 6
    read.clear()
    changed = tmp_path / "cats" / "1.png"
    Image.fromarray(_noise((30, 20), seed=5)).save(changed)  # new size: the first scan's facts are stale
    second = load_dataset(str(tmp_path))
    assert read == ["1.png"]
    index = second.paths.index(str(changed))
    assert (second.loader.heights[index], second.loader.widths[index]) == (30, 20)
    assert first.paths == second.paths
