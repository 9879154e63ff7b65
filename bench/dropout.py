"""Bench: the dropout lesson on its defaults, whole and part by part.

    python bench/dropout.py [--repeats 3]

The whole lesson on its default settings (masks, a 1000-pass expectation, 4 MLPs trained side
by side on 100 digits for 200 epochs, MC dropout over 100 passes), start to the final frame:
the time a class waits; then each part alone. There is no fast path to compare with a naive
baseline here: the expectation draws its masks for 50 passes at once and applies f to their
sum (f is affine), but drawing the masks dominates, so it is no faster than one pass at a time
(measured while writing this: 0.38 s vs 0.36 s), and we keep it only because the code is short.

Everything is measured in this process, one after the other, medians of ``--repeats``.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.dropout  # noqa: E402,F401  (registers the lesson)
from bench.common import bench_args, lesson_seconds  # noqa: E402
from cnnbp.lessons.dropout.config import DropoutConfig  # noqa: E402
from cnnbp.lessons.dropout.training import THREADS  # noqa: E402

CFG = DropoutConfig()


def main() -> None:
    args, threads = bench_args(__doc__)

    lesson_seconds("dropout")  # warm-up: imports, the digits, first-call allocations
    t_run = [lesson_seconds("dropout") for _ in range(args.repeats)]
    t_parts = {}
    for part, parts in (("masks", ["masks"]), ("expectation", ["expectation"]),
                        ("regularisation + mc", ["regularisation", "mc"])):
        t_parts[part] = statistics.median(lesson_seconds("dropout", {"parts": parts}) for _ in range(args.repeats))

    print(f"torch threads: {threads} (the lesson runs on {THREADS}); median of {args.repeats}")
    print(f"dropout lesson, default settings, start to final frame: {statistics.median(t_run):.2f} s  "
          f"{[round(t, 2) for t in t_run]}  (cost estimate {CFG.cost_seconds():.1f} s)")
    for part, t in t_parts.items():
        print(f"  {part} alone: {t:.2f} s")


if __name__ == "__main__":
    main()
