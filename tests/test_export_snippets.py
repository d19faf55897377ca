"""The Export page's snippets run: each loads a real export in a fresh Python that cannot import
Kiln, reads one image file the way the snippet says, and prints the class Kiln predicts for it.
The deployment export also stops where it is told to (cancel) and says how far it got."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from kiln_lab.engine.cli import main

pytestmark = pytest.mark.slow

# The fresh process must not reach Kiln: the snippet is all it has.
NO_KILN = (
    "import importlib.abc, sys\n"
    "class NoKiln(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('kiln_lab', 'engine', 'gui', 'main', 'resources', 'tests'):\n"
    "            raise ImportError('the snippet must not need Kiln (' + name + ')')\n"
    "sys.meta_path.insert(0, NoKiln())\n"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("snippets") / "run"
    code = main(["train", "--data", "demo:digits", "--out", str(out), "--epochs", "2", "--arch", "mlp",
                 "--width", "32", "--depth", "1", "--test-split", "0.2", "--seed", "3"])
    assert code == 0
    return out


def _pictures(folder: Path, count: int) -> list[Path]:
    """Digits samples as 8x8 PNG files, as a person would have them."""
    from PIL import Image

    with np.load(Path(__file__).resolve().parents[1] / "resources" / "demo" / "digits.npz") as data:
        images = data["x"]
    paths = []
    for i in range(count):
        pixels = np.clip(np.asarray(images[i * 37], dtype=np.float64).reshape(8, 8), 0, 255)
        path = folder / f"digit{i}.png"
        Image.fromarray(np.round(pixels).astype(np.uint8), mode="L").save(path)
        paths.append(path)
    return paths


def _kiln_says(model_path: Path, record: dict, picture: Path) -> str:
    from kiln_lab.engine.data.inputs import load_inputs_for_prediction
    from kiln_lab.engine.export.save import load_model

    batch = load_inputs_for_prediction([str(picture)], record["dataset"])
    scores = load_model(model_path).predict(batch, verbose=0)[0]
    return record["dataset"]["class_names"][int(np.argmax(scores))]


# Printed between two pictures' runs of the snippet, so each run's last line can be told apart.
NEXT_PICTURE = "--- kiln test: next picture ---"


def _snippet_says(snippet: str, picture: Path, cwd: Path) -> str:
    return _snippet_says_each(snippet, [picture], cwd)[0]


def _snippet_says_each(snippet: str, pictures: list[Path], cwd: Path) -> list[str]:
    """The snippet's last printed line for each picture: the whole snippet runs once per picture, as
    written, in its own namespace, all in one fresh process (one TensorFlow start, not one a picture)."""
    from kiln_lab.engine.export.snippets import IMAGE_PLACEHOLDER

    runs = [snippet.replace(json.dumps(IMAGE_PLACEHOLDER), json.dumps(str(picture))) for picture in pictures]
    code = NO_KILN + (
        f"for _code in {runs!r}:\n"
        "    exec(compile(_code, '<snippet>', 'exec'), {'__name__': '__main__'})\n"
        f"    print({NEXT_PICTURE!r}, flush=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout.split(NEXT_PICTURE + "\n")
    assert said[-1] == "" and len(said) == len(pictures) + 1, done.stdout[-2000:]
    return [chunk.strip().splitlines()[-1] for chunk in said[:-1]]


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel", "tflite", "onnx"])
def test_each_snippet_prints_the_class_kiln_predicts(run: Path, tmp_path: Path, fmt: str) -> None:
    from kiln_lab.engine.export.formats import SUFFIXES, missing_packages
    from kiln_lab.engine.export.save import load_model, save_model
    from kiln_lab.engine.export.snippets import usage_snippet

    if missing_packages(fmt):
        pytest.skip(f"{fmt} export needs {missing_packages(fmt)}, not installed here")
    record = json.loads((run / "run.json").read_text())
    model = load_model(run / "model.keras")
    path = save_model(model, tmp_path / f"m{SUFFIXES[fmt]}", format=fmt, record=record, card=False)
    snippet = usage_snippet(fmt, str(path), record)
    assert "(1, 8, 8, 1)" in snippet and "'L'" in snippet  # this model's input: 8x8 greyscale
    assert json.dumps(record["dataset"]["class_names"]) in snippet
    pictures = _pictures(tmp_path, 3)
    said = _snippet_says_each(snippet, pictures, tmp_path)
    for picture, snippet_said in zip(pictures, said, strict=True):
        assert snippet_said == _kiln_says(run / "model.keras", record, picture), picture


def test_a_table_snippet_encodes_the_row_as_kiln_does(tmp_path: Path) -> None:
    """A CSV model: the snippet's own encoding (standardised numbers, one-hot categories) gives Kiln's input."""
    from kiln_lab.engine.data.inputs import load_inputs_for_prediction
    from kiln_lab.engine.export.snippets import usage_snippet

    rng = np.random.default_rng(0)
    lines = ["size,colour,label"] + [
        f"{rng.normal(5, 2):.3f},{rng.choice(['red', 'blue', 'green'])},{rng.choice(['a', 'b'])}" for _ in range(60)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--out", str(out), "--epochs", "1",
                 "--arch", "mlp", "--width", "8", "--depth", "1"]) == 0
    record = json.loads((out / "run.json").read_text())
    snippet = usage_snippet("keras", str(out / "model.keras"), record)
    row = {"size": 7.25, "colour": "blue"}
    start = snippet.index("row = ")
    snippet = snippet[:start] + f"row = {json.dumps(row)}" + snippet[snippet.index("\n", start):]
    snippet = snippet.replace("scores = np.asarray(", "np.save('x.npy', x)\nscores = np.asarray(")
    _snippet_says(snippet, tmp_path / "unused.png", tmp_path)
    expected = load_inputs_for_prediction([row], record["dataset"])
    np.testing.assert_allclose(np.load(tmp_path / "x.npy"), expected, rtol=1e-5, atol=1e-5)


def test_a_cancelled_export_says_how_far_it_got(run: Path, tmp_path: Path) -> None:
    from kiln_lab.engine.analysis.deployment import export_for_deployment
    from kiln_lab.engine.errors import ExportCancelled
    from kiln_lab.engine.events import Progress
    from kiln_lab.engine.export.save import load_model

    model = load_model(run / "model.keras")
    record = json.loads((run / "run.json").read_text())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled, match="before anything was written"):
        export_for_deployment(model, tmp_path / "a.tflite", format="tflite", record=record, cancel=cancel)
    assert not (tmp_path / "a.tflite").exists()

    cancel = threading.Event()
    heard: list[Progress] = []

    def sink(event: Progress) -> None:  # the person presses Cancel while the file is being checked
        heard.append(event)
        if event.done == 1:
            cancel.set()

    with pytest.raises(ExportCancelled, match="b.tflite was written but not checked"):
        export_for_deployment(model, tmp_path / "b.tflite", format="tflite", record=record, sink=sink, cancel=cancel)
    assert (tmp_path / "b.tflite").is_file() and not (tmp_path / "b.tflite.run.json").exists()
    assert [e.done for e in heard] == [0, 1] and all(e.total == 3 for e in heard)
