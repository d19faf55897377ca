"""KerasHub presets -> `Backbone`: native Keras 3 backbones from Kaggle Models or a local preset folder.

``kerashub:resnet_18_imagenet`` (a preset name, downloaded once by KerasHub into its cache),
``kerashub:/path/to/preset`` or a bare preset folder (``config.json`` naming a
``keras_hub`` class, ``metadata.json``, ``model.weights.h5``). The preset's own image
converter (resize, scale, offset: often the ImageNet mean and std per channel) becomes
plain Keras layers in front of the backbone, so the fine-tuned model takes raw 0..255
pixels and saves as a plain ``.keras`` file (loading it needs ``keras_hub`` installed, for
the backbone's own layer classes).

``keras-hub`` is an optional extra (``pip install keras-hub``, or the ``kerashub`` extra): it pulls in
tensorflow-text, tokenizers, sentencepiece and the Kaggle/Hugging Face clients.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import BackboneUnavailable
from kiln_lab.engine.models.backbones.spec import Backbone, BackboneCard

PREFIX = "kerashub:"
# The package itself, not an extra of Kiln's: the index's "kiln" is an unrelated project.
INSTALL_HINT = "Install KerasHub with: pip install keras-hub"


def is_kerashub_spec(spec: str) -> bool:
    """``kerashub:...``, or a folder that holds a KerasHub preset."""
    return spec.lower().startswith(PREFIX) or is_preset_folder(Path(spec).expanduser())


def is_preset_folder(path: Path) -> bool:
    config = path / "config.json"
    if not (path.is_dir() and config.is_file() and (path / "metadata.json").is_file()):
        return False
    try:
        module = json.loads(config.read_text(encoding="utf-8")).get("module", "")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(module, str) and module.startswith("keras_hub.")


def preset_of(spec: str) -> str:
    """The preset name or folder ``spec`` names (without the ``kerashub:`` prefix)."""
    bare = spec[len(PREFIX):] if spec.lower().startswith(PREFIX) else spec
    path = Path(bare).expanduser()
    return str(path.resolve()) if path.exists() else bare.strip()


def _keras_hub() -> Any:
    try:
        import keras_hub
    except ImportError as exc:
        raise BackboneUnavailable(f"KerasHub backbones need the keras-hub package. {INSTALL_HINT}") from exc
    return keras_hub


def open_kerashub_preset(spec: str, *, meta: dict[str, Any] | None = None, timeout: float | None = None) -> Backbone:
    """Load the preset's backbone and image converter; raises `BackboneUnavailable` with one sentence."""
    from kiln_lab.engine.models.backbones.hub import download_timeout

    keras_hub = _keras_hub()
    preset = preset_of(spec)
    is_folder = Path(preset).is_dir()
    if not is_folder and not re.fullmatch(r"[A-Za-z0-9_.\-/:]+", preset):
        raise BackboneUnavailable(f"'{preset}' is not a KerasHub preset name or preset folder.")
    saved_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(download_timeout() if timeout is None else timeout)
    try:
        backbone_model = keras_hub.models.Backbone.from_preset(preset)
    except (FileNotFoundError, ValueError, OSError, ConnectionError) as exc:
        raise BackboneUnavailable(_unavailable_sentence(preset, is_folder, exc)) from exc
    except Exception as exc:  # noqa: BLE001 - kagglehub/requests errors differ by version; one sentence each
        if type(exc).__module__.split(".")[0] in ("keras", "keras_hub", "builtins") and not _looks_offline(exc):
            raise
        raise BackboneUnavailable(_unavailable_sentence(preset, is_folder, exc)) from exc
    finally:
        socket.setdefaulttimeout(saved_timeout)
    converter = _image_converter(keras_hub, preset)
    return _as_backbone(backbone_model, converter, spec=spec, preset=preset, meta=meta or {})


def _looks_offline(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("connection", "resolve", "network", "timed out", "timeout", "kaggle", "http"))


