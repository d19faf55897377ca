"""Freeze policies on every backbone source, checked by which weights move; save and reload."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backbone_fixtures import (
    arrays,
    finetune_config,
    image_dataset,
    make_h5_classifier,
    make_hub_savedmodel,
    make_keras3_export,
    moved,
    snapshot,
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbones")
    return {
        "demo": "demo",
        "hub": str(make_hub_savedmodel(root / "hub")),
        "keras3": str(make_keras3_export(root / "keras3")),
        "h5": str(make_h5_classifier(root / "own.h5")),
    }


@pytest.fixture(scope="module")
def dataset():
    return image_dataset()  # 8x8 grayscale, 3 classes: every backbone needs adapting to it


def _build(config, dataset):
    from kiln_lab.engine.models.build import build_model

    return build_model(config.model, dataset, epochs=config.train.epochs)


def _train(built, config, dataset, phase_index=0, epochs=3):
    from kiln_lab.engine.training.compile import compile_for_phase

    compile_for_phase(built, built.phases[phase_index], config, task=dataset.task, num_classes=dataset.num_classes)
    x, y = arrays(dataset, built.image_size)
    before = built.model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    built.model.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0)
    after = built.model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    return before, after


@pytest.mark.parametrize("source", ["demo", "hub", "keras3", "h5"])
@pytest.mark.parametrize("freeze", ["all", "none"])
def test_adam_moves_exactly_the_weights_it_should_and_reloads(source, freeze, sources, dataset, tmp_path):
    from kiln_lab.engine.export.save import load_model, save_model

    config = finetune_config(sources[source], freeze=freeze)
    built = _build(config, dataset)
    model = built.model
    backbone = model.get_layer(built.info["backbone_layer"])
    head = model.get_layer("head_output")
    bb_before, head_before = snapshot(backbone.weights), snapshot(head.weights)

    loss_before, loss_after = _train(built, config, dataset)

    assert loss_after < loss_before
    assert all(moved(head_before, head.weights))
    changed = dict(zip([w.path for w in backbone.weights], moved(bb_before, backbone.weights)))
    if freeze == "all":
        assert not any(changed.values()), "a frozen backbone (batch-norm statistics included) must not move"
    else:
        learnable = [w for w in backbone.weights if w.trainable]
        assert learnable and all(changed[w.path] for w in learnable)
        statistics = [w.path for w in backbone.weights if "moving" in w.path]
        # BN statistics move only where the backbone can run in training mode (a Keras 3 export cannot)
        assert all(changed[p] == (source != "keras3") for p in statistics)

    x, _ = arrays(dataset, built.image_size, "val")
    expected = model.predict(x, verbose=0)
    path = save_model(model, tmp_path / "tuned.keras")
    reloaded = load_model(path)
    assert np.allclose(reloaded.predict(x, verbose=0), expected, atol=1e-5)


def test_partial_keras_backbone_unfreezes_top_layers_and_keeps_batch_norm_frozen(dataset):
    config = finetune_config("demo", freeze="top:1")
    built = _build(config, dataset)
    backbone = built.model.get_layer(built.info["backbone_layer"])
    before = {w.path: np.array(w.numpy()) for w in backbone.weights}
    _train(built, config, dataset, epochs=1)
    moved_paths = {p for p, v in before.items() if not np.array_equal(v, _value(backbone, p))}
    assert moved_paths == {"conv3/kernel"}  # the top layer; bn3 above it is not counted and stays frozen


def _value(model, path):
    return next(w.numpy() for w in model.weights if w.path == path)


def test_partial_savedmodel_backbone_by_variable_groups(sources, dataset):
    config = finetune_config(sources["hub"], freeze="from:conv2")
    built = _build(config, dataset)
    backbone = built.model.get_layer("backbone")
    before = snapshot(backbone.weights)
    _train(built, config, dataset, epochs=1)
    changed = {w.path.split("/")[-1] for w, m in zip(backbone.weights, moved(before, backbone.weights)) if m}
    # conv2 learns; conv1 and every batch norm (scale, offset, statistics) stay, as in a Keras backbone
    assert changed == {"conv2_kernel", "conv2_bias"}


def test_bad_freeze_policy_is_a_sentence(dataset):
    from kiln_lab.engine.errors import ConfigError

    with pytest.raises(ConfigError, match="top:N"):
        _build(finetune_config("demo", freeze="top:many"), dataset)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_savedmodel_backbone_fine_tunes_with_every_optimizer(optimizer, sources, dataset):
    config = finetune_config(sources["hub"], freeze="none", backbone_lr_mult=0.5)
    config = config.replace(train={"optimizer": optimizer, "learning_rate": 0.003})
    built = _build(config, dataset)
    backbone = built.model.get_layer("backbone")
    before = snapshot(backbone.trainable_weights)
    loss_before, loss_after = _train(built, config, dataset, epochs=2)
    assert all(moved(before, backbone.trainable_weights)) and loss_after < loss_before
