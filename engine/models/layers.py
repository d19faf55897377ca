"""Kiln's own Keras 3 layers, and `CUSTOM_OBJECTS`: every custom class Kiln puts in a model.

`SavedModelLayer` runs a TensorFlow SavedModel (TF Hub reusable format, a Keras 3 export, or
a plain serving signature) inside a Keras 3 model. `hub.KerasLayer` is a Keras 2 object and
`keras.layers.TFSMLayer` cannot be fine-tuned with Adam (its weight names keep TF's ':0',
which is not a valid name scope for Adam's slot variables), so Kiln wraps the SavedModel's
own variables in Keras variables with clean names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import keras

from kiln_lab.engine import _compat

# Variable names the optimizers build their slot variables from must be valid TF scope names.
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]")
# The first variable of a layer, for SavedModels whose variable names carry no layer prefix
# (a Keras 3 export names its tf.Variables 'kernel', 'bias', ... only).
_FIRST_OF_LAYER = {"kernel", "depthwise_kernel", "pointwise_kernel", "embeddings", "gamma"}


@keras.saving.register_keras_serializable(package="kiln")
class SavedModelLayer(keras.layers.Layer):
    """A SavedModel's call function as a Keras 3 layer whose weights are the SavedModel's variables.

    Args:
        saved_model_path: the local SavedModel folder (a hub handle is resolved to one before this).
        handle: where the folder came from (hub URL, Kaggle handle); used to fetch it again
            when a saved model is opened where ``saved_model_path`` no longer exists.
        endpoint: the function to call: ``__call__`` (TF Hub format), ``serve`` (Keras 3
            export) or a signature name; ``None`` picks the first that exists.
        output_key: for endpoints that return a dict, which output to use.
        frozen: names of weights held fixed although the SavedModel marks them trainable
            (partial fine-tuning); saved in the config so a resumed run keeps them fixed.

    ``training`` reaches the SavedModel (so its batch norm uses batch statistics) only while
    every variable of the layer is trainable; a frozen or partially frozen backbone runs in
    inference mode. The weights saved in a .keras file are the SavedModel's variables, so a
    fine-tuned model reloads with its fine-tuned values, not the downloaded ones.
    """

    def __init__(
        self,
        saved_model_path: str,
        handle: str | None = None,
        endpoint: str | None = None,
        output_key: str | None = None,
        frozen: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.saved_model_path = str(saved_model_path)
        self.handle = handle
        self.output_key = output_key
        loaded = _load_saved_model(self.saved_model_path, handle)
        self._loaded = loaded
        self.endpoint, self._function, self._takes_training = _find_endpoint(loaded, endpoint)
        self._regularization_losses = list(getattr(loaded, "regularization_losses", []) or [])
        # Per wrapped variable (by path): the SavedModel layer it belongs to, for "top:N" freezing.
        self.variable_groups: dict[str, str] = {}
        self._learnable: list[Any] = []  # the variables the SavedModel itself marks trainable
        self._wrap_variables(loaded)
        self.set_frozen(frozen or [])
        _compat.mark_built(self)

    def _wrap_variables(self, loaded: Any) -> None:
        variables, trainable_ids = _saved_model_variables(loaded, self._function)
        used: set[str] = set()
        group = ""
        with _compat.layer_name_scope(self):
            for variable in variables:
                raw = variable.name.split(":")[0]
                name = _UNSAFE_NAME.sub("_", raw.replace("/", "_")) or "weight"
                unique, n = name, 1
                while unique in used:
                    unique, n = f"{name}_{n}", n + 1
                used.add(unique)
                if "/" in raw:
                    group = raw.rsplit("/", 1)[0]
                elif raw in _FIRST_OF_LAYER or not group:
                    group = f"{raw}@{len(self.variable_groups)}"
                learnable = id(variable) in trainable_ids
                wrapped = keras.Variable(variable, trainable=learnable, dtype=variable.dtype.name, name=unique)
                _compat.track_variable(self, wrapped)
                self.variable_groups[wrapped.path] = group
                if learnable:
                    self._learnable.append(wrapped)

    @property
    def learnable_weights(self) -> list[Any]:
        """The weights the SavedModel marks trainable (batch-norm statistics are not among them)."""
        return list(self._learnable)

    def set_frozen(self, names: list[str]) -> None:
        """Hold the named learnable weights fixed and let the others train."""
        frozen = set(names)
        for weight in self._learnable:
            weight.trainable = weight.name not in frozen

    @property
    def accepts_training(self) -> bool:
        """Whether the SavedModel's function takes ``training`` (so its batch norm can train)."""
        return self._takes_training

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        fully_trainable = self.trainable and all(w.trainable for w in self._learnable)
        train_mode = bool(training) and fully_trainable
        if self._takes_training:
            outputs = self._function(inputs, training=train_mode)
        else:
            outputs = self._function(inputs)
        if isinstance(outputs, dict):
            key = self.output_key or sorted(outputs)[0]
            outputs = outputs[key]
        if training and self.trainable and self._regularization_losses:
            self.add_loss(keras.ops.sum([keras.ops.convert_to_tensor(f()) for f in self._regularization_losses]))
        return outputs

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            saved_model_path=self.saved_model_path,
            handle=self.handle,
            endpoint=self.endpoint,
            output_key=self.output_key,
            frozen=[w.name for w in self._learnable if not w.trainable],
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None, safe_mode: bool | None = None) -> Any:
        from kiln_lab.engine.export.trust import admit_savedmodel_folder, savedmodel_layers_allowed

        # Same rule as keras.layers.TFSMLayer: opening a SavedModel runs its graph code, so a
        # safe-mode load refuses it, unless the trust gate (engine.export.trust) is loading a
        # file the person trusted; safe mode stays on for everything else in that file.
        effective = safe_mode if safe_mode is not None else _compat.in_safe_mode()
        if effective is not False and not savedmodel_layers_allowed():
            raise ValueError(
                "This model contains a SavedModelLayer, which runs code from a SavedModel; "
                "open it through Kiln, which asks whether you trust this file."
            )
        if savedmodel_layers_allowed():
            # The file's hash does not cover the folder it names: the folder needs its own trust.
            handle = config.get("handle")
            folder = resolve_saved_model_folder(config.get("saved_model_path", ""), handle)
            if (folder / "saved_model.pb").exists():  # a missing one is reported by the load, in words
                if folder != Path(config.get("saved_model_path", "")) and _in_catalogue(handle):
                    from kiln_lab.engine.export.trust import trust

                    trust(folder)  # fetched again for a handle of Kiln's own catalogue, which vouches as at build
                admit_savedmodel_folder(folder, handle=handle)
        return cls(**config)


