"""Checkpoints and resume: one atomic unit per epoch, the full history, no code from the run folder.

After an interruption at any epoch, ``--resume`` must end with the history of an
uninterrupted run, the optimizer must go on from its saved state, and nothing in the run
folder (a planted ``last.keras`` with a Lambda, say) may run.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from kiln_lab.engine.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _tiny_model(*, compiled: bool = True):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    if compiled:
        _compile(model)
    return model


def _compile(model) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")


def _arrays(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return x, y


@pytest.fixture
def npz_data(tmp_path: Path) -> Path:
    x, y = _arrays()
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y)
    return path


def _config(data: Path, epochs: int = 4):
    from kiln_lab.engine.training.config import RunConfig

    return RunConfig().replace(
        data={"source": str(data)},
        model={"arch": "mlp", "depth": 1, "width": 8},
        train={"epochs": epochs, "batch_size": 32, "learning_rate": 0.01},
    )


def _planted_lambda(path: Path, marker: Path) -> None:
    """What an attacker would leave in a run folder: a whole model whose Lambda writes ``marker``."""
    import keras

    def touch(x, _marker=str(marker)):
        open(_marker, "w").write("ran")  # noqa: SIM115
        return x

    keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: touch(x))]).save(path)
    marker.unlink(missing_ok=True)


# -- the checkpoint unit ----------------------------------------------------------------------


def test_checkpoint_round_trip_restores_weights_and_optimizer_state(tmp_path: Path) -> None:
    from kiln_lab.engine.training.checkpoint import (
        read_checkpoint,
        restore_optimizer,
        restore_weights,
        write_checkpoint,
    )

    x, y = _arrays()
    model = _tiny_model()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    history = {"loss": [1.5, 1.2]}
    write_checkpoint(tmp_path, model, {"completed_epochs": 2, "phase_index": 0, "history": history, "config": None})

    checkpoint = read_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.completed_epochs == 2 and checkpoint.history == history
    fresh = _tiny_model(compiled=False)  # as resume does: rebuild, load the weights, compile, restore
    restore_weights(fresh, checkpoint)
    _compile(fresh)
    restore_optimizer(fresh, checkpoint)
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 3
    for saved, restored in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))
    for saved, restored in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))


def test_half_written_checkpoints_and_planted_files_are_never_read(tmp_path: Path) -> None:
    from kiln_lab.engine.training.checkpoint import read_checkpoint, write_checkpoint

    model = _tiny_model()
    write_checkpoint(tmp_path, model, {"completed_epochs": 1, "phase_index": 0, "history": {"loss": [1.0]}})
    half = tmp_path / ".epoch-2.tmp-999999999"  # a save killed mid-way by a process now gone
    half.mkdir()
    (half / "state.json").write_text('{"format": 2, "completed_epochs": 2}')
    _planted_lambda(tmp_path / "last.keras", tmp_path / "marker")
    (tmp_path / "state.json").write_text('{"completed_epochs": 9, "phase_index": 0, "history": {}}')
    assert read_checkpoint(tmp_path).completed_epochs == 1

    write_checkpoint(tmp_path, model, {"completed_epochs": 2, "phase_index": 0, "history": {"loss": [1.0, 0.9]}})
    names = {p.name for p in tmp_path.iterdir()}
    assert "epoch-0002" in names and "epoch-0001" not in names and half.name not in names
    assert read_checkpoint(tmp_path).history == {"loss": [1.0, 0.9]}


def test_resume_only_under_the_checkpoints_own_config(tmp_path: Path) -> None:
    from kiln_lab.engine.errors import ConfigError
    from kiln_lab.engine.training.checkpoint import Checkpoint, check_resume_config
    from kiln_lab.engine.training.config import RunConfig

    saved = RunConfig().replace(name="a").to_dict()
    checkpoint = Checkpoint(folder=tmp_path / "checkpoint" / "epoch-0002", completed_epochs=2, phase_index=0,
                            history={}, config=saved)
    check_resume_config(checkpoint, RunConfig().replace(name="b").to_dict())  # the name follows the folder
    check_resume_config(checkpoint, RunConfig().replace(train={"epochs": 20}).to_dict())  # train for longer
    with pytest.raises(ConfigError, match=r"model\.arch"):
        check_resume_config(checkpoint, RunConfig().replace(model={"arch": "cnn"}).to_dict())
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        check_resume_config(checkpoint, RunConfig().replace(train={"epochs": 1}).to_dict())


def test_a_folder_holding_another_run_is_left_as_it_was(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.toml").write_text("# the earlier run's config\n")
    assert main(["train", "--data", "demo:digits", "--out", str(out)]) == 2
    assert "already holds another run" in " ".join(capsys.readouterr().err.split())  # wrapped at any width
    assert main(["train", "--data", "demo:digits", "--out", str(out), "--overwrite", "--dropout", "1.5"]) == 2
    assert (out / "config.toml").read_text() == "# the earlier run's config\n"
    assert sorted(p.name for p in out.iterdir()) == ["config.toml"]


# -- whole runs ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_full_history_without_running_folder_code(
    npz_data: Path, tmp_path: Path, capsys
) -> None:
    import keras

    from kiln_lab.engine.training.job import run_training

    class StopAfterTwo(keras.callbacks.Callback):  # an interruption after epoch 2 of 4
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    out = tmp_path / "run"
    config = _config(npz_data)
    first = run_training(config, out_dir=out, callbacks=(StopAfterTwo(),))
    steps = int(first.model.optimizer.iterations.numpy()) // 2
    state = json.loads((out / "checkpoint" / "epoch-0002" / "state.json").read_text())
    assert state["completed_epochs"] == 2 and all(len(v) == 2 for v in state["history"].values())

    marker = tmp_path / "marker"
    _planted_lambda(out / "checkpoint" / "last.keras", marker)
    # a resume under another config is refused with a sentence, and the folder stays as it was
    before = sorted(p.name for p in out.rglob("*"))
    assert main(["train", "--resume", "--out", str(out), "--learning-rate", "0.5"]) == 2
    assert "different config" in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in out.rglob("*")) == before

    log = out / "training_log.csv"
    with log.open("a") as handle:  # epoch 3 had begun logging when the process died
        handle.write("2," + ",".join(["0.5"] * (len(log.read_text().splitlines()[0].split(",")) - 1)) + "\n")
    resumed = run_training(config, out_dir=out, resume=True)
    assert {k: len(v) for k, v in resumed.history.items()} == {k: 4 for k in first.history}
    rows = list(csv.DictReader(log.open()))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3]  # each epoch once, across the resume
    assert [float(row["loss"]) for row in rows] == pytest.approx(resumed.history["loss"], rel=1e-5)
    assert resumed.history["loss"][:2] == pytest.approx(first.history["loss"])
    assert int(resumed.model.optimizer.iterations.numpy()) == 4 * steps  # the optimizer went on
    saved = json.loads((out / "history.json").read_text())
    assert all(len(v) == 4 for v in saved.values())
    assert not marker.exists()


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_ends_with_every_epoch(npz_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _config(npz_data).save(tmp_path / "run.toml")
    script = textwrap.dedent(
        f"""
        import os, signal, keras
        from kiln_lab.engine.training.config import RunConfig
        from kiln_lab.engine.training.job import run_training

        class Kill(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    os.kill(os.getpid(), signal.SIGKILL)

        run_training(RunConfig.load({str(tmp_path / "run.toml")!r}), out_dir={str(out)!r}, callbacks=(Kill(),))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=300, env=os.environ)
    assert done.returncode == -signal.SIGKILL
    assert not (out / "history.json").exists()
    assert main(["train", "--resume", "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    assert {len(v) for v in history.values()} == {4}


@pytest.mark.slow
def test_a_run_that_diverges_exits_2_and_keeps_strict_json(npz_data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train", "--data", str(npz_data), "--out", str(out), "--arch", "mlp", "--width", "8",
                 "--depth", "1", "--optimizer", "sgd", "--learning-rate", "1e6", "--epochs", "3"])
    assert code == 2
    assert "finite" in capsys.readouterr().err
    for name in ("run.json", "history.json"):
        json.loads((out / name).read_text(), parse_constant=lambda c, n=name: pytest.fail(f"bare {c} in {n}"))
    assert (out / "model.keras").exists()  # the last finite weights were kept


def test_a_resumed_run_keeps_the_patience_early_stopping_and_plateau_had_used_up():
    """The same monitored values, fed once without a break and once split by a resume, end
    training at the same epoch and lower the rate at the same epoch."""
    import keras

    from kiln_lab.engine.training.callbacks import ResumedWatchers

    values = [1.0, 0.8, 0.9, 0.95, 0.97, 0.99]  # best at epoch 2 (1-based), then no improvement
    cut = 4  # interrupted after 4 epochs

    def watchers():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)
        plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2, factor=0.5, min_lr=1e-6)
        for callback in (early, plateau):
            callback.set_model(model)
            callback.on_train_begin()
        return model, early, plateau

    def run(model, early, plateau, epochs):
        stopped_at, rates = None, []
        for epoch in epochs:
            for callback in (early, plateau):
                callback.on_epoch_end(epoch, {"val_loss": values[epoch]})
            rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
            if model.stop_training and stopped_at is None:
                stopped_at = epoch
        return stopped_at, rates

    whole = run(*watchers(), range(len(values)))
    model, early, plateau = watchers()
    first = run(model, early, plateau, range(cut))
    # The resume: new callbacks (state reset), the rate back from the optimizer's variables.
    model, early, plateau = watchers()
    model.optimizer.learning_rate.assign(first[1][-1])
    resumed = ResumedWatchers([plateau, early], {"val_loss": values[:cut]})
    resumed.set_model(model)
    resumed.on_train_begin()
    second = run(model, early, plateau, range(cut, len(values)))
    assert whole[0] is not None and second[0] == whole[0]  # stops at the same epoch
    assert first[1] + second[1] == whole[1]  # the rate drops at the same epochs
    # Without the replay the resumed run would have waited its full patience again.
    model, early, plateau = watchers()
    assert run(model, early, plateau, range(cut, len(values)))[0] is None


