"""Bench: every lesson's default run, one after the other in one process, click to final frame.

    python bench/defaults.py

The time a class waits for each tab on its defaults (imports and one small warm-up run paid first).
There is no naive baseline for a whole lesson; the per-lesson scripts compare their fast paths.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from bench.common import bench_args, lesson_seconds  # noqa: E402
from cnnbp.lessons import LESSONS, run_lesson  # noqa: E402


def main() -> None:
    _, threads = bench_args(__doc__, repeats=1)
    list(run_lesson("init", {"parts": ["classic"], "width": 64, "depth": 2}))  # imports, first allocations
    print(f"torch threads: {threads}")
    for name in LESSONS:
        print(f"{name:14s} {lesson_seconds(name):6.1f} s", flush=True)


if __name__ == "__main__":
    main()
