"""The private Keras / tensorflow-hub internals Kiln relies on are all there, and scoped settings restore."""

from __future__ import annotations

import socket
import threading

import pytest


def test_every_private_api_kiln_uses_exists_in_the_installed_versions() -> None:
    from kiln_lab.engine._compat import private_api_problems

    assert private_api_problems() == []


def test_socket_timeout_is_scoped_and_restored_after_an_error() -> None:
    from kiln_lab.engine.runtime import socket_timeout

    before = socket.getdefaulttimeout()
    with socket_timeout(7.5):
        assert socket.getdefaulttimeout() == 7.5
        with socket_timeout(2.0):  # nested (a hub download inside an applications call)
            assert socket.getdefaulttimeout() == 2.0
        assert socket.getdefaulttimeout() == 7.5
    assert socket.getdefaulttimeout() == before
    with pytest.raises(RuntimeError), socket_timeout(3.0):
        raise RuntimeError("download failed")
    assert socket.getdefaulttimeout() == before


def test_two_threads_downloading_do_not_leave_each_others_timeout_behind() -> None:
    from kiln_lab.engine.runtime import socket_timeout

    before = socket.getdefaulttimeout()
    seen: list[float | None] = []

    def download(seconds: float) -> None:
        with socket_timeout(seconds):
            seen.append(socket.getdefaulttimeout())

    threads = [threading.Thread(target=download, args=(s,)) for s in (1.0, 2.0, 3.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == [1.0, 2.0, 3.0]  # each saw its own value while inside
    assert socket.getdefaulttimeout() == before


def test_require_tensorflow_names_the_backend_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiln_lab.engine import runtime
    from kiln_lab.engine.errors import KilnError

    monkeypatch.setattr(runtime, "keras_backend", lambda: "jax")
    with pytest.raises(KilnError, match="TFLite export needs Keras's TensorFlow backend.*jax"):
        runtime.require_tensorflow("TFLite export")
