"""Backbones made inside the tests (no network): Hub-format and Keras 3 SavedModels, .h5/.keras files, data."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_hub_savedmodel(folder: Path, *, size: int = 16, channels: int = 3, seed: int = 0) -> Path:
    """A SavedModel in the TF Hub reusable format, written by tf_keras (Keras 2) like real hub models.

    ``__call__(inputs, training)`` traced for both values of ``training`` (batch norm differs),
    plus ``variables``, ``trainable_variables`` and ``regularization_losses`` attributes.
    """
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=(size, size, channels)),
            tf_keras.layers.Conv2D(8, 3, padding="same", name="conv1"),
            tf_keras.layers.BatchNormalization(name="bn1"),
            tf_keras.layers.ReLU(name="relu1"),
            tf_keras.layers.Conv2D(8, 3, padding="same", name="conv2"),
            tf_keras.layers.BatchNormalization(name="bn2"),
            tf_keras.layers.ReLU(name="relu2"),
            tf_keras.layers.GlobalAveragePooling2D(name="pool"),
        ]
    )
    model(np.zeros((1, size, size, channels), np.float32))

    obj = tf.train.Checkpoint()
    obj.model = model
    obj.variables = list(model.variables)
    obj.trainable_variables = list(model.trainable_variables)
    obj.regularization_losses = []

    @tf.function
    def call(inputs, training=False):
        return model(inputs, training=training)

    spec = tf.TensorSpec([None, size, size, channels], tf.float32)
    call.get_concrete_function(spec, True)
    call.get_concrete_function(spec, False)
    obj.__call__ = call
    tf.saved_model.save(obj, str(folder))
    _trust(folder)
    return folder


def _trust(folder: Path) -> None:
    """The test made this folder, so it says yes to it, as a person would with --trust-file."""
    from kiln_lab.engine.export.trust import trust

    trust(folder)


def keras3_feature_model(size: int = 16, channels: int = 3, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name="features")


def make_keras3_export(folder: Path, **kwargs) -> Path:
    """A Keras 3 ``model.export`` SavedModel (endpoint 'serve', no training argument)."""
    keras3_feature_model(**kwargs).export(str(folder), format="tf_saved_model", verbose=False)
    _trust(folder)
    return folder


def make_h5_classifier(path: Path, *, size: int = 8, channels: int = 1, classes: int = 3, seed: int = 0) -> Path:
    """A person's own small classifier saved as legacy .h5: conv features, a Dense hidden layer, a Dense head."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((size, size, channels)),
            keras.layers.Rescaling(1 / 255.0, name="scale"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dropout(0.1, name="drop"),
            keras.layers.Dense(classes, activation="softmax", name="out"),
        ],
        name="own_model",
    )
    model.save(str(path))
    return path


def image_dataset(n: int = 96, *, size: int = 8, channels: int = 1, classes: int = 3, seed: int = 0):
    """A learnable synthetic image classification `Dataset` (class = which quadrant is bright)."""
    from kiln_lab.engine.data.arrays import ArrayLoader
    from kiln_lab.engine.data.dataset import CLASSIFICATION, IMAGE, Dataset
    from kiln_lab.engine.data.split import stratified_split

    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.uniform(0, 60, (n, size, size, channels)).astype(np.float32)
    half = size // 2
    for i, label in enumerate(y):
        r, c = divmod(int(label), 2)
        x[i, r * half : (r + 1) * half, c * half : (c + 1) * half, :] += 180
    return Dataset(
        source="synthetic",
        source_kind="arrays",
        task=CLASSIFICATION,
        input_kind=IMAGE,
        input_shape=(size, size, channels),
        class_names=[f"c{i}" for i in range(classes)],
        labels=y.astype(np.int64),
        splits=stratified_split(y, val_fraction=0.25, test_fraction=0.0, seed=seed),
        loader=ArrayLoader(x, image=True),
    )


def arrays(dataset, image_size, split: str = "train"):
    """A split as (x, y) NumPy arrays, the way the pipeline would feed them (0..255, resized)."""
    indices = np.asarray(dataset.splits[split])
    return dataset.loader.read(indices, image_size), dataset.labels[indices]


def snapshot(variables) -> list[np.ndarray]:
    return [np.array(v.numpy(), copy=True) for v in variables]


def moved(before: list[np.ndarray], variables) -> list[bool]:
    return [not np.allclose(b, v.numpy(), atol=0, rtol=0) for b, v in zip(before, variables)]


def finetune_config(backbone: str, **model):
    from kiln_lab.engine.training.config import RunConfig

    recipe = {"kind": "finetune", "backbone": backbone, "head_dropout": 0.0, **model}
    return RunConfig().replace(model=recipe, train={"epochs": 3, "batch_size": 16, "learning_rate": 0.01})
