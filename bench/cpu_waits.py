"""Waits between frames as an idle machine would see them, measured on a busy one.

    CPU_CORES=2 python bench/cpu_waits.py LESSON[,LESSON...] [--top 4] [--clock thread|process]

run_parts decides when a frame is due by its clock; here that clock is this thread's CPU time
(``--clock process`` for a lesson that computes on two torch threads, e.g. init's CNN), so the frame
rule acts as it would with nothing else on the cores, and each wait between two frames is printed in
CPU seconds with the stretches of work (a part's time between two of its updates) and the drawings
inside it. The default run of each lesson, after its quick run as a warm-up. Shared cores still inflate
CPU seconds a little (caches): read the numbers as an upper bound of the idle waits. Compares the
``FRAME_INTERVAL_S`` target (0.5 s) with what each lesson's longest stretches allow.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons  # noqa: E402,F401  (registers the lessons)
import cnnbp.lessons.base as base  # noqa: E402
from cnnbp.lessons.base import get_lesson, run_lesson, validate_config  # noqa: E402
from cnnbp.train.control import RunControl  # noqa: E402


def measure(name: str, clock, top: int) -> None:
    lesson = get_lesson(name)
    list(run_lesson(name, lesson.quick))  # warm-up
    events: list[tuple[float, str]] = []  # (CPU seconds, what)

    def watched(part):
        def run(state):
            last, before = clock(), "start"
            for update in part.run(state):
                now = clock()
                what = (f"{'beat' if update.beat else 'update'} {update.progress:.3f} {update.message[:30]!r}"
                        f"{' figures ' + ','.join(update.figures) if update.figures else ''}")
                events.append((now - last, f"[{part.name}] {before} -> {what}"))
                before = what
                yield update
                last = clock()
            events.append((clock() - last, f"[{part.name}] {before} -> end"))
        return run

    send = base._send

    def timed_send(pending, verdicts, numbers):
        start = clock()
        out = send(pending, verdicts, numbers)
        if pending.figures:
            events.append((clock() - start, f"drawing {','.join(pending.figures)}"))
        return out

    base._send, base.time = timed_send, types.SimpleNamespace(perf_counter=clock)
    try:
        watched_lesson = replace(lesson, parts=tuple(replace(p, run=watched(p)) for p in lesson.parts))
        wall, cpu = time.perf_counter(), time.process_time()
        waits, seen, last = [], 0, clock()
        for frame in watched_lesson.run(validate_config(lesson.config, {}), RunControl(budget_s=float("inf"))):
            now = clock()
            waits.append((now - last, frame.message[:30], events[seen:]))
            seen, last = len(events), clock()
    finally:
        base._send, base.time = send, time
    over = sorted((round(w, 2) for w, _, _ in waits if w > 0.5), reverse=True)
    print(f"== {name}: {len(waits)} frames, run {time.perf_counter() - wall:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU; load {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"   longest wait {max(w for w, _, _ in waits):.2f} s CPU; waits over 0.5 s: {over or 'none'}")
    for wait, message, inside in sorted(waits, key=lambda w: -w[0])[:top]:
        print(f"   wait {wait:.3f} before the frame {message!r}:")
        for seconds, what in inside:
            if seconds > 0.02:
                print(f"      {seconds:.3f} {what}")
    stretches = sorted((e for e in events if not e[1].startswith("drawing")), reverse=True)[:top]
    print("   longest stretches of work:", *(f"\n      {s:.3f} {what}" for s, what in stretches), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", help="comma-separated lesson names")
    parser.add_argument("--top", type=int, default=4, help="waits and stretches shown per lesson")
    parser.add_argument("--clock", choices=("thread", "process"), default="thread")
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "thread" else time.process_time
    for name in args.lessons.split(","):
        measure(name, clock, args.top)


if __name__ == "__main__":
    main()
