"""Bench: the label-imbalance lesson on its defaults, and a threshold-only re-run against it.

    python bench/imbalance.py [--repeats 3]     # CPU_CORES=2 for the 2-core figure

1. The whole comparison on the default settings (binary digits, '8' against the rest at 1:50,
   the lecture's 5 methods x 100 steps in lockstep, at 3 seeds, every metric and figure), start
   to the final frame, with the kept predictions cleared first: the time a class waits after
   pressing Run.
2. The same settings with only the threshold moved: the lesson finds the trained models'
   test-set probabilities in its prediction cache and re-scores them (every metric, table,
   verdict and figure, every seed) without training. The ratio full / re-scored is what the
   live threshold saves.
3. Inside that re-run, the metrics of the shown seed alone (12 model x test-set pairs, no figures).
4. The training at one seed (the 5 methods x 100 steps, 17 evaluations; no figures) as one
   stacked model a step (``train/stacked_mlp.py``: each method its own sampler, loss and batch
   size) against the naive path, one method after another every step; interleaved, medians, ratio.

Everything is measured in this process, one after the other, medians of ``--repeats``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.imbalance  # noqa: E402,F401  (registers the lesson)
from bench.common import bench_args  # noqa: E402
from cnnbp.lessons import run_lesson  # noqa: E402
from cnnbp.lessons.base import validate_config  # noqa: E402
from cnnbp.lessons.imbalance.config import ImbalanceConfig  # noqa: E402
from cnnbp.lessons.imbalance.scoring import score  # noqa: E402
from cnnbp.lessons.imbalance.training import PREDICTIONS, build, eval_split, train_methods  # noqa: E402
from cnnbp.train import RunControl  # noqa: E402

THRESHOLDS = (0.3, 0.1, 0.7, 0.2, 0.4)  # moved one after the other, as a slider would


def full_run() -> float:
    PREDICTIONS.clear()
    start = time.perf_counter()
    frames = list(run_lesson("imbalance", {}))
    assert frames[-1].done and any("methods trained" in f.message for f in frames), frames[-1].message
    return time.perf_counter() - start


def threshold_run(threshold: float) -> float:
    start = time.perf_counter()
    frames = list(run_lesson("imbalance", {"threshold": threshold}))
    assert frames[-1].done and "no training" in frames[0].message, frames[0].message
    return time.perf_counter() - start


def metrics_only(threshold: float) -> float:
    cfg = validate_config(ImbalanceConfig, {})
    trained = PREDICTIONS.get(cfg.run_key(cfg.seed))
    start = time.perf_counter()
    score(trained, threshold)
    return time.perf_counter() - start


def training_seconds(cfg: ImbalanceConfig, data, stack: bool) -> float:
    start = time.perf_counter()
    for _ in train_methods(data, cfg.methods, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, beta=cfg.beta,
                           gamma=cfg.gamma, seed=cfg.seed, eval_split=eval_split(cfg, data),
                           control=RunControl(budget_s=float("inf")), stack=stack):
        pass
    return time.perf_counter() - start


def main() -> None:
    args, threads = bench_args(__doc__)
    cfg = validate_config(ImbalanceConfig, {})
    print(f"torch threads: {threads}; defaults: {cfg.dataset} {cfg.task} '{cfg.rare_class}' at 1:{cfg.ratio:g}, "
          f"{len(cfg.methods)} methods x {cfg.steps} steps x {cfg.seeds} seeds (estimated {cfg.cost_seconds():.1f} s)")
    full = [full_run() for _ in range(args.repeats)]
    # the last full run left its predictions in the cache: every threshold below re-scores them
    moved = [threshold_run(t) for _ in range(args.repeats) for t in THRESHOLDS]
    metrics = [metrics_only(t) for _ in range(args.repeats) for t in THRESHOLDS]
    f, m, s = statistics.median(full), statistics.median(moved), statistics.median(metrics)
    print(f"whole comparison on the defaults (train + score + figures): median {f:.2f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in full)})")
    print(f"threshold moved, kept predictions re-scored (metrics + tables + figures): median {m * 1000:.0f} ms "
          f"over {len(moved)} runs")
    print(f"  of which the shown seed's metrics (12 model x test-set pairs): median {s * 1000:.2f} ms")
    print(f"full run / threshold-only re-run: {f / m:.0f}x")
    data = build(cfg, cfg.seed)
    times = {True: [], False: []}
    for _ in range(args.repeats):
        for stack in (True, False):
            times[stack].append(training_seconds(cfg, data, stack))
    new, naive = statistics.median(times[True]), statistics.median(times[False])
    print(f"training at one seed ({len(cfg.methods)} methods x {cfg.steps} steps): stacked {new:.2f} s, one at a "
          f"time {naive:.2f} s: {naive / new:.2f}x (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
