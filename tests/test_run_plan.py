"""The run plan: which epochs of which phase a run trains, fresh or resumed (no Keras needed)."""

from __future__ import annotations

from pathlib import Path

from kiln_lab.engine.models.built import TrainingPhase
from kiln_lab.engine.training.checkpoint import Checkpoint
from kiln_lab.engine.training.job import _phase_plans

TWO_PHASES = [TrainingPhase("head", 3), TrainingPhase("unfrozen", 5)]


def _checkpoint(completed_epochs: int, phase_index: int) -> Checkpoint:
    return Checkpoint(Path("unused"), completed_epochs, phase_index, history={})


def _summary(plans) -> list[tuple[int, int, int, bool, bool]]:
    return [(p.start, p.end, p.first_epoch, p.left, p.resuming) for p in plans]


def test_a_fresh_run_trains_every_phase_on_one_epoch_axis() -> None:
    assert _summary(_phase_plans(TWO_PHASES, None)) == [(0, 3, 0, True, False), (3, 8, 3, True, False)]


def test_a_run_resumed_inside_a_phase_continues_it_with_its_optimizer_state() -> None:
    # Killed after epoch 5 (the second phase's third epoch): phase 1 is done, phase 2 goes on at 5.
    assert _summary(_phase_plans(TWO_PHASES, _checkpoint(5, 1))) == [(0, 3, 3, False, False), (3, 8, 5, True, True)]


def test_a_run_resumed_at_a_phase_boundary_starts_the_next_phase_afresh() -> None:
    # The checkpoint is the first phase's last epoch: the second phase starts at its own start,
    # compiled anew (its optimizer is not the first phase's), so nothing is restored into it.
    plans = _phase_plans(TWO_PHASES, _checkpoint(3, 0))
    assert _summary(plans) == [(0, 3, 3, False, False), (3, 8, 3, True, False)]
    assert [p.index for p in plans if p.left] == [1]


def test_a_run_resumed_after_its_last_epoch_has_nothing_left_to_train() -> None:
    assert not any(p.left for p in _phase_plans(TWO_PHASES, _checkpoint(8, 1)))
