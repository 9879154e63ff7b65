"""Run slots per kind of work, so that one student's long run never blocks another's short one.

Gradio's queue has one limit per event; the kind of a run depends on its settings (a quick run
of a lesson is short, its defaults may be long), so the handler itself waits here for a slot of
its kind: ``short`` runs (an estimated cost up to SHORT_S, what a class clicks in a demo) and
``long`` runs (big settings, the Evidence tab's every claim) each have their own. While a run
waits, its Stop still works and the page says what it waits for.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterator

from cnnbp.train import RunControl

SHORT_S = 15.0  # estimated seconds on 2 cores: the quick settings of every lesson, most defaults
# One slot each on 2 cores: a short and a long run side by side, never two long ones.
LIMITS = {"short": int(os.environ.get("CNNBP_SHORT_RUNS", 1)), "long": int(os.environ.get("CNNBP_LONG_RUNS", 1))}
POLL_S = 0.25  # how often a waiting run looks at its Stop


def kind_of(cost_seconds: float) -> str:
    return "short" if cost_seconds <= SHORT_S else "long"


class Slots:
    def __init__(self, limits: dict[str, int]) -> None:
        self._free = {kind: threading.Semaphore(n) for kind, n in limits.items()}
        self._lock = threading.Lock()
        self._waiting = dict.fromkeys(limits, 0)

    def wait(self, kind: str, control: RunControl, show: Callable[[str], Any] = str) -> Iterator[Any]:
        """While every slot of ``kind`` is taken, yield ``show(line)`` whenever the line saying
        so changes; return once one is held (True) or the run was stopped meanwhile (False).
        The caller releases a held slot."""
        free = self._free[kind]
        if free.acquire(blocking=False):
            return True
        with self._lock:
            self._waiting[kind] += 1
        shown = ""
        try:
            while not free.acquire(timeout=POLL_S):
                # Stop only: the wall budget counts from the start of the work (below), not from the
                # click, or a run queued longer than its budget would be dropped unrun
                if control.cancelled.is_set():
                    return False
                line = f"waiting for the {kind}-run slot ({self._waiting[kind]} waiting; Stop works)"
                if line != shown:
                    shown = line
                    yield show(line)
        finally:
            with self._lock:
                self._waiting[kind] -= 1
        control.started = time.perf_counter()  # the wall budget counts from the start of the work
        return True

    def release(self, kind: str) -> None:
        self._free[kind].release()


SLOTS = Slots(LIMITS)
