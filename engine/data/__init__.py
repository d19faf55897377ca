"""Data sources -> one `Dataset` description + tf.data pipelines.

Importing this package is cheap: TensorFlow loads inside the functions that need it.
"""

from __future__ import annotations

from engine.data.dataset import CLASSIFICATION, IMAGE, REGRESSION, VECTOR, Dataset, SampleLoader, SkippedFile
from engine.data.demo import DEMOS
from engine.data.inputs import load_inputs_for_prediction
from engine.data.loading import load_dataset
from engine.data.pipeline import Pipelines, make_pipelines
from engine.data.tabular import encode_rows

__all__ = [
    "CLASSIFICATION",
    "DEMOS",
    "IMAGE",
    "REGRESSION",
    "VECTOR",
    "Dataset",
    "Pipelines",
    "SampleLoader",
    "SkippedFile",
    "encode_rows",
    "load_dataset",
    "load_inputs_for_prediction",
    "make_pipelines",
]
