"""The command line: files written, exit statuses, readable errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiln_lab.engine.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "a"
    code = main(["train", "--data", "demo:digits", "--out", str(out), "--epochs", "2", "--arch", "mlp",
                 "--width", "16", "--depth", "1", "--init", "glorot_uniform", "--learning-rate", "0.005"])
    assert code == 0
    return out


def test_train_writes_model_history_and_record(trained_run: Path) -> None:
    history = json.loads((trained_run / "history.json").read_text())
    record = json.loads((trained_run / "run.json").read_text())
    assert set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert len(history["loss"]) == 2
    assert record["config"]["model"]["kernel_initializer"] == "glorot_uniform"
    assert record["model"]["kernel_initializer"] == "glorot_uniform"
    assert record["dataset"]["class_names"] == [str(i) for i in range(10)]
    assert record["timing"]["seconds"] > 0 and record["timing"]["samples_per_second"] > 0
    assert (trained_run / "config.toml").exists()


def test_rerun_from_saved_config(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert main(["train", "--config", str(trained_run / "config.toml"), "--out", str(out), "--epochs", "1"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["model"]["width"] == 16 and record["config"]["train"]["epochs"] == 1


def test_evaluate_predict_export(trained_run: Path, tmp_path: Path, capsys) -> None:
    model = str(trained_run / "model.keras")
    assert main(["evaluate", model, "--data", "demo:digits"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.3 < report["metrics"]["accuracy"] <= 1.0 and len(report["per_class"]) == 10

    assert main(["export", model, "--format", "h5", "--out", str(tmp_path / "m.h5")]) == 0
    assert (tmp_path / "m.h5").exists() and (tmp_path / "m.h5.run.json").exists()


def test_bad_input_exits_2_with_one_paragraph(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(tmp_path / "missing") in done.stderr
    assert len(done.stderr.strip().split("\n\n")) == 1


def test_usage_errors_exit_2(capsys) -> None:
    assert main(["train", "--out", "x", "--epochs", "many"]) == 2
    assert "invalid int value" in capsys.readouterr().err
    assert main(["evaluate", "/nonexistent/model.keras", "--data", "demo:digits"]) == 2


def test_unexpected_failure_exits_1(monkeypatch, tmp_path: Path, capsys) -> None:
    import kiln_lab.engine.training.job as job

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(job, "run_training", boom)
    assert main(["train", "--data", "demo:digits", "--out", str(tmp_path)]) == 1
    assert "disk on fire" in " ".join(capsys.readouterr().err.split())


def test_backbones_lists_the_catalogue_with_the_demo_offline(capsys) -> None:
    assert main(["backbones"]) == 0
    lines = capsys.readouterr().out.splitlines()
    demo = next(line for line in lines if line.startswith("demo "))
    assert "offline" in demo and "32x32" in demo
    assert any("mobilenet_v2" in line and "download" in line for line in lines)


def test_inspect_reports_the_dataset_as_json(capsys) -> None:
    assert main(["inspect", "--data", "demo:digits", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_samples"] == 1797 and report["num_classes"] == 10
    assert report["splits"]["val"]["size"] + report["splits"]["train"]["size"] == 1797


def test_trust_file_must_name_a_file_or_a_savedmodel_folder(tmp_path: Path, capsys) -> None:
    model = ROOT / "resources" / "backbones" / "kiln-demo-digits-cnn.keras"
    assert main(["predict", str(model), "1", "--trust-file", str(tmp_path / "nothing")]) == 2
    assert "no such file" in " ".join(capsys.readouterr().err.split())
    assert main(["predict", str(model), "1", "--trust-file", str(tmp_path)]) == 2
    assert "SavedModel folder" in " ".join(capsys.readouterr().err.split())


def test_a_50mb_config_value_is_refused_in_one_short_paragraph(tmp_path: Path, capsys) -> None:
    """The value is quoted back cut short: the terminal gets a paragraph, not megabytes wrapped line by line."""
    import time

    path = tmp_path / "run.toml"
    path.write_text('[train]\noptimizer = "' + "x" * 8_000_000 + '"\n')
    started = time.perf_counter()
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "'train.optimizer' cannot be" in err and "(8,000,00" in err  # the value's length, not the value
    assert len(err) < 2_000 and time.perf_counter() - started < 30


def test_sentences_show_control_characters_escaped_and_paths_whole(capsys) -> None:
    from kiln_lab.engine.cli import terminal_paragraph

    sentence = "Unknown class 'a\x1b[31mred\nb' in /tmp/pytest-of-root/some-long-folder-name/data.csv. "
    text = terminal_paragraph(sentence * 3)
    assert "\x1b" not in text and "\\x1b[31mred\\x0ab" in text
    assert "/tmp/pytest-of-root/some-long-folder-name/data.csv." in text.split()
