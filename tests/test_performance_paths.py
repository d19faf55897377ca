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

import kiln_lab.engine.data.pipeline as pipeline_module
from kiln_lab.engine.data import load_dataset, make_pipelines
from kiln_lab.engine.data.config import DataConfig
from kiln_lab.engine.data.imagefile import PILLOW, TF_JPEG, TF_PNG, TF_PNG_ALPHA, inspect_image

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
    import kiln_lab.engine.data.imagefile as imagefile

    _folder(tmp_path, per_class=12, suffix="bmp")  # BMP: decoded by Pillow, so calls can be counted
    dataset = load_dataset(str(tmp_path))
    calls = []
    original = imagefile.pillow_pixels
    monkeypatch.setattr(imagefile, "pillow_pixels", lambda *a, **k: calls.append(1) or original(*a, **k))
    import kiln_lab.engine.data.imagedecode as imagedecode

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
        "import sys; from kiln_lab.engine.cli import main; rc = main(sys.argv[1:]); "
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

    from kiln_lab.engine.events import EpochEnd, EventRecorder
    from kiln_lab.engine.training.job import run_training

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


def test_the_jobs_callbacks_leave_keras_its_background_batch_end(tmp_path):
    """On backends whose batch ends Keras hands to a background thread (JAX), one callback that
    defines on_train_batch_end brings that work (every batch's logs turned into Python floats,
    a device-to-host copy each) back onto the training thread; none of the job's may define one."""
    import keras
    from keras.src import utils

    from kiln_lab.engine.events import ignore_events
    from kiln_lab.engine.training.callbacks import Checkpointer, EpochLearningRate, EventReporter, NanWeightsGuard
    from kiln_lab.engine.training.control import RunControl

    reporter = EventReporter(ignore_events, RunControl(), epochs=2, steps=3)
    callbacks = [
        reporter,
        NanWeightsGuard(reporter),
        EpochLearningRate(lambda epoch: 0.1),
        Checkpointer(tmp_path, {}, 0),
        reporter.closing_callback(),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
    ]
    for callback in callbacks:
        for hook in ("on_batch_end", "on_train_batch_end", "on_test_batch_end"):
            assert utils.is_default(getattr(callback, hook)), f"{type(callback).__name__}.{hook}"


def test_every_batch_is_counted_once_and_the_epochs_last_batch_is_always_reported(tiny_config):
    from kiln_lab.engine.events import BatchEnd, EventRecorder
    from kiln_lab.engine.training.job import run_training

    recorder = EventRecorder()
    config = tiny_config.replace(train={"epochs": 2, "batch_size": 128})
    result = run_training(config, sink=recorder)
    steps = -(-len(result.dataset.splits["train"]) // 128)
    events = recorder.of_type(BatchEnd)
    for epoch in (0, 1):
        last = [e for e in events if e.epoch == epoch][-1]
        assert last.batch == steps - 1 and last.steps == steps
        assert last.global_step == (epoch + 1) * steps  # each batch counted once, in order
        assert last.logs["loss"] == result.history["loss"][epoch]  # the epoch's own figure
        assert not any(k.startswith("val_") for k in last.logs)
    assert [e.global_step for e in events] == sorted(e.global_step for e in events)


def test_checkpoints_written_in_the_background_are_complete_when_the_run_returns(tiny_config, tmp_path, monkeypatch):
    import json

    import pytest

    import kiln_lab.engine.training.checkpoint as checkpoint_module
    from kiln_lab.engine.training.checkpoint import read_checkpoint
    from kiln_lab.engine.training.job import run_training

    threads = []
    original = checkpoint_module.write_snapshot

    def recording(*args, **kwargs):
        import threading

        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "write_snapshot", recording)
    result = run_training(tiny_config.replace(train={"epochs": 3}), out_dir=tmp_path)
    assert threads and all(name.startswith("kiln-checkpoint") for name in threads)  # off the training thread
    saved = read_checkpoint(tmp_path / "checkpoint")
    assert saved is not None and saved.completed_epochs == 3
    assert saved.history["loss"] == pytest.approx(result.history["loss"])
    assert json.loads((saved.folder / "state.json").read_text())["completed_epochs"] == 3

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "write_snapshot", broken)
    with pytest.raises(OSError, match="disk full"):  # a failed background write is not lost
        run_training(tiny_config, out_dir=tmp_path / "again")


