"""Bench: the activations lesson on its defaults, and its derivative curves against a per-point loop.

    python bench/activations.py [--repeats 3]

1. The whole lesson on its default settings (functions, same-sign, zig-zag, deep MLP, 8 CNNs
   drawn and the verdicts' 6 at two further seeds, trained in one lockstep), start to the final
   frame: the time a class waits, the new path against the old one (bench/naive_paths.py: the
   curves redrawn at every frame and every net stepped alone, against the redraw kept within a
   fifth of the run and the nets of one activation and rate at the three seeds stacked).
2. f and f' of every registry activation on the lesson's grid (601 points): one vectorised
   autograd pass per activation (what the lesson does) against the naive way, one autograd
   call per point. Both give the same numbers (checked); the ratio is the speed-up.
3. The CNNs of the default run (the ``cnns`` part, no figures) three ways, interleaved, CPU and
   wall seconds: side by side, one Python thread per lane and one torch thread each (what the
   lesson does: ``lockstep(workers=$CPU_CORES)``); one lane on one torch thread; one lane on
   $CPU_CORES torch threads (the lesson before). The first two give the same numbers (checked).
   Run it on an idle machine: on a busy one the lanes share what cores are left.

Everything is measured in this process, one after the other, medians of ``--repeats``.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.activations  # noqa: E402,F401  (registers the lesson)
from bench.common import bench_args, timed  # noqa: E402
from bench.naive_paths import old_vs_new  # noqa: E402
from cnnbp.device import torch_threads  # noqa: E402
from cnnbp.lessons.activations import parts, race  # noqa: E402
from cnnbp.lessons.activations.config import ActivationsConfig  # noqa: E402
from cnnbp.lessons.activations.functions import GRID_POINTS, activation_curves, scalar_act  # noqa: E402
from cnnbp.lessons.base import RunState  # noqa: E402
from cnnbp.nn.activations import ACTIVATIONS  # noqa: E402
from cnnbp.train import RunControl  # noqa: E402

X_RANGE = ActivationsConfig().x_range


def naive_curves() -> dict[str, tuple[list[float], list[float]]]:
    """f(x) and f'(x) point by point: a fresh leaf tensor and one autograd call per x."""
    out = {}
    for name in ACTIVATIONS:
        act = scalar_act(name, {})
        values, grads = [], []
        for x in torch.linspace(-X_RANGE, X_RANGE, GRID_POINTS, dtype=torch.float64):
            xi = x.reshape(1).clone().requires_grad_(True)
            y = act(xi)
            (g,) = torch.autograd.grad(y.sum(), xi)
            values.append(float(y.detach()))
            grads.append(float(g))
        out[name] = (values, grads)
    return out


def our_curves() -> dict[str, tuple[list[float], list[float]]]:
    return {c.name: (c.value, c.grad)
            for c in activation_curves(list(ACTIVATIONS), x_range=X_RANGE, options={}, threshold=0.1)}


def cnns_side_by_side(cores: int, repeats: int) -> None:
    """Section 3: the default run's CNNs in lanes (workers) against one lane, CPU and wall seconds."""
    cfg = ActivationsConfig()
    ways = {f"{cores} lanes, 1 torch thread each": (cores, 1), "1 lane, 1 torch thread": (1, 1),
            f"1 lane, {cores} torch threads (before)": (1, cores)}
    seconds: dict[str, list[tuple[float, float]]] = {w: [] for w in ways}
    finals = {}
    for _ in range(repeats):
        for way, (workers, threads) in ways.items():
            parts.cpu_cores = lambda workers=workers: workers  # the lanes the part asks lockstep for
            with torch_threads(threads):
                cpu, wall = time.process_time(), time.perf_counter()
                for update in parts.cnns(RunState(cfg=cfg, control=RunControl(budget_s=math.inf))):
                    pass
                seconds[way].append((time.process_time() - cpu, time.perf_counter() - wall))
            finals[way] = update.numbers["cnn"]
    one, lanes = finals["1 lane, 1 torch thread"], finals[f"{cores} lanes, 1 torch thread each"]
    assert one == lanes, "lanes changed a number"
    print(f"the default run's {len(cfg.variants())} CNNs (load {os.getloadavg()[0]:.1f}), median of {repeats}:")
    for way, runs in seconds.items():
        print(f"  {way}: {statistics.median(w for _, w in runs):.2f} s wall, "
              f"{statistics.median(c for c, _ in runs):.2f} s CPU")


def main() -> None:
    args, threads = bench_args(__doc__)

    naive, ours = naive_curves(), our_curves()  # warm-up, and the check that both agree
    for name in ACTIVATIONS:
        for a, b in zip(naive[name], ours[name]):
            assert max(abs(p - q) for p, q in zip(a, b)) <= 1e-12, name
    t_naive = [timed(naive_curves) for _ in range(args.repeats)]
    t_ours = [timed(our_curves) for _ in range(args.repeats)]

    mn, mo = statistics.median(t_naive), statistics.median(t_ours)
    print(f"torch threads: {threads}; median of {args.repeats}")
    old_vs_new("activations", race, repeats=args.repeats)
    print(f"f and f' of {len(ACTIVATIONS)} activations x {GRID_POINTS} points:")
    print(f"  naive, one autograd call per point: {mn * 1e3:.0f} ms  {[round(t * 1e3) for t in t_naive]}")
    print(f"  cnnbp, one autograd pass per activation: {mo * 1e3:.1f} ms  {[round(t * 1e3, 1) for t in t_ours]}")
    print(f"  speed-up: {mn / mo:.0f}x (same numbers, checked to 1e-12)")
    cnns_side_by_side(threads, args.repeats)


if __name__ == "__main__":
    main()
