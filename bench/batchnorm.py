"""Bench: BatchNorm folded into the conv vs the unfolded net (and vs PyTorch's own
``fuse_conv_bn_eval``), and the batchnorm lesson on its defaults.

    python bench/batchnorm.py [--repeats 30] [--lesson-repeats 1]

1. Inference on a batch: the lesson's default CNN (4 conv blocks, width 16, BN before ReLU) on
   256 digits (8x8), and the same net on 256 shapes (32x32 RGB), each on 1 and on 2 threads.
   Three models: unfolded (conv -> BN -> ReLU), folded by us (float64 weights, rounded once),
   folded by ``torch.nn.utils.fusion.fuse_conv_bn_eval``. Their outputs are compared first
   (max abs difference, must be <= 1e-5 relative to the logits); then each forward is timed,
   the three side by side in every repeat (the order reversed every other one); medians, the
   median of the per-repeat ratios and its 95% interval printed.
2. The whole lesson on its default settings, start to the final frame (after one quick run
   that pays the one-time imports, as the app's warm-up does): the time a class waits.
3. Its training alone (every CNN of every seed, the races stopped where decided; no figures):
   nets of one architecture and learning rate as one stacked model a step
   (``train/stacked_mlp.py``) against the naive path, one net after another every step;
   interleaved, medians of ``--lesson-repeats`` (at least 1), ratio.

Everything is measured in this process, one after the other.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.batchnorm  # noqa: E402,F401  (registers the lesson)
from cnnbp.data import (
    get_dataset,  # noqa: E402
    lesson_dataset,  # noqa: E402
)
from cnnbp.device import pick_device, set_threads_once, torch_threads  # noqa: E402
from cnnbp.lessons import get_lesson, run_lesson  # noqa: E402
from cnnbp.lessons.batchnorm.config import BatchNormConfig  # noqa: E402
from cnnbp.lessons.batchnorm.folding import FOLD_TOL, calibrated_model, compare_folding, fold_inputs  # noqa: E402
from cnnbp.lessons.batchnorm.training import train_runs  # noqa: E402
from cnnbp.train import RunControl  # noqa: E402

DEFAULTS = BatchNormConfig()


def fold_case(dataset: str, threads: int, repeats: int) -> None:
    data = get_dataset(dataset, seed=0)
    device = pick_device()
    with torch_threads(threads):
        model = calibrated_model(data.x_train.to(device), in_channels=data.in_channels, num_classes=data.num_classes,
                                 depth=DEFAULTS.depth, width=DEFAULTS.width, activation=DEFAULTS.activation,
                                 image_size=data.image_size[0], seed=0)
        f = compare_folding(model, fold_inputs(data, DEFAULTS.fold_batch).to(device), repeats=repeats)
    assert f.max_abs_diff <= FOLD_TOL * max(1.0, f.max_abs_logit), f.max_abs_diff
    ms = {k: v * 1e3 for k, v in f.seconds.items()}
    low, high = f.speedup_interval or (float("nan"), float("nan"))
    print(f"{dataset:7s} {f.batch} images, {threads} thread{'s' if threads > 1 else ' '}: "
          f"unfolded {ms['unfolded']:7.3f} ms, folded {ms['folded']:7.3f} ms ({f.speedup:.2f}x, {low:.2f}-{high:.2f}), "
          f"torch fused {ms['torch fused']:7.3f} ms ({f.speedup_torch:.2f}x); "
          f"max |diff| ours {f.max_abs_diff:.2g}, torch {f.max_abs_diff_torch:.2g}, ours vs torch "
          f"{f.max_abs_diff_ours_vs_torch:.2g}")


def default_run() -> tuple[float, str]:
    start = time.perf_counter()
    frames = list(run_lesson("batchnorm", {}))
    assert frames[-1].done and frames[-1].message.startswith("done in"), frames[-1].message
    return time.perf_counter() - start, frames[-1].message


def training_seconds(stack: bool) -> float:
    cfg = DEFAULTS
    data = {s: lesson_dataset(cfg.dataset, seed=s) for s in dict.fromkeys(r.seed for r in cfg.runs())}
    start = time.perf_counter()
    for _ in train_runs(cfg.runs(), data, depth=cfg.depth, width=cfg.width, activation=cfg.activation,
                        epochs=cfg.epochs, batch_size=cfg.batch_size, bn_momentum=cfg.bn_momentum,
                        control=RunControl(budget_s=float("inf")), stack=stack):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed forwards per model and case")
    parser.add_argument("--lesson-repeats", type=int, default=1, help="runs of the whole lesson (0: skip)")
    args = parser.parse_args()
    threads = set_threads_once()
    print(f"device {pick_device()}, torch threads available {threads}")
    print(f"1. BN folding, {args.repeats} forwards per model, the three side by side in each repeat:")
    for dataset in ("digits", "shapes"):
        for n in (1, 2):
            fold_case(dataset, n, args.repeats)
    if args.lesson_repeats:
        list(run_lesson("batchnorm", dict(get_lesson("batchnorm").quick)))  # one-time imports, as the warm-up
        runs = [default_run() for _ in range(args.lesson_repeats)]
        print(f"2. the lesson on its defaults ({len(DEFAULTS.variants())} CNNs x {DEFAULTS.epochs} epochs, one BN "
              f"layer, folding): median {statistics.median(t for t, _ in runs):.1f} s over {len(runs)} run(s) "
              f"(the lesson says: {runs[-1][1]})")
    times = {True: [], False: []}
    for _ in range(max(1, args.lesson_repeats)):
        for stack in (True, False):
            times[stack].append(training_seconds(stack))
    new, naive = statistics.median(times[True]), statistics.median(times[False])
    print(f"3. training {len(DEFAULTS.runs())} CNNs: stacked {new:.2f} s, one at a time {naive:.2f} s: "
          f"{naive / new:.2f}x (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
