"""A few lines of Python that load an exported file and call it the way Kiln does.

Shown beside each export on the app's Export page (and printed by nobody else): the snippet is
written for the actual model, from its run record: the input size and channels, the pixel range
the model takes (raw 0-255 pixels: Kiln's models rescale inside), a table's column encoding
(standardised numbers, one-hot categories), and the class names. It needs only the file's own
runtime (Keras, TensorFlow, LiteRT or tf.lite, ONNX Runtime), NumPy and, for images, Pillow.

A plain-value module (standard library only), so the window's process can build the text.
tests/test_export_snippets.py runs each snippet in a fresh process against a real export and
checks it prints the class Kiln predicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGE_PLACEHOLDER = "your_image.png"
_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _loader(format: str, path: str) -> tuple[list[str], list[str], str]:
    """(imports, lines that load the file, the expression that scores the batch ``x``)."""
    quoted = json.dumps(path)
    if format in ("keras", "h5"):
        return (["import keras"], [f"model = keras.models.load_model({quoted}, compile=False)"],
                "model.predict(x, verbose=0)")
    if format == "savedmodel":
        return (["import tensorflow as tf"], [f"model = tf.saved_model.load({quoted})"],
                "model.serve(tf.constant(x)).numpy()")
    if format == "tflite":
        return (
            ["try:  # LiteRT, TFLite's successor; else TensorFlow's own interpreter",
             "    from ai_edge_litert.interpreter import Interpreter",
             "except ImportError:",
             "    import tensorflow as tf",
             "",
             "    Interpreter = tf.lite.Interpreter"],
            [f"interpreter = Interpreter(model_path={quoted})",
             "interpreter.allocate_tensors()",
             "run = interpreter.get_signature_runner()",
             "input_name = next(iter(run.get_input_details()))"],
            "next(iter(run(**{input_name: x}).values()))",
        )
    if format == "onnx":
        return (["import onnxruntime"],
                [f"session = onnxruntime.InferenceSession({quoted}, providers=['CPUExecutionProvider'])",
                 "input_name = session.get_inputs()[0].name"],
                "session.run(None, {input_name: x})[0]")
    raise ValueError(f"no snippet for {format!r} files")


def _image_input(dataset: dict[str, Any], image_size: list[int] | None) -> tuple[list[str], list[str]]:
    prep = dataset.get("preprocessing") or {}
    shape = list(dataset.get("input_shape") or [])
    channels = int(prep.get("channels") or (shape[-1] if len(shape) == 3 else 3))
    size = [int(s) for s in (image_size or prep.get("image_size") or shape[:2])]
    if len(size) != 2:
        raise ValueError("the run record does not say what input size this model takes")
    height, width = size
    mode = _PIL_MODES.get(channels, "RGB")
    words = {1: "greyscale", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")
    return (
        ["from PIL import Image, ImageOps"],
        [f"# The model takes {height}x{width} {words} pixels as 0-255 floats (it rescales them itself), "
         "in a batch.",
         f"image = ImageOps.exif_transpose(Image.open({json.dumps(IMAGE_PLACEHOLDER)})).convert({mode!r})",
         f"image = image.resize(({width}, {height}), Image.BILINEAR)",
         f"x = np.asarray(image, dtype=np.float32).reshape(1, {height}, {width}, {channels})"],
    )


def _table_input(dataset: dict[str, Any]) -> tuple[list[str], list[str]]:
    prep = dataset.get("preprocessing") or {}
    if prep.get("kind") == "tabular":
        columns = []
        example = {}
        for column in prep.get("columns") or []:
            if column.get("type") == "numeric":
                columns.append(("number", column["name"], round(float(column["mean"]), 6),
                                round(float(column["std"]), 6)))
                example[column["name"]] = round(float(column["mean"]), 3)
            elif column.get("type") == "categorical":
                columns.append(("category", column["name"], list(column["categories"])))
                example[column["name"]] = column["categories"][0] if column["categories"] else ""
        return (
            [],
            ["# One row, by column name (a missing number counts as the training mean).",
             f"row = {json.dumps(example)}",
             "# Kiln's encoding: numbers standardised with the training mean and deviation, categories one-hot.",
             f"COLUMNS = {json.dumps(columns)}",
             "features = []",
             "for kind, name, *facts in COLUMNS:",
             "    value = row.get(name)",
             "    if kind == 'number':",
             "        mean, std = facts",
             "        features.append(((mean if value in (None, '') else float(value)) - mean) / std)",
             "    else:",
             "        features.extend(1.0 if str(value).strip() == c else 0.0 for c in facts[0])",
             "x = np.asarray([features], dtype=np.float32)"],
        )
    mean = [round(float(v), 6) for v in prep.get("mean") or []]
    std = [round(float(v), 6) for v in prep.get("std") or []]
    return (
        [],
        ["# One feature vector; Kiln standardises it with the training mean and deviation.",
         f"features = {json.dumps(mean)}",
         f"MEAN = np.asarray({json.dumps(mean)}, dtype=np.float32)",
         f"STD = np.asarray({json.dumps(std)}, dtype=np.float32)",
         "x = ((np.asarray([features], dtype=np.float32) - MEAN) / STD).astype(np.float32)"],
    )


def usage_snippet(format: str, path: str | Path, record: dict[str, Any] | None) -> str:
    """Python that loads ``path`` (an export in ``format``) and prints its answer for one input."""
    record = record or {}
    dataset = record.get("dataset") or {}
    model = record.get("model") or {}
    kind = dataset.get("input_kind") or (dataset.get("preprocessing") or {}).get("kind") or "image"
    imports, load, score = _loader(format, str(path))
    if kind == "image":
        input_imports, make_input = _image_input(dataset, model.get("image_size"))
    else:
        input_imports, make_input = _table_input(dataset)
    classes = list(dataset.get("class_names") or [])
    if dataset.get("task") == "regression" or (not classes and kind != "image"):
        answer = ["print(float(scores.reshape(-1)[0]))  # the predicted value"]
    else:
        names = f"CLASSES = {json.dumps(classes)}" if classes else "CLASSES = None  # the run kept no class names"
        answer = [
            names,
            "scores = scores.reshape(-1)",
            "top = int(scores[0] >= 0.5) if scores.size == 1 else int(np.argmax(scores))  # one unit: a sigmoid",
            "print(CLASSES[top] if CLASSES else top)",
        ]
    lines = ["import numpy as np", *input_imports, *imports, "", *load, "", *make_input, "",
             f"scores = np.asarray({score})[0]", *answer]
    return "\n".join(lines) + "\n"
