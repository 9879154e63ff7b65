"""Imbalanced training sets cut from a balanced pool (a lesson dataset or an upload), and two test sets.

The pool is a dataset's usual balanced train/test split. The training set keeps, per class,
the count the requested ratio asks for (drawn without replacement from that class's pool
images); the test set is either balanced or follows the same ratio. Counts depend on the
settings only, never on the seed (the stratified split fixes the pool's class sizes), so
bad settings are refused before any image is drawn.

* ``binary``: the rare class against all the others ("rest", like a disease against health),
  relabelled 1 (rare, "positive") and 0 (rest); rest : rare is the ratio.
* ``multiclass``: a long tail: class ranks r = 0 (head) .. K-1 (the rare class) keep
  ``n_max * ratio ** (-r / (K - 1))`` images, so the head holds ``ratio`` times the tail.

>>> long_tail_counts(100, num_classes=3, ratio=4.0)
(100, 50, 25)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from cnnbp.data import LESSON_OPTIONS, dataset_shape, get_dataset
from cnnbp.data.splits import allocate_counts
from cnnbp.device import derive_seed

Task = Literal["binary", "multiclass"]
TestSet = Literal["balanced", "same_ratio"]
# shapes at 16 x 16 (a quarter of the default pixels) so the 7 methods train in the time budget
SHAPES_OPTIONS = {"n_train": 2000, "n_test": 400, "size": 16, "num_classes": 4}


def pool_options(dataset: str) -> dict:
    return dict(SHAPES_OPTIONS) if dataset == "shapes" else dict(LESSON_OPTIONS.get(dataset, {}))


def image_shape(dataset: str, *, task: Task) -> tuple[int, int, int]:
    """(channels, height = width, classes the model tells apart), known without loading the pool.

    >>> image_shape("digits", task="binary"), image_shape("shapes", task="multiclass")
    ((1, 8, 2), (3, 16, 4))
    """
    shape, options = dataset_shape(dataset), pool_options(dataset)
    classes = 2 if task == "binary" else options.get("num_classes", shape.classes)
    return shape.channels, options.get("size", shape.size), classes


def load_pool(dataset: str, *, seed: int):
    """The balanced pool the imbalanced sets are cut from (an ImageDataset)."""
    return get_dataset(dataset, seed=seed, **pool_options(dataset))


@functools.lru_cache(maxsize=4)
def pool_counts(dataset: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
    """(train counts per class, test counts per class, class names) of the pool; the same for
    every seed (a test checks it), so settings can be validated without drawing images."""
    pool = load_pool(dataset, seed=0)
    k = pool.num_classes
    return (tuple(torch.bincount(pool.y_train, minlength=k).tolist()),
            tuple(torch.bincount(pool.y_test, minlength=k).tolist()), pool.classes)


def _round(x: float) -> int:
    return int(np.floor(x + 0.5))  # half up: 0.5 image is kept as 1, below that it is lost


def long_tail_counts(n_max: int, *, num_classes: int, ratio: float) -> tuple[int, ...]:
    """Counts by rank: ``n_max`` for the head down to ``n_max / ratio`` for the tail."""
    return tuple(_round(n_max * ratio ** (-r / (num_classes - 1))) for r in range(num_classes))


def rank_of(cls: int, *, rare: int, num_classes: int) -> int:
    """Long-tail rank of class ``cls``: the rare class is last (K - 1), the class after it first."""
    return (cls - rare - 1) % num_classes


def class_counts(pool: tuple[int, ...], *, task: Task, rare: int, ratio: float) -> tuple[int, ...]:
    """Per-class counts of an imbalanced set cut from a pool with ``pool`` images per class.

    Binary: the rest keeps its whole pool and the rare class ``rest / ratio`` images, unless that
    is more than the rare class has: then the rare class keeps all of its images and the rest
    ``rare * ratio`` (spread over the other classes in proportion to their pools). Either way
    rest : rare is the requested ratio. ``ratio=1`` gives a balanced set.

    >>> class_counts((10, 10, 10), task="binary", rare=1, ratio=4.0)
    (10, 5, 10)
    >>> class_counts((10, 10, 10), task="binary", rare=1, ratio=1.0)
    (5, 10, 5)
    >>> class_counts((10, 10, 10), task="multiclass", rare=0, ratio=4.0)
    (3, 10, 5)
    """
    k = len(pool)
    if task == "multiclass":
        by_rank = long_tail_counts(min(pool), num_classes=k, ratio=ratio)
        return tuple(by_rank[rank_of(i, rare=rare, num_classes=k)] for i in range(k))
    others = [i for i in range(k) if i != rare]
    rest = sum(pool[i] for i in others)
    counts = list(pool)
    if rest / ratio <= pool[rare]:
        counts[rare] = _round(rest / ratio)
    else:
        spread = allocate_counts(min(rest, _round(pool[rare] * ratio)), [pool[i] for i in others])
        for i, c in zip(others, spread):
            counts[i] = c
    return tuple(counts)


def balanced_test_counts(pool: tuple[int, ...], *, task: Task, rare: int) -> tuple[int, ...]:
    """The balanced test set: the same cut at ratio 1 (binary: every rare test image and as
    many from the rest; multiclass: the smallest class's count from every class)."""
    return class_counts(pool, task=task, rare=rare, ratio=1.0)


def empty_class_message(counts: tuple[int, ...], names: tuple[str, ...], *, where: str, ratio: float,
                        pool: tuple[int, ...]) -> str | None:
    """One line naming the first class left with no image, or None when every class has one."""
    for i, c in enumerate(counts):
        if c == 0:
            return (f"ratio: 1:{ratio:g} leaves class {names[i]!r} with no {where} image "
                    f"(from a pool of {pool[i]}); lower the ratio")
    return None


@dataclass(frozen=True, eq=False)
class ImbalancedData:
    """The imbalanced training set and both test sets, as tensors; counts per class."""

    x_train: torch.Tensor  # (N, C, H, W)
    y_train: torch.Tensor  # (N,)
    tests: dict[str, tuple[torch.Tensor, torch.Tensor]]  # "balanced" / "same_ratio" -> (x, y)
    classes: tuple[str, ...]
    rare: int  # the rare class (binary: the positive class)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def counts(self, split: str) -> list[int]:
        y = self.y_train if split == "train" else self.tests[split][1]
        return torch.bincount(y, minlength=self.num_classes).tolist()


def _take(labels: torch.Tensor, counts: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
    """Indices with ``counts[k]`` images of class k, each class drawn without replacement."""
    y = labels.numpy()
    picked = [rng.choice(np.flatnonzero(y == k), size=c, replace=False) for k, c in enumerate(counts) if c]
    return np.sort(np.concatenate(picked))


def build_data(dataset: str, *, task: Task, rare: int, ratio: float, seed: int) -> ImbalancedData:
    """The imbalanced training set and both test sets for these settings (same seed, same images).

    Binary labels are 1 for the rare class and 0 for the rest. The same-ratio test set is left
    out (``tests`` has no key) when it would leave a class without an image.
    """
    pool = load_pool(dataset, seed=seed)
    train_pool, test_pool, names = pool_counts(dataset)
    rng = np.random.default_rng(derive_seed(seed, "imbalance", "draw"))
    idx = _take(pool.y_train, class_counts(train_pool, task=task, rare=rare, ratio=ratio), rng=rng)
    wanted = {"balanced": balanced_test_counts(test_pool, task=task, rare=rare),
              "same_ratio": class_counts(test_pool, task=task, rare=rare, ratio=ratio)}
    relabel = (lambda y: (y == rare).long()) if task == "binary" else (lambda y: y)  # noqa: E731
    tests = {}
    for name, counts in wanted.items():
        if min(counts) > 0:
            t = _take(pool.y_test, counts, rng=np.random.default_rng(derive_seed(seed, "imbalance", name)))
            tests[name] = (pool.x_test[t], relabel(pool.y_test[t]))
    classes, rare_label = ((f"not {names[rare]}", names[rare]), 1) if task == "binary" else (names, rare)
    return ImbalancedData(pool.x_train[idx], relabel(pool.y_train[idx]), tests, classes, rare_label)


__all__ = ["ImbalancedData", "Task", "TestSet", "balanced_test_counts", "build_data", "class_counts",
           "empty_class_message", "image_shape", "long_tail_counts", "pool_counts", "rank_of"]
