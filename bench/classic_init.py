"""Bench: the classic init experiment (4 inits x 2 activations, 6 x 4096, batch 16, forward
and backward) against the lecture's plain loop that draws fresh weights per configuration; then
the whole init lesson on its defaults, new path against old (bench/naive_paths.py: the CNN's
curves redrawn at every frame and its 8 variants stepped alone, against the redraw kept within a
fifth of the run and the 4 inits of each activation stacked).

    python bench/classic_init.py [--repeats 3]

Prints the times and their ratios, measured in this process, one after the other.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from bench.common import bench_args, timed  # noqa: E402
from bench.naive_paths import old_vs_new  # noqa: E402
from cnnbp.lessons.init import cnn  # noqa: E402
from cnnbp.lessons.init.classic import classic_experiment  # noqa: E402
from cnnbp.nn import create_act, get_init  # noqa: E402

INITS = ["normal_0.01", "normal_0.05", "xavier", "kaiming"]
ACTIVATIONS = ["tanh", "relu"]
WIDTH, DEPTH, BATCH = 4096, 6, 16


def naive() -> list[float]:
    """The lecture's code in torch: fresh weights for every configuration, autograd backward."""
    stds = []
    g = torch.Generator().manual_seed(0)
    for activation in ACTIVATIONS:
        act = create_act(activation)
        for init in INITS:
            scheme = get_init(init)
            x = torch.randn(BATCH, WIDTH, generator=g)
            weights = []
            h = x
            for _ in range(DEPTH):
                w = (torch.randn(WIDTH, WIDTH, generator=g) * scheme.scale(WIDTH, WIDTH, activation)).requires_grad_()
                weights.append(w)
                h = act(h @ w)
                stds.append(float(h.detach().std()))
            (h * torch.randn(BATCH, WIDTH, generator=g)).sum().backward()
            stds += [float(w.grad.norm()) for w in weights]
    return stds


def ours() -> list[float]:
    return [s for r in classic_experiment(activations=ACTIVATIONS, inits=INITS, width=WIDTH, depth=DEPTH,
                                          batch_size=BATCH, seed=0) for s in r.stds()]


def main() -> None:
    args, threads = bench_args(__doc__)
    ours()  # warm-up: first-call allocations and library loading are not what we compare
    t_ours = [timed(ours) for _ in range(args.repeats)]
    t_naive = [timed(naive) for _ in range(args.repeats)]
    mo, mn = statistics.median(t_ours), statistics.median(t_naive)
    print(f"torch threads: {threads}; {len(INITS)} inits x {len(ACTIVATIONS)} activations, "
          f"{DEPTH} x {WIDTH}, batch {BATCH}, forward + backward; median of {args.repeats}")
    print(f"naive loop (fresh weights per configuration): {mn:.2f} s  {[round(t, 2) for t in t_naive]}")
    print(f"cnnbp classic_experiment (shared unit draws):  {mo:.2f} s  {[round(t, 2) for t in t_ours]}")
    print(f"speed-up: {mn / mo:.1f}x")
    old_vs_new("init", cnn, repeats=args.repeats)


if __name__ == "__main__":
    main()
