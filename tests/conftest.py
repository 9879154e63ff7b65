import os

# Tests run on the CPU with a fixed thread count, whatever the machine, so numbers repeat.
os.environ.setdefault("CNNBP_DEVICE", "cpu")
os.environ.setdefault("CPU_CORES", "2")

import socket

import pytest


@pytest.fixture(scope="session")
def server_url():
    """The app, launched once for the whole test session on a free loopback port."""
    import app
    from cnnbp.ui import launch_options

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