@pytest.mark.slow
def test_a_run_killed_after_its_last_checkpoint_resumes_to_a_saved_model(npz_data: Path, tmp_path: Path) -> None:
    """kill -9 after the last epoch's checkpoint, before model.keras: --resume writes the model from it."""
    from kiln_lab.engine.training.job import run_training

    out = tmp_path / "run"
    first = run_training(_config(npz_data, epochs=2), out_dir=out)
    for name in ("model.keras", "run.json", "history.json", "model_card.md", "model_card.json"):
        (out / name).unlink(missing_ok=True)  # what a kill between the checkpoint and the save leaves
    assert main(["train", "--resume", "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["loss"] == pytest.approx(first.history["loss"])
    assert (out / "model.keras").is_file() and (out / "run.json").is_file()
    import keras

    saved = keras.saving.load_model(out / "model.keras")
    for mine, theirs in zip(first.model.weights, saved.weights):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs))


def _saved_checkpoint(root: Path) -> Path:
    from kiln_lab.engine.training.checkpoint import write_checkpoint

    model = _tiny_model()
    model.fit(*_arrays(), batch_size=32, epochs=1, verbose=0)
    history = {"loss": [1.0, 0.9], "accuracy": [0.5, 0.6]}
    return write_checkpoint(root, model, {"completed_epochs": 2, "phase_index": 0, "history": history})


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda s: {**s, "completed_epochs": -3}, "completed_epochs"),
        (lambda s: {**s, "completed_epochs": 9}, "completed_epochs"),
        (lambda s: {**s, "phase_index": -1}, "phase_index"),
        (lambda s: {**s, "history": {"loss": [1.0], "accuracy": [0.5]}}, "history of 'loss'"),
        (lambda s: {**s, "history": {"loss": [1.0, 0.9], "accuracy": [0.5, 0.6, 0.7]}}, "history of 'accuracy'"),
        (lambda s: {**s, "history": {"loss": ["x", 0.9]}}, "other than numbers"),
        (lambda s: {**s, "history": []}, "not a table"),
        (lambda s: "not json {", "not readable JSON"),
    ],
)
def test_a_hand_edited_state_json_is_refused_with_a_sentence(tmp_path: Path, edit, named: str) -> None:
    from kiln_lab.engine.errors import ConfigError
    from kiln_lab.engine.training.checkpoint import STATE, read_checkpoint

    folder = _saved_checkpoint(tmp_path)
    state = json.loads((folder / STATE).read_text())
    edited = edit(state)
    (folder / STATE).write_text(edited if isinstance(edited, str) else json.dumps(edited))
    with pytest.raises(ConfigError, match="is damaged") as caught:
        read_checkpoint(tmp_path)
    assert named in caught.value.sentence


