"""What each preprocessing step does to data, as plain numbers: a 2-D point cloud, two pixels
of real images, the covariance of pixel vectors, and the per-channel statistics of images.

Every statistic is fitted on the training split and applied unchanged to the test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np
import torch

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed
from cnnbp.lessons.preprocessing.transforms import (
    VECTOR_TRANSFORMS,
    channel_stats,
    fit_image_transform,
    fit_vector_transform,
    pixel_vectors,
)

SECOND_STD = 1.0  # the cloud's second coordinate has unit std; ``scale`` sets the first's
PAIR_POINTS = 300  # training and test points drawn per pixel-pair panel
N_EXAMPLES = 4  # test images shown after each transform (their pixels go into numbers: ~0.3 MB each)


def make_cloud(n: int, *, correlation: float, offset: float, scale: float, seed: int) -> np.ndarray:
    """``n`` Gaussian points (n, 2) centred at (offset, offset), std (scale, 1), correlation
    ``correlation``: the lecture's data cloud away from the origin.

    >>> make_cloud(3, correlation=0.5, offset=10.0, scale=2.0, seed=0).shape
    (3, 2)
    """
    if not -1.0 < correlation < 1.0:
        raise ValueError(f"correlation must be in (-1, 1), got {correlation!r}")
    cov = np.array([[scale**2, correlation * scale * SECOND_STD], [correlation * scale * SECOND_STD, SECOND_STD**2]])
    rng = np.random.default_rng(derive_seed(seed, "cloud"))
    return rng.multivariate_normal([offset, offset], cov, size=n, method="cholesky")


@dataclass
class Panel:
    """One transform applied to a 2-D cloud: the points and their statistics."""

    transform: str
    train: np.ndarray  # (N, 2)
    test: np.ndarray | None  # (M, 2) or None

    def stats(self) -> dict:
        x = self.train
        cov = np.cov(x, rowvar=False, bias=True)
        return {"mean": x.mean(0).tolist(), "std": x.std(0).tolist(), "cov": cov.tolist(),
                "correlation": float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])) if cov[0, 0] * cov[1, 1] > 0 else 0.0}


def transform_panels(train: np.ndarray, test: np.ndarray | None = None) -> list[Panel]:
    """Every vector transform, fitted on ``train`` (N, 2) and applied to train and test."""
    panels = []
    for name in VECTOR_TRANSFORMS:
        t = fit_vector_transform(name, train)
        panels.append(Panel(name, t(train), None if test is None else t(test)))
    return panels


def neighbour_pixels(data: ImageDataset) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two horizontally adjacent pixels of channel 0 next to the image centre: (c, row, col)."""
    h, w = data.image_size
    return (0, h // 2, w // 2 - 1), (0, h // 2, w // 2)


@dataclass
class ImageAnalysis:
    dataset: str
    pixels: tuple[tuple[int, int, int], tuple[int, int, int]]  # the two pixels of the pair panels
    pair_panels: list[Panel]  # the two pixels as a 2-D cloud (train and shown test subsample)
    grid: int  # pixel vectors pooled to grid x grid
    covariances: dict[str, list[list[float]]]  # vector transform -> covariance of training pixel vectors
    test_covariance_diag: dict[str, list[float]]  # the same transforms on the test vectors
    mean_image: list  # (C, H, W) training mean image, raw units
    channel_mean: list[float]  # fitted on train, raw units
    channel_std: list[float]
    after: dict[str, dict[str, dict[str, list[float]]]]  # transform -> split -> {"mean", "std"} per channel
    examples: dict[str, list]  # image transform -> (K, C, H, W) test images after it
    example_labels: list[str]


def analyse_images(data: ImageDataset, *, raw_scale: float, raw_offset: float, transforms: list[str],
                   pair_points: int, n_examples: int, seed: int) -> Generator[float, None, ImageAnalysis]:
    """The images as they come (pixel x ``raw_scale`` + ``raw_offset``) and after each step; yields
    the share of its steps done (a heartbeat), returns the analysis."""
    steps, done = 1 + len(VECTOR_TRANSFORMS) + len(transforms), 0
    x_train = data.x_train.double() * raw_scale + raw_offset  # (N, C, H, W) raw units
    x_test = data.x_test.double() * raw_scale + raw_offset
    # two neighbouring pixels as a 2-D cloud: each vector transform fitted on the training pairs
    a, b = neighbour_pixels(data)
    pair = lambda x: torch.stack([x[:, a[0], a[1], a[2]], x[:, b[0], b[1], b[2]]], 1).numpy()  # noqa: E731 (N, 2)
    rng = np.random.default_rng(derive_seed(seed, "pair-subsample"))
    shown_train = np.sort(rng.permutation(len(x_train))[:pair_points])
    shown_test = np.sort(rng.permutation(len(x_test))[:pair_points])
    pair_panels = []
    for name in VECTOR_TRANSFORMS:
        t = fit_vector_transform(name, pair(x_train))  # statistics from every training image
        pair_panels.append(Panel(name, t(pair(x_train)[shown_train]), t(pair(x_test)[shown_test])))
    done += 1
    yield done / steps
    # pixel vectors: covariance after each transform (fitted on train)
    v_train, grid = pixel_vectors(x_train)
    v_test, _ = pixel_vectors(x_test)
    covariances, test_diag = {}, {}
    for name in VECTOR_TRANSFORMS:
        t = fit_vector_transform(name, v_train)
        covariances[name] = np.cov(t(v_train), rowvar=False, bias=True).tolist()
        test_diag[name] = np.var(t(v_test), axis=0).tolist()
        done += 1
        yield done / steps
    # the lecture's image options: statistics on train, applied to both splits
    mean, std = channel_stats(x_train)
    after, examples = {}, {}
    picks = torch.arange(min(n_examples, len(x_test)))
    for name in transforms:
        t = fit_image_transform(name, x_train)
        after[name] = {}
        for split, x in (("train", x_train), ("test", x_test)):
            m, s = channel_stats(t(x))
            after[name][split] = {"mean": m, "std": s}
        examples[name] = t(x_test[picks]).tolist()
        done += 1
        yield done / steps
    return ImageAnalysis(
        dataset=data.name, pixels=(a, b), pair_panels=pair_panels, grid=grid, covariances=covariances,
        test_covariance_diag=test_diag, mean_image=x_train.mean(0).tolist(), channel_mean=mean,
        channel_std=std, after=after, examples=examples,
        example_labels=[data.classes[int(data.y_test[i])] for i in picks])

