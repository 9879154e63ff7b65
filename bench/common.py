"""What every bench script shares: its command line (``--repeats``), the torch threads it runs
on, and the stopwatch. Scripts import it after putting the repository on ``sys.path``."""

from __future__ import annotations

import argparse
import time
from typing import Callable

from cnnbp.device import set_threads_once
from cnnbp.lessons import run_lesson


def bench_args(doc: str, *, repeats: int = 3) -> tuple[argparse.Namespace, int]:
    """Parse ``--repeats`` and set torch's threads once (``CPU_CORES``); return both."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    return parser.parse_args(), set_threads_once()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def lesson_seconds(name: str, values: dict | None = None) -> float:
    """One run of lesson ``name`` from the click to its final frame, which must say done."""
    start = time.perf_counter()
    frames = list(run_lesson(name, values or {}))
    assert frames[-1].done and frames[-1].message.startswith("done in"), frames[-1].message
    return time.perf_counter() - start