def _unavailable_sentence(preset: str, is_folder: bool, exc: Exception) -> str:
    if is_folder:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        return f"The KerasHub preset folder {preset} cannot be opened ({reason})."
    return (
        f"Could not get the KerasHub preset '{preset}': it is not in KerasHub's cache and could not be "
        "downloaded (no network, or an unknown name). Connect once to download it, give a local preset "
        "folder, or use the built-in demo backbone 'demo'."
    )


def _image_converter(keras_hub: Any, preset: str) -> Any | None:
    """The preset's image converter, or None when it ships none (then 0..1 input is assumed)."""
    try:
        return keras_hub.layers.ImageConverter.from_preset(preset)
    except Exception:  # noqa: BLE001 - many presets (and hand-made folders) have no converter
        return None


def converter_scale_offset(converter: Any | None) -> tuple[Any, Any]:
    """The converter's ``x * scale + offset`` on 0..255 pixels, as plain numbers or per-channel lists."""
    if converter is None:
        return 1.0 / 255.0, 0.0
    config = converter.get_config()
    scale = config.get("scale")
    offset = config.get("offset")
    return (1.0 if scale is None else _plain(scale)), (0.0 if offset is None else _plain(offset))


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return float(value)


def _as_backbone(model: Any, converter: Any | None, *, spec: str, preset: str, meta: dict[str, Any]) -> Backbone:
    import keras_hub

    size = None
    if converter is not None and converter.get_config().get("image_size"):
        size = tuple(int(v) for v in converter.get_config()["image_size"])
    elif meta.get("input_size"):
        size = tuple(int(v) for v in meta["input_size"])
    shape = tuple(model.input_shape[1:]) if model.input_shape else (None, None, 3)
    channels = int(shape[-1]) if shape and shape[-1] else 3
    if size is None and shape[0] and shape[1]:
        size = (int(shape[0]), int(shape[1]))
    metadata = _preset_metadata(keras_hub, preset)
    description = str(meta.get("description") or metadata.get("description") or f"KerasHub {type(model).__name__}")
    card = BackboneCard(
        name=str(meta.get("name") or Path(preset).name or preset),
        source="kerashub",
        handle=spec,
        licence=str(meta.get("licence") or metadata.get("licence") or "unknown (see the preset's Kaggle model page)"),
        pretraining_data=str(meta.get("pretraining_data") or _pretraining_from(description)),
        params=int(model.count_params()),
        description=description,
    )
    scale, offset = converter_scale_offset(converter)
    feature_shape = tuple(int(v) if v else 0 for v in model.output_shape[1:])
    return Backbone(
        layer=model,
        card=card,
        # Convolutional presets take any size (the converter's is the one it was trained at);
        # a ViT is built for one size, and the adapter resizes to it.
        input_size=(int(shape[0]), int(shape[1])) if shape[0] and shape[1] else None,
        channels=channels,
        input_range=(0.0, 255.0),
        feature_shape=feature_shape,
        default_size=size or (224, 224),
        notes=[f"KerasHub {type(model).__name__}; image converter x * {scale} + {offset}"],
        input_scale=(scale, offset),
    )


def _preset_metadata(keras_hub: Any, preset: str) -> dict[str, Any]:
    """metadata.json of a local folder, or KerasHub's registry entry for a named preset."""
    folder = Path(preset)
    if folder.is_dir():
        try:
            return dict(json.loads((folder / "metadata.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return {}
    entry = keras_hub.models.Backbone.presets.get(preset) if hasattr(keras_hub.models.Backbone, "presets") else None
    return dict((entry or {}).get("metadata", {}))


def _pretraining_from(description: str) -> str:
    match = re.search(r"(ImageNet[- ]?(1k|21k|22k)?)", description, flags=re.IGNORECASE)
    return match.group(1) if match else "unknown (see the preset's model card)"
