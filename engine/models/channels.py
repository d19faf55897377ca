"""The channel adapter in front of a backbone, made of a built-in Keras layer.

A saved model must open with plain ``keras.models.load_model`` (README), so the adapter is a
frozen, bias-free `keras.layers.Dense` over the channel axis whose kernel says how each
backbone channel is made from the data's channels. The kernel is saved in the `.keras` file
like any weight; nothing of Kiln's is needed to load it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# ITU-R BT.601 luma, the weights PIL's convert("L") uses.
LUMINANCE = (0.299, 0.587, 0.114)


def channel_matrix(have: int, want: int) -> np.ndarray:
    """The (have, want) matrix that turns ``have`` channels into ``want``.

    1 -> N repeats the channel; 3 -> 1 (and 4 -> 1) is luminance; 4 -> 3 drops alpha; any
    other pair gives every output channel the mean of the inputs.
    """
    if have < 1 or want < 1:
        raise ValueError(f"channel counts must be positive, not {have} -> {want}")
    matrix = np.zeros((have, want), dtype=np.float32)
    if have == want:
        np.fill_diagonal(matrix, 1.0)
    elif have == 1:
        matrix[0, :] = 1.0
    elif have in (3, 4) and want == 1:
        matrix[:3, 0] = LUMINANCE
    elif have == 4 and want == 3:
        np.fill_diagonal(matrix[:3], 1.0)  # alpha (the fourth channel) contributes nothing
    else:
        matrix[:, :] = 1.0 / have
    return matrix


def channel_adapter(have: int, want: int, *, name: str = "channels_to_backbone") -> Any:
    """A frozen ``keras.layers.Dense`` that maps ``have`` channels to ``want`` (built-in, loads anywhere).

    Applied to an ``(..., have)`` tensor it returns ``(..., want)``. It is not trainable, and
    fine-tuning unfreezes only the backbone, so it stays the fixed conversion it was built as.
    """
    import keras

    return keras.layers.Dense(
        want,
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(channel_matrix(have, want)),
        trainable=False,
        name=name,
    )
