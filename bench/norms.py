"""Bench: the normalisation lesson on its defaults, the time a class waits.

    python bench/norms.py [--repeats 1] [--cores 2]

The whole lesson on its default settings (picture, equivalences, contrast, 5 norms x 3 seeds
side by side, the batch-size sweep, batch size 1, the SyncBatchNorm simulation), start to the
final frame, on ``--cores`` torch threads (training itself runs on one: see
``cnnbp/lessons/norms/training.py``). Each part's share comes from the frame where its verdict
arrives. Prints the wall and CPU seconds and the load average, so a figure taken on a busy
machine reads as such. Imports, the digits and first-call allocations are warmed up first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from cnnbp.device import CORES_ENV  # noqa: E402


def one_run() -> tuple[float, float, dict[str, float]]:
    from cnnbp.lessons import run_lesson
    from cnnbp.lessons.norms.parts import PARTS

    wall, cpu = time.perf_counter(), time.process_time()
    parts, seen, last = {}, 0, wall
    for frame in run_lesson("norms", {}):
        if len(frame.verdicts) > seen:  # each part ends with its verdict
            now = time.perf_counter()
            parts[PARTS[len(parts)].name] = now - last
            seen, last = len(frame.verdicts), now
    assert frame.done and frame.message.startswith("done in"), frame.message
    return time.perf_counter() - wall, time.process_time() - cpu, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    os.environ[CORES_ENV] = str(args.cores)
    from cnnbp.device import set_threads_once
    from cnnbp.lessons import run_lesson

    threads = set_threads_once()
    for _ in run_lesson("norms", {"parts": ["contrast"], "epochs": 1, "seeds": 1, "norms": ["batch"]}):
        pass  # warm-up: imports, the digits
    for _ in run_lesson("norms", {"parts": ["compare"], "epochs": 1, "seeds": 1, "norms": ["batch"]}):
        pass  # warm-up: the optimiser's first construction imports torch's compiler stack
    runs = [one_run() for _ in range(args.repeats)]
    walls = [r[0] for r in runs]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch threads: {threads}; load average at the end: {load:.1f}; median of {args.repeats}")
    print(f"norms lesson, default settings, start to final frame: {statistics.median(walls):.1f} s wall "
          f"{[round(w, 1) for w in walls]}, {statistics.median(r[1] for r in runs):.1f} s CPU")
    for part, seconds in runs[len(runs) // 2][2].items():
        print(f"  {part:13s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
