"""Bench: the dropout lesson on its defaults, whole and part by part; its nets trained as one
stacked model against one at a time.

    python bench/dropout.py [--repeats 3]     # CPU_CORES=2 for the 2-core figure

1. The regularisation part's training (one MLP per p at each seed: 4 x 3 nets, 160 epochs of
   100 digits, 40 evaluations) as one stacked model a step (``train/stacked_mlp.py``) against
   the naive path, one net after another every step, interleaved (new, naive, new, ...), on
   1 torch thread and, where the process has two, on 2; medians and their ratio.
2. The whole lesson on its default settings (masks, a 1000-pass expectation, the training, MC
   dropout over 100 passes), start to the final frame: the time a class waits; then each part alone.

The expectation draws its masks for 50 passes at once and applies f to their sum (f is affine),
but drawing the masks dominates, so it is no faster than one pass at a time (measured while
writing it: 0.38 s vs 0.36 s); it is kept because the code is short. Everything is measured in
this process, with the 1-minute load average beside it.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.dropout  # noqa: E402,F401  (registers the lesson)
from bench.common import bench_args, lesson_seconds  # noqa: E402
from cnnbp.data import get_dataset  # noqa: E402
from cnnbp.lessons.dropout.config import DropoutConfig  # noqa: E402
from cnnbp.lessons.dropout.training import THREADS, train_gap  # noqa: E402
from cnnbp.train import RunControl  # noqa: E402

CFG = DropoutConfig()


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def training_seconds(stack: bool, threads: int) -> float:
    """The regularisation part's training alone (no figures), on ``threads`` torch threads."""
    data = {seed: get_dataset("digits", seed=seed) for seed in CFG.seed_list}
    start = time.perf_counter()
    for _ in train_gap(data, CFG.ps, arch=CFG.arch, width=CFG.width, depth=CFG.depth, train_images=CFG.train_images,
                       epochs=CFG.epochs, batch_size=CFG.batch_size, lr=CFG.lr,
                       control=RunControl(budget_s=float("inf")), stack=stack, threads=threads):
        pass
    return time.perf_counter() - start


def main() -> None:
    args, threads = bench_args(__doc__)
    print(f"torch threads: {threads} (the lesson trains on {THREADS}); median of {args.repeats}; {load()}")
    print(f"1. training {len(CFG.ps)} nets x {CFG.seeds} seeds, {CFG.steps()} steps each:")
    for n in sorted({1, min(2, threads)}):
        times = {True: [], False: []}
        for _ in range(args.repeats):
            for stack in (True, False):
                times[stack].append(training_seconds(stack, n))
        new, naive = statistics.median(times[True]), statistics.median(times[False])
        print(f"   {n} thread{'s' if n > 1 else ''}: stacked {new:.2f} s, one at a time {naive:.2f} s: "
              f"{naive / new:.2f}x  ({load()})")

    lesson_seconds("dropout")  # warm-up: imports, the digits, first-call allocations
    t_run = [lesson_seconds("dropout") for _ in range(args.repeats)]
    print(f"2. dropout lesson, default settings, start to final frame: {statistics.median(t_run):.2f} s  "
          f"{[round(t, 2) for t in t_run]}  (cost estimate {CFG.cost_seconds():.1f} s; {load()})")
    for part, parts in (("masks", ["masks"]), ("expectation", ["expectation"]),
                        ("regularisation + mc", ["regularisation", "mc"])):
        t = statistics.median(lesson_seconds("dropout", {"parts": parts}) for _ in range(args.repeats))
        print(f"   {part} alone: {t:.2f} s")


if __name__ == "__main__":
    main()
