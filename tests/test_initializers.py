"""Each initializer's initial weights follow its formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kiln_lab.engine.models.initializers import INITIALIZERS, make_initializer, recommended_initializer

FAN_IN, FAN_OUT = 400, 300

# name -> expected standard deviation of the kernel, from the published formulas.
EXPECTED_STD = {
    "he_normal": math.sqrt(2 / FAN_IN),
    "he_uniform": math.sqrt(6 / FAN_IN) / math.sqrt(3),
    "glorot_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "glorot_uniform": math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3),
    "lecun_normal": math.sqrt(1 / FAN_IN),
    "lecun_uniform": math.sqrt(3 / FAN_IN) / math.sqrt(3),
    "random_normal": 0.05,
    "random_uniform": 0.05 / math.sqrt(3),
}


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_kernel_statistics_match_formula(name: str) -> None:
    weights = np.asarray(make_initializer(name, scale=0.05, seed=1)((FAN_IN, FAN_OUT)))
    assert abs(weights.mean()) < 0.05 * EXPECTED_STD[name] + 1e-3
    assert weights.std() == pytest.approx(EXPECTED_STD[name], rel=0.03)
    if name.endswith("uniform"):
        limit = EXPECTED_STD[name] * math.sqrt(3)
        assert np.abs(weights).max() <= limit + 1e-6
        assert np.abs(weights).max() > 0.98 * limit


def test_unknown_initializer_is_refused_with_the_choices() -> None:
    from kiln_lab.engine.errors import ModelError

    with pytest.raises(ModelError, match="he_normal"):
        make_initializer("xavier_magic")


def test_model_kernels_use_the_chosen_initializer() -> None:
    from kiln_lab.engine.models.scratch import build_scratch_model
    from kiln_lab.engine.training.config import ModelRecipe

    for name, expected in (("he_normal", math.sqrt(2 / 256)), ("random_normal", 0.5)):
        recipe = ModelRecipe(arch="mlp", depth=1, width=512, kernel_initializer=name, init_scale=0.5)
        model = build_scratch_model(recipe, input_shape=(256,), input_kind="vector", task="classification",
                                    num_classes=3)
        kernel = model.get_layer("dense_0").kernel.numpy()
        assert kernel.std() == pytest.approx(expected, rel=0.05)


def test_layers_get_different_draws_and_bias_initializer_applies() -> None:
    from kiln_lab.engine.models.scratch import build_scratch_model
    from kiln_lab.engine.training.config import ModelRecipe

    recipe = ModelRecipe(arch="mlp", depth=2, width=32, bias_initializer="ones")
    model = build_scratch_model(recipe, input_shape=(32,), input_kind="vector", task="classification", num_classes=3)
    first, second = model.get_layer("dense_0").kernel.numpy(), model.get_layer("dense_1").kernel.numpy()
    assert not np.allclose(first, second)
    assert np.all(model.get_layer("dense_0").bias.numpy() == 1.0)


def test_recommendations_follow_the_activation() -> None:
    assert recommended_initializer("relu") == "he_normal"
    assert recommended_initializer("tanh") == "glorot_uniform"
    assert recommended_initializer("selu") == "lecun_normal"
