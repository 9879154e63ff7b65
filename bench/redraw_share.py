"""Bench: a lesson's default run with its streaming figures redrawn at redraw.SHARE (a fifth of
the run) against the share the lesson now gives its ``Redraw`` (a tenth), interleaved in one process.

    python bench/redraw_share.py dropout [--repeats 3]    # CPU_CORES=2 for the 2-core figure

Each run goes from the click to the final frame with every figure built (``Lesson.run``, as
bench/all.py runs it); what it measures is the process's CPU seconds (the lessons train on one
torch thread, so near the idle wall time whatever the load) and the wall seconds, medians and
their ratio, with the 1-minute load average. The old share is put back by giving ``Redraw`` no
share (it reads ``redraw.SHARE``); nothing the run computes differs, only how often its
streaming curves are drawn. Kept runs are forgotten before each run (imbalance keeps its
trained models: a second run would train nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from cnnbp.device import set_threads_once  # noqa: E402
from cnnbp.lessons import redraw  # noqa: E402
from cnnbp.lessons.base import get_lesson, validate_config  # noqa: E402
from cnnbp.train import RunControl  # noqa: E402


def forget_kept_runs() -> None:
    from cnnbp.lessons.imbalance.training import PREDICTIONS

    PREDICTIONS.__init__(PREDICTIONS.max_entries)


def run_seconds(name: str, values: dict | None = None) -> tuple[float, float]:
    """(CPU s, wall s) of one run of ``name`` from the click to its final frame, figures built."""
    lesson = get_lesson(name)
    forget_kept_runs()
    start, cpu = time.perf_counter(), time.process_time()
    frame = None
    for frame in lesson.run(validate_config(lesson.config, values), RunControl(budget_s=float("inf"))):
        pass
    if not (frame.done and frame.message.startswith("done in")):
        raise RuntimeError(f"{name} did not finish: {frame.message}")
    return time.process_time() - cpu, time.perf_counter() - start


class OldShare(redraw.Redraw):
    """A Redraw that ignores the share it is given: redraw.SHARE, as before."""

    def __init__(self, share: float | None = None):
        super().__init__(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    set_threads_once()
    lesson = get_lesson(args.lesson)
    parts = sys.modules[lesson.parts[-1].run.__module__]  # the module whose parts build a Redraw
    run_seconds(args.lesson, dict(lesson.quick))  # warm-up: imports, data, first allocations
    times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for _ in range(args.repeats):
        for which in times:
            with mock.patch.object(parts, "Redraw", OldShare if which == "old" else redraw.Redraw):
                times[which].append(run_seconds(args.lesson))
            cpu, wall = times[which][-1]
            print(f"  {which}: {cpu:.2f} CPU s, {wall:.2f} s wall  (load {os.getloadavg()[0]:.1f})", flush=True)
    (old_cpu, old_wall), (new_cpu, new_wall) = ([statistics.median(x[i] for x in times[w]) for i in (0, 1)]
                                                for w in times)
    print(f"{args.lesson}, default run, median of {args.repeats}: redrawn at a fifth {old_cpu:.2f} CPU s "
          f"({old_wall:.2f} s wall), at the lesson's share {new_cpu:.2f} CPU s ({new_wall:.2f} s wall): "
          f"{new_cpu / old_cpu:.2f}x the CPU  (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
