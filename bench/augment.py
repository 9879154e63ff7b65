"""Bench: the augmentation lesson's batch augmentation against image-by-image, and its defaults.

    python bench/augment.py [--repeats 3]

1. One epoch of the default training subset (300 MNIST images, batches of 32) through the
   default augmentations (rotations up to 15 deg and shifts up to 10%, at strength 0.5): the
   lesson's path (one ``grid_sample`` per batch tensor, every image its own draw from a seeded
   generator) against ``transforms.v2.RandomAffine`` on each image as a PIL image (the classic
   ``Dataset.__getitem__`` pipeline: tensor -> PIL -> augment -> tensor) and on each image tensor,
   all on the one torch thread the lesson trains on (two threads on these small ops lose to the
   threads' start-up, many times over when another process holds a core).
2. The whole lesson on its defaults, start to final frame, and the dropout lesson's defaults in
   the same process: the ratio carries this machine's load over to the idle figure the README
   gives for dropout (8.2-9.1 s on an idle 2-core machine).

Everything is measured in this process, one after the other, medians of ``--repeats``.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import torch  # noqa: E402
from torchvision.transforms import v2  # noqa: E402
from torchvision.transforms.v2 import functional as TF  # noqa: E402

from bench.common import bench_args, lesson_seconds, timed  # noqa: E402
from cnnbp.data import get_dataset  # noqa: E402
from cnnbp.device import torch_threads  # noqa: E402
from cnnbp.lessons.augment.augmentations import augment, ranges  # noqa: E402
from cnnbp.lessons.augment.config import AugmentConfig  # noqa: E402
from cnnbp.lessons.augment.training import THREADS, splits  # noqa: E402

CFG = AugmentConfig()
DROPOUT_IDLE_S = (8.2, 9.1)  # README, "whole lesson on its defaults", idle 2-core machine


def main() -> None:
    args, threads = bench_args(__doc__)
    data = get_dataset(CFG.dataset, seed=0)
    x = splits(data, train_images=CFG.train_images, test_images=CFG.test_images, seed=0).train[0]
    batches = list(x.split(CFG.batch_size))
    r = ranges(CFG.strength)
    affine = v2.RandomAffine(degrees=r["degrees"], translate=(r["shift"], r["shift"]),
                             interpolation=v2.InterpolationMode.BILINEAR)

    def batched() -> None:
        g = torch.Generator().manual_seed(0)
        for b in batches:
            augment(b, CFG.augmentations, strength=CFG.strength, generator=g)

    def per_pil_image() -> None:
        for b in batches:
            torch.stack([TF.to_dtype(TF.to_image(affine(TF.to_pil_image(img))), torch.float32, scale=True)
                         for img in b])

    def per_tensor_image() -> None:
        for b in batches:
            torch.stack([affine(img) for img in b])

    ways = {"batch tensor (the lesson)": batched, "image by image, PIL": per_pil_image,
            "image by image, tensor": per_tensor_image}
    with torch_threads(THREADS):
        for fn in ways.values():
            fn()  # warm-up
        times = {name: statistics.median(timed(fn) for _ in range(args.repeats)) for name, fn in ways.items()}
    base = times["batch tensor (the lesson)"]
    print(f"torch threads: {threads}; load average {os.getloadavg()[0]:.1f}; median of {args.repeats}")
    print(f"one epoch, {len(x)} images in batches of {CFG.batch_size}, {' + '.join(CFG.augmentations)}, "
          f"{THREADS} thread:")
    for name, t in times.items():
        print(f"  {name:28s} {t * 1000:8.1f} ms  ({t / base:.1f}x the batch path)")

    lesson_seconds("augment", {"parts": ["gallery"]})  # warm-up: imports, the data, first allocations
    t_aug = [lesson_seconds("augment") for _ in range(args.repeats)]
    t_drop = [lesson_seconds("dropout") for _ in range(args.repeats)]
    ratio = statistics.median(t_aug) / statistics.median(t_drop)
    print(f"augment lesson, defaults, start to final frame: {statistics.median(t_aug):.2f} s "
          f"{[round(t, 2) for t in t_aug]} (cost estimate {CFG.cost_seconds():.1f} s)")
    print(f"dropout lesson, defaults: {statistics.median(t_drop):.2f} s; ratio {ratio:.2f} -> about "
          f"{ratio * DROPOUT_IDLE_S[0]:.1f}-{ratio * DROPOUT_IDLE_S[1]:.1f} s on an idle 2-core machine")
    for parts in (["gallery"], ["gallery", "training"], ["gallery", "training", "flips", "tta"]):
        print(f"  parts {'+'.join(parts)}: {lesson_seconds('augment', {'parts': parts}):.2f} s")


if __name__ == "__main__":
    main()
