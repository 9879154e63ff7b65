"""Bench: the transfer lesson on its defaults, on 2 cores.

    CPU_CORES=2 python bench/transfer.py [--repeats 1]

1. The one-time costs a fresh process pays first (loading a source with its hash check,
   torch's optimiser import), kept apart from the lesson's own time.
2. The whole lesson on its default settings (digits 0-4 -> 5-9, 10 images per class, 75 steps: four
   linear probes, six SGD runs in lockstep with the 3 runs each of the two other verdict seeds,
   the size sweep [3, 10, 100] (3 runs at 3 per class; the 10-per-class row is the compare part's)
   and 2 x 2 runs at the largest size for the other seeds, source selection over the four shipped
   sources at 3 seeds; the rule-of-thumb table is one tick away: ``--rule`` adds it): start to the
   final frame, figures built, in wall and CPU seconds (one torch thread: CPU seconds are close to
   the idle wall time whatever the load), the first frame, the first training frame, and when each
   part ends.
3. The cost estimate the server uses to refuse oversized jobs, next to the measured time.
4. The new path against the old one (bench/naive_paths.py): the curves redrawn at every frame
   and every run stepped alone, against the redraw kept within a fifth of the run and the runs
   of one network and recipe (a strategy at the three seeds) stacked; CPU seconds and wall.

5. ``--imagenet``: the ImageNet source's two costs against a naive baseline, in the same process:
   features of 1,000 Fashion-MNIST images at 48 px (cached bottom activations: batched, then read
   from the cache on a second run) vs one image at a time through the whole network; and one SGD
   step (batch 32) of fine-tuning the last stage on the cached activations vs the same step that
   runs the frozen bottom every time, and vs a step of fine-tuning all.

Everything in this process, one after the other; medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons.transfer  # noqa: E402,F401  (registers the lesson)
from bench.common import timed  # noqa: E402
from bench.naive_paths import old_vs_new  # noqa: E402
from cnnbp.device import set_threads_once  # noqa: E402
from cnnbp.lessons import run_lesson  # noqa: E402
from cnnbp.lessons.transfer import strategies  # noqa: E402
from cnnbp.lessons.transfer.config import DEFAULT_PARTS, TransferConfig  # noqa: E402
from cnnbp.lessons.transfer.sources import load_source  # noqa: E402
from cnnbp.train import make_optimizer  # noqa: E402


def one_run(settings: dict) -> dict[str, float]:
    start, cpu = time.perf_counter(), time.process_time()
    marks: dict[str, float] = {}
    for frame in run_lesson("transfer", settings):
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
    marks["whole lesson, CPU"] = time.process_time() - cpu
    return marks


def imagenet_bench(repeats: int) -> None:
    """Features and fine-tune steps from ImageNet: ours vs the naive way, seconds and ratios."""
    import torch

    from cnnbp.lessons.transfer import imagenet_source as src
    from cnnbp.nn import imagenet

    task, size = src.get_target("fashion_mnist"), 48
    imagenet.network()  # built once, outside the timings
    images = task.x_train[:1000]

    def batched() -> None:
        src.ACTIVATIONS.clear()
        src.store_for("fashion_mnist", "train", size, src.cut_for(1)).get(
            range(1000), lambda i: imagenet.to_network_input(images[i], size=size), src.Bottom(imagenet.network(), 6))

    def cached() -> None:
        src.store_for("fashion_mnist", "train", size, src.cut_for(1)).get(
            range(1000), lambda i: imagenet.to_network_input(images[i], size=size), src.Bottom(imagenet.network(), 6))

    def naive() -> None:
        for x in images:
            imagenet.features(imagenet.to_network_input(x[None], size=size), batch_size=1)

    def median(fn) -> float:
        return statistics.median(timed(fn) for _ in range(repeats))

    t_naive, t_batched = median(naive), median(batched)
    t_cached = median(cached)
    print(f"features of 1,000 images at {size} px: one at a time {t_naive:.2f} s, batched into the cache "
          f"{t_batched:.2f} s ({t_naive / t_batched:.1f}x), from the cache {t_cached:.3f} s "
          f"({t_naive / t_cached:.0f}x)")
    split = src.cached_split(task, 10, 0, size=size, train_stages=1)
    x, y = split.a_train[:32], split.y_train[:32]
    raw = imagenet.to_network_input(split.x_train[:32], size=size)
    top = src.build("top", num_classes=10, train_stages=1, size=size, lora_rank=2, seed=0).train()
    bottom = src.Bottom(imagenet.network(), src.cut_for(1))
    whole = src.build("finetune_all", num_classes=10, train_stages=1, size=size, lora_rank=2, seed=0).train()

    def step(model, inputs) -> Callable[[], None]:
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

        def run() -> None:
            loss = torch.nn.functional.cross_entropy(model(inputs()), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return run

    def through_bottom() -> torch.Tensor:
        with torch.no_grad():
            return bottom(raw).contiguous(memory_format=torch.channels_last)

    steps = {"last stage on cached activations": step(top, lambda: x),
             "last stage, frozen bottom run every step (naive)": step(top, through_bottom),
             "fine-tune all (from the 28x28 images)": step(whole, lambda: split.x_train[:32])}
    times = {}
    for name, fn in steps.items():
        fn()  # warm-up
        times[name] = statistics.median(timed(fn) for _ in range(max(5, repeats)))
    base = times["last stage, frozen bottom run every step (naive)"]
    for name, t in times.items():
        print(f"one SGD step, batch 32, {name}: {t * 1000:.0f} ms ({base / t:.1f}x the naive step's speed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--imagenet", action="store_true", help="only the ImageNet source's features and steps")
    parser.add_argument("--rule", action="store_true", help="the defaults with the rule-of-thumb part added")
    args = parser.parse_args()
    threads = set_threads_once()
    if args.imagenet:
        print(f"torch threads: {threads}")
        imagenet_bench(args.repeats)
        return
    t = time.perf_counter()
    source = load_source("digits_0to4")
    make_optimizer(source.model, lr=0.1)  # pays torch's one-time optimiser (dynamo) import
    print(f"torch threads: {threads}; one-time load + optimiser import: {time.perf_counter() - t:.2f} s")
    settings = {"parts": [*DEFAULT_PARTS, "rule"]} if args.rule else {}
    runs = [one_run(settings) for _ in range(args.repeats)]
    for key in runs[0]:
        print(f"{key:28s} {statistics.median(r[key] for r in runs):7.2f} s")
    print(f"{'cost estimate (server)':28s} {TransferConfig(**settings).cost_seconds():7.2f} s")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    old_vs_new("transfer", strategies, repeats=args.repeats)


if __name__ == "__main__":
    main()
