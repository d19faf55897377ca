"""Backbone sources: catalogue names, TF Hub / Kaggle handles, SavedModel folders, Keras Applications, model files.

Every source produces the same `Backbone`: a Keras 3 layer or sub-model plus its input
contract (size, channels, value range), feature shape and card (name, source, licence,
pretraining data, parameters). `load_backbone` accepts anything ``--backbone`` does.
"""

from __future__ import annotations

from pathlib import Path

from kiln_lab.engine.errors import BackboneUnavailable
from kiln_lab.engine.events import EventSink, ignore_events
from kiln_lab.engine.models.backbones.spec import Backbone, BackboneCard

__all__ = ["Backbone", "BackboneCard", "describe_spec", "load_backbone"]


def describe_spec(spec: str) -> str:
    """Which kind of source ``spec`` names:
    catalogue | keras_applications | kerashub | hub | savedmodel | keras_file | unknown."""
    from kiln_lab.engine.models.backbones.applications import find_application
    from kiln_lab.engine.models.backbones.hub import is_hub_handle
    from kiln_lab.engine.models.backbones.kerashub import is_kerashub_spec
    from kiln_lab.engine.models.catalogue import find_entry

    if find_entry(spec):
        return "catalogue"
    if find_application(spec):
        return "keras_applications"
    if is_kerashub_spec(spec):
        return "kerashub"
    path = Path(spec).expanduser()
    if path.is_dir():
        return "savedmodel"
    if path.suffix.lower() in (".keras", ".h5", ".hdf5"):
        return "keras_file"
    if is_hub_handle(spec):
        return "hub"
    return "unknown"


def load_backbone(
    spec: str,
    *,
    cut_layer: str | None = None,
    input_size: tuple[int, int] | None = None,
    pretrained: bool = True,
    sink: EventSink = ignore_events,
    timeout: float | None = None,
) -> Backbone:
    """Open the backbone ``spec`` names: a catalogue name, a Keras Applications name, a KerasHub preset
    (``kerashub:NAME`` or a preset folder), a TF Hub URL or Kaggle handle, a SavedModel folder, or a
    .keras / .h5 file (cut at ``cut_layer``).

    ``input_size`` is only used by Keras Applications (built for that size). ``pretrained=False``
    builds Keras Applications with random weights (offline tests, from-scratch baselines).
    Raises `BackboneUnavailable` with one sentence when it cannot be fetched or opened.
    """
    from kiln_lab.engine.models.backbones.applications import open_application
    from kiln_lab.engine.models.backbones.hub import resolve_handle
    from kiln_lab.engine.models.backbones.kerashub import open_kerashub_preset
    from kiln_lab.engine.models.backbones.model_file import open_model_file
    from kiln_lab.engine.models.backbones.savedmodel import open_saved_model
    from kiln_lab.engine.models.catalogue import catalogue_names, find_entry

    spec = (spec or "").strip()
    if not spec:
        raise BackboneUnavailable("No backbone was chosen: pick one from the catalogue, e.g. 'demo'.")
    kind = describe_spec(spec)
    weights = "imagenet" if pretrained else None
    if kind == "catalogue":
        entry = find_entry(spec)
        assert entry is not None
        if entry.source == "demo":
            backbone = open_model_file(entry.file, cut_layer=cut_layer, source="demo", meta=entry.meta())
        elif entry.source == "keras_applications":
            size = tuple(input_size) if input_size else entry.input_size
            backbone = open_application(
                entry.handle, input_size=size, weights=weights, meta=entry.meta(), timeout=timeout
            )
        elif entry.source == "kerashub":
            backbone = open_kerashub_preset(entry.handle, meta=entry.meta(), timeout=timeout)
        else:
            folder = resolve_handle(entry.handle, sink=sink, timeout=timeout)
            # Kiln's own catalogue vouches for its handles; any other folder or handle goes through the gate.
            backbone = open_saved_model(
                folder, handle=entry.handle, source="hub", meta=entry.meta(), vouched_by_catalogue=True
            )
        backbone.card.handle = entry.handle if entry.source != "demo" else entry.name
        return backbone
    if kind == "keras_applications":
        return open_application(spec, input_size=tuple(input_size or (224, 224)), weights=weights, timeout=timeout)
    if kind == "kerashub":
        return open_kerashub_preset(spec, timeout=timeout)
    if kind == "savedmodel":
        return open_saved_model(Path(spec).expanduser().resolve())
    if kind == "keras_file":
        return open_model_file(Path(spec).expanduser(), cut_layer=cut_layer)
    if kind == "hub":
        folder = resolve_handle(spec, sink=sink, timeout=timeout)
        return open_saved_model(folder, handle=spec, source="hub")
    if Path(spec).expanduser().exists():
        raise BackboneUnavailable(f"{spec} is neither a SavedModel folder nor a .keras / .h5 file.")
    raise BackboneUnavailable(
        f"There is no backbone '{spec}': give a catalogue name ({', '.join(catalogue_names())}), a TF Hub URL or "
        "Kaggle handle, a SavedModel folder or a .keras / .h5 file."
    )
