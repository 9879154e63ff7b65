import os

# Tests run on the CPU with a fixed thread count, whatever the machine, so numbers repeat. Under
# pytest-xdist (CI: `-n 2` on two cores) each worker gets one thread: two threads per worker would ask
# the two cores for four.
os.environ.setdefault("CNNBP_DEVICE", "cpu")
os.environ.setdefault("CPU_CORES", "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2")
if os.environ.get("PYTEST_XDIST_WORKER"):  # torch's own default is every core, in each worker: spinning threads
    import torch

    torch.set_num_threads(1)

import functools
import socket
import time
from unittest import mock

import httpx._transports.default as _httpx_transport
import pytest

# Every httpx client builds a TLS context from certifi's bundle, 50 ms of CPU, though the tests speak
# plain HTTP to 127.0.0.1: gradio_client makes several clients per call, and test_server.py makes over
# a thousand calls. One shared context serves them all (TLS contexts are made to be shared).
_new_ssl_context = _httpx_transport.create_ssl_context
_shared_ssl_context = functools.cache(lambda: _new_ssl_context(verify=True, cert=None, trust_env=True))


def _ssl_context(verify=True, cert=None, trust_env=True):
    if verify is True and cert is None and trust_env:
        return _shared_ssl_context()
    return _new_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


_httpx_transport.create_ssl_context = _ssl_context


def _answers_within(url: str, seconds: float = 60.0) -> bool:
    """Gradio's launch gives up when the app's first page takes over 3 s, as it can on a loaded
    machine (two test workers and a browser on two cores): wait longer instead."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.head(url, timeout=10).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


@pytest.fixture(scope="session")
def server_url():
    """The app, launched once for the whole test session on a free loopback port."""
    import app
    from cnnbp.ui import launch_options

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mock.patch("gradio.networking.url_ok", _answers_within):
        app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        **launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


@pytest.fixture(scope="session")
def client(server_url):
    from gradio_client import Client

    return Client(server_url, verbose=False)
