"""A class on one server: a long run does not block a short one (two API clients, like two
students), a waiting run can be stopped, and the run slots count as they should."""

import threading
import time

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import validate_config
from cnnbp.train import RunControl
from cnnbp.ui.slots import SHORT_S, Slots, kind_of
from cnnbp.ui.widgets import field_order


def positional(name: str, values: dict) -> list:
    lesson = LESSONS[name]
    cfg = validate_config(lesson.config, values).model_dump()
    return [cfg[n] for n in field_order(lesson.config)]


def test_kinds_split_at_the_short_line():
    assert kind_of(SHORT_S) == "short" and kind_of(SHORT_S + 0.1) == "long"
    for lesson in LESSONS.values():  # every lesson's quick settings are a short run
        assert kind_of(validate_config(lesson.config, lesson.quick).cost_seconds()) == "short", lesson.name


def test_a_waiting_run_says_so_and_can_be_stopped():
    slots = Slots({"long": 1})
    holder = RunControl()
    assert next(slots.wait("long", holder), None) is None  # free: held at once, nothing shown
    waiter = RunControl()
    lines = slots.wait("long", waiter)
    assert "waiting for the long-run slot (1 waiting" in next(lines)
    waiter.cancel()
    try:
        next(lines)
        raise AssertionError("a stopped run kept waiting")
    except StopIteration as end:
        assert end.value is False
    slots.release("long")
    assert next(slots.wait("long", RunControl()), None) is None  # the slot went back


def test_a_queued_run_is_not_dropped_when_its_wait_outlasts_its_budget():
    """The wall budget counts from the start of the work: a run that waited in the queue longer than
    its budget still runs once a slot is free (found by the load test: 30 clients at start-up)."""
    slots = Slots({"long": 1})
    assert next(slots.wait("long", RunControl()), None) is None
    waiter = RunControl(budget_s=0.3)
    lines = slots.wait("long", waiter)
    assert "waiting" in next(lines)
    time.sleep(0.6)  # past the budget while queued
    threading.Timer(0.1, slots.release, args=("long",)).start()
    try:
        while True:
            next(lines)
    except StopIteration as end:
        assert end.value is True
    assert waiter.stop_reason() is None  # its budget starts now


def test_a_long_run_does_not_block_a_short_one(server_url):
    """Client A starts a long run (batchnorm defaults, an unseen seed so no cache serves it);
    client B's quick dropout run, started after it, finishes while A still runs; then A's Stop
    (its own session) ends it."""
    from gradio_client import Client

    long_values = {"seed": 9_731}
    assert kind_of(validate_config(LESSONS["batchnorm"].config, long_values).cost_seconds()) == "long"
    a, b = Client(server_url, verbose=False), Client(server_url, verbose=False)
    long_job = a.submit(*positional("batchnorm", long_values), api_name="/batchnorm")
    deadline = time.monotonic() + 60
    while not long_job.outputs() and time.monotonic() < deadline:  # its first frame: it is running
        time.sleep(0.2)
    start = time.monotonic()
    b.predict(*positional("dropout", dict(LESSONS["dropout"].quick, seed=9_731)), api_name="/dropout")
    short_s = time.monotonic() - start
    assert not long_job.done(), f"the long run ended before the short one ({short_s:.1f} s)"
    print(f"\nshort run beside a long one: {short_s:.1f} s")
    stopper = threading.Thread(target=a.predict, kwargs={"api_name": "/batchnorm_stop"})
    stopper.start()
    stopper.join(30)
    outputs = long_job.result(timeout=120)
    assert "stopped by the user" in outputs[0]


def test_a_waiter_served_from_the_cache_hands_its_slot_on_at_once(monkeypatch):
    """A class clicks the same run: the first trains, the others wait for its slot. A waiter that finds
    the run cached when its turn comes replays it without keeping the slot (else 29 replays of about
    a second each pass one after another: the load test's p95)."""
    from types import SimpleNamespace

    from cnnbp.lessons.base import merge_frames
    from cnnbp.ui import runner
    from cnnbp.ui.cache import RESULTS

    lesson = LESSONS["dropout"]
    values = dict(lesson.quick, seed=9_733)
    cfg = validate_config(lesson.config, values)
    slots = Slots({"short": 1, "long": 1})
    monkeypatch.setattr(runner, "SLOTS", slots)
    kind = kind_of(cfg.cost_seconds())
    assert next(slots.wait(kind, RunControl()), None) is None  # the first student's run holds the slot
    handler = runner.make_handler(lesson, field_order(lesson.config))
    request = SimpleNamespace(session_hash="waiter")
    outputs = handler(*positional("dropout", values), request, lambda *a, **k: None)
    assert "waiting for the short-run slot" in str(next(outputs)[0])
    RESULTS.put(lesson.name, cfg, merge_frames(lesson.run(cfg, RunControl())))  # the first run ends
    slots.release(kind)
    first_replayed = next(outputs)  # the waiter's turn: its first message is the cached run's
    assert "served from the cache" in str(first_replayed[0])
    assert next(slots.wait(kind, RunControl()), None) is None, "the replay kept the slot"
    rest = list(outputs)  # the replay goes on to its last frame meanwhile
    assert "served from the cache of identical runs" in str(rest[-1][0])
