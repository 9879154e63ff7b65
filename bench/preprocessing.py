"""Speed of the preprocessing lesson: a full default run, and the image statistics (fit on
train, apply to train and test, per-channel numbers) against a per-image Python loop, in the
same process.

    python bench/preprocessing.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from cnnbp.data import get_dataset  # noqa: E402
from cnnbp.device import set_threads_once  # noqa: E402
from cnnbp.lessons.base import merge_frames, run_lesson  # noqa: E402
from cnnbp.lessons.preprocessing.transforms import channel_stats, fit_image_transform  # noqa: E402

REPEATS = 3


def naive_channel_std(x_train: torch.Tensor, x_test: torch.Tensor) -> tuple[list[float], list[float]]:
    """The lecture's recipe written image by image: sums for the mean and std of each channel,
    then every test image standardised in turn; returns the test per-channel mean and std."""
    n, c = len(x_train), x_train.shape[1]
    pixels = x_train.shape[2] * x_train.shape[3]
    total, squares = [0.0] * c, [0.0] * c
    for image in x_train.double():
        for ch in range(c):
            total[ch] += float(image[ch].sum())
            squares[ch] += float((image[ch] ** 2).sum())
    mean = [t / (n * pixels) for t in total]
    std = [(s / (n * pixels) - m * m) ** 0.5 for s, m in zip(squares, mean)]
    out = torch.stack([torch.stack([(img[ch] - mean[ch]) / std[ch] for ch in range(c)]) for img in x_test.double()])
    return channel_stats(out)


def vectorised_channel_std(x_train: torch.Tensor, x_test: torch.Tensor) -> tuple[list[float], list[float]]:
    return channel_stats(fit_image_transform("channel_std", x_train)(x_test.double()))


def best_of(fn, *args) -> tuple[float, object]:
    times, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    threads = set_threads_once()
    import cnnbp.lessons.preprocessing  # noqa: F401  (registers the lesson)

    list(run_lesson("preprocessing", {"parts": ["cloud"], "cloud_points": 10}))  # imports, first calls
    start = time.perf_counter()
    final = merge_frames(run_lesson("preprocessing", {}))
    full = time.perf_counter() - start
    print(f"full default run (cloud, shapes statistics, 4 x 3 linear classifiers, sensitivity): {full:.2f} s "
          f"on {threads} torch threads; {final.message}")

    data = get_dataset("shapes", seed=0)
    x_train, x_test = data.x_train * 255, data.x_test * 255
    t_fast, fast = best_of(vectorised_channel_std, x_train, x_test)
    t_naive, naive = best_of(naive_channel_std, x_train, x_test)
    assert all(abs(a - b) < 1e-6 for a, b in zip(fast[0] + fast[1], naive[0] + naive[1])), (fast, naive)
    print(f"per-channel standardisation of shapes (fit on {len(x_train)}, apply to {len(x_test)} 3x32x32 images): "
          f"vectorised {t_fast * 1e3:.1f} ms vs per-image loop {t_naive * 1e3:.0f} ms ({t_naive / t_fast:.1f}x), "
          f"same numbers")


if __name__ == "__main__":
    main()
