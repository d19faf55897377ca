"""LogME: how well a backbone's frozen features can explain the labels, without training.

You, Liu, Wang and Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
Learning", ICML 2021 (arXiv:2102.11005). For each target column (one-hot class or a
regression target) the labels are modelled as a Bayesian linear regression on the features,
``y = F w + noise`` with prior ``w ~ N(0, 1/alpha)`` and noise ``N(0, 1/beta)``; the
evidence (marginal likelihood) is maximised over alpha and beta by the paper's fixed-point
iteration (its Algorithm 2), and LogME is the maximised log evidence per sample, averaged
over the target columns. Higher is better; values compare backbones on the same data.
"""

from __future__ import annotations

import numpy as np


def logme(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """LogME of ``features`` (N x D) for ``labels`` (N class indices, or N / N x K targets)."""
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    # Eigen-decomposition of F^T F (D x D), shared by every target column.
    sigma, vectors = np.linalg.eigh(f.T @ f)
    sigma = np.clip(sigma, 0.0, None)
    if regression:
        targets = np.asarray(labels, dtype=np.float64).reshape(n, -1)
        columns = [targets[:, k] for k in range(targets.shape[1])]
    else:
        classes = np.asarray(labels).astype(np.int64)
        columns = [(classes == k).astype(np.float64) for k in range(int(classes.max()) + 1)]
    evidences = [_evidence(f, y, sigma, vectors, n, d) for y in columns]
    return float(np.mean(evidences))


def _evidence(f: np.ndarray, y: np.ndarray, sigma: np.ndarray, vectors: np.ndarray, n: int, d: int) -> float:
    """Maximised log evidence per sample for one target column (the paper's fixed point)."""
    alpha, beta = 1.0, 1.0
    projected = vectors.T @ (f.T @ y)  # V^T F^T y
    ratio = alpha / beta
    alpha_de = beta_de = 0.0
    for _ in range(100):
        gamma = float(np.sum(beta * sigma / (alpha + beta * sigma)))
        m = vectors @ (beta * projected / (alpha + beta * sigma))  # posterior mean of w
        alpha_de = float(m @ m)
        beta_de = float(np.sum((y - f @ m) ** 2))
        alpha = gamma / max(alpha_de, 1e-12)
        beta = max(n - gamma, 1e-12) / max(beta_de, 1e-12)
        new_ratio = alpha / beta
        if abs(new_ratio - ratio) / ratio < 1e-3:
            break
        ratio = new_ratio
    evidence = (
        d / 2.0 * np.log(alpha)
        + n / 2.0 * np.log(beta)
        - 0.5 * np.sum(np.log(alpha + beta * sigma))
        - beta / 2.0 * beta_de
        - alpha / 2.0 * alpha_de
        - n / 2.0 * np.log(2 * np.pi)
    )
    return float(evidence / n)