def test_per_class_figures_from_the_runs_batches_match_a_fresh_pipeline(tiny_config):
    from kiln_lab.engine.monitors.card_facts import per_class_metrics
    from kiln_lab.engine.training.job import run_training

    result = run_training(tiny_config)
    pipes = make_pipelines(result.dataset, batch_size=64, image_size=result.image_size, seed=1)
    fresh = per_class_metrics(result.model, result.dataset, "val", result.image_size)
    reused = per_class_metrics(result.model, result.dataset, "val", result.image_size, batches=pipes.val)
    assert [row["support"] for row in fresh] == [row["support"] for row in reused]
    assert sum(row["support"] for row in reused) == len(result.dataset.splits["val"])
    for a, b in zip(fresh, reused, strict=True):
        assert a["precision"] == b["precision"] and a["recall"] == b["recall"]
    assert result.record["per_class"] == reused


def test_the_image_pipeline_is_built_without_autograph(tmp_path, monkeypatch):
    """AutoGraph re-parses each function's source file (seconds before the first batch); the
    pipeline's functions are plain graph code and must not go through it."""
    from tensorflow.python.autograph.impl import api as autograph_api

    converted = []
    original = autograph_api._convert_actual
    monkeypatch.setattr(autograph_api, "_convert_actual", lambda f, *a: converted.append(f) or original(f, *a))
    dataset = load_dataset(str(_folder(tmp_path / "images")))
    pipes = make_pipelines(dataset, batch_size=4, image_size=(16, 16), cache="memory")
    x, _ = next(iter(pipes.train_stream))
    assert x.shape == (4, 16, 16, 3)
    assert converted == [], [getattr(f, "__qualname__", f) for f in converted]


def test_a_file_decodes_to_the_same_pixels_alone_or_among_other_kinds(tmp_path):
    """The decode graph holds only the decoders and JPEG scales its files need; the per-file
    switch must still send each file to its own: mixed or alone, the pixels are the same."""
    from kiln_lab.engine.data.images import ImageFileLoader

    files = []
    for i, (size, suffix) in enumerate(
        [((40, 48), "jpg"), ((200, 240), "jpg"), ((90, 100), "jpg"), ((40, 48), "png"), ((30, 30), "bmp")]
    ):
        path = tmp_path / f"{i}.{suffix}"
        Image.fromarray(_noise(size, seed=i)).save(path)
        files.append(str(path))
    rgba = tmp_path / "alpha.png"
    Image.fromarray(np.dstack([_noise((20, 20), 9), np.full((20, 20), 128, np.uint8)])).save(rgba)
    files.append(str(rgba))
    infos = [inspect_image(p) for p in files]
    assert {info.decoder for info in infos} == {PILLOW, TF_JPEG, TF_PNG, TF_PNG_ALPHA}
    size = (20, 24)
    mixed = ImageFileLoader(files, channels=3, image_size=size, infos=infos).read(np.arange(len(files)))
    for i, (path, info) in enumerate(zip(files, infos, strict=True)):
        alone = ImageFileLoader([path], channels=3, image_size=size, infos=[info]).read(np.arange(1))
        np.testing.assert_array_equal(mixed[i], alone[0], err_msg=path)
    # the JPEGs needed three different scales (1/2, 1/4, 1/8), so the mixed graph switched between them
    from kiln_lab.engine.data.imagefile import jpeg_ratio

    assert {jpeg_ratio(i.height, i.width, size) for i in infos if i.decoder == TF_JPEG} == {2, 4, 8}


