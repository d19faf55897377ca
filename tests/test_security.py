"""The one trust gate: no code runs from a model file or SavedModel folder without a specific yes.

The three reproductions from the audit (issue 8): a Lambda in a model file cannot run, not
even with ``--trust``; a SavedModel folder named as a backbone (flag or run config) is
refused until it is trusted by hash; resuming never runs code from the run folder (that
one is in tests/test_resume.py). Plus the bad model files and CLI values that used to crash.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kiln_lab.engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "resources" / "backbones" / "kiln-demo-digits-cnn.keras"


def _lambda_model_file(path: Path, marker: Path, *, decoy_class: str | None = None) -> Path:
    """A .keras whose Lambda writes ``marker`` when it runs; ``decoy_class`` adds that class name to the config."""
    import keras

    def touch(x, _marker=str(marker)):  # runs when the layer is built or called
        open(_marker, "w").write("ran")  # noqa: SIM115
        return x

    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: touch(x)), keras.layers.Dense(2)])
    model.save(path)
    if marker.exists():
        marker.unlink()  # building it here ran the function; only a later load counts
    if decoy_class:
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        config = json.loads(parts["config.json"])
        config["decoy"] = {"class_name": decoy_class, "config": {}}  # what the old check keyed on
        parts["config.json"] = json.dumps(config).encode()
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
    return path


def _writing_savedmodel(folder: Path, marker: Path) -> Path:
    """A SavedModel whose graph writes ``marker`` (tf.io.write_file) whenever it is called."""
    import tensorflow as tf

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
        def __call__(self, x):
            tf.io.write_file(str(marker), "pwned")
            return tf.reduce_mean(x, axis=[1, 2])

    tf.saved_model.save(Writer(), str(folder))
    return folder


def _err(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())


# -- reproduction: a Lambda never runs, --trust or not ---------------------------------------


def test_trust_flag_cannot_run_a_lambda(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    model = _lambda_model_file(tmp_path / "evil.keras", marker, decoy_class="TFSMLayer")
    assert main(["predict", str(model), "1,2,3", "--trust"]) == 2
    assert "Lambda" in _err(capsys)
    assert main(["predict", str(model), "1,2,3", "--trust-file", str(model)]) == 2
    assert not marker.exists()


def test_a_lambda_is_refused_by_the_gate_even_for_a_trusted_file(tmp_path: Path) -> None:
    from kiln_lab.engine.errors import ModelError
    from kiln_lab.engine.export.save import load_model
    from kiln_lab.engine.export.trust import trust

    marker = tmp_path / "marker"
    model = _lambda_model_file(tmp_path / "evil.keras", marker)
    trust(model)
    with pytest.raises(ModelError, match="never runs code"):
        load_model(model, trusted=True)
    assert not marker.exists()


# -- reproduction: a SavedModel folder given as a backbone ------------------------------------


def test_savedmodel_backbone_is_refused_until_trusted_by_hash(tmp_path: Path) -> None:
    from kiln_lab.engine.export.trust import UntrustedModel, is_trusted, trust
    from kiln_lab.engine.models.backbones import load_backbone

    marker = tmp_path / "marker"
    folder = _writing_savedmodel(tmp_path / "sm", marker)
    with pytest.raises(UntrustedModel) as refused:
        load_backbone(str(folder))
    assert str(folder) in refused.value.sentence and "--trust-file" in refused.value.sentence
    assert refused.value.path == str(folder)
    assert not marker.exists()
    trust(folder)
    load_backbone(str(folder))  # the person said yes to this folder: its graph may run now
    assert marker.exists()
    # trust is by hash: the same folder with other variables or graph is a different folder
    (folder / "saved_model.pb").write_bytes((folder / "saved_model.pb").read_bytes() + b"\0")
    assert not is_trusted(folder)


def test_a_run_config_cannot_run_a_savedmodel_nobody_trusted(tmp_path: Path, capsys) -> None:
    from kiln_lab.engine.training.config import RunConfig

    marker = tmp_path / "marker"
    folder = _writing_savedmodel(tmp_path / "sm", marker)
    config = RunConfig().replace(model={"kind": "finetune", "backbone": str(folder)}, train={"epochs": 1})
    config.save(tmp_path / "run.toml")
    out = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "run.toml"), "--out", str(out)]) == 2
    err = _err(capsys)
    assert str(folder) in err and "--trust-file" in err
    assert not marker.exists()
    assert not out.exists()  # refused before anything was written


def test_a_file_trusted_in_one_place_opens_as_a_backbone_too(tmp_path: Path) -> None:
    """The GUI's yes (load_model(trusted=True)) and the backbone loader share the one registry."""
    import keras

    from kiln_lab.engine.export.save import load_model
    from kiln_lab.engine.export.trust import UntrustedModel
    from kiln_lab.engine.models.backbones.model_file import open_model_file
    from kiln_lab.engine.models.layers import SavedModelLayer
    from tests.backbone_fixtures import make_keras3_export

    folder = make_keras3_export(tmp_path / "export", size=8, channels=1)
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2)(SavedModelLayer(str(folder), name="backbone")(inputs))
    path = tmp_path / "from_elsewhere.keras"
    keras.Model(inputs, outputs).save(path)  # not through Kiln: nobody trusted this file
    with pytest.raises(UntrustedModel):
        open_model_file(path)
    load_model(path, trusted=True)  # the person said yes (GUI question, --trust)
    assert open_model_file(path).feature_shape  # ...and the same file is a backbone now


