"""Weight initializers as a first-class, named choice.

Each name maps to a Keras initializer and a one-line reason to pick it. ``random_normal``
and ``random_uniform`` take a plain scale on purpose: a person can watch a badly scaled
network converge slowly or not at all, and compare with He or Glorot.
"""

from __future__ import annotations

from typing import Any

INITIALIZERS: dict[str, str] = {
    "he_normal": "He (Kaiming) normal: std sqrt(2/fan_in). The default for ReLU-family activations.",
    "he_uniform": "He (Kaiming) uniform: limit sqrt(6/fan_in). For ReLU-family activations.",
    "glorot_uniform": "Glorot (Xavier) uniform: limit sqrt(6/(fan_in+fan_out)). For tanh and sigmoid.",
    "glorot_normal": "Glorot (Xavier) normal: std sqrt(2/(fan_in+fan_out)). For tanh and sigmoid.",
    "lecun_normal": "LeCun normal: std sqrt(1/fan_in). Made for SELU (self-normalising networks).",
    "lecun_uniform": "LeCun uniform: limit sqrt(3/fan_in). For SELU and tanh.",
    "random_normal": "Plain random normal with a fixed std (the scale): ignores layer size, so deep nets "
    "shrink or blow up their signal. Shown on purpose to see why it fails.",
    "random_uniform": "Plain random uniform in [-scale, scale]: ignores layer size, so gradients vanish "
    "or explode in deep nets. Shown on purpose.",
}

BIAS_INITIALIZERS: dict[str, str] = {
    "zeros": "Zeros: the usual choice; symmetry is already broken by the kernel.",
    "ones": "Ones: keeps ReLU units active at the start.",
    "random_normal": "Plain random normal with the chosen scale.",
    "random_uniform": "Plain random uniform in [-scale, scale].",
    "constant_0.01": "0.01: a small positive bias, sometimes used with ReLU.",
}

ACTIVATION_HINTS: dict[str, str] = {
    "relu": "he_normal",
    "gelu": "he_normal",
    "swish": "he_normal",
    "elu": "he_normal",
    "selu": "lecun_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
}


def recommended_initializer(activation: str) -> str:
    """The initializer that keeps the signal's variance for this activation."""
    return ACTIVATION_HINTS.get(activation, "glorot_uniform")


def make_initializer(name: str, *, scale: float = 0.05, seed: int | None = None) -> Any:
    """A Keras initializer instance for ``name`` (see `INITIALIZERS` / `BIAS_INITIALIZERS`)."""
    import keras

    from kiln_lab.engine.errors import ModelError

    if name == "random_normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=scale, seed=seed)
    if name == "random_uniform":
        return keras.initializers.RandomUniform(minval=-scale, maxval=scale, seed=seed)
    if name == "zeros":
        return keras.initializers.Zeros()
    if name == "ones":
        return keras.initializers.Ones()
    if name.startswith("constant_"):
        return keras.initializers.Constant(float(name.split("_", 1)[1]))
    classes = {
        "he_normal": keras.initializers.HeNormal,
        "he_uniform": keras.initializers.HeUniform,
        "glorot_uniform": keras.initializers.GlorotUniform,
        "glorot_normal": keras.initializers.GlorotNormal,
        "lecun_normal": keras.initializers.LecunNormal,
        "lecun_uniform": keras.initializers.LecunUniform,
    }
    if name not in classes:
        raise ModelError(
            f"'{name}' is not a weight initializer Kiln knows.",
            hint=f"Choose one of: {', '.join(INITIALIZERS)}.",
        )
    return classes[name](seed=seed)
