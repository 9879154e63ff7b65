"""Image datasets for the experiments: tiny built-in ones and local-folder classics.

``digits`` (scikit-learn, 8x8 grey), ``shapes`` (procedural, RGB, with object masks,
class imbalance and domain shift) and the ``mnist`` and ``fashion_mnist`` subsets shipped in
``assets/data/`` always work offline; ``mnist_full``, ``fashion_mnist_full`` and ``cifar10``
read the official files under ``$CNNBP_DATA_DIR`` (default ``./data``; Fashion-MNIST also from
the Debian package ``dataset-fashion-mnist``). Photos for the ImageNet network: :mod:`.photos`.

>>> from cnnbp.data import get_dataset
>>> ds = get_dataset("digits", seed=0)
>>> ds.describe()
'digits: 1437 train / 360 test, 1x8x8, 10 classes (0, 1, ..., 9)'
"""

from .base import DatasetUnavailable, ImageDataset
from .digits import digits
from .folder_sets import DATA_DIR_ENV, DOWNLOAD_ENV, cifar10, data_root, fashion_mnist_full, mnist_full
from .registry import (
    DATASETS,
    LESSON_DATASETS,
    LESSON_OPTIONS,
    LESSON_SET_CHOICES,
    SHAPES,
    DatasetShape,
    available_datasets,
    dataset_label,
    dataset_options,
    dataset_shape,
    get_dataset,
    lesson_dataset,
    lesson_shape,
)
from .session import dataset_choices
from .shapes import DOMAINS, SHAPE_NAMES, make_shapes, shapes
from .shipped import fashion_mnist, mnist

__all__ = [
    "DATASETS", "DATA_DIR_ENV", "DOMAINS", "DOWNLOAD_ENV", "LESSON_DATASETS", "LESSON_OPTIONS", "LESSON_SET_CHOICES",
    "SHAPES", "SHAPE_NAMES", "DatasetShape", "DatasetUnavailable", "ImageDataset", "available_datasets", "cifar10",
    "data_root", "dataset_choices", "dataset_label", "dataset_options", "dataset_shape", "digits", "fashion_mnist",
    "fashion_mnist_full", "get_dataset", "lesson_dataset", "lesson_shape", "make_shapes", "mnist", "mnist_full",
    "shapes",
]
