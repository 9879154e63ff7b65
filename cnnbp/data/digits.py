"""scikit-learn's bundled 8x8 handwritten digits: 1,797 images, 10 classes, no download.

>>> ds = digits(seed=0)
>>> ds.x_train.shape, ds.x_test.shape, ds.num_classes
(torch.Size([1437, 1, 8, 8]), torch.Size([360, 1, 8, 8]), 10)
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .base import ImageDataset
from .splits import stratified_split

CLASSES = tuple(str(d) for d in range(10))


@functools.lru_cache(maxsize=1)
def _load_raw() -> tuple[np.ndarray, np.ndarray]:
    """The whole set once per process: x (1797, 1, 8, 8) float32 in [0, 1], y (1797,) int64.

    Read-only arrays: they are shared by every call (and thread), so nobody may write to them.
    """
    from sklearn.datasets import load_digits  # lazy: sklearn import costs ~0.5 s

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8); pixels are 0..16
    y = bunch.target.astype(np.int64)  # (N,)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def digits(*, test_fraction: float = 0.2, seed: int = 0) -> ImageDataset:
    """Stratified, seeded train/test split of the digits set.

    Each call returns new tensors (fancy indexing copies), so callers may modify them.

    >>> ds = digits(test_fraction=0.5, seed=1)
    >>> len(ds.y_train) + len(ds.y_test)
    1797
    """
    if not isinstance(test_fraction, (int, float)) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    x, y = _load_raw()
    train, test = stratified_split(y, float(test_fraction), rng=np.random.default_rng(seed))
    return ImageDataset(
        name="digits",
        x_train=torch.from_numpy(x[train]),  # (N_train, 1, 8, 8), a copy of the cache rows
        y_train=torch.from_numpy(y[train]),
        x_test=torch.from_numpy(x[test]),
        y_test=torch.from_numpy(y[test]),
        classes=CLASSES,
    )
