"""Exact class-count allocation and seeded stratified splits (numpy Generators only).

>>> allocate_counts(10, (1, 1, 2))
(3, 2, 5)
>>> rng = np.random.default_rng(0)
>>> tr, te = stratified_split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.5, rng=rng)
>>> sorted(np.bincount(np.array([0, 0, 0, 0, 1, 1, 1, 1])[te]).tolist())
[2, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def allocate_counts(n: int, weights: Sequence[float]) -> tuple[int, ...]:
    """Split ``n`` into integer counts proportional to ``weights`` that sum to exactly ``n``.

    Largest-remainder rounding (ties go to the lower class index), so integer weights that
    already sum to ``n`` come back unchanged.

    >>> allocate_counts(100, (1, 0.1, 0.1, 0.01))
    (83, 8, 8, 1)
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0:
        raise ValueError(f"weights must be a non-empty sequence of numbers, got {weights!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {tuple(weights)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    raw = n * w / w.sum()
    counts = np.floor(raw).astype(np.int64)
    short = n - int(counts.sum())
    # stable argsort on -remainder: the largest remainders first, lower index on ties
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return tuple(int(c) for c in counts)


def stratified_split(
    labels: np.ndarray, test_fraction: float, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with each class's share of the test set as in ``labels``.

    The test size is ``ceil(test_fraction * N)`` (as in scikit-learn), spread over classes by
    :func:`allocate_counts`; both index arrays are shuffled.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    n_test = math.ceil(test_fraction * len(labels))
    test = stratified_sample(labels, n_test, rng=rng)
    train = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    return rng.permutation(train), test


def stratified_sample(labels: np.ndarray, n: int, *, rng: np.random.Generator) -> np.ndarray:
    """``n`` shuffled indices into ``labels`` that keep the class proportions (exactly, up to rounding).

    >>> len(stratified_sample(np.arange(10) % 2, 4, rng=np.random.default_rng(0)))
    4
    """
    labels = np.asarray(labels)
    if not 0 <= n <= len(labels):
        raise ValueError(f"cannot take {n} samples from {len(labels)}")
    classes, class_sizes = np.unique(labels, return_counts=True)
    take = allocate_counts(n, class_sizes) if n else (0,) * len(classes)
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in zip(classes, take) if k]
    out = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    return rng.permutation(out)
