"""The server under attack and under load: every endpoint refuses bad input in one clear line
and keeps serving; only what the app means to serve is served; identical runs are cached;
a GPU out-of-memory error is reported and freed."""

import typing
from pathlib import Path

import httpx
import pytest
import torch

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import field_choices, validate_config
from cnnbp.ui.widgets import field_order, upload_kind

ROOT = Path(__file__).resolve().parents[1]


def defaults(lesson) -> dict:
    cfg = validate_config(lesson.config, lesson.quick)
    return cfg.model_dump()


def positional(lesson, values: dict) -> list:
    return [values[name] for name in field_order(lesson.config)]


def bad_values(info) -> list:
    """Values no field of this kind may accept, whatever the widget would have allowed."""
    annotation = info.annotation
    if upload_kind(info):  # Gradio refuses non-file payloads itself, unnamed; files: test_visualise_upload.py
        return []
    if typing.get_origin(annotation) is list:
        return [[], ["bogus-name"], 12, None]
    if field_choices(info) is not None:
        return ["bogus-name", 3, None]
    if annotation is bool:
        return ["maybe", None]
    return [-(10**12), 10**12, "abc", None, [1]]  # NaN and inf: see test_nan_and_inf_over_raw_http


CASES = [(lesson.name, name, value)
         for lesson in LESSONS.values()
         for name, info in lesson.config.model_fields.items()
         for value in bad_values(info)]


def repo_files() -> set[str]:
    skip = {"__pycache__", ".git", "screenshots", ".pytest_cache"}
    return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if not skip & set(p.parts)}


@pytest.mark.parametrize("lesson_name, field, value", CASES)
def test_every_endpoint_refuses_bad_values_by_name(client, lesson_name, field, value):
    lesson = LESSONS[lesson_name]
    values = {**defaults(lesson), field: value}
    with pytest.raises(Exception) as err:
        client.predict(*positional(lesson, values), api_name=f"/{lesson_name}")
    message = str(err.value)
    assert field in message, message
    assert "Traceback" not in message and "File \"" not in message


def test_oversized_job_and_the_next_request(client):
    before = repo_files()
    lesson = LESSONS["init"]
    huge = {**defaults(lesson), "width": 8192, "depth": 12, "epochs": 30, "cnn_width": 64,
            "inits": ["orthogonal", "lsuv", "xavier"], "activations": ["maxout", "tanh", "relu"]}
    with pytest.raises(Exception, match="too big"):
        client.predict(*positional(lesson, huge), api_name="/init")
    ok = client.predict(*positional(lesson, {**defaults(lesson), "parts": ["classic"]}), api_name="/init")
    assert "done in" in ok[0]
    assert repo_files() == before  # nothing written outside the temp folder


def test_identical_requests_are_served_from_the_cache(client):
    lesson = LESSONS["init"]
    values = {**defaults(lesson), "parts": ["classic"], "seed": 4242}
    first = client.predict(*positional(lesson, values), api_name="/init")
    second = client.predict(*positional(lesson, values), api_name="/init")
    assert "served from the cache" not in first[0] and "served from the cache" in second[0]
    assert first[-1] == second[-1]  # the same numbers


@pytest.mark.parametrize("path", ["app.py", ".env", "../README.md", "..%2Fapp.py", "/etc/passwd",
                                  "cnnbp/ui/runner.py", str(ROOT / "app.py")])
def test_file_route_serves_nothing_of_ours(server_url, path):
    response = httpx.get(f"{server_url}gradio_api/file={path}", timeout=10)
    assert response.status_code in (400, 403, 404), (path, response.status_code)
    assert "demo = build_demo()" not in response.text and "root:" not in response.text


def test_out_of_gpu_memory_is_reported_and_the_app_keeps_serving(client, monkeypatch):
    import cnnbp.lessons.init.parts as init_lesson

    def oom(**kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(init_lesson, "classic_experiment", oom)
    lesson = LESSONS["init"]
    values = {**defaults(lesson), "parts": ["classic"], "seed": 777}
    with pytest.raises(Exception, match="out of GPU memory"):
        client.predict(*positional(lesson, values), api_name="/init")
    monkeypatch.undo()
    ok = client.predict(*positional(lesson, values), api_name="/init")
    assert "done in" in ok[0]


def raw_call(server_url: str, api_name: str, body: str) -> str:
    """POST a hand-written JSON body (gradio_client refuses to send NaN), read the event stream."""
    posted = httpx.post(f"{server_url}gradio_api/call/{api_name}", content=body,
                        headers={"Content-Type": "application/json"}, timeout=30)
    if posted.status_code != 200:
        return f"HTTP {posted.status_code}: {posted.text}"
    event_id = posted.json()["event_id"]
    return httpx.get(f"{server_url}gradio_api/call/{api_name}/{event_id}", timeout=60).text


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("lesson_name", list(LESSONS))
def test_nan_and_inf_over_raw_http(server_url, lesson_name, token):
    import json

    lesson = LESSONS[lesson_name]
    numeric = [n for n, info in lesson.config.model_fields.items() if info.annotation in (int, float)]
    for field in numeric:
        values = positional(lesson, {**defaults(lesson), field: "__BAD__"})
        # one session for all: a call without one makes the server copy every component's config (~1 s CPU)
        body = json.dumps({"data": values, "session_hash": "raw-http"}).replace('"__BAD__"', token)
        stream = raw_call(server_url, lesson_name, body)
        assert "event: error" in stream or stream.startswith("HTTP 4"), stream[:300]
        assert field in stream and "Traceback" not in stream, stream[:300]
