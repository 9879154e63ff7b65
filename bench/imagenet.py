"""Bench: the pretrained ImageNet network (EfficientNet-Lite0): loading it, and features of many images
batched against the naive baseline, one image at a time, in the same process.

    python bench/imagenet.py [--images 1000] [--sizes 64,112,224] [--batch B] [--big-batch 100] [--threads N]

1. Load: the first ``network()`` of the process (timm's import, the sha256 of the 18.8 MB weights,
   ``torch.load(weights_only=True)``, building the architecture, the strict load), then a load
   after that warm-up with the weights' cache cleared (what a reinstall costs: everything but the
   imports), then ``create_network()`` from the checked weights kept in memory (a copy to fine-tune).
2. Features (the pooled 1280 numbers before the classifier) of ``--images`` shipped Fashion-MNIST test
   images resized to each size: batched (``imagenet.features``: about 200,000 input pixels a batch,
   channels-last; or ``--batch`` images) vs the naive baseline, one image per forward as it comes;
   with ``--big-batch N`` also N images a batch (what "batch everything" gives on a CPU). Each path
   runs once after a short warm-up; the results are compared (max abs difference).
3. The top-5 of every bundled photo, one at a time, from the PIL image (centre crop, resize, forward).

The 2-core machine is shared while other work runs; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import torch  # noqa: E402

from cnnbp.data import get_dataset  # noqa: E402
from cnnbp.data.photos import PHOTOS, load_photo  # noqa: E402
from cnnbp.device import set_threads_once  # noqa: E402
from cnnbp.nn import imagenet  # noqa: E402


def seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def naive_features(x: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """The baseline: one image per forward."""
    with torch.no_grad():
        return torch.cat([model.forward_head(model.forward_features(x[i:i + 1]), pre_logits=True)
                          for i in range(len(x))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--sizes", default="64,112,224", help="input sizes, comma-separated")
    parser.add_argument("--batch", type=int, help="images per batch (default: imagenet.batch_size_for(size))")
    parser.add_argument("--big-batch", type=int, default=0, help="also time batches of this many (0: skip)")
    parser.add_argument("--threads", type=int, help="torch threads (default: CPU_CORES or the cores we may use)")
    args = parser.parse_args()
    threads = set_threads_once() if args.threads is None else (torch.set_num_threads(args.threads)
                                                              or torch.get_num_threads())
    print(f"torch {torch.__version__}, {threads} thread(s), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")

    first, model = seconds(imagenet.network)
    imagenet._state_dict.cache_clear()
    warm, _ = seconds(imagenet.create_network)
    copy, _ = seconds(imagenet.create_network)
    print(f"load: first in the process {first:.2f} s (imports included); after warm-up {warm:.2f} s "
          f"(sha256 + torch.load + build + strict load); a copy from the checked weights {copy:.2f} s")

    data = get_dataset("fashion_mnist", n_test=args.images, n_train=10, seed=0)
    for size in (int(s) for s in args.sizes.split(",")):
        x = imagenet.to_network_input(data.x_test, size=size)
        batch = args.batch or imagenet.batch_size_for(size)
        imagenet.features(x[:2 * batch], model=model, batch_size=batch)  # warm-up
        naive_features(x[:4], model)
        t_batched, f_batched = seconds(lambda: imagenet.features(x, model=model, batch_size=batch))
        t_naive, f_naive = seconds(lambda: naive_features(x, model))
        diff = float((f_batched - f_naive).abs().max())
        big = ""
        if args.big_batch:
            t_big, _ = seconds(lambda: imagenet.features(x, model=model, batch_size=args.big_batch))
            big = f", {args.big_batch} a batch {t_big:.2f} s"
        print(f"features of {len(x)} images at {size}x{size}: batched ({batch} a batch) {t_batched:.2f} s, "
              f"one at a time {t_naive:.2f} s ({t_naive / t_batched:.1f}x){big}; max |diff| {diff:.1e}; "
              f"load average {os.getloadavg()[0]:.1f}")

    for name in PHOTOS:
        photo = load_photo(name)
        imagenet.top_k(photo, model=model)  # warm
        t, top = seconds(lambda: imagenet.top_k(photo, k=5, model=model))
        shown = ", ".join(f"{n} {p:.2f}" for n, p, _ in top)
        print(f"{name:10s} {t * 1e3:6.0f} ms  {shown}")


if __name__ == "__main__":
    main()
