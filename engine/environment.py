"""What the run ran on: versions and compute devices, for run records and the status bar."""

from __future__ import annotations

import platform
import sys
from typing import Any


def compute_devices() -> list[dict[str, str]]:
    """GPUs TensorFlow can use, with their names; an empty list means CPU only."""
    import tensorflow as tf

    devices = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        devices.append({"name": details.get("device_name", gpu.name), "id": gpu.name})
    return devices


def device_label() -> str:
    """One short label: the GPU name(s), or 'CPU'."""
    gpus = compute_devices()
    if not gpus:
        return f"CPU ({platform.processor() or platform.machine()})"
    names = sorted({g["name"] for g in gpus})
    return (f"{len(gpus)}x " if len(gpus) > 1 else "") + ", ".join(names)


def environment_report() -> dict[str, Any]:
    import keras
    import numpy
    import tensorflow as tf

    import engine

    return {
        "kiln": engine.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "device": device_label(),
        "gpus": compute_devices(),
    }
