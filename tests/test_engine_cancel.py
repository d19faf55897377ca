"""Issue 18.8, the engine's side: evaluate, advise, diagnose, showdown and the exports report
progress and honour a set cancel event promptly, by raising `Cancelled` (the window shows its
sentence, not an error).

Each long task is cancelled from its own sink at its first progress report (the moment a person
would press Cancel), so the test shows the check sits between units of work, not only at the start.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kiln_lab.engine import api
from kiln_lab.engine.data.config import DataConfig
from kiln_lab.engine.errors import Cancelled, ExportCancelled
from kiln_lab.engine.events import Progress
from kiln_lab.engine.training.config import RunConfig

pytestmark = pytest.mark.slow

CONFIG = RunConfig().replace(model={"kind": "scratch", "arch": "mlp", "depth": 1, "width": 16},
                             train={"epochs": 1, "batch_size": 128, "checkpoint": False})


class CancelAt:
    """A sink that records events and sets ``cancel`` at the first event ``when`` accepts."""

    def __init__(self, when: Any) -> None:
        self.cancel = threading.Event()
        self.events: list[Any] = []
        self.when = when
        self.set_at: float | None = None

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        if self.set_at is None and self.when(event):
            self.set_at = time.perf_counter()
            self.cancel.set()

    def progress(self, task: str) -> list[Progress]:
        return [e for e in self.events if isinstance(e, Progress) and e.task == task]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return api.train(CONFIG, out_dir=str(tmp_path_factory.mktemp("run") / "run")).model


def _prompt(sink: CancelAt) -> float:
    assert sink.set_at is not None, "the task never reported progress, so it was never cancelled"
    return time.perf_counter() - sink.set_at


def test_evaluate_stops_between_batches(trained: Any) -> None:
    # batches of 64: the digits validation split is several batches, and the first report cancels
    sink = CancelAt(lambda e: isinstance(e, Progress) and e.task == "evaluate")
    with pytest.raises(Cancelled, match="Evaluation cancelled"):
        api.evaluate(trained, CONFIG.data, split="val", sink=sink, cancel=sink.cancel)
    reports = sink.progress("evaluate")
    assert reports and reports[0].total and reports[0].total > 1 and reports[-1].done < reports[0].total
    assert _prompt(sink) < 1.0
    done = api.evaluate(trained, CONFIG.data, split="val")  # an unset event changes nothing
    assert 0.0 <= done["report"].metrics["accuracy"] <= 1.0


def test_advise_stops_at_the_first_backbone() -> None:
    sink = CancelAt(lambda e: isinstance(e, Progress) and e.task == "advise" and e.done == 1)
    with pytest.raises(Cancelled, match="advisor"):
        api.advise(DataConfig(source="demo:digits"), ["demo"], extra_defaults=False, sink=sink, cancel=sink.cancel)
    messages = [p.message for p in sink.progress("advise")]
    assert messages[0].startswith("Advisor: probing") and "1 backbone" in messages[-1]
    assert not any("small CNN" in m for m in messages)  # it never reached the from-scratch reference
    assert _prompt(sink) < 2.0


def test_diagnose_stops_between_steps() -> None:
    sink = CancelAt(lambda e: isinstance(e, Progress) and e.task == "diagnose" and e.done == 2)
    with pytest.raises(Cancelled, match="diagnosis was cancelled"):
        api.diagnose(CONFIG, steps=20, sink=sink, cancel=sink.cancel)
    assert max(p.done for p in sink.progress("diagnose")) == 2  # step 3 of 20 never started
    assert _prompt(sink) < 1.0


def test_showdown_stops_inside_the_first_contender() -> None:
    from kiln_lab.engine import events as ev

    sink = CancelAt(lambda e: isinstance(e, ev.BatchEnd))
    with pytest.raises(Cancelled, match="showdown was cancelled"):
        api.showdown(CONFIG, epochs=3, sink=sink, cancel=sink.cancel)
    assert sum(isinstance(e, ev.RunStarted) for e in sink.events) == 1  # the other contenders never started
    assert sum(isinstance(e, ev.EpochEnd) for e in sink.events) <= 1
    assert _prompt(sink) < 2.0
    assert sink.progress("showdown")[0].message.startswith("Initializer showdown:")


def test_exports_honour_a_cancel_before_they_write(trained: Any, tmp_path) -> None:
    cancel = threading.Event()
    cancel.set()
    target = tmp_path / "model.keras"
    target.write_text("an earlier export")
    # Both exports end with the one ExportCancelled (a Cancelled), which says nothing was written.
    for export in (lambda: api.export_model(trained, str(target), cancel=cancel),
                   lambda: api.export_for_deployment(trained, str(tmp_path / "model.tflite"), format="tflite",
                                                     cancel=cancel)):
        with pytest.raises(ExportCancelled) as raised:
            export()
        assert isinstance(raised.value, Cancelled) and raised.value.written is None
        assert raised.value.sentence == ("Export cancelled before anything was written; any earlier file at that "
                                         "path is unchanged.")
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # nothing written
    assert target.read_text() == "an earlier export"
    sink = CancelAt(lambda e: False)
    assert api.export_model(trained, str(target), sink=sink, cancel=sink.cancel) == str(target)
    assert sink.progress("export")  # the write is announced (the window shows it, busy)


def test_the_worker_passes_its_cancel_event_to_each_task() -> None:
    """The worker hands ``sink`` and ``cancel`` to whichever task takes them; each of these does."""
    import inspect

    for name in ("evaluate", "advise", "diagnose", "showdown", "export_model", "export_for_deployment"):
        accepted = inspect.signature(api.TASKS[name]).parameters
        assert {"sink", "cancel"} <= set(accepted), name
