"""The one trust gate: every model file and SavedModel folder Kiln opens passes through here.

Rules (docs/RELIABILITY.md, promise 1):

* Keras model files are always loaded in Keras's safe mode, so a ``Lambda`` (or any other
  Python function stored in the file) is refused, whatever the person says.
* The one kind of code Kiln lets through is its own `SavedModelLayer` (a SavedModel's
  TensorFlow graph), and only in a file that is trusted *specifically*: its SHA-256 is in
  the registry because Kiln wrote the file, or because the person said yes to this very file
  (``--trust-file PATH``, ``--trust`` for the model named on that command line, the app's
  question). A SavedModel folder given as a backbone is trusted the same way, by a hash of
  its ``saved_model.pb`` and ``variables/``.
* Nothing else turns safe mode off; a run config can name a folder, but never trust it.

The registry is a small JSON file in the user's data folder (``KILN_DATA_DIR``, else the platform's
own, from engine.paths): ``{sha256: path it was trusted at}``. A file whose contents changed since is
not in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import KilnError, ModelError
from kiln_lab.engine.export.atomic import atomic_write_text

# Layer class names whose loading runs code from a SavedModel on disk. Only Kiln's own
# SavedModelLayer is ever let through (for a trusted file); the others stay refused by safe mode.
CODE_LAYER_CLASSES = frozenset({"SavedModelLayer", "TFSMLayer", "KerasLayer"})
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
_MAX_ENTRIES = 5000
_allowed = threading.local()


class UntrustedModel(KilnError):
    """A model file or SavedModel folder that would run code when opened, and nobody said yes to it.

    ``path`` is what the person would trust (the GUI asks about it and calls `trust`).
    """

    def __init__(self, message: str, *, hint: str | None = None, path: str | Path | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = str(path) if path is not None else None


# -- the registry ---------------------------------------------------------------------------


def registry_path() -> Path:
    """In the platform's user data folder (``KILN_DATA_DIR`` overrides it): see engine.paths."""
    from kiln_lab.engine.paths import user_data_dir

    return user_data_dir() / "trusted_models.json"


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(path: str | Path) -> str:
    """SHA-256 of a file, or of a SavedModel folder's ``saved_model.pb`` and ``variables/`` (names and bytes).

    Those are what a SavedModel runs and computes with; a side-car JSON or assets do not
    change what code runs, so editing them does not lose the folder's trust.
    """
    path = Path(path)
    if not path.is_dir():
        return file_digest(path)
    digest = hashlib.sha256(b"kiln-savedmodel-v1\0")
    parts = [path / "saved_model.pb"]
    variables = path / "variables"
    if variables.is_dir():
        parts += sorted(p for p in variables.rglob("*") if p.is_file())
    for part in parts:
        if not part.is_file():
            continue
        digest.update(part.relative_to(path).as_posix().encode("utf-8") + b"\0")
        digest.update(file_digest(part).encode("ascii"))
    return digest.hexdigest()


def _read() -> dict[str, str]:
    try:
        entries = json.loads(registry_path().read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def trust(path: str | Path) -> None:
    """Record that this exact file (or SavedModel folder) is trusted: Kiln wrote it, or the person said yes."""
    entries = _read()
    entries[fingerprint(path)] = str(Path(path).resolve())
    if len(entries) > _MAX_ENTRIES:  # keep the registry small: drop the oldest entries
        entries = dict(list(entries.items())[-_MAX_ENTRIES:])
    try:
        atomic_write_text(registry_path(), json.dumps(entries, indent=0))
    except OSError:
        pass  # an unwritable data folder only means Kiln asks again next time


remember_trusted = trust  # the older name


def is_trusted(path: str | Path) -> bool:
    try:
        return fingerprint(path) in _read()
    except OSError:
        return False


def trust_hint(path: str | Path) -> str:
    return (
        "Trust it only if you trust where it came from: in the app by answering yes, on the command line "
        f"with --trust-file {path}."
    )


# -- what a model file holds ----------------------------------------------------------------


def model_config_text(path: Path) -> str:
    """The model config JSON stored in a .keras (zip) or .h5 file; raises `ModelError` when it is not one."""
    suffix = path.suffix.lower()
    if suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                return archive.read("config.json").decode("utf-8", "replace")
        except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError) as exc:
            raise ModelError(
                f"{path.name} is not a Keras model file (it is not a .keras archive with a model config in it).",
                hint="Open a .keras file saved by Keras or Kiln; a file cut short by a failed copy needs copying "
                "again.",
            ) from exc
    try:
        import h5py

        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config", "")
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{path.name} is not a Keras model file (it is not a readable HDF5 file).",
            hint="Open a .h5 model saved by Keras, or a .keras file.",
        ) from exc
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if not text:
        raise ModelError(
            f"{path.name} holds no model, only data or weights, so Kiln cannot open it as a model.",
            hint="Open a .keras or .h5 file saved with model.save().",
        )
    return text


def layer_classes(path: str | Path) -> set[str]:
    """Every ``class_name`` in the file's model config."""
    try:
        config = json.loads(model_config_text(Path(path)))
    except ValueError as exc:
        raise ModelError(f"{Path(path).name} is not a Keras model file (its model config is not JSON).") from exc
    return set(_class_names(config))


