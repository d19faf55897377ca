"""Two-phase recipe, backbone learning-rate multiplier and L2-SP, checked by how far weights move."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backbone_fixtures import arrays, finetune_config, image_dataset, snapshot


@pytest.fixture(scope="module")
def dataset():
    return image_dataset()


def _one_step_deltas(config, dataset, *, phase_index=0, steps=1):
    """Backbone and head weight changes after ``steps`` full-batch steps of one phase."""
    from kiln_lab.engine.models.build import build_model
    from kiln_lab.engine.training.compile import compile_for_phase

    built = build_model(config.model, dataset, epochs=config.train.epochs)
    for phase in built.phases[:phase_index]:
        phase.prepare(built.model)  # earlier phases only set flags here; no training
    compile_for_phase(built, built.phases[phase_index], config, task=dataset.task, num_classes=dataset.num_classes)
    backbone = built.model.get_layer(built.info["backbone_layer"])
    head = built.model.get_layer("head_output")
    kernels = [w for w in backbone.trainable_weights if "kernel" in w.path]
    bb0, head0 = snapshot(kernels), snapshot(head.weights[:1])
    x, y = arrays(dataset, built.image_size)
    built.model.fit(x, y, epochs=steps, batch_size=len(x), shuffle=False, verbose=0)
    bb = np.concatenate([(w.numpy() - b).ravel() for w, b in zip(kernels, bb0)]) if kernels else np.zeros(0)
    hd = head.weights[0].numpy() - head0[0]
    return bb, hd, built


def _sgd(config, **model):
    return config.replace(model=model, train={"optimizer": "sgd", "momentum": 0.0, "learning_rate": 0.05})


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_backbone_learning_rate_multiplier_scales_the_backbone_step(optimizer, dataset):
    base = finetune_config("demo", freeze="none").replace(train={"optimizer": optimizer, "momentum": 0.0})
    full_bb, full_head, _ = _one_step_deltas(base, dataset)
    tenth_bb, tenth_head, built = _one_step_deltas(base.replace(model={"backbone_lr_mult": 0.1}), dataset)
    assert type(built.model.optimizer).__name__.startswith("Finetune")
    # Same start, same batch: the head's step is unchanged, the backbone's is a tenth, for Adam too
    # (scaling gradients instead would leave Adam's first step unchanged).
    assert np.allclose(tenth_head, full_head, rtol=1e-4, atol=1e-7)
    ratio = np.linalg.norm(tenth_bb) / np.linalg.norm(full_bb)
    assert ratio == pytest.approx(0.1, rel=0.02)


def test_two_phase_trains_head_then_backbone_at_the_lower_rate(dataset):
    config = _sgd(
        finetune_config("demo"),
        kind="finetune",
        backbone="demo",
        two_phase=True,
        finetune_lr_factor=0.25,
        head_dropout=0.0,
    )
    config = config.replace(train={"epochs": 4})
    bb1, head1, built = _one_step_deltas(config, dataset, phase_index=0)
    assert [p.name for p in built.phases] == ["head", "fine-tune"] and [p.epochs for p in built.phases] == [2, 2]
    assert bb1.size == 0 and np.abs(head1).max() > 0  # phase 1: backbone frozen, head learns
    bb2, _, _ = _one_step_deltas(config, dataset, phase_index=1)
    full = config.replace(model={"two_phase": False, "freeze": "none"})
    bb_full, _, _ = _one_step_deltas(full, dataset)
    assert np.linalg.norm(bb2) / np.linalg.norm(bb_full) == pytest.approx(0.25, rel=0.02)


def test_l2sp_pulls_the_backbone_back_towards_its_pretrained_weights(dataset):
    config = finetune_config("demo", freeze="none").replace(train={"optimizer": "sgd", "momentum": 0.0})
    free, _, _ = _one_step_deltas(config, dataset, steps=6)
    held, _, built = _one_step_deltas(config.replace(model={"l2sp": 5.0}), dataset, steps=6)
    assert built.model.optimizer.l2sp == 5.0
    assert np.linalg.norm(held) < 0.8 * np.linalg.norm(free)


def test_finetune_optimizer_round_trips_through_a_keras_file(dataset, tmp_path):
    import keras

    from kiln_lab.engine.models.custom_objects import kiln_custom_objects

    config = finetune_config("demo", freeze="none", backbone_lr_mult=0.3, l2sp=0.01)
    _, _, built = _one_step_deltas(config.replace(train={"optimizer": "adamw"}), dataset, steps=2)
    built.model.save(tmp_path / "ckpt.keras")
    loaded = keras.models.load_model(tmp_path / "ckpt.keras", custom_objects=kiln_custom_objects())
    original, restored = built.model.optimizer, loaded.optimizer
    assert type(restored).__name__ == "FinetuneAdamW"
    assert restored.backbone_lr_mult == 0.3 and restored.l2sp == 0.01
    assert restored.backbone_paths == original.backbone_paths
    assert int(restored.iterations.numpy()) == 2
    anchors = [v for v in restored.variables if "l2sp_anchor" in v.path]
    assert anchors and all(
        np.allclose(a.numpy(), b.numpy())
        for a, b in zip(anchors, [v for v in original.variables if "l2sp_anchor" in v.path])
    )


def test_demo_backbone_two_phase_adam_end_to_end_and_resume(tmp_path):
    from kiln_lab.engine.events import EventRecorder, PhaseStarted
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    config = RunConfig().replace(
        model={"kind": "finetune", "backbone": "demo", "two_phase": True, "backbone_lr_mult": 0.5},
        train={"epochs": 2, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.003},
    )
    sink = EventRecorder()
    result = run_training(config, sink=sink, out_dir=tmp_path)
    assert [e.name for e in sink.of_type(PhaseStarted)] == ["head", "fine-tune"]
    assert result.metrics["val_accuracy"] > 0.8  # two epochs: the pretrained features do the work
    card = result.record["model"]["backbone"]
    assert card["name"] == "demo" and card["source"] == "demo" and "Apache" in card["licence"]
    assert result.image_size == (32, 32)
    # resume: one more fine-tuning epoch from the checkpoint, optimizer state included
    resumed = run_training(config.replace(train={"epochs": 3}), out_dir=tmp_path, resume=True)
    assert len(resumed.history["loss"]) == 3
    assert type(resumed.model.optimizer).__name__ == "FinetuneAdam"
