"""The per-visitor work the app does once (cnnbp/ui/config_cache.py, cnnbp/ui/session_defaults.py):
the replayed page, config and API description equal Gradio's fresh answers, and are really
replayed; a new session's block configs equal Gradio's and stay its own, computed when read."""

import asyncio
import uuid

import gradio as gr
import httpx
import pytest
from gradio.state_holder import StateHolder

import app
from cnnbp.ui import session_defaults
from cnnbp.ui.config_cache import HIT_HEADER, MAX_ANSWERS, ConfigCache

HIT = HIT_HEADER[0].decode()


@pytest.mark.parametrize("path", ["", "config", "gradio_api/info"])
def test_replayed_answers_equal_gradios_fresh_ones(server_url, path):
    url = server_url + path
    httpx.get(url, timeout=60)
    replayed = httpx.get(url, timeout=60)
    assert replayed.status_code == 200 and replayed.headers.get(HIT) == "hit"  # the cache is in use
    fresh = httpx.get(url, params={"unused": uuid.uuid4().hex}, timeout=60)  # a new key: Gradio answers
    assert fresh.status_code == 200 and HIT not in fresh.headers
    assert replayed.content == fresh.content
    assert replayed.headers["content-type"] == fresh.headers["content-type"]


def test_the_root_url_written_into_the_config_follows_the_host(server_url):
    via_proxy = httpx.get(server_url + "config", headers={"x-forwarded-host": "class.example"}, timeout=60)
    assert via_proxy.json()["root"] == "http://class.example"
    assert httpx.get(server_url + "config", timeout=60).json()["root"] == server_url.rstrip("/")


def scope(path="/config", method="GET", query=b"", app_=None):
    return {"type": "http", "method": method, "path": path, "query_string": query, "scheme": "http",
            "root_path": "", "headers": [(b"host", b"h:1"), (b"user-agent", b"x")],
            "app": app_ if app_ is not None else type("App", (), {"auth": None, "auth_dependency": None})()}


def test_what_is_never_replayed():
    assert ConfigCache.key(scope()) is not None
    assert ConfigCache.key(scope(method="POST")) is None
    assert ConfigCache.key(scope(path="/gradio_api/queue/join")) is None
    assert ConfigCache.key(scope(query=b"deep_link=abc")) is None  # one visitor's values
    with_login = type("App", (), {"auth": {"u": "p"}, "auth_dependency": None})()
    assert ConfigCache.key(scope(app_=with_login)) is None
    assert ConfigCache.key(scope()) == ConfigCache.key({**scope(), "headers": [(b"host", b"h:1")]})


def test_odd_query_strings_cannot_fill_the_memory():
    calls = []

    async def gradio(scope_, receive, send):
        calls.append(scope_["query_string"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"config"})

    cache = ConfigCache(gradio)
    sent = []

    async def send(message):
        sent.append(message)

    async def visit(query: bytes):
        await cache(scope(query=query), None, send)

    for i in range(MAX_ANSWERS + 5):
        asyncio.run(visit(f"x={i}".encode()))
    asyncio.run(visit(b"x=0"))
    assert len(cache.answers) == MAX_ANSWERS
    assert len(calls) == MAX_ANSWERS + 5  # x=0 was replayed, not asked again
    assert sent[-2]["headers"][-1] == HIT_HEADER and sent[-1]["body"] == b"config"


def test_a_new_session_copies_gradios_block_configs(server_url):
    demo = app.demo
    ours = demo.state_holder[f"test-{uuid.uuid4().hex}"]  # the way Gradio makes one, on the first event
    assert type(ours) is session_defaults.SessionState  # Gradio still finds the class by this name
    gradios = session_defaults.GradioSessionState(demo)
    assert set(vars(gradios)) == session_defaults.FIELDS  # else: review session_defaults for the new fields
    assert ours.config_values == gradios.config_values
    assert list(ours.config_values) == list(gradios.config_values)  # deep links list them in this order
    key = next(k for k, entry in ours.config_values.items() if "value" in entry.get("props", {}))
    ours._update_value_in_config(key, "only this session's")
    other = demo.state_holder[f"test-{uuid.uuid4().hex}"]
    assert other.config_values[key] == gradios.config_values[key]
    assert other.blocks_config.blocks is not ours.blocks_config.blocks and other.state_data is not ours.state_data


def _update_as_gradio_does(state, block, **props) -> None:
    """What Gradio's postprocess does with an output's ``gr.update(**props)`` (``gr.skip()``: no props)."""
    kwargs = state.get(block._id, block).constructor_args.copy()
    kwargs.update(props)
    kwargs.pop("value", None)
    kwargs["render"] = False
    state[block._id] = block.__class__(**kwargs)
    state._update_config(block._id)


def test_a_sessions_configs_are_computed_when_read_and_equal_gradios(server_url, monkeypatch):
    demo = app.demo
    ours = demo.state_holder[f"test-{uuid.uuid4().hex}"]
    gradios = session_defaults.GradioSessionState(demo)
    computed = []
    compute = ours.blocks_config.config_for_block
    monkeypatch.setattr(ours.blocks_config, "config_for_block", lambda *a: computed.append(a[0]) or compute(*a))
    skipped, relabelled, written = [b for b in demo.blocks.values() if isinstance(b, gr.Plot)][:3]
    for state in (ours, gradios):
        for _ in range(5):  # a streaming run's messages: this figure unchanged
            _update_as_gradio_does(state, skipped)
        _update_as_gradio_does(state, relabelled, label="a new label")
        _update_as_gradio_does(state, written, label="drawn")
        state._update_value_in_config(written._id, "a figure")
    assert computed == [written._id]  # only the block whose value was written, from its updated self
    assert list(ours.components) == list(gradios.components)  # read: every config as Gradio's
    assert sorted(computed) == sorted([written._id, skipped._id, relabelled._id])


def test_other_demos_keep_gradios_sessions():
    import gradio as gr

    with gr.Blocks() as other:
        gr.Textbox("hello")
    holder = StateHolder()
    holder.set_blocks(other)
    state = holder["s"]
    assert state.config_values == session_defaults.GradioSessionState(other).config_values
    assert not hasattr(other, session_defaults.DEFAULTS)