def test_a_trusted_model_file_does_not_vouch_for_a_changed_backbone_folder(tmp_path: Path) -> None:
    """A .keras file only names its SavedModel backbone's folder. Swapping that folder's graph
    for one that writes files must not ride on the file's trust: refused until a new yes."""
    import shutil

    import keras

    from kiln_lab.engine.export.save import load_model
    from kiln_lab.engine.export.trust import UntrustedModel, trust
    from kiln_lab.engine.models.layers import SavedModelLayer

    folder = tmp_path / "backbone"
    marker = tmp_path / "pwned.txt"
    _writing_savedmodel(tmp_path / "evil", marker)
    harmless = _writing_savedmodel(folder, tmp_path / "harmless.txt")  # same signature, other marker
    trust(harmless)  # the backbone as it was when the person said yes to it
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(SavedModelLayer(str(folder), name="backbone")(inputs)))
    path = tmp_path / "finetuned.keras"
    model.save(path)
    trust(path)  # as Kiln does for a file it wrote
    load_model(path)  # file and folder unchanged: opens without a question

    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "evil", folder)  # the model file is untouched; the folder it names is not
    with pytest.raises(UntrustedModel, match="finetuned.keras opens the SavedModel folder"):
        load_model(path)
    assert not marker.exists()  # refused before the graph was opened, let alone run
    reopened = load_model(path, trusted=True)  # a new yes covers the file and the folder it opens
    assert isinstance(reopened.get_layer("backbone"), SavedModelLayer)
    load_model(path)  # and is remembered


def test_a_backbone_fetched_again_is_vouched_for_only_by_kiln_s_own_catalogue(tmp_path: Path, monkeypatch) -> None:
    """A model whose backbone folder is gone fetches its handle again: a handle of Kiln's catalogue
    is vouched for as at training time; any other handle's download is asked about."""
    import shutil

    import keras

    from kiln_lab.engine.export.save import load_model
    from kiln_lab.engine.export.trust import UntrustedModel, trust
    from kiln_lab.engine.models.backbones import hub
    from kiln_lab.engine.models.layers import SavedModelLayer

    original = _writing_savedmodel(tmp_path / "cache-then-cleared", tmp_path / "one.txt")
    catalogue = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
    for handle, vouched in ((catalogue, True), ("https://example.org/other/feature-vector/1", False)):
        # What the download brings: other bytes than the folder that was trusted (no network in tests).
        downloaded = _writing_savedmodel(tmp_path / f"downloaded-{vouched}", tmp_path / f"{vouched}.txt")
        monkeypatch.setattr(hub, "resolve_handle", lambda handle, _d=downloaded, **_: str(_d))
        trust(original)
        inputs = keras.Input((8, 8, 1))
        layer = SavedModelLayer(str(original), handle=handle, name="backbone")
        path = tmp_path / f"model-{vouched}.keras"
        keras.Model(inputs, keras.layers.Dense(2)(layer(inputs))).save(path)
        trust(path)
        moved = tmp_path / "moved-away"
        shutil.move(str(original), moved)  # the hub cache was cleared
        try:
            if vouched:
                assert isinstance(load_model(path).get_layer("backbone"), SavedModelLayer)
            else:
                with pytest.raises(UntrustedModel, match="downloaded for https://example.org"):
                    load_model(path)
        finally:
            shutil.move(str(moved), original)


# -- bad model files and CLI values: exit 2 with a sentence --------------------------------


def test_broken_model_files_are_named_for_what_they_are(tmp_path: Path, capsys) -> None:
    with zipfile.ZipFile(tmp_path / "empty.keras", "w"):
        pass
    (tmp_path / "cut.keras").write_bytes(DEMO_MODEL.read_bytes()[:2000])
    (tmp_path / "text.h5").write_text("hello")
    for name in ("empty.keras", "cut.keras", "text.h5"):
        assert main(["predict", str(tmp_path / name), "1,2"]) == 2
        err = _err(capsys)
        assert "not a Keras model file" in err and "not found" not in err.lower(), err


