"""A two-phase run's log says what phase 2 does to the backbone, for every freeze policy."""

from __future__ import annotations

import pytest

from kiln_lab.engine.models.finetune import finetune_phases
from kiln_lab.engine.models.recipe import ModelRecipe

PHASE_TWO = {
    "all": "Unfreeze the whole backbone (batch norm too) and continue at 0.1x the learning rate.",
    "none": "Unfreeze the whole backbone (batch norm too) and continue at 0.1x the learning rate.",
    "top:3": "Unfreeze the top 3 layers of the backbone (batch norm stays frozen) and continue at 0.1x the learning "
    "rate.",
    "top:1": "Unfreeze the top layer of the backbone (batch norm stays frozen) and continue at 0.1x the learning rate.",
    "top:0": "The backbone stays frozen; the head continues at 0.1x the learning rate.",
    "from:block3": "Unfreeze the backbone from layer block3 up (batch norm stays frozen) and continue at 0.1x the "
    "learning rate.",
}


@pytest.mark.parametrize("policy", list(PHASE_TWO))
def test_phase_two_says_what_it_unfreezes(policy):
    recipe = ModelRecipe(kind="finetune", backbone="demo", freeze=policy, two_phase=True, finetune_lr_factor=0.1)
    head, tune = finetune_phases(recipe, 10, "backbone")
    assert head.description == "Train the new head with the backbone frozen."
    assert tune.description == PHASE_TWO[policy]
    assert "(none)" not in tune.description  # read as "unfreeze nothing"


def test_one_phase_keeps_the_policy_words():
    (only,) = finetune_phases(ModelRecipe(kind="finetune", backbone="demo", freeze="all"), 10, "backbone")
    assert "only the new head learns" in only.description
