"""Every run folder holds Keras's CSV log; Python callers pass their own callbacks through the job."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from kiln_lab.engine.training.job import TRAINING_LOG, run_training


def test_every_run_folder_holds_a_csv_log_of_its_epochs(tiny_config, tmp_path) -> None:
    result = run_training(tiny_config.replace(train={"epochs": 3, "checkpoint": False}), out_dir=tmp_path / "run")
    rows = list(csv.DictReader((tmp_path / "run" / TRAINING_LOG).open()))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert [float(row["val_loss"]) for row in rows] == pytest.approx(result.history["val_loss"], rel=1e-5)
    card = json.loads((tmp_path / "run" / "model_card.json").read_text())
    assert card["files"][TRAINING_LOG] == hashlib.sha256((tmp_path / "run" / TRAINING_LOG).read_bytes()).hexdigest()


@pytest.mark.slow
def test_own_callbacks_see_every_epoch_of_a_two_phase_run_and_the_log_continues(tmp_path) -> None:
    import keras

    from tests.backbone_fixtures import finetune_config, image_dataset

    class Seen(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs: list[int] = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(epoch)

    seen = Seen()
    config = finetune_config("demo", two_phase=True).replace(train={"epochs": 4, "checkpoint": False})
    run_training(config, dataset=image_dataset(n=48, size=16), out_dir=tmp_path / "run", callbacks=(seen,))
    assert seen.epochs == [0, 1, 2, 3]  # one instance, both phases, counted from the run's start
    rows = list(csv.DictReader((tmp_path / "run" / TRAINING_LOG).open()))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3]