@keras.saving.register_keras_serializable(package="kiln")
class ChannelAdapter(keras.layers.Layer):
    """Gives images the channel count a backbone expects: 1 -> 3 by repeating, 3/4 -> 1 by luminance, 4 -> 3.

    Kept so that models saved by Kiln before 2026-12 still open in Kiln; new models use
    `engine.models.channels.channel_adapter`, a built-in Keras layer that opens in plain Keras.
    """

    def __init__(self, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        have = inputs.shape[-1]
        if have == self.channels:
            return inputs
        if have == 4:
            inputs, have = inputs[..., :3], 3  # drop alpha
            if self.channels == 3:
                return inputs
        if have == 1:
            return ops.repeat(inputs, self.channels, axis=-1)
        if self.channels == 1 and have == 3:
            weights = ops.convert_to_tensor([0.299, 0.587, 0.114], dtype=inputs.dtype)
            return ops.sum(inputs * weights, axis=-1, keepdims=True)
        mean = ops.mean(inputs, axis=-1, keepdims=True)
        return ops.repeat(mean, self.channels, axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "channels": self.channels}


def _in_catalogue(handle: str | None) -> bool:
    from kiln_lab.engine.models.catalogue import load_catalogue

    return bool(handle) and any(entry.handle == handle and entry.source == "hub" for entry in load_catalogue())


def resolve_saved_model_folder(path: str, handle: str | None) -> Path:
    """The folder a `SavedModelLayer` opens: ``path``, or the handle fetched again when it is gone."""
    folder = Path(path)
    if not (folder / "saved_model.pb").exists() and handle:
        # A model saved elsewhere, or after the hub cache was cleared: fetch the handle again.
        from kiln_lab.engine.models.backbones.hub import resolve_handle

        folder = Path(resolve_handle(handle))
    return folder


def _load_saved_model(path: str, handle: str | None) -> Any:
    from kiln_lab.engine.runtime import require_tensorflow

    require_tensorflow("A SavedModel or TF Hub backbone")
    import tensorflow as tf

    from kiln_lab.engine.errors import BackboneUnavailable

    folder = resolve_saved_model_folder(path, handle)
    if not (folder / "saved_model.pb").exists():
        raise BackboneUnavailable(
            f"The backbone SavedModel folder {path} is missing.",
            hint="Restore the folder, or open a self-contained export (SavedModel or TFLite) of this model instead.",
        )
    try:
        return tf.saved_model.load(str(folder))
    except (OSError, ValueError, tf.errors.OpError) as exc:
        raise BackboneUnavailable(
            f"{folder} could not be opened as a SavedModel ({str(exc).splitlines()[0][:160]}).",
            hint="Check that the folder holds a complete TensorFlow SavedModel.",
        ) from exc


def _find_endpoint(loaded: Any, endpoint: str | None) -> tuple[str, Any, bool]:
    """The function to call, its name, and whether it takes ``training``."""
    candidates = [endpoint] if endpoint else ["__call__", "serve", "serving_default"]
    for name in candidates:
        function = None
        if name == "__call__" and callable(loaded):
            function = loaded.__call__
            # A restored tf.function, not Python's default method-wrapper.
            if not hasattr(function, "concrete_functions") and not hasattr(function, "function_spec"):
                function = None
        elif hasattr(loaded, name) and callable(getattr(loaded, name)):
            function = getattr(loaded, name)
        elif name in getattr(loaded, "signatures", {}):
            function = loaded.signatures[name]
        if function is not None:
            return name, function, _takes_training(function)
    from kiln_lab.engine.errors import BackboneUnavailable

    known = sorted(getattr(loaded, "signatures", {}).keys())
    raise BackboneUnavailable(
        "The SavedModel has no function Kiln can call (__call__, serve or serving_default).",
        hint=f"Its signatures are: {', '.join(known) or 'none'}.",
    )


def _takes_training(function: Any) -> bool:
    try:
        spec = function.function_spec.fullargspec
        return "training" in spec.args or "training" in spec.kwonlyargs
    except AttributeError:
        pass
    try:
        return any(
            "training" in (concrete.structured_input_signature[1] or {})
            or len(concrete.structured_input_signature[0]) > 1
            for concrete in function.concrete_functions
        )
    except (AttributeError, TypeError, IndexError):
        return False


def _saved_model_variables(loaded: Any, function: Any) -> tuple[list[Any], set[int]]:
    """All variables the model uses, in a stable order, and the ids of the trainable ones."""
    variables = list(getattr(loaded, "variables", []) or [])
    trainable = list(getattr(loaded, "trainable_variables", []) or [])
    if not variables:
        trainable, non_trainable = _compat.variables_used_by([function])
        variables = trainable + non_trainable
    if not trainable:
        trainable = [v for v in variables if v.trainable]
    # A SavedModel may list one variable twice (e.g. in two attributes).
    seen: set[int] = set()
    ordered = [v for v in variables if not (id(v) in seen or seen.add(id(v)))]
    return ordered, {id(v) for v in trainable}


def _custom_objects() -> dict[str, Any]:
    from kiln_lab.engine.models.finetune_optimizer import OPTIMIZER_CLASSES

    return {"SavedModelLayer": SavedModelLayer, "ChannelAdapter": ChannelAdapter, **OPTIMIZER_CLASSES}


# Read by engine.models.custom_objects.kiln_custom_objects() (model loading, checkpoints).
CUSTOM_OBJECTS: dict[str, Any] = _custom_objects()