def _class_picture(colour: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """Noise around one grey level: big enough files to damage in the middle, and the mean says the class."""
    noise = np.random.default_rng(seed).integers(-8, 9, (*size, 3))
    return (colour + noise).astype(np.uint8)


def test_late_failures_in_every_decode_group_are_named_once_and_labels_stay_with_their_pictures(tmp_path):
    """Files are decoded in groups (decoder, JPEG scale, resize) merged back in order. Files that
    fail in the middle of a group or at its end must each be named once, and every picture
    that survives must still arrive with its own label, in the fixed-order (cached) stream and
    in the reshuffled (uncached) one."""
    sizes = [(20, 20), (40, 44), (90, 96), (10, 12)]  # at 16x16: JPEG scales 1, 2, 4, and an enlarge
    broken: set[str] = set()
    for k, name in enumerate(("a", "b", "c")):
        folder = tmp_path / name
        folder.mkdir()
        colour = 40 + 80 * k  # each class its own flat colour, so a picture shows its class
        for i in range(10):
            size = sizes[i % len(sizes)]
            suffix = "png" if i % 5 == 4 else "jpg"
            path = folder / f"{i}.{suffix}"
            Image.fromarray(_class_picture(colour, size, seed=10 * k + i)).save(path, quality=95)
            if (k, i) in {(0, 1), (1, 9), (2, 4), (2, 5)}:  # middle and last places, JPEG and PNG
                data = bytearray(path.read_bytes())
                middle = len(data) // 2
                data[middle - 40 : middle + 40] = (b"\xff\xd8" if suffix == "jpg" else b"\x00\x13") * 40
                path.write_bytes(bytes(data))
                broken.add(f"{name}/{path.name}")
    # The only file of its group (a PNG to enlarge): no later file of the group reveals its failure.
    lone = tmp_path / "a" / "lone.png"
    Image.fromarray(_class_picture(40, (12, 10), seed=99)).save(lone)
    data = bytearray(lone.read_bytes())
    data[len(data) // 2 - 20 : len(data) // 2 + 20] = b"\x00\x13" * 20
    lone.write_bytes(bytes(data))
    broken.add("a/lone.png")
    # Pillow's route (a BMP): cut short, which its header cannot show.
    bmp = tmp_path / "b" / "cut.bmp"
    Image.fromarray(_class_picture(120, (30, 30), seed=98)).save(bmp)
    bmp.write_bytes(bmp.read_bytes()[:-900])
    broken.add("b/cut.bmp")
    for cache in ("memory", "none"):
        dataset = load_dataset(DataConfig(source=str(tmp_path), val_split=0.0, test_split=0.0))
        assert dataset.num_samples == 32 and dataset.skipped == []  # headers and end markers look fine
        pipes = make_pipelines(dataset, batch_size=4, image_size=(16, 16), cache=cache, seed=5)
        for _ in range(2):  # two passes: each failure is still named once
            seen = 0
            for x, y in pipes.train:
                for picture, label in zip(x.numpy(), y.numpy(), strict=True):
                    assert abs(float(picture.mean()) - (40 + 80 * int(label))) < 12, (cache, int(label))
                seen += int(y.shape[0])
            assert seen == 32 - len(broken), cache
        named = [Path(s.path).parent.name + "/" + Path(s.path).name for s in dataset.loader.late_skips]
        assert sorted(named) == sorted(broken), cache
        reasons = {Path(s.path).name: s.reason for s in dataset.loader.late_skips}
        assert reasons["cut.bmp"].startswith("truncated") or "image file is truncated" in reasons["cut.bmp"]
    # A broken file read last of all: no later file shows the gap, the end of the stream must.
    # (PNGs: TensorFlow's route, where only the gap check names a failure; the damage above
    # sends a JPEG to Pillow, whose route names its own failures.)
    tail = tmp_path / "tail"
    for k, name in enumerate(("x", "y")):
        (tail / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(_class_picture(60 + 80 * k, (40, 44), seed=i)).save(tail / name / f"{i}.png")
    last = tail / "y" / "1.png"
    data = bytearray(last.read_bytes())
    data[len(data) // 2 - 40 : len(data) // 2 + 40] = b"\x00\x13" * 40
    last.write_bytes(bytes(data))
    loader = load_dataset(DataConfig(source=str(tail), val_split=0.0, test_split=0.0)).loader
    assert set(loader.decoders.tolist()) == {TF_PNG}
    pixels = loader.read(np.arange(4), (16, 16))
    assert [Path(s.path).name for s in loader.late_skips] == ["1.png"]
    assert pixels[3].max() == 0 and pixels[0].max() > 0  # a file that failed reads as zeros


def test_scoring_an_image_folder_says_nothing_about_data_running_out(tmp_path):
    """An image folder's pipeline cannot promise its length (a file that fails to decode is left
    out), and Keras warns "Your input ran out of data; interrupting training" whenever such data
    ends in evaluate or predict: in a terminal that read as a failed run. The ends are expected."""
    import warnings

    import keras

    from kiln_lab.engine.analysis.split_metrics import score_split
    from kiln_lab.engine.training.job import _final_metrics

    dataset = load_dataset(DataConfig(source=str(_folder(tmp_path, per_class=6, suffix="png")), val_split=0.5))
    pipes = make_pipelines(dataset, batch_size=4, image_size=(8, 8), cache="memory")
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = _final_metrics(model, pipes, {"loss": [1.0]})
        scores = score_split(model, dataset, "val", image_size=(8, 8))
    assert "val_loss" in metrics and "loss" in scores
    assert not [w for w in caught if "ran out of data" in str(w.message)]
