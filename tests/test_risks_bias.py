"""Bias checks: a planted per-class regression is found beyond noise; group gaps; backbone caveats."""

from __future__ import annotations

import numpy as np

from kiln_lab.engine.analysis.bias import backbone_caveats, compare_per_class, group_metrics, group_values


def test_a_planted_class_regression_is_found_and_nothing_else():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 60)
    baseline = np.where(rng.random(len(y)) < 0.9, y, (y + 1) % 4)  # 90 % right everywhere
    candidate = baseline.copy()
    planted = np.flatnonzero(y == 2)
    candidate[planted[:30]] = 3  # class 2 loses half its hits
    comparison = compare_per_class(y, baseline, candidate, ["a", "b", "c", "d"])
    verdicts = {row.name: row.verdict for row in comparison.rows}
    assert verdicts["c"] == "worse"
    assert [r.name for r in comparison.worse] == ["c"]
    row_c = next(r for r in comparison.rows if r.name == "c")
    assert row_c.high < 0 and row_c.difference < -0.3
    assert all(v == "within noise" for name, v in verdicts.items() if name != "c")
    assert "'c'" in comparison.sentence()


def test_a_small_dip_is_called_within_noise():
    y = np.repeat(np.arange(2), 20)
    baseline = y.copy()
    candidate = y.copy()
    candidate[0] = 1  # one sample of class 0
    comparison = compare_per_class(y, baseline, candidate, ["a", "b"])
    assert comparison.worse == []
    assert "within the 95% interval" in comparison.sentence()


def test_group_gap_with_an_interval():
    y = np.zeros(200, dtype=int)
    groups = np.array(["north"] * 100 + ["south"] * 100)
    predicted = y.copy()
    predicted[100:150] = 1  # half of the south is wrong
    report = group_metrics(y, predicted, groups, column="region")
    assert (report.best, report.worst) == ("north", "south")
    assert abs(report.gap - 0.5) < 1e-9
    assert report.gap_low > 0.3 and "beyond noise" in report.sentence()


def test_groups_from_a_csv_column(tmp_path):
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.data.config import DataConfig

    rows = ["x1,x2,region,label"] + [f"{i},{i % 7},{'east' if i % 3 else 'west'},{i % 2}" for i in range(40)]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(rows) + "\n")
    dataset = load_dataset(DataConfig(source=str(path), target="label"))
    values = group_values(dataset, "region")
    assert len(values) == dataset.num_samples
    assert list(values[:4]) == ["west", "east", "east", "west"]


def test_demo_backbone_caveats_come_from_its_card():
    caveats = backbone_caveats({"name": "demo", "source": "demo", "pretraining_data": "UCI handwritten digits 0-4"})
    assert any("not photos" in c or "photographs" in c for c in caveats)
    assert any("Not a general-purpose image model" in c for c in caveats)
    unknown = backbone_caveats({"name": "mystery.keras", "pretraining_data": "unknown"})
    assert any("not known" in c for c in unknown)


def test_class_and_group_names_reach_terminal_sentences_escaped():
    """A class or group named with a newline or ESC cannot restyle the terminal or fake a line."""
    y = np.repeat(np.arange(2), 60)
    candidate = y.copy()
    candidate[60:] = 0  # the second class is lost
    names = ["ok", "evil\x1b[2J\nNo class got worse"]
    comparison = compare_per_class(y, y.copy(), candidate, names)
    for text in (comparison.sentence(), comparison.table()):
        assert "\x1b" not in text and "\\x1b" in text
    assert "\n" not in comparison.sentence()
    report = group_metrics(y, candidate, np.array(["a\x1bx"] * 60 + ["b\nc"] * 60), column="col\x07")
    assert "\x1b" not in report.sentence() and "\n" not in report.sentence() and "\x07" not in report.sentence()


def test_terminal_progress_escapes_names_in_warnings():
    import io

    from kiln_lab.engine.events import RunWarning
    from kiln_lab.engine.training.progress import TerminalProgress

    stream = io.StringIO()
    TerminalProgress(stream)(RunWarning("Only 2 samples in class 'x\x1b]0;owned\x07\nfake line'.", kind="small_data"))
    assert stream.getvalue().count("\n") == 1 and "\x1b" not in stream.getvalue()


def test_with_ten_classes_a_dip_that_one_test_would_flag_is_corrected_for_the_other_nine():
    """Issue 20.2: every class tested at 95% flags one by chance; the intervals are corrected for K."""
    y = np.repeat(np.arange(10), 40)
    baseline = y.copy()
    candidate = y.copy()
    candidate[:4] = 1  # class 0 loses 4 of 40: beyond an uncorrected 95% interval, not beyond 99.5%
    comparison = compare_per_class(y, baseline, candidate, [str(c) for c in range(10)])
    row = comparison.rows[0]
    assert row.confidence == 0.995 and row.high >= 0
    assert comparison.worse == []
    assert "10 classes" in comparison.sentence()
