"""Kiln's engine: datasets, models, training and export over Keras 3 / TensorFlow.

Nothing in this package imports Qt. Importing ``engine`` itself is cheap: TensorFlow is
only imported by the submodules that need it, so the GUI can show its window first.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) is noise to a user; real
# errors still surface as Python exceptions. Set before any submodule imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# KERAS_BACKEND is left alone: unset, Keras reads ~/.keras/keras.json (or $KERAS_HOME/keras.json)
# as it does for any Keras program on this machine, and defaults to TensorFlow without one.

__version__ = "0.1.0"
