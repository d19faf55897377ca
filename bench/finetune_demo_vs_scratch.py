"""Measure: on demo:digits, fine-tuning the demo backbone vs the same network trained from scratch.

Both runs use the same model (demo backbone architecture + Kiln's head), the same data
(32x32, default split), optimizer, epochs and seed; the only difference is whether the
backbone starts from its pretrained weights or from fresh random ones. Run from the repo root:

    python bench/finetune_demo_vs_scratch.py [--epochs 6] [--freeze none]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--freeze", default="none")
    args = parser.parse_args()

    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import numpy as np

    from kiln_lab.engine.data import load_dataset, make_pipelines
    from kiln_lab.engine.models.build import build_model
    from kiln_lab.engine.training.compile import compile_for_phase
    from kiln_lab.engine.training.config import RunConfig

    config = RunConfig().replace(
        model={"kind": "finetune", "backbone": "demo", "freeze": args.freeze}, train={"epochs": args.epochs}
    )
    dataset = load_dataset(config.data)
    for label, pretrained in (("fine-tuned demo backbone", True), ("same network from scratch", False)):
        keras.utils.set_random_seed(config.train.seed)
        built = build_model(config.model, dataset, epochs=args.epochs)
        policy = args.freeze
        if not pretrained:
            backbone = built.model.get_layer(built.info["backbone_layer"])
            fresh = keras.models.clone_model(backbone)  # same layers, new random weights
            backbone.set_weights(fresh.get_weights())
            policy = "none"  # from scratch, everything must learn
            built.phases[0].prepare = None
            backbone.trainable = True
        pipes = make_pipelines(dataset, batch_size=32, image_size=built.image_size, seed=42)
        compile_for_phase(built, built.phases[0], config, task=dataset.task, num_classes=dataset.num_classes)
        started = time.perf_counter()
        built.model.fit(pipes.train, validation_data=pipes.val, epochs=args.epochs, shuffle=False, verbose=0)
        seconds = time.perf_counter() - started
        scores = built.model.evaluate(pipes.val, verbose=0, return_dict=True)
        val_idx = np.asarray(dataset.splits["val"])
        x_val = dataset.loader.read(val_idx, built.image_size)
        predicted = built.model.predict(x_val, verbose=0).argmax(axis=1)
        truth = dataset.labels[val_idx]
        unseen = truth >= 5  # digits the backbone never saw in pretraining
        print(
            f"{label:28s} freeze={policy:5s} epochs={args.epochs}  val_accuracy={scores['accuracy']:.3f}  "
            f"(digits 0-4: {np.mean(predicted[~unseen] == truth[~unseen]):.3f}, "
            f"5-9: {np.mean(predicted[unseen] == truth[unseen]):.3f})  fit {seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
