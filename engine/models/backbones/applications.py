"""Keras Applications -> `Backbone`, with ImageNet weights from the Keras cache (~/.keras/models).

Each application's own ``preprocess_input`` becomes part of the model, so a saved model
takes raw 0..255 images: the newer families (MobileNetV3, EfficientNet(V2), ConvNeXt)
build it in (``include_preprocessing``); for MobileNetV2 and ResNet50V2 it is 'tf' mode,
x / 127.5 - 1, which the fine-tuned model adds as a Rescaling layer (``input_range``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln_lab.engine.errors import BackboneUnavailable
from kiln_lab.engine.models.backbones.spec import Backbone, BackboneCard


@dataclass(frozen=True)
class Application:
    constructor: str  # keras.applications attribute
    input_range: tuple[float, float]  # what the constructed model expects
    include_preprocessing_arg: bool  # takes include_preprocessing=True (EfficientNetB0 always includes it)
    features: int
    params: int  # without the classifier
    preprocessing: str  # what preprocess_input does, for the record


APPLICATIONS: dict[str, Application] = {
    "MobileNetV2": Application("MobileNetV2", (-1.0, 1.0), False, 1280, 2_257_984, "tf mode: x / 127.5 - 1"),
    "MobileNetV3Small": Application("MobileNetV3Small", (0.0, 255.0), True, 576, 939_120, "built in (x / 127.5 - 1)"),
    "MobileNetV3Large": Application("MobileNetV3Large", (0.0, 255.0), True, 960, 2_996_352, "built in (x / 127.5 - 1)"),
    "EfficientNetB0": Application("EfficientNetB0", (0.0, 255.0), False, 1280, 4_049_571, "built in (normalisation)"),
    "EfficientNetV2B0": Application(
        "EfficientNetV2B0", (0.0, 255.0), True, 1280, 5_919_312, "built in (x / 127.5 - 1)"
    ),
    "ResNet50V2": Application("ResNet50V2", (-1.0, 1.0), False, 2048, 23_564_800, "tf mode: x / 127.5 - 1"),
    "ConvNeXtTiny": Application("ConvNeXtTiny", (0.0, 255.0), True, 768, 27_820_128, "built in (ImageNet mean/std)"),
}
IMAGENET = "ImageNet-1k (ILSVRC 2012), 1.28 M images, 1,000 classes"


def find_application(name: str) -> str | None:
    """The Keras Applications name for ``name`` (case-insensitive; ``keras:`` prefix allowed), if any."""
    bare = name.split(":", 1)[1] if name.lower().startswith(("keras:", "keras_applications:")) else name
    lowered = bare.replace("-", "").replace("_", "").lower()
    return next((key for key in APPLICATIONS if key.lower() == lowered), None)


def open_application(
    name: str,
    *,
    input_size: tuple[int, int] = (224, 224),
    weights: str | None = "imagenet",
    meta: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> Backbone:
    """Build the application without its classifier (global average pooled features).

    ``weights=None`` builds the same network with random weights (offline tests).
    """
    import keras

    from kiln_lab.engine.models.backbones.hub import download_timeout
    from kiln_lab.engine.runtime import socket_timeout

    key = find_application(name)
    if key is None:
        raise BackboneUnavailable(
            f"'{name}' is not a Keras Application Kiln knows: choose one of {', '.join(APPLICATIONS)}."
        )
    app = APPLICATIONS[key]
    kwargs: dict[str, Any] = {
        "include_top": False,
        "weights": weights,
        "input_shape": (*input_size, 3),
        "pooling": "avg",
    }
    if app.include_preprocessing_arg:
        kwargs["include_preprocessing"] = True
    try:
        with socket_timeout(download_timeout() if timeout is None else timeout):
            model = getattr(keras.applications, app.constructor)(**kwargs)
    except (TypeError, AttributeError):
        raise  # a bug here, not a download problem
    except Exception as exc:  # noqa: BLE001 - a failed weight download surfaces as one sentence
        reason = "the download failed" if "URL fetch failure" in str(exc) else str(exc).splitlines()[0][:120]
        raise BackboneUnavailable(
            f"Could not get the ImageNet weights for {key} ({reason}): connect to the "
            "network once (Keras caches them in ~/.keras/models), or use the built-in demo backbone 'demo'."
        ) from exc
    facts = meta or {}
    card = BackboneCard(
        name=str(facts.get("name") or key),
        source="keras_applications",
        handle=key,
        licence=str(facts.get("licence", "Apache-2.0 (Keras); ImageNet weights: see the model's paper")),
        pretraining_data=IMAGENET if weights == "imagenet" else "none (random weights)",
        params=int(model.count_params()),
        description=str(facts.get("description", f"keras.applications.{key}, preprocessing {app.preprocessing}.")),
    )
    return Backbone(
        layer=model,
        card=card,
        input_size=tuple(input_size),
        channels=3,
        input_range=app.input_range,
        feature_shape=(app.features,),
        default_size=tuple(input_size),
        notes=[f"preprocess_input: {app.preprocessing}"],
    )
