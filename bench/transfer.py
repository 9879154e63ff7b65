"""Bench: the transfer lesson on its defaults, on 2 cores.

    CPU_CORES=2 python bench/transfer.py [--repeats 1]

1. The one-time costs a fresh process pays first (loading a source with its hash check,
   torch's optimiser import), kept apart from the lesson's own time.
2. The whole lesson on its default settings (digits 0-4 -> 5-9, 10 images per class: four
   linear probes, six SGD runs of 150 steps in lockstep with the 3 runs each of the two other
   verdict seeds, the size sweep of 3 sizes x 3 runs (the 10-per-class row is the compare
   part's) and 2 x 2 runs at the largest size for the other seeds, the rule-of-thumb cells of
   the dissimilar source (2 sizes x 2 runs at 3x16x16), source selection over the four shipped
   sources at 3 seeds): start to the final frame, the first frame, the first training frame,
   and when each part ends.
3. The cost estimate the server uses to refuse oversized jobs, next to the measured time.

Everything in this process, one after the other; medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.transfer  # noqa: E402,F401  (registers the lesson)
from cnnbp.device import set_threads_once  # noqa: E402
from cnnbp.lessons import run_lesson  # noqa: E402
from cnnbp.lessons.transfer.config import TransferConfig  # noqa: E402
from cnnbp.lessons.transfer.sources import load_source  # noqa: E402
from cnnbp.train import make_optimizer  # noqa: E402


def one_run() -> dict[str, float]:
    start = time.perf_counter()
    marks: dict[str, float] = {}
    for frame in run_lesson("transfer", {}):
        now = time.perf_counter() - start
        marks.setdefault("first frame", now)
        if frame.message.startswith("training"):
            marks.setdefault("first training frame", now)
        if frame.message.endswith("runs trained"):
            marks["compare + forgetting done"] = now
        if frame.message.startswith("target-set size"):
            marks["sizes done"] = now
        if frame.message.startswith("rule-of-thumb table"):
            marks["rule of thumb done"] = now
    marks["whole lesson"] = time.perf_counter() - start
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    threads = set_threads_once()
    t = time.perf_counter()
    source = load_source("digits_0to4")
    make_optimizer(source.model, lr=0.1)  # pays torch's one-time optimiser (dynamo) import
    print(f"torch threads: {threads}; one-time load + optimiser import: {time.perf_counter() - t:.2f} s")
    runs = [one_run() for _ in range(args.repeats)]
    for key in runs[0]:
        print(f"{key:28s} {statistics.median(r[key] for r in runs):7.2f} s")
    print(f"{'cost estimate (server)':28s} {TransferConfig().cost_seconds():7.2f} s")


if __name__ == "__main__":
    main()
