"""Fine-tuning optimizers: a per-variable learning rate for the backbone, and L2-SP.

Keras has no per-layer learning rate. Each Kiln optimizer here is the Keras optimizer of the
same name with two additions for the variables listed in ``backbone_paths``:

* the learning rate that reaches ``update_step`` is multiplied by ``backbone_lr_mult``. That
  is the rate inside the optimizer's own rule, so for Adam / RMSprop the step itself scales
  by the multiplier (scaling the gradient would not: Adam normalises it away), and SGD's
  momentum buffer accumulates the scaled steps. AdamW's decoupled weight decay scales too.
* L2-SP (Li et al., 2018): the gradient of ``l2sp * ||w - w0||^2``, i.e. ``2 * l2sp * (w - w0)``,
  is added to the backbone's gradient before the update, which is exactly what adding the
  penalty to the loss does. ``w0`` are copies of the weights taken when the optimizer is
  built (before the first step, so the pretrained values), kept as optimizer variables.

Everything is in the optimizer's config (multiplier, strength, variable paths) and its
variables (anchors, moments), so a .keras checkpoint resumes with the same state.
"""

from __future__ import annotations

from typing import Any

import keras

from kiln_lab.engine import _compat


class _BackboneAware:
    """Mixin for a Keras optimizer: backbone learning-rate multiplier and L2-SP pull."""

    def __init__(
        self, *args: Any, backbone_lr_mult: float = 1.0, l2sp: float = 0.0, backbone_paths: Any = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.backbone_lr_mult = float(backbone_lr_mult)
        self.l2sp = float(l2sp)
        self.backbone_paths = [str(p) for p in backbone_paths]

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        super().build(variables)
        paths = set(self.backbone_paths)
        backbone = [v for v in variables if getattr(v, "path", None) in paths]
        self._backbone_keys = frozenset(_compat.optimizer_variable_key(self, v) for v in backbone)
        self._anchor_index: dict[Any, int] = {}
        self._anchors: list[Any] = []
        if self.l2sp > 0:
            for variable in backbone:
                # Keras may build the optimizer while tracing the train step, where an assign()
                # would be lost: read the value eagerly and make it the anchor's initial value.
                pretrained = _compat.eager_numpy(variable)
                anchor = self.add_variable(
                    shape=variable.shape,
                    initializer=lambda shape, dtype, value=pretrained: keras.ops.cast(value, dtype),
                    dtype=variable.dtype,
                    name=f"{variable.path.replace('/', '_')}_l2sp_anchor",
                )
                self._anchor_index[_compat.optimizer_variable_key(self, variable)] = len(self._anchors)
                self._anchors.append(anchor)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> Any:
        key = _compat.optimizer_variable_key(self, variable)
        if key in self._backbone_keys:
            if self.l2sp > 0:
                anchor = self._anchors[self._anchor_index[key]]
                pull = keras.ops.cast(2.0 * self.l2sp, variable.dtype) * (variable - anchor)
                gradient = keras.ops.add(gradient, pull)
            learning_rate = learning_rate * self.backbone_lr_mult
        return super().update_step(gradient, variable, learning_rate)

    def _split_weight_decay(self, variables: list[Any], apply: Any) -> None:
        """Keras's decoupled decay for the head; the backbone's scaled by its rate multiplier."""
        weight_decay = getattr(self, "weight_decay", None)
        if not weight_decay or self.backbone_lr_mult == 1.0:
            return apply(variables)
        key = _compat.optimizer_variable_key
        head = [v for v in variables if key(self, v) not in self._backbone_keys]
        backbone = [v for v in variables if key(self, v) in self._backbone_keys]
        apply(head)
        # Decoupled decay is lr * wd * w: the backbone's share follows its own rate.
        self.weight_decay = weight_decay * self.backbone_lr_mult
        try:
            apply(backbone)
        finally:
            self.weight_decay = weight_decay

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(backbone_lr_mult=self.backbone_lr_mult, l2sp=self.l2sp, backbone_paths=list(self.backbone_paths))
        return config


_compat.override_weight_decay(_BackboneAware, _BackboneAware._split_weight_decay)


@keras.saving.register_keras_serializable(package="kiln")
class FinetuneSGD(_BackboneAware, keras.optimizers.SGD):
    """SGD with a backbone learning-rate multiplier and optional L2-SP."""


@keras.saving.register_keras_serializable(package="kiln")
class FinetuneAdam(_BackboneAware, keras.optimizers.Adam):
    """Adam with a backbone learning-rate multiplier and optional L2-SP."""


@keras.saving.register_keras_serializable(package="kiln")
class FinetuneAdamW(_BackboneAware, keras.optimizers.AdamW):
    """AdamW with a backbone learning-rate multiplier (decay included) and optional L2-SP."""


@keras.saving.register_keras_serializable(package="kiln")
class FinetuneRMSprop(_BackboneAware, keras.optimizers.RMSprop):
    """RMSprop with a backbone learning-rate multiplier and optional L2-SP."""


OPTIMIZER_CLASSES: dict[str, type] = {
    "FinetuneSGD": FinetuneSGD,
    "FinetuneAdam": FinetuneAdam,
    "FinetuneAdamW": FinetuneAdamW,
    "FinetuneRMSprop": FinetuneRMSprop,
}
_BY_BASE = {"SGD": FinetuneSGD, "Adam": FinetuneAdam, "AdamW": FinetuneAdamW, "RMSprop": FinetuneRMSprop}


def finetune_optimizer(optimizer: Any, backbone_paths: list[str], *, backbone_lr_mult: float, l2sp: float) -> Any:
    """The Kiln counterpart of a plain Keras ``optimizer`` (same settings) for fine-tuning."""
    from kiln_lab.engine.errors import ConfigError

    cls = _BY_BASE.get(type(optimizer).__name__)
    if cls is None:
        raise ConfigError(
            f"The backbone learning-rate multiplier and L2-SP are not available with {type(optimizer).__name__}.",
            hint=f"Choose one of: {', '.join(name.lower() for name in _BY_BASE)}.",
        )
    if backbone_lr_mult < 0 or l2sp < 0:
        raise ConfigError("The backbone learning-rate multiplier and the L2-SP strength cannot be negative.")
    config = optimizer.get_config()
    config.update(backbone_lr_mult=backbone_lr_mult, l2sp=l2sp, backbone_paths=list(backbone_paths))
    return cls.from_config(config)
