"""Initializer diagnostics: vanishing gradients are flagged, a He-initialised ReLU stack is not."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine.analysis.init_diagnostics import LayerDiagnosis, diagnose_model, gradient_verdict


def _stack(depth: int, activation: str, initializer):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(16, activation=activation, kernel_initializer=initializer, name=f"d{i}")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 16)).astype("float32"), rng.integers(0, 3, 32)


def test_tiny_random_init_on_a_deep_sigmoid_stack_is_flagged_vanishing(batch):
    import keras

    model = _stack(10, "sigmoid", keras.initializers.RandomNormal(stddev=0.01, seed=1))
    diagnosis = diagnose_model(model, *batch, steps=2)
    assert diagnosis.flags.get("d0") == "vanishing"
    assert "vanishing" in diagnosis.sentence
    # the earliest layer's gradient is orders of magnitude below the last hidden layer's
    assert diagnosis.layers[0].grad_norm < 1e-3 * diagnosis.layers[-2].grad_norm
    assert diagnosis.grad_norms.shape == (11, 2)


def test_tiny_random_init_on_a_deep_relu_stack_is_flagged(batch):
    import keras

    model = _stack(10, "relu", keras.initializers.RandomNormal(stddev=0.01, seed=1))
    diagnosis = diagnose_model(model, *batch, steps=1)
    assert not diagnosis.healthy
    assert set(diagnosis.flags.values()) == {"vanishing"}
    assert "shrinks" in diagnosis.sentence


def test_he_init_on_the_same_relu_stack_is_healthy(batch):
    import keras

    model = _stack(10, "relu", keras.initializers.HeNormal(seed=1))
    diagnosis = diagnose_model(model, *batch, steps=2)
    assert diagnosis.healthy, diagnosis.sentence
    assert diagnosis.sentence == ""
    ratios = diagnosis.grad_norms[:, 0] / diagnosis.grad_norms[:, 0].max()
    assert ratios.min() > 1e-2  # every layer within two orders of magnitude
    assert all(0 <= layer.dead_fraction <= 1 for layer in diagnosis.layers[:-1])
    assert "d0" in diagnosis.table()


def _layer(name: str, grad: float, weight: float = 1.0, std: float = 1.0) -> LayerDiagnosis:
    return LayerDiagnosis(name, "Dense", "relu", 0.0, std, 0.0, grad, weight)


def test_verdict_flags_an_exploding_layer_and_names_it():
    flags, sentence = gradient_verdict([_layer("a", 0.5), _layer("b", 500.0), _layer("c", 0.4)])
    # b is 500x its weights (exploding); a and c sit three orders below it
    assert flags == {"a": "vanishing", "b": "exploding", "c": "vanishing"}
    assert "exploding" in sentence and "b" in sentence


def test_verdict_is_silent_for_gradients_within_an_order_of_magnitude():
    assert gradient_verdict([_layer("a", 0.3), _layer("b", 1.0), _layer("c", 0.5)]) == ({}, "")


@pytest.mark.slow
def test_kiln_diagnose_prints_the_table_and_the_sentence(capsys):
    from kiln_lab.engine.cli import main

    code = main(["diagnose", "--data", "demo:digits", "--arch", "mlp", "--depth", "6", "--width", "16",
                 "--init", "random_normal", "--init-scale", "0.01", "--steps", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "dense_0" in out and "head" in out and "vanishing gradients" in out
    assert main(["diagnose", "--data", "demo:digits", "--steps", "0"]) == 2  # bad input: a sentence, exit 2
    assert "--steps" in capsys.readouterr().err
