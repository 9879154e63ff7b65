"""The lecture's preprocessing steps as small pure functions: fit statistics on the training
set, apply the fitted transform, unchanged, to any split.

Two families, each a name -> fit function registry with one ``fit_`` entry point:

* ``VECTOR_TRANSFORMS`` for a data matrix X (N, D), one example per row (the lecture's
  picture): original, zero-centred, standardised, PCA-decorrelated, whitened. Every one is
  ``x -> (x - mean) @ matrix``.
* ``IMAGE_TRANSFORMS`` for images (N, C, H, W): the lecture's options for CNNs, raw, subtract
  the mean image (AlexNet), subtract the per-channel mean (VGG), subtract the per-channel mean
  and divide by the per-channel std (ResNet). Every one is ``x -> (x - mean) / std`` with
  ``mean`` and ``std`` broadcast over (C, H, W).

>>> import numpy as np
>>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
>>> fit_vector_transform("centered", x)(x).tolist()
[[-1.0, -2.0], [1.0, 2.0]]
>>> import torch
>>> t = fit_image_transform("channel_mean", torch.ones(2, 3, 4, 4))
>>> t.mean.shape, float(t(torch.ones(1, 3, 4, 4)).abs().max())
(torch.Size([3, 1, 1]), 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

EPS = 1e-8  # guards a division by a zero std/eigenvalue (constant pixels: digits' border)


# ---- vectors: X (N, D) --------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class VectorTransform:
    """``x -> (x - mean) @ matrix``, fitted on a training matrix: (N, D) -> (N, D)."""

    name: str
    mean: np.ndarray  # (D,)
    matrix: np.ndarray  # (D, D)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.matrix


def _check_matrix(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"expected a data matrix (N >= 2, D), got shape {x.shape}")
    return x


def _eig(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of the covariance of x."""
    cov = np.cov(x, rowvar=False, bias=True).reshape(x.shape[1], x.shape[1])
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    vectors = vectors[:, order]
    # fix each eigenvector's sign (largest entry positive) so that runs repeat exactly
    signs = np.sign(vectors[np.abs(vectors).argmax(0), np.arange(vectors.shape[1])])
    return np.clip(values[order], 0.0, None), vectors * np.where(signs == 0, 1.0, signs)


def fit_original(x: np.ndarray) -> VectorTransform:
    x = _check_matrix(x)
    d = x.shape[1]
    return VectorTransform("original", np.zeros(d), np.eye(d))


def fit_centered(x: np.ndarray) -> VectorTransform:
    """X -= mean(X, axis=0)."""
    x = _check_matrix(x)
    return VectorTransform("centered", x.mean(0), np.eye(x.shape[1]))


def fit_standardized(x: np.ndarray) -> VectorTransform:
    """X -= mean; X /= std (per feature)."""
    x = _check_matrix(x)
    return VectorTransform("standardized", x.mean(0), np.diag(1.0 / (x.std(0) + EPS)))


def fit_decorrelated(x: np.ndarray) -> VectorTransform:
    """Centre, then rotate onto the covariance's eigenvectors: the covariance becomes diagonal
    (the eigenvalues, largest first)."""
    x = _check_matrix(x)
    _, vectors = _eig(x)
    return VectorTransform("decorrelated", x.mean(0), vectors)


def fit_whitened(x: np.ndarray) -> VectorTransform:
    """Decorrelate, then divide each component by its std: the covariance becomes the identity
    (components with zero variance stay zero)."""
    x = _check_matrix(x)
    values, vectors = _eig(x)
    scale = np.where(values > EPS, 1.0 / np.sqrt(np.maximum(values, EPS)), 0.0)
    return VectorTransform("whitened", x.mean(0), vectors * scale)


VECTOR_TRANSFORMS: dict[str, Callable[[np.ndarray], VectorTransform]] = {
    "original": fit_original,
    "centered": fit_centered,
    "standardized": fit_standardized,
    "decorrelated": fit_decorrelated,
    "whitened": fit_whitened,
}
VECTOR_LABELS = {"original": "original data", "centered": "zero-centred", "standardized": "standardised",
                 "decorrelated": "decorrelated (PCA)", "whitened": "whitened"}


