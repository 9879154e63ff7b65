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

Everything is measured in this process, one after the other, medians of ``--repeats``.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.activations  # noqa: E402,F401  (registers the lesson)
from bench.common import bench_args, timed  # noqa: E402
from bench.naive_paths import old_vs_new  # noqa: E402
from cnnbp.lessons.activations import race  # noqa: E402
from cnnbp.lessons.activations.config import ActivationsConfig  # noqa: E402
from cnnbp.lessons.activations.functions import GRID_POINTS, activation_curves, scalar_act  # noqa: E402
from cnnbp.nn.activations import ACTIVATIONS  # noqa: E402

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


if __name__ == "__main__":
    main()
