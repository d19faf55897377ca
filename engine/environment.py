"""What the run ran on: versions and compute devices, for run records and the status bar."""

from __future__ import annotations

import platform
import sys
from typing import Any


def compute_devices() -> list[dict[str, str]]:
    """GPUs the Keras backend can use, with their names; an empty list means CPU only."""
    from kiln_lab.engine.runtime import accelerators

    return accelerators()


def device_label() -> str:
    """One short label: the GPU name(s), or 'CPU'."""
    gpus = compute_devices()
    if not gpus:
        return f"CPU ({platform.processor() or platform.machine()})"
    names = sorted({g["name"] for g in gpus})
    return (f"{len(gpus)}x " if len(gpus) > 1 else "") + ", ".join(names)


def environment_report() -> dict[str, Any]:
    from importlib import metadata

    import keras
    import numpy

    from kiln_lab import engine

    try:  # the installed version, without importing TensorFlow under a JAX / PyTorch backend
        tensorflow_version: str | None = metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        tensorflow_version = None

    return {
        "kiln": engine.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tensorflow_version,
        "keras": keras.__version__,
        "keras_backend": keras.config.backend(),
        "numpy": numpy.__version__,
        "device": device_label(),
        "gpus": compute_devices(),
    }