def fit_vector_transform(name: str, x_train: np.ndarray) -> VectorTransform:
    """Fit transform ``name`` on ``x_train`` (N, D).

    >>> t = fit_vector_transform("whitened", np.random.default_rng(0).normal(size=(500, 3)))
    >>> bool(np.allclose(np.cov(t(np.random.default_rng(0).normal(size=(500, 3))), rowvar=False, bias=True), np.eye(3)))
    True
    """
    if name not in VECTOR_TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; choose from {', '.join(VECTOR_TRANSFORMS)}")
    return VECTOR_TRANSFORMS[name](x_train)


# ---- images: (N, C, H, W) -----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ImageTransform:
    """``x -> (x - mean) / std`` on images (N, C, H, W); ``mean`` and ``std`` are (C, H, W)
    (the mean image) or (C, 1, 1) (per channel), fitted on the training images."""

    name: str
    mean: torch.Tensor
    std: torch.Tensor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean.to(x.dtype)) / self.std.to(x.dtype)).to(x.dtype)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std.to(z.dtype) + self.mean.to(z.dtype)


def _check_images(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or len(x) < 2:
        raise ValueError(f"expected images (N >= 2, C, H, W), got {getattr(x, 'shape', type(x))}")
    return x.double()  # statistics in float64: 2,000 x 1,024 sums lose digits in float32


def fit_raw(x: torch.Tensor) -> ImageTransform:
    c = _check_images(x).shape[1]
    return ImageTransform("raw", torch.zeros(c, 1, 1, dtype=torch.float64), torch.ones(c, 1, 1, dtype=torch.float64))


def fit_mean_image(x: torch.Tensor) -> ImageTransform:
    """Subtract the mean image, a (C, H, W) array (AlexNet)."""
    x = _check_images(x)
    return ImageTransform("mean_image", x.mean(0), torch.ones(x.shape[1], 1, 1, dtype=torch.float64))


def fit_channel_mean(x: torch.Tensor) -> ImageTransform:
    """Subtract the per-channel mean, C numbers (VGGNet)."""
    x = _check_images(x)
    return ImageTransform("channel_mean", x.mean((0, 2, 3))[:, None, None],
                          torch.ones(x.shape[1], 1, 1, dtype=torch.float64))


def fit_channel_std(x: torch.Tensor) -> ImageTransform:
    """Subtract the per-channel mean and divide by the per-channel std, 2C numbers (ResNet)."""
    x = _check_images(x)
    return ImageTransform("channel_std", x.mean((0, 2, 3))[:, None, None],
                          x.std((0, 2, 3), correction=0)[:, None, None] + EPS)


IMAGE_TRANSFORMS: dict[str, Callable[[torch.Tensor], ImageTransform]] = {
    "raw": fit_raw,
    "mean_image": fit_mean_image,
    "channel_mean": fit_channel_mean,
    "channel_std": fit_channel_std,
}
IMAGE_LABELS = {"raw": "raw", "mean_image": "- mean image (AlexNet)",
                "channel_mean": "- channel mean (VGG)", "channel_std": "channel mean & std (ResNet)"}


def fit_image_transform(name: str, x_train: torch.Tensor) -> ImageTransform:
    """Fit image transform ``name`` on the training images ``x_train`` (N, C, H, W).

    >>> x = torch.arange(16.0).reshape(2, 2, 2, 2)
    >>> fit_image_transform("channel_std", x)(x).mean((0, 2, 3)).abs().max() < 1e-6
    tensor(True)
    """
    if name not in IMAGE_TRANSFORMS:
        raise ValueError(f"unknown image transform {name!r}; choose from {', '.join(IMAGE_TRANSFORMS)}")
    return IMAGE_TRANSFORMS[name](x_train)


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (population) of images (N, C, H, W), as plain floats."""
    x = x.double()
    return x.mean((0, 2, 3)).tolist(), x.std((0, 2, 3), correction=0).tolist()


def pixel_vectors(x: torch.Tensor, *, max_dims: int = 64) -> tuple[np.ndarray, int]:
    """Images (N, C, H, W) -> pixel vectors (N, C*g*g), average-pooled to the largest grid g
    dividing H with C*g*g <= ``max_dims`` (a covariance small enough to draw); returns g."""
    _, c, h, w = x.shape
    grid = max((g for g in range(1, min(h, w) + 1) if h % g == 0 and w % g == 0 and c * g * g <= max_dims),
               default=1)
    pooled = torch.nn.functional.adaptive_avg_pool2d(x.double(), grid)  # (N, C, g, g)
    return pooled.reshape(len(x), -1).numpy(), grid
