"""The live preview: each epoch, the current model's predictions on the same few samples."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kiln_lab.engine.events import EpochEnd, EventRecorder, PreviewPredictions
from kiln_lab.engine.training.control import RunControl
from kiln_lab.engine.training.job import run_training
from kiln_lab.engine.worker import protocol


def test_each_epoch_previews_the_same_samples_spread_over_classes(tiny_config) -> None:
    recorder = EventRecorder()
    result = run_training(tiny_config.replace(train={"epochs": 3}), sink=recorder)
    previews = recorder.of_type(PreviewPredictions)
    assert [p.epoch for p in previews] == [0, 1, 2]
    # Each preview follows its own epoch's event, so it reads as that epoch's.
    order = [(type(e).__name__, e.epoch) for e in recorder.events if isinstance(e, (EpochEnd, PreviewPredictions))]
    assert order == [("EpochEnd", 0), ("PreviewPredictions", 0), ("EpochEnd", 1), ("PreviewPredictions", 1),
                     ("EpochEnd", 2), ("PreviewPredictions", 2)]
    indices = [s["index"] for s in previews[0].samples]
    assert len(indices) == 8 and all([s["index"] for s in p.samples] == indices for p in previews)
    dataset = result.dataset
    assert set(indices) <= set(dataset.splits["val"].tolist())
    assert len({s["true"] for s in previews[0].samples}) == 8, "one sample of each of 8 classes"
    # The last preview is the final model's prediction on those samples.
    outputs = result.model.predict(dataset.loader.read(np.asarray(indices)), verbose=0)
    last = previews[-1].samples
    assert [s["predicted"] for s in last] == [dataset.class_names[k] for k in outputs.argmax(axis=1)]
    assert [s["confidence"] for s in last] == pytest.approx(outputs.max(axis=1).tolist(), abs=1e-5)
    assert [s["right"] for s in last] == [s["true"] == s["predicted"] for s in last]
    images = previews[0].images
    assert images.dtype == np.uint8 and images.shape[:3] == (8, 8, 8)
    # It crosses the process boundary as a plain value (the worker's allow-list).
    back = protocol.loads(protocol.dumps({"op": "event", "event": previews[-1]}))["event"]
    assert back.samples == last and np.array_equal(back.images, images)


@pytest.mark.slow
def test_a_resumed_run_previews_the_same_samples(tiny_config, tmp_path) -> None:
    control = RunControl()
    first = EventRecorder()

    def stop_after_first_epoch(event) -> None:
        first(event)
        if isinstance(event, EpochEnd):
            control.stop()

    config = tiny_config.replace(train={"epochs": 3})
    run_training(config, sink=stop_after_first_epoch, control=control, out_dir=tmp_path)
    resumed = EventRecorder()
    run_training(config, sink=resumed, out_dir=tmp_path, resume=True)
    before, after = first.of_type(PreviewPredictions), resumed.of_type(PreviewPredictions)
    assert [p.epoch for p in after] == [1, 2]
    assert [s["index"] for s in after[0].samples] == [s["index"] for s in before[0].samples]


@pytest.mark.slow
def test_a_table_regression_previews_rows_with_true_and_predicted_values(tiny_config) -> None:
    recorder = EventRecorder()
    config = tiny_config.replace(data={"source": "demo:housing"}, train={"epochs": 1})
    result = run_training(config, sink=recorder)
    (preview,) = recorder.of_type(PreviewPredictions)
    assert preview.task == "regression" and preview.images is None and len(preview.samples) == 5
    sample = preview.samples[0]
    assert sample["true"] == pytest.approx(float(result.dataset.labels[sample["index"]]))
    assert isinstance(sample["predicted"], float) and sample["right"] is None
    # The row shows the table's own columns, decoded back from the model's encoding.
    header = json.dumps(result.dataset.preprocessing["header"])
    assert sample["values"] and all(name in header for name, _text in sample["values"])


def test_nobody_listening_means_no_preview_work(tiny_config, monkeypatch) -> None:
    from kiln_lab.engine.training import preview

    made = []
    monkeypatch.setattr(preview.LivePreview, "__init__", lambda self, *a, **k: made.append(1) or None)
    run_training(tiny_config.replace(train={"epochs": 1}))
    assert made == []


def test_a_terminal_run_makes_no_preview_but_a_listener_that_shows_one_does(tiny_config, monkeypatch) -> None:
    """The CLI's progress shows no preview pane: its run skips the per-epoch predictions (issue 22)."""
    import io

    from kiln_lab.engine.events import sink_takes
    from kiln_lab.engine.training import preview
    from kiln_lab.engine.training.progress import TerminalProgress

    made = []
    original = preview.LivePreview.__init__
    monkeypatch.setattr(
        preview.LivePreview, "__init__", lambda self, *a, **k: made.append(1) or original(self, *a, **k)
    )
    terminal = TerminalProgress(io.StringIO())
    assert not sink_takes(terminal, PreviewPredictions) and sink_takes(terminal, EpochEnd)
    run_training(tiny_config.replace(train={"epochs": 1}), sink=terminal)
    assert made == [] and "epoch 1/1" in terminal.stream.getvalue()
    recorder = EventRecorder()
    run_training(tiny_config.replace(train={"epochs": 1}), sink=recorder)
    assert made == [1] and len(recorder.of_type(PreviewPredictions)) == 1


@pytest.mark.slow
def test_both_fine_tuning_phases_preview_the_same_samples_at_the_backbones_size() -> None:
    from kiln_lab.engine.events import PhaseStarted
    from kiln_lab.engine.training.config import RunConfig

    config = RunConfig().replace(
        model={"kind": "finetune", "backbone": "demo", "two_phase": True},
        train={"epochs": 2, "batch_size": 64, "checkpoint": False, "forgetting_monitor": False},
    )
    recorder = EventRecorder()
    run_training(config, sink=recorder)
    assert [e.name for e in recorder.of_type(PhaseStarted)] == ["head", "fine-tune"]
    previews = recorder.of_type(PreviewPredictions)
    assert [p.epoch for p in previews] == [0, 1]  # one per epoch, in each phase
    assert [s["index"] for s in previews[0].samples] == [s["index"] for s in previews[1].samples]
    # Read once at the model's input size (32x32 for the demo backbone), sent small.
    assert previews[0].images.shape[1:3] == (32, 32) and previews[0].images.dtype == np.uint8
