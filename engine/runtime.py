"""Process-wide runtime matters: which Keras backend runs, importing it quietly, scoped settings.

Importing TensorFlow without its C++ start-up chatter on the user's terminal:

TensorFlow's native libraries print oneDNN / CUDA-probe notes straight to file descriptor
2 while they load, before Python's logging or TF_CPP_MIN_LOG_LEVEL can stop them. Kiln
sends fd 2 to a temporary file during the import and shows that text only if the import
fails. Real errors later on still surface as Python exceptions.

Keras 3 also runs on JAX and PyTorch (``KERAS_BACKEND=jax|torch``): Kiln's from-scratch path
trains there too; SavedModel / TF Hub backbones and SavedModel / TFLite export need
TensorFlow and say so (`require_tensorflow`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator

from kiln_lab.engine.errors import KilnError

_lock = threading.Lock()
_socket_lock = threading.RLock()
BACKENDS = ("tensorflow", "jax", "torch")


def keras_backend() -> str:
    """The backend Keras runs on in this process: ``tensorflow`` (the default), ``jax`` or ``torch``.

    Read from Keras once it is imported; before that from ``KERAS_BACKEND`` or
    ``~/.keras/keras.json``, the same places Keras reads, so asking does not import anything.
    """
    if "keras" in sys.modules:
        import keras

        return keras.config.backend()
    configured = os.environ.get("KERAS_BACKEND")
    if configured:
        return configured
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(keras_home, "keras.json"), encoding="utf-8") as handle:
            return str(json.load(handle).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def tensorflow_backend() -> bool:
    """Whether Keras runs on TensorFlow here (so tf.data, tf.distribute and TF export apply)."""
    return keras_backend() == "tensorflow"


def require_tensorflow(what: str) -> None:
    """Raise a `KilnError` sentence when ``what`` (e.g. "TFLite export") is asked for under another backend."""
    backend = keras_backend()
    if backend != "tensorflow":
        raise KilnError(
            f"{what} needs Keras's TensorFlow backend, but Keras runs on {backend} in this process.",
            hint="Unset KERAS_BACKEND (or set it to tensorflow) and run this again; "
            "from-scratch training works on every backend.",
        )


def require_tensorboard() -> None:
    """Raise a `KilnError` sentence, with the install command, when TensorBoard logs cannot be written here.

    Keras writes its logs through TensorFlow's summary writer, which needs the ``tensorboard``
    package (TensorFlow 2.21 no longer installs it) and, on the JAX or PyTorch backend,
    TensorFlow itself. Called before a run writes anything, so a refused run leaves its folder
    as it was. Under another backend it imports TensorFlow, as the callback would.
    """
    import importlib.util

    missing = [] if _tensorflow_importable() else ["tensorflow"]
    if importlib.util.find_spec("tensorboard") is None:
        missing.append("tensorboard")
    if not missing:
        return
    if missing == ["tensorboard"]:
        message = "TensorBoard logs need the tensorboard package, which is not installed here."
    else:
        message = (
            f"TensorBoard logs are written through TensorFlow's summary writer, but Keras runs on "
            f"{keras_backend()} here and {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed."
        )
    raise KilnError(message, hint=f"Install with: pip install {' '.join(missing)} (or run without TensorBoard logs).")


def _tensorflow_importable() -> bool:
    if tensorflow_backend():
        return True  # Keras has imported it, or will
    try:
        import tensorflow  # noqa: F401 - the summary writer Keras's TensorBoard callback uses under any backend
    except ImportError:
        return False
    return True


def accelerators() -> list[dict[str, str]]:
    """The GPUs (or other accelerators) the current Keras backend can use: name and id; empty = CPU only."""
    backend = keras_backend()
    if backend == "jax":
        import jax

        return [{"name": getattr(d, "device_kind", str(d)), "id": str(d)} for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return []
        return [{"name": torch.cuda.get_device_name(i), "id": f"cuda:{i}"} for i in range(torch.cuda.device_count())]
    import tensorflow as tf

    devices = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        devices.append({"name": details.get("device_name", gpu.name), "id": gpu.name})
    return devices


@contextlib.contextmanager
def socket_timeout(seconds: float | None) -> Iterator[None]:
    """Set the process-wide default socket timeout while inside, then restore the previous value.

    Downloads (hub handles, Keras Applications weights) go through libraries that open their
    own sockets, so the default timeout is the one knob; a lock keeps two downloads on
    different threads from restoring each other's value out of order.
    """
    with _socket_lock:
        saved = socket.getdefaulttimeout()
        socket.setdefaulttimeout(seconds)
        try:
            yield
        finally:
            socket.setdefaulttimeout(saved)


@contextlib.contextmanager
def end_of_data_expected() -> Iterator[None]:
    """Around ``evaluate`` / ``predict`` on data of unknown length (an image folder's pipeline,
    which leaves out a file that fails to decode, cannot promise one): Keras then warns "Your
    input ran out of data; interrupting training" when the data ends, which is simply the end
    here. Other warnings pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
        yield


def import_tensorflow_quietly() -> None:
    """Import keras and its backend once (TensorFlow by default), keeping native start-up notes off stderr."""
    if "keras" in sys.modules and ("tensorflow" in sys.modules or not tensorflow_backend()):
        return
    with _lock:
        if "keras" in sys.modules and ("tensorflow" in sys.modules or not tensorflow_backend()):
            return
        if not tensorflow_backend():  # JAX / PyTorch: keras imports its own backend
            import keras  # noqa: F401

            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (e.g. a GUI launched without a console)
            import keras  # noqa: F401
            import tensorflow  # noqa: F401

            return
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                import keras  # noqa: F401
                import tensorflow  # noqa: F401
            except BaseException:
                os.dup2(saved, 2)
                capture.seek(0)
                sys.stderr.write(capture.read().decode("utf-8", "replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