def test_missing_model_and_bad_top_k(tmp_path: Path, capsys) -> None:
    assert main(["predict", str(tmp_path / "none.keras"), "1"]) == 2
    assert "none.keras" in _err(capsys)  # names the missing file
    for k in ("0", "-2"):
        assert main(["predict", str(DEMO_MODEL), "1", "--top-k", k]) == 2
        assert "--top-k" in _err(capsys)


def test_predict_on_an_empty_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(DEMO_MODEL), str(tmp_path / "empty")]) == 2
    assert "no image files" in _err(capsys)


def test_image_model_on_a_table_is_a_sentence(tmp_path: Path, capsys) -> None:
    table = tmp_path / "t.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(20)))
    assert main(["evaluate", str(DEMO_MODEL), "--data", str(table)]) == 2
    assert "takes images" in _err(capsys)


def test_a_model_copied_away_from_its_record_predicts_an_image(tmp_path: Path, capsys) -> None:
    from PIL import Image

    copy = tmp_path / "model.keras"
    copy.write_bytes(DEMO_MODEL.read_bytes())
    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)).save(image)
    assert main(["predict", str(copy), str(image), "--top-k", "2"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert line["input"] == str(image) and len(line["top_k"]) == 2


def test_out_that_is_a_file_or_under_one(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "--data", "demo:digits", "--out", str(blocker)]) == 2
    assert "is a file" in _err(capsys)
    assert main(["train", "--data", "demo:digits", "--out", str(blocker / "run")]) == 2
    assert "lies under" in _err(capsys)
    assert main(["export", str(DEMO_MODEL), "--format", "keras", "--out", str(blocker / "m.keras")]) == 2
    assert "which is a file" in _err(capsys)
    assert blocker.read_text() == "x"


def test_infinite_learning_rate_is_refused_before_anything_is_written(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data", "demo:digits", "--out", str(out), "--learning-rate", "inf"]) == 2
    assert "learning_rate" in _err(capsys)
    assert not out.exists()


def test_an_interrupted_save_leaves_no_temporaries_behind(tmp_path: Path) -> None:
    from kiln_lab.engine.export.atomic import atomic_write_text

    target = tmp_path / "run.json"
    dead = tmp_path / ".run.json.tmp-999999999-abc.json"  # a process that no longer runs
    dead.write_text("half")
    atomic_write_text(target, "{}")
    assert target.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_records_are_strict_json(tmp_path: Path) -> None:
    from kiln_lab.engine.export.save import strict_json

    text = strict_json({"loss": [1.0, float("nan"), float("inf")], "x": np.float32("-inf")})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}")) == {
        "loss": [1.0, None, None],
        "x": None,
    }


def test_a_hub_handle_outside_the_catalogue_is_asked_about_too(tmp_path: Path, monkeypatch) -> None:
    """A run config naming any URL would otherwise download and run a graph nobody was asked about."""
    from kiln_lab.engine.export.trust import UntrustedModel
    from kiln_lab.engine.models.backbones import hub, load_backbone

    marker = tmp_path / "marker"
    folder = _writing_savedmodel(tmp_path / "downloaded", marker)
    monkeypatch.setattr(hub, "resolve_handle", lambda handle, **_: str(folder))  # no network in tests
    handle = "https://example.org/models/feature-vector.tar.gz"
    with pytest.raises(UntrustedModel) as refused:
        load_backbone(handle)
    assert handle in refused.value.sentence and f"--trust-file {handle}" in refused.value.sentence
    assert not marker.exists()


def test_trust_names_the_savedmodel_folders_it_also_covers(tmp_path: Path, capsys) -> None:
    """--trust on a .keras also trusts the SavedModel folders its layers open: it says which, first."""
    import json
    import zipfile

    folder = tmp_path / "some-backbone-folder"
    layer = {"class_name": "SavedModelLayer", "config": {"name": "backbone", "saved_model_path": str(folder)}}
    config = {"class_name": "Functional", "config": {"name": "m", "layers": [layer]}}
    path = tmp_path / "finetuned.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
    main(["evaluate", str(path), "--data", "demo:digits", "--trust"])  # the stand-in file cannot load
    err = " ".join(capsys.readouterr().err.split())
    assert "--trust also trusts the SavedModel folder(s) finetuned.keras opens" in err
    assert str(folder) in err
