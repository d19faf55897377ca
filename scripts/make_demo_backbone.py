"""Reproduce Kiln's built-in demo backbone: resources/backbones/kiln-demo-digits-cnn.keras and its card.

The source task is classifying the handwritten digits 0-4 of ``demo:digits`` (8x8 grayscale,
upscaled to 32x32 the way the data pipeline resizes). Only the *training* split of the
default run config (val 0.2, test 0, seed 42) is used, so a default fine-tuning run on
demo:digits validates on digits the backbone never saw. Run from the repository root:

    python scripts/make_demo_backbone.py [--epochs 40] [--out resources/backbones]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "kiln-demo-digits-cnn"
SIZE = (32, 32)
SOURCE_CLASSES = 5  # digits 0-4
SEED = 1234


def feature_extractor():
    """The backbone: raw 0..255 grayscale 32x32 in, 512 features out (3 conv blocks, batch norm)."""
    import keras

    inputs = keras.Input((*SIZE, 1), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale_0_1")(inputs)
    for block, filters in enumerate((16, 32, 32), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{block}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{block}")(x)
        x = keras.layers.ReLU(name=f"relu{block}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{block}")(x)
    # Flattened 4x4 maps, not global pooling: where a stroke is matters for digits, and a
    # linear head on spatial features transfers to new digits far better (measured).
    x = keras.layers.Flatten(name="features")(x)
    return keras.Model(inputs, x, name="kiln_demo_digits_cnn")


def source_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.training.config import DataConfig

    dataset = load_dataset(DataConfig(source="demo:digits"))  # the default split: val 0.2, seed 42
    train = np.asarray(dataset.splits["train"])
    train = train[dataset.labels[train] < SOURCE_CLASSES]
    rng = np.random.default_rng(SEED)
    rng.shuffle(train)
    held_out = len(train) // 6
    x = dataset.loader.read(train, SIZE)
    y = dataset.labels[train].astype(np.int64)
    return x[held_out:], y[held_out:], x[:held_out], y[:held_out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "backbones")
    args = parser.parse_args()

    import keras

    keras.utils.set_random_seed(SEED)
    x_train, y_train, x_val, y_val = source_data()
    backbone = feature_extractor()
    inputs = keras.Input((*SIZE, 1))
    x = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=SEED)(inputs)  # training only
    x = keras.layers.RandomZoom(0.1, fill_mode="constant", seed=SEED)(x)
    outputs = keras.layers.Dense(SOURCE_CLASSES, activation="softmax", name="source_head")(backbone(x))
    model = keras.Model(inputs, outputs)
    steps = args.epochs * int(np.ceil(len(y_train) / 32))
    rate = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)  # settles the weights and BN statistics
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_data=(x_val, y_val), verbose=2)
    _, train_acc = model.evaluate(x_train, y_train, verbose=0)
    _, val_acc = model.evaluate(x_val, y_val, verbose=0)

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{NAME}.keras"
    backbone.save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    params = backbone.count_params()
    card = CARD.format(
        date=datetime.date.today().isoformat(),
        n_train=len(y_train),
        n_val=len(y_val),
        epochs=args.epochs,
        train_acc=train_acc,
        val_acc=val_acc,
        params=params,
        size_kb=path.stat().st_size / 1024,
        digest=digest,
        keras=keras.__version__,
    )
    (args.out / f"{NAME}.md").write_text(card, encoding="utf-8")
    print(
        f"source accuracy: train {train_acc:.3f}, held-out {val_acc:.3f}; {params} params; {path.stat().st_size} bytes"
    )


CARD = """# Kiln demo backbone: `kiln-demo-digits-cnn`

A small convolutional feature extractor that Kiln ships so that fine-tuning works offline,
on first launch, with no download. Catalogue name: `demo`.

## What it is
- Input: 32x32 grayscale images, raw pixel values 0..255 (it rescales to 0..1 itself).
  Kiln resizes other images to 32x32 and converts colour to grayscale inside the model.
- Layers: rescale, then three blocks of 3x3 convolution (16, 32, 32 filters, no bias),
  batch normalisation, ReLU and 2x2 max pooling; the 4x4x32 maps are flattened into
  **512 features** (flattened rather than pooled: where a stroke sits matters for digits).
- Parameters: {params:,} ({size_kb:.0f} KB as a .keras file).

## How it was made
- Source task: classify the handwritten digits **0-4** of `demo:digits` (UCI optical
  recognition of handwritten digits, 8x8, via scikit-learn), upscaled to 32x32 with
  bilinear resizing, exactly as Kiln's data pipeline resizes.
- Data: only the training split of Kiln's default run config (validation 0.2, seed 42), so
  a default fine-tuning run on demo:digits is validated on images the backbone never saw.
  {n_train} images trained it, {n_val} were held out to measure it.
- Training: a 5-way softmax head (discarded afterwards), random shifts and zooms of up to
  10 %, Adam (learning rate 0.002, cosine decay to 0), batch 32, {epochs} epochs, seed 1234, Keras {keras}.
- Source-task accuracy: **{train_acc:.1%}** on its training images, **{val_acc:.1%}** on the held-out ones.

## Intended use and limits
- For demonstrating and testing transfer learning: fine-tune it on all ten digits, on
  other small grayscale images, or on `demo:shapes`. It knows strokes of digits, not photos.
- Not a general-purpose image model: for real photographs pick an ImageNet backbone.
- If you change the split seed of demo:digits, some validation images of digits 0-4 will be
  among the images it was trained on.

## Reproduce
    python scripts/make_demo_backbone.py --epochs {epochs}
Made {date}. SHA-256 of the file: `{digest}`.

## Licence
The backbone: Apache-2.0, like Kiln. The digits data: UCI Machine Learning Repository,
Optical Recognition of Handwritten Digits (Alpaydin and Kaynak, 1998), CC BY 4.0.
"""


if __name__ == "__main__":
    main()
