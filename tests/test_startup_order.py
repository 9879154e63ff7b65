"""What app.py computes before the server listens equals what Gradio computes once it serves."""

import socket
import uuid
from unittest import mock

from cnnbp.ui import build_demo, launch_options, session_defaults


def test_session_defaults_computed_before_launch_equal_gradios_after():
    from tests.conftest import _answers_within

    demo = build_demo()
    session_defaults.compute_session_defaults(demo)
    first = getattr(demo, session_defaults.DEFAULTS)
    assert first is not None  # computed now, not at the first visitor's event
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mock.patch("gradio.networking.url_ok", _answers_within):
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    **launch_options())
    try:
        ours = demo.state_holder[f"test-{uuid.uuid4().hex}"]  # a visitor's first event, once it serves
        assert getattr(demo, session_defaults.DEFAULTS) is first  # copied from the one computed before
        gradios = session_defaults.GradioSessionState(demo)
        assert ours.config_values == gradios.config_values
        assert list(ours.config_values) == list(gradios.config_values)
    finally:
        demo.close()
