"""TF Hub URLs and Kaggle Models handles -> a local SavedModel folder, via `tensorflow_hub`.

`tensorflow_hub` downloads, unpacks and caches (``TFHUB_CACHE_DIR``, or Kiln's cache folder
when that is unset). Kiln adds a network timeout, download progress through the event sink,
and one sentence a person can act on when a handle cannot be fetched.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from kiln_lab.engine.errors import BackboneUnavailable
from kiln_lab.engine.events import EventSink, Progress, ignore_events

DEFAULT_TIMEOUT_S = 30.0
KAGGLE_MODELS = "https://www.kaggle.com/models/"
_FRAMEWORKS = {"tensorflow2", "tensorflow1", "tfjs", "tflite", "keras"}
_DEMO_HINT = "or use a local SavedModel folder or the built-in demo backbone 'demo'"
_patch_lock = threading.Lock()


def hub_cache_dir() -> Path:
    """Where downloaded handles are kept: ``TFHUB_CACHE_DIR``, else ``KILN_HUB_CACHE``, else the
    platform's cache folder (``engine.paths.user_cache_dir() / "tfhub"``)."""
    from kiln_lab.engine.paths import user_cache_dir

    configured = os.environ.get("TFHUB_CACHE_DIR") or os.environ.get("KILN_HUB_CACHE")
    if configured:
        return Path(configured)
    return user_cache_dir() / "tfhub"


def download_timeout() -> float:
    """Seconds a network read may stall before the download is given up (``KILN_DOWNLOAD_TIMEOUT``)."""
    try:
        return float(os.environ.get("KILN_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def is_hub_handle(spec: str) -> bool:
    """A URL (tfhub.dev, kaggle.com, any http(s) or gs:// tarball) or a Kaggle Models handle."""
    return spec.startswith(("http://", "https://", "gs://", "kaggle:")) or _looks_like_kaggle(spec)


def _looks_like_kaggle(spec: str) -> bool:
    parts = spec.strip("/").split("/")
    return 4 <= len(parts) <= 5 and parts[2].lower() in _FRAMEWORKS and not os.path.exists(spec)


def normalise_handle(spec: str) -> str:
    """``kaggle:owner/model/framework/variation[/version]`` (or the bare path) -> a kaggle.com URL."""
    spec = spec.strip()
    if spec.startswith("kaggle:"):
        return KAGGLE_MODELS + spec[len("kaggle:") :].strip("/")
    if _looks_like_kaggle(spec):
        return KAGGLE_MODELS + spec.strip("/")
    return spec


def resolve_handle(
    handle: str, *, sink: EventSink = ignore_events, timeout: float | None = None, cache_dir: str | Path | None = None
) -> str:
    """Download (once) and return the local folder of ``handle``; raises `BackboneUnavailable`."""
    from kiln_lab.engine.runtime import require_tensorflow

    require_tensorflow("A TF Hub or Kaggle backbone")
    url = normalise_handle(handle)
    timeout = download_timeout() if timeout is None else float(timeout)
    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    sink(Progress("download", 0, None, f"Fetching backbone {handle}"))
    try:
        import tensorflow_hub as hub

        with _download_settings(cache, timeout, sink, handle):
            folder = hub.resolve(url)
    except Exception as exc:  # noqa: BLE001 - any failure to fetch becomes one actionable sentence
        archive_problem = _archive_problem(exc)
        if archive_problem:  # it downloaded: the network is fine, the archive is not
            raise BackboneUnavailable(
                f"The backbone '{handle}' downloaded, but Kiln will not unpack it: {archive_problem}. "
                f"Nothing was written outside Kiln's download cache; pick another handle, {_DEMO_HINT}."
            ) from exc
        raise BackboneUnavailable(
            f"Could not fetch the backbone '{handle}' ({_reason(exc)}): check the network connection and the "
            f"handle's spelling, {_DEMO_HINT}."
        ) from exc
    if not (Path(folder) / "saved_model.pb").exists():
        raise BackboneUnavailable(
            f"The backbone '{handle}' downloaded, but it is not a TF2 SavedModel: "
            f"pick a TF2 / Keras handle, {_DEMO_HINT}."
        )
    sink(Progress("download", 1, 1, f"Backbone {handle} ready"))
    return str(folder)


def _archive_problem(exc: BaseException) -> str | None:
    """What is wrong with a downloaded archive, from tensorflow_hub's extraction errors; None otherwise.

    Its extractor refuses members that climb out of the target folder (``../``), links and
    devices, and archives that are not tarballs; each is a property of the file, not the network.
    """
    import tarfile

    from kiln_lab.engine.data.files import printable

    text = str(exc)
    climbing = re.search(r"Relative path '(.*?)' is invalid", text)
    if climbing:
        return f"its member '{printable(climbing.group(1))}' points outside the folder it unpacks into"
    if "Unexpected object type in tar archive" in text:
        return "it holds a link or a device file, which a model archive never needs"
    if isinstance(exc, tarfile.TarError) or "does not appear to be a valid module" in text:
        return "it is not a readable tar archive"
    return None


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if code == 404:
        return "not found (HTTP 404)"
    if isinstance(code, int):
        return f"HTTP {code}"
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in str(exc).lower():
        return "the connection timed out"
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    if isinstance(reason, socket.gaierror) or "Name or service not known" in str(reason):
        return "no network connection, or an unknown host"
    text = re.sub(r"\s+", " ", str(reason)).strip()
    return text[:120]


@contextlib.contextmanager
def _download_settings(cache: Path, timeout: float, sink: EventSink, handle: str) -> Iterator[None]:
    """Cache folder, socket timeout and a progress hook, for the duration of one download.

    ``tensorflow_hub`` reads its cache folder from the environment and its progress hook is
    process-wide (see `engine._compat.hub_download_hooks`), hence the lock.
    """
    from kiln_lab.engine import _compat
    from kiln_lab.engine.runtime import socket_timeout

    def on_bytes(total: int) -> None:
        sink(Progress("download", total, None, f"Downloading {handle}: {total / 1e6:.1f} MB"))

    with _patch_lock:
        saved_env = os.environ.get("TFHUB_CACHE_DIR")
        os.environ["TFHUB_CACHE_DIR"] = str(cache)
        try:
            # A lock left by a crashed download is taken over after this long, not hub's 10 minutes.
            with socket_timeout(timeout), _compat.hub_download_hooks(on_bytes, max(60, int(4 * timeout))):
                yield
        finally:
            if saved_env is None:
                os.environ.pop("TFHUB_CACHE_DIR", None)
            else:
                os.environ["TFHUB_CACHE_DIR"] = saved_env
