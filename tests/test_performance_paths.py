"""The fast paths keep their promises: header-only scans, decoder choice, late skips, uint8
caches filled once and reshuffled, the available-memory budget, a CLI that checks before it
loads TensorFlow, and callbacks that copy nothing they do not need."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

import engine.data.pipeline as pipeline_module
from engine.data import load_dataset, make_pipelines
from engine.data.imagefile import PILLOW, TF_JPEG, TF_PNG, TF_PNG_ALPHA, inspect_image

ROOT = Path(__file__).resolve().parents[1]


def _noise(size=(24, 32), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _folder(root: Path, per_class=4, suffix="jpg", size=(24, 32)) -> Path:
    for k, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(_noise(size, seed=10 * k + i)).save(root / name / f"{i}.{suffix}")
    return root


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` (no real pixel data): what a bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b""))


def test_scan_reads_headers_not_pixels(tmp_path, monkeypatch):
    _folder(tmp_path / "jpg", suffix="jpg")
    _folder(tmp_path / "png", suffix="png")
    loads = []
    original = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(1) or original(self))
    for folder in ("jpg", "png"):
        dataset = load_dataset(str(tmp_path / folder))
        assert dataset.num_samples == 8 and dataset.skipped == []
    assert loads == []  # no pixel was decoded while scanning clean files


def test_each_file_gets_the_decoder_its_header_calls_for(tmp_path):
    rgb = Image.fromarray(_noise())
    exif = Image.Exif()
    exif[0x0112] = 6
    cases = {
        "plain.jpg": (rgb, {}, TF_JPEG),
        "gray.png": (rgb.convert("L"), {}, TF_PNG),
        "alpha.png": (rgb.convert("RGBA"), {}, TF_PNG_ALPHA),
        "cmyk.jpg": (rgb.convert("CMYK"), {}, PILLOW),
        "turned.jpg": (rgb, {"exif": exif.tobytes()}, PILLOW),
        "deep.png": (Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)), {}, PILLOW),
        "keyed.png": (rgb.convert("P"), {"transparency": 0}, PILLOW),
        "bitmap.bmp": (rgb, {}, PILLOW),
    }
    for name, (image, kwargs, expected) in cases.items():
        image.save(tmp_path / name, **kwargs)
        assert inspect_image(tmp_path / name).decoder == expected, name


def test_unsafe_files_are_skipped_from_the_header(tmp_path):
    _folder(tmp_path, per_class=3)
    _png_header_only(tmp_path / "cats" / "bomb.png", 12000, 12000)
    os.mkfifo(tmp_path / "dogs" / "pipe.png")  # opening it to read would block forever
    dataset = load_dataset(str(tmp_path))
    reasons = {Path(s.path).name: s.reason for s in dataset.skipped}
    assert reasons["bomb.png"].startswith("too large to decode safely (12000 x 12000")
    assert reasons["pipe.png"].startswith("not a regular file")
    assert dataset.num_samples == 6


def test_a_file_that_fails_to_decode_later_is_skipped_and_named(tmp_path):
    _folder(tmp_path, per_class=5, size=(40, 50))
    broken = tmp_path / "dogs" / "3.jpg"
    data = bytearray(broken.read_bytes())
    data[300:900] = b"\xff\xd8" * 300  # damaged in the middle; header and end marker intact
    broken.write_bytes(bytes(data))
    dataset = load_dataset(str(tmp_path))
    assert dataset.skipped == [] and dataset.num_samples == 10  # the header looked fine
    pipes = make_pipelines(dataset, batch_size=4, image_size=(16, 16), cache="memory")
    seen = sum(int(y.shape[0]) for _, y in pipes.val) + sum(int(y.shape[0]) for _, y in pipes.train)
    assert seen == 9
    assert [Path(s.path).name for s in dataset.loader.late_skips] == ["3.jpg"]


def test_memory_cache_holds_uint8_filled_once_then_reshuffled(tmp_path, monkeypatch):
    import engine.data.imagefile as imagefile

    _folder(tmp_path, per_class=12, suffix="bmp")  # BMP: decoded by Pillow, so calls can be counted
    dataset = load_dataset(str(tmp_path))
    calls = []
    original = imagefile.pillow_pixels
    monkeypatch.setattr(imagefile, "pillow_pixels", lambda *a, **k: calls.append(1) or original(*a, **k))
    import engine.data.imagedecode as imagedecode

    monkeypatch.setattr(imagedecode, "pillow_pixels", imagefile.pillow_pixels)
    pipes = make_pipelines(dataset, batch_size=4, image_size=(8, 8), cache="memory", seed=3)
    n_train = len(dataset.splits["train"])
    assert pipes.estimated_bytes == dataset.num_samples * 8 * 8 * 3  # one byte per value
    stream = iter(pipes.train_stream)
    epochs = []
    for _ in range(3):
        labels = []
        for _ in range(pipes.steps_per_epoch):
            x, y = next(stream)
            assert x.dtype.name == "float32"
            labels += y.numpy().tolist()
        epochs.append(labels)
    assert len(calls) == n_train  # decoded in the first epoch only; later epochs read the cache
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)
    assert epochs[1] != epochs[2]  # reshuffled every epoch from the cache
    first_batch = epochs[0][:4]
    assert len(set(first_batch)) > 1 or len(set(epochs[0][4:8])) > 1  # the cache was filled in a mixed order


def test_memory_budget_reads_available_memory(monkeypatch):
    monkeypatch.delenv("KILN_CACHE_MEMORY_MB", raising=False)
    assert pipeline_module.available_memory() > 0
    monkeypatch.setattr(pipeline_module, "available_memory", lambda: 8 * 2**30)
    assert pipeline_module.memory_budget() == 2 * 2**30
    monkeypatch.setenv("KILN_CACHE_MEMORY_MB", "5")
    assert pipeline_module.memory_budget() == 5 * 2**20
    assert pipeline_module.choose_cache("auto", 6 * 2**20) in ("disk", "none")


def _cli(*argv: str) -> subprocess.CompletedProcess:
    probe = (
        "import sys; from engine.cli import main; rc = main(sys.argv[1:]); "
        "print('TF_LOADED' if 'tensorflow' in sys.modules else 'TF_NOT_LOADED'); sys.exit(rc)"
    )
    return subprocess.run(
        [sys.executable, "-c", probe, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_inspect_and_bad_paths_never_load_tensorflow(tmp_path):
    _folder(tmp_path / "images", per_class=3)
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    for source in (tmp_path / "images", tmp_path / "table.csv"):
        done = _cli("inspect", "--data", str(source))
        assert done.returncode == 0, done.stderr
        assert "TF_NOT_LOADED" in done.stdout
    missing = _cli("train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert missing.returncode == 2 and "does not exist" in " ".join(missing.stderr.split())
    assert "TF_NOT_LOADED" in missing.stdout
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_epoch_time_includes_the_callbacks_after_the_batches_and_validation_is_not_rerun(tiny_config, monkeypatch):
    import time

    import keras

    from engine.events import EpochEnd, EventRecorder
    from engine.training.job import run_training

    class SlowEpochEnd(keras.callbacks.Callback):  # stands for a checkpoint that takes its time
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(0.3)

    evaluations = []
    original = keras.Model.evaluate
    monkeypatch.setattr(keras.Model, "evaluate", lambda self, *a, **k: evaluations.append(1) or original(self, *a, **k))
    recorder = EventRecorder()
    result = run_training(tiny_config, sink=recorder, callbacks=(SlowEpochEnd(),))
    assert all(event.seconds >= 0.3 for event in recorder.of_type(EpochEnd))
    # fit validates once per epoch (through evaluate); the job adds none: the last epoch's
    # validation already scored these very weights.
    assert len(evaluations) == tiny_config.train.epochs
    assert result.metrics["val_loss"] == result.history["val_loss"][-1]