def savedmodel_folders(path: str | Path) -> list[str]:
    """The SavedModel folders the file's layers open when it loads (each layer's ``saved_model_path``).

    They are outside the file, so its hash does not cover them; a yes to the file covers them
    too (`admit_savedmodel_folder`), and this is what the person is told that yes covers.
    """
    try:
        config = json.loads(model_config_text(Path(path)))
    except (ValueError, ModelError):
        return []
    found: list[str] = []
    for node in _nodes(config):
        if node.get("class_name") in CODE_LAYER_CLASSES and isinstance(node.get("config"), dict):
            folder = node["config"].get("saved_model_path") or node["config"].get("filepath")
            if isinstance(folder, str) and folder not in found:
                found.append(folder)
    return found


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def needs_code_to_load(path: str | Path) -> bool:
    """True when the model config names a SavedModel-backed layer (loading it runs a SavedModel's graph)."""
    try:
        return bool(layer_classes(path) & CODE_LAYER_CLASSES)
    except ModelError:
        return False


def _class_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str):
            yield node["class_name"]
        for value in node.values():
            yield from _class_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _class_names(value)


# -- the gate -------------------------------------------------------------------------------


def savedmodel_layers_allowed() -> bool:
    """Whether the load now running on this thread may build Kiln's `SavedModelLayer` (read by its from_config)."""
    return bool(getattr(_allowed, "depth", 0))


def admit_savedmodel_folder(folder: str | Path, *, handle: str | None = None) -> None:
    """Called by `SavedModelLayer.from_config` inside the gate, for the folder the layer will open.

    A trusted .keras file only names its backbone's SavedModel folder; the folder's own bytes
    are not in the file's hash. So the folder must be trusted by its own hash as well: Kiln
    records it when a backbone is built from it (the person's yes, or the catalogue), and a
    yes to the model file (``trusted=True``) covers the folders it names. A folder that changed
    since is refused, as an unknown one is.
    """
    folder = Path(folder)
    if getattr(_allowed, "trust_folders", False):
        trust(folder)
        return
    if is_trusted(folder):
        return
    named = getattr(_allowed, "file", None)
    what = f"{named.name} opens the SavedModel folder {folder}" if named else f"The SavedModel folder {folder}"
    raise UntrustedModel(
        f"{what}{f' (downloaded for {handle})' if handle else ''}, which has changed since it was trusted or was "
        "never trusted; opening it runs its TensorFlow graph (it can read and write files like a program).",
        hint=trust_hint(named or folder),
        path=named or folder,
    )


@contextlib.contextmanager
def _allow_savedmodel_layers(allow: bool, *, file: Path | None = None, trust_folders: bool = False) -> Iterator[None]:
    if not allow:
        yield
        return
    saved = getattr(_allowed, "file", None), getattr(_allowed, "trust_folders", False)
    _allowed.depth = getattr(_allowed, "depth", 0) + 1
    _allowed.file, _allowed.trust_folders = file, trust_folders
    try:
        yield
    finally:
        _allowed.depth -= 1
        _allowed.file, _allowed.trust_folders = saved


def check_model_file(path: str | Path) -> Path:
    """A path that names an existing .keras / .h5 file, or `ModelError` with a sentence."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"There is no model file at {path}.", hint="Check the path.")
    if path.is_dir():
        raise ModelError(
            f"{path} is a folder, not a model file.",
            hint="Open a .keras or .h5 file (a SavedModel folder can be a backbone).",
        )
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path.name} is not a .keras or .h5 model file.", hint="Open a .keras or .h5 file.")
    return path


def load_keras_file(
    path: str | Path, *, trusted: bool = False, custom_objects: dict[str, Any] | None = None, compile: bool = True
) -> Any:
    """Load a .keras / .h5 model through the gate; the only way Kiln opens a model file.

    ``trusted=True`` means the person was asked about this file and said yes: its hash is
    recorded first, and so are the hashes of the SavedModel folders it opens. Safe mode stays
    on in every case; only Kiln's `SavedModelLayer` is let through, only for a trusted file,
    and only onto a folder that is trusted too (`admit_savedmodel_folder`).
    """
    import keras

    path = check_model_file(path)
    classes = layer_classes(path)  # also refuses what is not a Keras model file, with a sentence
    code = bool(classes & CODE_LAYER_CLASSES)
    if trusted:
        trust(path)
    if code and not is_trusted(path):
        raise UntrustedModel(
            f"{path.name} contains a layer that runs code from a SavedModel when loaded, and nobody has said "
            "this file is trusted.",
            hint=trust_hint(path),
            path=path,
        )
    try:
        with _allow_savedmodel_layers(code, file=path, trust_folders=trusted):
            return keras.models.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=True)
    except KilnError:
        raise
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file; each becomes a sentence
        text = str(exc)
        if "lambda" in text.lower() or "safe_mode" in text:
            raise ModelError(
                f"{path.name} contains Python code (a Lambda layer or a SavedModel layer Kiln does not know), "
                "and Kiln never runs code stored in a model file.",
                hint="Rebuild the model without Lambda layers, or with Kiln's own layers.",
            ) from exc
        first = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
        raise ModelError(
            f"{path.name} could not be loaded as a Keras model ({first}).",
            hint="Check that it is a complete .keras or .h5 file saved by Keras 3 or Kiln.",
        ) from exc


def require_trusted_folder(folder: str | Path, *, handle: str | None = None) -> None:
    """Refuse a SavedModel folder nobody trusted: opening it runs its TensorFlow graph.

    ``handle``: the TF Hub / Kaggle handle the folder was downloaded for; the sentence names it
    (``--trust-file`` takes the handle too).
    """
    folder = Path(folder)
    if is_trusted(folder):
        return
    what = f"The backbone {handle} (downloaded to {folder})" if handle else f"The SavedModel folder {folder}"
    raise UntrustedModel(
        f"{what} would run its own TensorFlow graph when opened (it can read and write files like a "
        "program), and nobody has said it is trusted.",
        hint=trust_hint(handle or folder),
        path=folder,
    )
