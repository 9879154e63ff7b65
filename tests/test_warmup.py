"""The start-up warm-up keeps off a user's run: lowest priority, heavy work only between runs."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from cnnbp.ui import warmup
from cnnbp.ui.runner import SessionControls


def test_the_runner_counts_the_runs_going():
    controls = SessionControls()
    a, b = controls.start("a", "init"), controls.start("b", "init")
    assert controls.active() == 2
    controls.finish("a", "init", a)
    controls.start("b", "init")  # a second Run in the same tab replaces the first
    assert controls.active() == 1
    controls.finish("b", "init", b)  # the replaced run's finish leaves the new one counted
    assert controls.active() == 1


def test_the_heavy_work_waits_until_no_run_is_going():
    going = [2, 2, 1, 0]  # the runner's count at each poll
    polls = []

    def active() -> int:
        polls.append(going[len(polls)])
        return polls[-1]

    warmup.wait_while_users_run(active, poll_s=0.0)
    assert polls == [2, 2, 1, 0]
    warmup.wait_while_users_run(lambda: 0, poll_s=60.0)  # nothing going: returns at once


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a per-thread nice value is Linux's")
def test_only_the_warm_up_thread_is_lowered():
    seen = {}

    def lowered():
        seen["ok"] = warmup.lower_this_threads_priority()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert seen == {"ok": True, "nice": warmup.WARMUP_NICE}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_the_defaults_wait_for_quiet_seconds_without_a_request(monkeypatch):
    clock = [100.0]
    requests = {100.0: 100.0, 103.0: 103.0}  # a visitor at 100 s and another at 103 s

    def last_request() -> float:
        return max(t for t in requests if t <= clock[0])

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(warmup.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(warmup.time, "sleep", sleep)
    runs = [1, 1, 0]  # a user's run going at the first two polls

    def active() -> int:
        return runs.pop(0) if runs else 0

    warmup.wait_for_quiet(last_request, active, quiet_s=5.0, poll_s=0.5)
    assert 108.0 <= clock[0] <= 109.5  # 5 s after the last request, not 5 s after the first
    before = clock[0]
    warmup.wait_for_quiet(last_request, lambda: 0, quiet_s=5.0)  # quiet already: at once
    assert clock[0] == before


def test_every_request_marks_the_server_busy():
    import asyncio

    from cnnbp.ui import config_cache

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})

    async def send(message):
        pass

    before = config_cache.last_request()
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "headers": [], "query_string": b""}
    asyncio.run(config_cache.ConfigCache(app)(scope, None, send))
    assert config_cache.last_request() > before


def test_the_one_time_work_is_done_once_per_process():
    warmup.warm_up()
    assert warmup.READY.is_set() and warmup.warm_up() == 0.0