def test_damaged_checkpoint_arrays_are_a_sentence(tmp_path: Path) -> None:
    from kiln_lab.engine.errors import ConfigError
    from kiln_lab.engine.training.checkpoint import (
        OPTIMIZER,
        WEIGHTS,
        read_checkpoint,
        restore_optimizer,
        restore_weights,
    )

    folder = _saved_checkpoint(tmp_path)
    for name, restore in ((WEIGHTS, restore_weights), (OPTIMIZER, restore_optimizer)):
        original = (folder / name).read_bytes()
        (folder / name).write_bytes(original[: len(original) // 2])  # truncated
        with pytest.raises(ConfigError, match=f"damaged: its {name} cannot be read"):
            restore(_tiny_model(), read_checkpoint(tmp_path))
        (folder / name).write_bytes(original)
    np.savez(folder / WEIGHTS, np.array([{"a": 1}, None], dtype=object))  # pickles are never loaded
    with pytest.raises(ConfigError, match="object arrays"):
        restore_weights(_tiny_model(), read_checkpoint(tmp_path))


def test_a_damaged_checkpoint_exits_2_on_resume(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    folder = _saved_checkpoint(out / "checkpoint")
    (folder / "state.json").write_text("{ cut off")
    assert main(["train", "--resume", "--out", str(out), "--data", "demo:digits"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is damaged" in err and "no checkpoint" not in err


@pytest.mark.slow  # spawns a process (no training)
def test_a_second_train_on_the_same_folder_is_refused_and_a_killed_holder_blocks_nothing(
    tmp_path: Path, capsys
) -> None:
    from kiln_lab.engine.training.run_lock import run_folder_lock

    out = tmp_path / "run"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom engine.training.run_lock import run_folder_lock\n"
        f"with run_folder_lock(Path({str(out)!r})):\n    print('held', flush=True)\n    time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["train", "--data", "demo:digits", "--out", str(out)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"Another Kiln run (process {holder.pid}) is writing the run folder {out}" in err
        assert not out.exists()  # refused before anything was written
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # a holder killed with -9 leaves no lock behind
        holder.wait(timeout=30)
    with run_folder_lock(out), run_folder_lock(out):  # free at once; the same process may re-enter
        pass


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_starts_again_without_overwrite(
    npz_data: Path, tmp_path: Path
) -> None:
    """Only config.toml is left (the run never finished an epoch): nothing to lose, so no --overwrite."""
    out = tmp_path / "run"
    out.mkdir()
    _config(npz_data, epochs=2).save(out / "config.toml")
    assert main(["train", "--resume", "--out", str(out)]) == 0  # resume: starts from its beginning
    assert {len(v) for v in json.loads((out / "history.json").read_text()).values()} == {2}
    kept_log = (out / "training_log.csv").read_text()
    for name in ("model.keras", "run.json", "history.json", "model_card.md", "model_card.json", "checkpoint"):
        path = out / name
        path.unlink() if path.is_file() else shutil.rmtree(path)
    # The CSV log has rows of finished epochs: the run got somewhere, so it is not started over unasked.
    assert main(["train", "--config", str(out / "config.toml"), "--out", str(out)]) == 2
    assert (out / "training_log.csv").read_text() == kept_log
    # Killed in its first epoch, a run leaves Keras's CSVLogger file opened but without a row.
    (out / "training_log.csv").write_text("")
    assert main(["train", "--config", str(out / "config.toml"), "--out", str(out)]) == 0  # a plain start too
    assert (out / "model.keras").is_file()
