"""Small generated image sets with one known property, for tests and benchmarks alike."""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2: what a grayscale conversion keeps


def hue_only_blobs(
    count: int, size: int, seed: int, *, radius: tuple[float, float], noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 images (count, size, size, 3), labels)``: one blob per image whose class is its hue
    alone. Every blob colour has the grey background's luminance, so in grayscale (what a
    one-channel backbone receives) the blob, and with it the class, disappears."""
    rng = np.random.default_rng(seed)
    # Two unit directions in the plane of zero luminance change: colour = grey + r * direction.
    a = np.cross(LUMA, [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(LUMA, a)
    b /= np.linalg.norm(b)
    hues = [np.cos(t) * a + np.sin(t) * b for t in (0.0, 2.1, 4.2)]
    labels = rng.integers(0, 3, count)
    rows, cols = np.mgrid[0:size, 0:size]
    x = np.full((count, size, size, 3), 128.0)
    for i, label in enumerate(labels):
        r = rng.uniform(*radius)
        cy, cx = rng.uniform(r, size - r, 2)
        x[i][(rows - cy) ** 2 + (cols - cx) ** 2 <= r * r] = 128.0 + 60.0 * hues[label]
    x += rng.normal(0, noise, x.shape)
    return np.clip(x, 0, 255).astype(np.uint8), labels


def oriented_gratings(
    count: int, size: int, seed: int, *, orientations: int = 4, noise: float = 40.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 grayscale images (count, size, size, 1), labels)``: a sinusoidal grating in Gaussian
    noise whose class is its orientation alone. Its phase and period are random, so every class
    has the same mean image: a linear probe on the pixels cannot tell them apart, while a small
    CNN (oriented filters, a nonlinearity, pooling) learns them at once. A texture far from the
    digits the demo backbone learned."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, orientations, count)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    x = np.empty((count, size, size, 1))
    for i, label in enumerate(labels):
        angle = np.pi * label / orientations + rng.normal(0, 0.05)
        period = rng.uniform(4.0, 8.0)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle)) / period + phase)
        x[i, ..., 0] = 128.0 + 50.0 * wave + rng.normal(0, noise, (size, size))
    return np.clip(x, 0, 255).astype(np.uint8), labels
