"""The labelled image tasks of the lesson: the sources' tasks and the targets', from our own data.

Every task is a fixed split (the data seed is a constant, not the lesson's seed) so a source's
training images are never a target's test images; the lesson's seed only picks which target
training images are used (:func:`subsample`) and the training randomness.

>>> t = get_target("digits_5to9")
>>> t.classes, t.channels, t.size
(('5', '6', '7', '8', '9'), 1, 8)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from cnnbp.data import dataset_label, get_dataset
from cnnbp.data.session import is_session_name

DATA_SEED = 0  # the one digits split every task shares: no source ever sees a target test image
SHAPES_SIZE = 16  # 16x16 shapes: 4x the digits' pixels; enough for the shapes to be told apart
SHAPES_CLASSES = 4  # circle, square, triangle, cross
SHAPES_SOURCE_TRAIN, SHAPES_TEST = 2000, 400
SHAPES_TARGET_POOL = 1000  # per class: the largest target set the slider may ask for
SHAPES_TARGET_SEED = 1  # other objects than the shapes sources (seed 0) draw


@dataclass(frozen=True, eq=False)
class Task:
    """Images and labels of one classification task, train and test, in one format."""

    name: str
    description: str
    x_train: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    y_train: torch.Tensor  # (N,) int64 in [0, K)
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def size(self) -> int:
        return int(self.x_train.shape[2])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def per_class_available(self) -> int:
        """The fewest training images any class has."""
        return int(torch.bincount(self.y_train, minlength=self.num_classes).min())


def _digit_subset(digits: tuple[int, ...], name: str, description: str) -> Task:
    ds = get_dataset("digits", seed=DATA_SEED)
    lookup = torch.full((10,), -1, dtype=torch.int64)
    lookup[list(digits)] = torch.arange(len(digits))  # old label -> new label (or -1: dropped)
    keep_tr, keep_te = lookup[ds.y_train] >= 0, lookup[ds.y_test] >= 0
    return Task(name, description, ds.x_train[keep_tr], lookup[ds.y_train[keep_tr]],
                ds.x_test[keep_te], lookup[ds.y_test[keep_te]], tuple(str(d) for d in digits))


def _shapes(domain: str, *, n_train: int, seed: int, name: str, description: str) -> Task:
    ds = get_dataset("shapes", seed=seed, n_train=n_train, n_test=SHAPES_TEST, num_classes=SHAPES_CLASSES,
                     size=SHAPES_SIZE, domain=domain)
    return Task(name, description, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.classes)


def rotation_task(task: Task, *, name: str, description: str) -> Task:
    """Self-supervised: every image rotated by 0, 90, 180 and 270 degrees, labelled by the
    rotation (4 classes); the task's own labels are thrown away.

    >>> r = rotation_task(get_source_task("digits_0to4"), name="r", description="")
    >>> r.classes, len(r.y_train) == 4 * len(get_source_task("digits_0to4").y_train)
    (('0 deg', '90 deg', '180 deg', '270 deg'), True)
    """
    def rotate(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xs = [torch.rot90(x, k, dims=(2, 3)) for k in range(4)]  # (N, C, H, W) each
        ys = [torch.full((len(x),), k, dtype=torch.int64) for k in range(4)]
        return torch.cat(xs), torch.cat(ys)

    x_tr, y_tr = rotate(task.x_train)
    x_te, y_te = rotate(task.x_test)
    return Task(name, description, x_tr, y_tr, x_te, y_te, ("0 deg", "90 deg", "180 deg", "270 deg"))


@functools.lru_cache(maxsize=8)
def get_source_task(name: str) -> Task:
    """The task a source is pretrained on (cached: the tensors are shared, never modify them)."""
    if name == "digits_0to4":
        return _digit_subset((0, 1, 2, 3, 4), name, "digits 0-4 (8x8 grey), labelled")
    if name == "digits_rotation":
        base = _digit_subset((0, 1, 2, 3, 4), name, "")
        return rotation_task(base, name=name, description="digits 0-4 without their labels: which of 4 "
                             "rotations was applied (self-supervised)")
    if name == "shapes_flat":
        return _shapes("flat", n_train=SHAPES_SOURCE_TRAIN, seed=0, name=name,
                       description="shapes in flat colours (16x16 RGB), 4 classes")
    if name == "shapes_textured":
        return _shapes("textured", n_train=SHAPES_SOURCE_TRAIN, seed=0, name=name,
                       description="shapes with striped/checked textures (16x16 RGB), 4 classes")
    if name == "mnist":
        ds = get_dataset("mnist", seed=DATA_SEED)
        return Task(name, "MNIST digits (28x28 grey, the shipped 8,000 / 2,000), labelled", ds.x_train, ds.y_train,
                    ds.x_test, ds.y_test, tuple(ds.classes))
    raise ValueError(f"unknown source task {name!r}; choose from {', '.join(SOURCE_TASKS)}")


SOURCE_TASKS = ("digits_0to4", "digits_rotation", "shapes_flat", "shapes_textured", "mnist")


@functools.lru_cache(maxsize=4)
def get_target(name: str) -> Task:
    """A target task's whole pool (cached: never modify the tensors): a shipped target, or the class's
    own upload (its seeded 80/20 split at the data seed, 32x32 as read)."""
    if is_session_name(name):
        ds = get_dataset(name, seed=DATA_SEED)
        return Task(name, f"{dataset_label(name)} ({ds.in_channels}x{ds.image_size[0]}x{ds.image_size[1]}, "
                          f"{ds.num_classes} classes)", ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.classes)
    if name == "digits_5to9":
        return _digit_subset((5, 6, 7, 8, 9), name, "digits 5-9 (8x8 grey): new labels, same domain as digits 0-4")
    if name == "shapes_inverted":
        # "inverted" (1 - x): the colours change, the shapes and edges do not. Pixel noise was our
        # first choice; the flat source's features did not survive it (linear probe 39% vs 82%).
        return _shapes("inverted", n_train=SHAPES_CLASSES * SHAPES_TARGET_POOL, seed=SHAPES_TARGET_SEED, name=name,
                       description="shapes in inverted colours (16x16 RGB): the shapes sources' classes, new objects")
    raise ValueError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")


TARGETS = {"digits_5to9": "digits 5-9, 8x8 grey", "shapes_inverted": "shapes in inverted colours, 16x16 RGB"}


def subsample(task: Task, per_class: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` training images of every class (all of a class when it has fewer), drawn
    with a numpy Generator seeded by ``seed``; nested: a larger set contains every smaller one.

    >>> x, y = subsample(get_target("digits_5to9"), 3, seed=0)
    >>> torch.bincount(y).tolist()
    [3, 3, 3, 3, 3]
    """
    idx = torch.from_numpy(subsample_indices(task.y_train, task.num_classes, per_class, seed=seed))
    return task.x_train[idx], task.y_train[idx]


def subsample_indices(y: torch.Tensor, num_classes: int, per_class: int, *, seed: int) -> np.ndarray:
    """Rows of ``per_class`` labels of every class in ``y`` (all of a class when it has fewer),
    class by class, each class in an order drawn from ``seed``: nested in ``per_class``.

    >>> subsample_indices(torch.tensor([0, 1, 0, 1, 0]), 2, 2, seed=0).tolist()
    [4, 0, 3, 1]
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    picked = [rng.permutation(np.flatnonzero(labels == k))[:per_class] for k in range(num_classes)]
    return np.concatenate(picked)


__all__ = ["DATA_SEED", "SOURCE_TASKS", "TARGETS", "Task", "get_source_task", "get_target",
           "rotation_task", "subsample", "subsample_indices"]
