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
