"""Importing TensorFlow without its C++ start-up chatter on the user's terminal.

TensorFlow's native libraries print oneDNN / CUDA-probe notes straight to file descriptor
2 while they load, before Python's logging or TF_CPP_MIN_LOG_LEVEL can stop them. Kiln
sends fd 2 to a temporary file during the import and shows that text only if the import
fails. Real errors later on still surface as Python exceptions.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

_lock = threading.Lock()


def import_tensorflow_quietly() -> None:
    """Import tensorflow and keras once, keeping their native start-up notes off stderr."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    with _lock:
        if "tensorflow" in sys.modules and "keras" in sys.modules:
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
