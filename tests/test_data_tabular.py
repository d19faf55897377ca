"""CSV files: dialect sniffing, encoding, missing values, task detection, encode_rows, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kiln_lab.engine.data import encode_rows, load_dataset, load_inputs_for_prediction
from kiln_lab.engine.data.csvread import decode_text, sniff_delimiter
from kiln_lab.engine.data.preview import table_preview
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.training.config import DataConfig


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


def _species_rows(n=30):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        species = ["setosa", "virginica", "versicolor"][i % 3]
        lines.append(f"{5 + i % 3 + rng.normal(0, 0.1):.2f},{['red', 'blue'][i % 2]},{species}")
    return lines


def test_classification_csv_encodes_numbers_and_categories(tmp_path):
    source = _write(tmp_path / "iris.csv", "length,colour,species\n" + "\n".join(_species_rows()))
    dataset = load_dataset(source)
    assert dataset.task == "classification"
    assert dataset.class_names == ["setosa", "versicolor", "virginica"]
    assert dataset.class_counts() == {"setosa": 10, "versicolor": 10, "virginica": 10}
    assert dataset.feature_names == ["length", "colour=blue", "colour=red"]
    assert dataset.input_shape == (3,)
    x = dataset.loader.read(dataset.splits["train"])
    assert abs(float(x[:, 0].mean())) < 1e-5 and abs(float(x[:, 0].std()) - 1) < 1e-5  # standardised on train rows
    np.testing.assert_array_equal(x[:, 1] + x[:, 2], 1.0)  # one-hot
    json.dumps(dataset.summary())  # the report, encoder included, is plain JSON


def test_semicolon_delimiter_decimal_comma_and_bom(tmp_path):
    text = "\ufeffsize;rooms;price\n" + "\n".join(f"{40 + i},5;{1 + i % 4};{100 + 3 * i},25" for i in range(40))
    dataset = load_dataset(_write(tmp_path / "eu.csv", text))
    prep = dataset.preprocessing
    assert prep["delimiter"] == ";" and prep["encoding"] == "utf-8-sig" and prep["decimal_comma"]
    assert prep["header"] == ["size", "rooms", "price"]  # BOM not glued to the first name
    assert dataset.task == "regression"
    np.testing.assert_allclose(dataset.labels[:3], [100.25, 103.25, 106.25])
    assert prep["columns"][0]["mean"] == pytest.approx(np.mean([40.5 + i for i in dataset.splits["train"]]))


def test_latin1_and_tab_files(tmp_path):
    text = "ville\tpop\tclasse\n" + "\n".join(
        f"{['Orléans', 'Besançon'][i % 2]}\t{i}\t{['a', 'b'][i % 2]}" for i in range(10)
    )
    dataset = load_dataset(_write(tmp_path / "fr.tsv", text, encoding="latin-1"))
    assert dataset.preprocessing["delimiter"] == "\t"
    assert dataset.preprocessing["encoding"] in ("cp1252", "latin-1")
    assert dataset.feature_names[:2] == ["ville=Besançon", "ville=Orléans"]


def test_sniffers_directly():
    assert sniff_delimiter("a|b|c\n1|2|3\n") == "|"
    assert sniff_delimiter("a,b;c\n1,2;3\n4,5;6\n") in (",", ";")
    assert decode_text("é".encode("utf-16"))[1] == "utf-16"
    assert decode_text(b"caf\xe9")[0] == "café"


def test_missing_values_are_filled_and_counted(tmp_path):
    lines = ["age,city,label"]
    for i in range(20):
        age = "" if i in (3, 7) else ("NA" if i == 11 else str(20 + i))
        city = "" if i == 5 else ["paris", "rome"][i % 2]
        lines.append(f"{age},{city},{['yes', 'no'][i % 2]}")
    lines.append("33,rome,")  # no label: left out
    dataset = load_dataset(_write(tmp_path / "m.csv", "\n".join(lines)))
    assert dataset.num_samples == 20
    problems = " ".join(dataset.problems)
    assert "'age' has 3 missing value(s)" in problems
    assert "'city' has 1 missing value(s)" in problems
    assert "1 row(s) without a value in 'label'" in problems
    assert dataset.feature_names == ["age", "city=paris", "city=rome", "city=missing"]
    x = dataset.loader.read(np.array([3, 5]))
    assert x[0, 0] == 0.0  # a missing number takes the mean: 0 after standardising
    np.testing.assert_array_equal(x[1, 1:], [0, 0, 1])


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["1", "2", "3"] * 10, "classification"),  # few whole numbers: classes
        ([str(i) for i in range(30)], "regression"),  # many whole numbers: a quantity
        ([f"{i * 0.5:.1f}" for i in range(30)], "regression"),
        (["cat", "dog"] * 15, "classification"),
    ],
)
def test_task_follows_the_target(tmp_path, values, task):
    text = "f,target\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values))
    dataset = load_dataset(_write(tmp_path / "t.csv", text))
    assert dataset.task == task
    if task == "classification":
        assert dataset.labels.dtype == np.int64
    else:
        assert dataset.labels.dtype == np.float32 and dataset.class_names == []



@pytest.mark.parametrize(
    ("values", "task", "names"),
    [
        ([str(i % 30) for i in range(60)], "classification", [str(i) for i in range(30)]),  # auto: regression
        (["1", "2", "3"] * 10, "regression", []),  # auto: classification
        ([f"{i % 4 * 0.5:.1f}" for i in range(40)], "classification", ["0", "0.5", "1", "1.5"]),
    ],
)
def test_chosen_task_overrides_the_rule(tmp_path, values, task, names):
    text = "f,target\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values))
    dataset = load_dataset(DataConfig(source=_write(tmp_path / "t.csv", text), task=task))
    assert dataset.task == task and dataset.class_names == names
    assert dataset.preprocessing["task"] == task  # the encoder stored with a model says it too
    if task == "regression":
        assert dataset.labels.dtype == np.float32 and sorted(set(dataset.labels.tolist())) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("values", "task", "message"),
    [
        (["cat", "dog"] * 15, "regression", "holds text such as 'cat', so it cannot be predicted as a number"),
        ([f"{i * 0.37:.2f}" for i in range(30)], "classification", "30 different values in 30 rows"),
    ],
)
def test_nonsense_task_is_refused_in_a_sentence(tmp_path, values, task, message):
    text = "f,target\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values))
    with pytest.raises(DataError) as caught:
        load_dataset(DataConfig(source=_write(tmp_path / "t.csv", text), task=task))
    assert message in caught.value.sentence


def test_task_of_labels_that_are_not_a_table_is_checked():
    with pytest.raises(DataError, match="cannot be used for regression"):
        load_dataset(DataConfig(source="demo:digits", task="regression"))
    assert load_dataset(DataConfig(source="demo:digits", task="classification")).task == "classification"


def test_housing_demo_takes_another_target_and_task():
    dataset = load_dataset(DataConfig(source="demo:housing", target="rooms", task="classification"))
    assert dataset.preprocessing["target"] == "rooms" and dataset.task == "classification"


def test_task_is_validated_and_a_train_flag():
    from kiln_lab.engine.cli import build_parser
    from kiln_lab.engine.errors import ConfigError

    with pytest.raises(ConfigError):
        DataConfig(task="both").validate()
    args = build_parser().parse_args(["train", "--data", "t.csv", "--out", "o", "--task", "regression"])
    assert getattr(args, "data.task") == "regression"

def test_target_column_by_name_and_identifier_columns_left_out(tmp_path):
    lines = ["id,label,x"] + [f"user{i:03d},{['a', 'b'][i % 2]},{i % 7}" for i in range(80)]
    dataset = load_dataset(DataConfig(source=_write(tmp_path / "t.csv", "\n".join(lines)), target="LABEL"))
    assert dataset.preprocessing["target"] == "label"
    assert dataset.feature_names == ["x"]
    assert any("'id' has 80 different text values" in p for p in dataset.problems)


@pytest.mark.parametrize(
    ("text", "config", "message"),
    [
        ("", {}, "is empty"),
        ("a,b\n", {}, "no data rows"),
        ("only\n1\n2\n", {}, "single column"),
        ("a,b\n1,x\n2,x\n", {}, "one class only"),
        ("a,b\n1,2\n3,4\n", {"target": "price"}, "no column called 'price'"),
        ("a,b\n1,2.5\n3,2.5\n4,2.5\n", {}, "same 'b'"),
    ],
)
def test_unusable_csv_is_refused(tmp_path, text, config, message):
    source = _write(tmp_path / "bad.csv", text)
    with pytest.raises(DataError) as caught:
        load_dataset(DataConfig(source=source, **config))
    assert message in caught.value.sentence


def test_encode_rows_replays_the_training_encoding(tmp_path):
    source = _write(tmp_path / "iris.csv", "length,colour,species\n" + "\n".join(_species_rows()))
    dataset = load_dataset(source)
    prep = json.loads(json.dumps(dataset.preprocessing))  # as stored in run.json
    first = dataset.loader.read(np.array([0]))
    raw = dataset.loader.head[0]
    np.testing.assert_allclose(encode_rows(prep, [{"length": raw[0], "colour": raw[1]}]), first, atol=1e-6)
    np.testing.assert_allclose(encode_rows(prep, [[float(raw[0]), raw[1]]]), first, atol=1e-6)
    np.testing.assert_allclose(encode_rows(prep, [raw]), first, atol=1e-6)  # with the target column too
    unseen = encode_rows(prep, [{"Length": "", "colour": "green"}])
    np.testing.assert_array_equal(unseen, [[0.0, 0.0, 0.0]])  # mean for missing, zeros for an unseen value
    with pytest.raises(DataError, match="not a number"):
        encode_rows(prep, [{"length": "long", "colour": "red"}])
    with pytest.raises(DataError, match="expects 2"):
        encode_rows(prep, [[1.0]])
    summary = dataset.summary()
    np.testing.assert_allclose(load_inputs_for_prediction([raw[:2]], summary), first, atol=1e-6)
    typed = load_inputs_for_prediction([f"{raw[0]},{raw[1]}"], summary)  # as typed on the command line
    np.testing.assert_allclose(typed, first, atol=1e-6)
    rows_file = _write(tmp_path / "new.csv", "length,colour\n" + f"{raw[0]},{raw[1]}\n")
    np.testing.assert_allclose(load_inputs_for_prediction(rows_file, summary), first, atol=1e-6)


def test_table_preview_shows_raw_values(tmp_path):
    source = _write(tmp_path / "iris.csv", "length,colour,species\n" + "\n".join(_species_rows()))
    header, rows = table_preview(load_dataset(source), rows=4)
    assert header == ["length", "colour", "species"]
    assert len(rows) == 4 and rows[0][1:] == ["red", "setosa"]


def test_housing_demo_is_a_regression_table():
    dataset = load_dataset("demo:housing")
    assert dataset.task == "regression" and dataset.source_kind == "demo"
    assert dataset.num_samples == 600 and dataset.input_shape == (11,)
    assert any("'age_years' has 12 missing" in p for p in dataset.problems)
    assert 100 < float(dataset.labels.mean()) < 600
    header, rows = table_preview(dataset, rows=3)
    assert header[-1] == "price" and len(rows) == 3


def test_new_data_is_encoded_with_the_trained_encoder(tmp_path):
    source = _write(tmp_path / "iris.csv", "length,colour,species\n" + "\n".join(_species_rows()))
    trained = load_dataset(source)
    stored = json.loads(json.dumps(trained.preprocessing))
    other = _write(tmp_path / "new.csv", "species;length\nvirginica;9,5\nsetosa;5\n")  # fewer columns, EU dialect
    dataset = load_dataset(DataConfig(source=other, val_split=0.0), preprocessing=stored)
    assert dataset.class_names == trained.class_names
    np.testing.assert_array_equal(dataset.labels, [2, 0])
    expected = encode_rows(stored, [{"length": 9.5}, {"length": 5}])
    np.testing.assert_allclose(dataset.loader.read(np.arange(2)), expected)
    assert any("missing here" in p and "colour" in p for p in dataset.problems)
    unknown = _write(tmp_path / "unknown.csv", "length,colour,species\n1,red,daisy\n2,red,setosa\n")
    with pytest.raises(DataError, match="not trained on: daisy"):
        load_dataset(unknown, preprocessing=stored)


def test_regression_target_statistics_are_stored():
    prep = load_dataset("demo:housing").preprocessing
    assert 200 < prep["target_mean"] < 600 and 30 < prep["target_std"] < 300
