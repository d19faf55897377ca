"""Render every page with real data to PNG: ``python -m kiln_lab.gui.screenshots OUTDIR``.

Drives the real window through the demo datasets (digits for images, housing for a
regression table): scan, build, train a few epochs, evaluate, and grabs each page at
1280x800. Used to review the look, and by the docs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

SIZE = (1280, 800)


def wait_until(condition: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
    """Process events until ``condition()`` holds; raise TimeoutError after ``timeout`` seconds."""
    app = QApplication.instance()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or 'the window'}")
        app.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.instance().processEvents()
        time.sleep(0.01)


def grab(widget: QWidget, path: Path) -> Path:
    settle()
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    print(path)
    return path


def make_picture_folder(root: Path, per_class: int = 40) -> Path:
    """A folder of PNGs, one sub-folder per class, from the generated shapes demo, plus two bad files
    (written by the engine process: the window's process holds no demo generator)."""
    from kiln_lab.gui.engine_link import Call, shared_link

    task = shared_link().submit(Call.of("write_shapes_folder", root=str(root), per_class=per_class))
    written: list[str] = []
    task.result.connect(written.append)
    task.start().wait(120_000)
    if not written:
        raise RuntimeError(f"the engine did not write the picture folder {root}")
    return Path(written[0])


def engine_result(call: object, timeout_ms: int = 120_000) -> object:
    """Run one front-door call in the window's engine process and wait for its result."""
    from kiln_lab.gui.engine_link import shared_link

    task = shared_link().submit(call)
    got: list[object] = []
    task.result.connect(got.append)
    task.start().wait(timeout_ms)
    if not got:
        raise RuntimeError(f"the engine gave no result for {call}")
    return got[0]


def render_all(out_dir: Path, *, epochs: int = 4) -> list[Path]:
    from kiln_lab.gui import theme
    from kiln_lab.gui.app import create_window
    from kiln_lab.gui.settings import AppSettings

    out_dir.mkdir(parents=True, exist_ok=True)
    scratch_dir = Path(tempfile.mkdtemp(prefix="kiln-screens-"))
    settings = AppSettings(str(scratch_dir / "settings.ini"))
    settings.set_theme("light")
    window = create_window(settings, runs_folder=str(scratch_dir / "runs"))
    window.resize(*SIZE)
    window.show()
    window.load_engine()
    shots: list[Path] = []
    shots.append(grab(window, out_dir / "01-start.png"))
    wait_until(lambda: window.session.engine is not None, 180, "TensorFlow")

    # Data: digits, with augmentation switched on to show the preview.
    window.open_dataset("demo:digits")
    wait_until(lambda: window.session.dataset is not None, 60, "the digits scan")
    page = window.data_page
    page.view.augment.rotation_spin.setValue(0.08)
    page.view.augment.zoom_spin.setValue(0.15)
    page.view.augment.refresh_preview()
    wait_until(lambda: page.view.augment.preview.count > 0, 60, "the augmentation preview")
    wait_until(lambda: page.view.samples.thumbnails.rows > 0, 30, "thumbnails")
    shots.append(grab(window, out_dir / "02-data-images.png"))
    page.view.augment.rotation_spin.setValue(0.0)
    page.view.augment.zoom_spin.setValue(0.0)

    # An image folder with a few broken files: the kind, classes and the problems list.
    folder = make_picture_folder(scratch_dir / "shapes")
    window.open_dataset(str(folder))
    wait_until(
        lambda: window.session.dataset is not None and window.session.dataset.source == str(folder),
        60,
        "the folder scan",
    )
    wait_until(lambda: page.view.samples.thumbnails.rows > 0, 30, "folder thumbnails")
    shots.append(grab(window, out_dir / "02b-data-folder.png"))
    window.open_dataset("demo:digits")
    wait_until(lambda: window.session.dataset.source == "demo:digits", 60, "the digits scan")

    # Model: from scratch (a small CNN), parameters counted.
    window.go_to("model")
    model_page = window.model_page
    model_page.scratch.preset_combo.setCurrentIndex(model_page.scratch.preset_combo.findData("cnn"))
    model_page.scratch.width_spin.setValue(16)
    worker = model_page.count_parameters()
    wait_until(
        lambda: worker is not None and not worker.running and "parameters" in model_page.params_label.text(),
        60,
        "the parameter count",
    )
    shots.append(grab(window, out_dir / "03-model-scratch.png"))

    # Train twice (the second run overlays the first): live plots, log.
    window.session.update(train={"epochs": epochs})
    window.train_page.show_config(window.session.config)
    window.go_to("train")
    for _ in range(2):
        window.start_training()
        wait_until(lambda: not window.train_page.running, 300, "training")
        window.train_page.lr_spin.setValue(window.train_page.lr_spin.value() * 3)
    shots.append(grab(window, out_dir / "04-train.png"))

    window.go_to("evaluate")
    wait_until(lambda: window.session.evaluation is not None, 60, "evaluation")
    from kiln_lab.gui.engine_link import Call

    index = int(window.session.dataset.splits["val"][5])
    sample = np.asarray(engine_result(Call.of("read_samples", data=window.session.config.data, indices=[index])))[0]
    window.evaluate_page.try_array(sample)
    wait_until(lambda: bool(window.evaluate_page.try_it.bars.predictions), 30, "a prediction")
    table = window.evaluate_page.split_table  # the training / validation / test table scores in its own task
    wait_until(lambda: table.result is not None or not table.slot.running, 120, "the split table")
    shots.append(grab(window, out_dir / "05-evaluate-classification.png"))

    window.go_to("export")
    shots.append(grab(window, out_dir / "06-export.png"))

    # Fine-tuning the demo backbone.
    window.go_to("model")
    model_page.use_backbone("demo")
    worker = model_page.count_parameters()
    wait_until(lambda: worker is not None and not worker.running, 120, "the fine-tuned model")
    shots.append(grab(window, out_dir / "07-model-finetune.png"))

    # Compare both: the scratch recipe (a small CNN) against the fine-tuned demo backbone, on 30% and all the data.
    model_page.scratch.preset_combo.setCurrentIndex(model_page.scratch.preset_combo.findData("cnn"))
    model_page.scratch.width_spin.setValue(16)
    window.go_to("model")
    dialog = model_page.compare_both()
    for fraction, check in dialog.checks.items():
        check.setChecked(fraction in (0.3, 1.0))
    dialog.accept()
    wait_until(lambda: not window.train_page.running, 600, "the comparison")
    compare_dialog = window.train_page.compare_dialog
    shots.append(grab(compare_dialog, out_dir / "12-compare.png"))
    shots.append(grab(window, out_dir / "12b-compare-train.png"))
    compare_dialog.close()

    # A regression table: housing.
    window.open_dataset("demo:housing")
    wait_until(
        lambda: window.session.dataset is not None and window.session.dataset.source == "demo:housing",
        60,
        "the housing scan",
    )
    settle(0.5)
    shots.append(grab(window, out_dir / "08-data-table.png"))
    model_page.scratch.radio.setChecked(True)
    model_page.scratch.preset_combo.setCurrentIndex(model_page.scratch.preset_combo.findData("mlp"))
    window.session.update(train={"epochs": max(epochs * 5, 20), "learning_rate": 1e-2})
    window.train_page.show_config(window.session.config)
    window.train_page.clear_overlays()
    window.start_training()
    wait_until(lambda: not window.train_page.running, 300, "regression training")
    window.go_to("evaluate")
    wait_until(lambda: window.session.evaluation is not None, 60, "regression evaluation")
    table = window.evaluate_page.split_table  # the training / validation / test table scores in its own task
    wait_until(lambda: table.result is not None or not table.slot.running, 120, "the split table")
    shots.append(grab(window, out_dir / "09-evaluate-regression.png"))

    # The runs library: every run of this session (and the comparison) kept on disk.
    window.go_to("runs")
    shots.append(grab(window, out_dir / "13-runs.png"))

    # Dark theme, and what a failure looks like.
    window.go_to("train")
    theme.apply_theme(QApplication.instance(), "dark")
    shots.append(grab(window, out_dir / "10-train-dark.png"))
    theme.apply_theme(QApplication.instance(), "light")
    from kiln_lab.gui.workers import WorkerError

    dialog = window.show_failure(
        "Cannot use this data",
        WorkerError(
            "3 files skipped: truncated JPEG in cats/img_12.jpg, zero bytes in dogs/d_3.png, and 1 more; "
            "and the folder 'birds' holds no images, so Kiln cannot train on it.",
            "Traceback (most recent call last): ...",
            True,
            "DataError",
        ),
    )
    settle()
    shots.append(grab(dialog, out_dir / "11-error-dialog.png"))
    dialog.close()
    window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m kiln_lab.gui.screenshots OUTDIR", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Kiln")
    render_all(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
