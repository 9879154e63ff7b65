"""The MNIST and Fashion-MNIST subsets that ship in ``assets/data/``: there right after install.

Each set is one npz (``x_train`` (N, 28, 28) uint8, 0 = background; ``y_train`` (N,) uint8;
``x_test``, ``y_test``) beside a JSON card: the package and version it was built from, its
licence, the sha256 of the npz, the split, and how to rebuild it (``python -m cnnbp
build-assets``, :mod:`cnnbp.data.build_assets`). The npz is checked against its card's sha256
before it is read, once per process; a missing or altered file is one line (a
:class:`DatasetUnavailable`) that names the file by its place in the repository, never by
its place on the server.

The full sets (``mnist_full``, ``fashion_mnist_full``) are read from files where present:
:mod:`cnnbp.data.folder_sets`.

>>> ds = mnist(n_train=100, n_test=50, seed=0)
>>> ds.describe()
'mnist: 100 train / 50 test, 1x28x28, 10 classes (0, 1, ..., 9)'
>>> sorted(SHIPPED)
['fashion_mnist', 'mnist']
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import DatasetUnavailable, ImageDataset
from .files import file_sha256
from .folder_sets import FASHION_CLASSES, MNIST_CLASSES, _subsample

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "data"
SHOWN_DIR = "assets/data"  # how messages name the folder: the repository's path, not the server's
ARRAYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SIZE = 28


@dataclass(frozen=True)
class ShippedSet:
    name: str  # registry name, also the file stem: NAME.npz + NAME.json
    classes: tuple[str, ...]

    @property
    def file(self) -> str:
        return f"{self.name}.npz"

    @property
    def card_file(self) -> str:
        return f"{self.name}.json"


SHIPPED = {
    "mnist": ShippedSet("mnist", MNIST_CLASSES),
    "fashion_mnist": ShippedSet("fashion_mnist", FASHION_CLASSES),
}


def _rebuild_hint(name: str) -> str:
    return f"restore it with git checkout -- {SHOWN_DIR}/ or rebuild it: python -m cnnbp build-assets {name}"


def unavailable_reason(name: str, *, folder: Path | None = None) -> str:
    """"" when the set's npz and card are present, else the one line why not (cheap: reads nothing;
    the sha256 is checked on the first load)."""
    spec = SHIPPED[name]
    folder = ASSETS_DIR if folder is None else folder
    missing = [f for f in (spec.file, spec.card_file) if not (folder / f).is_file()]
    if missing:
        return f"{name}: the shipped file {SHOWN_DIR}/{missing[0]} is missing; {_rebuild_hint(name)}"
    return ""


def read_card(name: str, *, folder: Path | None = None) -> dict:
    """The set's card (a dict from its JSON); one-line :class:`DatasetUnavailable` if absent or unreadable."""
    spec = SHIPPED[name]
    folder = ASSETS_DIR if folder is None else folder
    reason = unavailable_reason(name, folder=folder)
    if reason:
        raise DatasetUnavailable(reason)
    try:
        card = json.loads((folder / spec.card_file).read_text())
        sha = card["sha256"]
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise ValueError("sha256 is not 64 hex digits")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetUnavailable(f"{name}: the card {SHOWN_DIR}/{spec.card_file} is unreadable "
                                 f"({type(exc).__name__}); {_rebuild_hint(name)}") from None
    return card


def load_arrays(name: str, *, folder: Path | None = None) -> dict[str, torch.Tensor]:
    """The set's four arrays as uint8 tensors, after the sha256 check; cached per file version.

    Callers must not modify them (:func:`mnist` and :func:`fashion_mnist` hand out float copies).
    """
    spec = SHIPPED[name]
    folder = ASSETS_DIR if folder is None else folder
    card = read_card(name, folder=folder)
    path = folder / spec.file
    st = path.stat()
    return _load_checked(name, str(path), card["sha256"], (st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _load_checked(name: str, path: str, sha256: str, stamp: tuple[int, int]) -> dict[str, torch.Tensor]:
    del stamp  # part of the cache key only: a replaced file is checked and read again
    shown = f"{SHOWN_DIR}/{Path(path).name}"
    if file_sha256(Path(path)) != sha256:
        raise DatasetUnavailable(f"{name}: {shown} does not match the sha256 on its card (altered or "
                                 f"truncated); {_rebuild_hint(name)}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ARRAYS}
    except (OSError, ValueError, KeyError) as exc:  # a card rewritten to match a bad file
        raise DatasetUnavailable(f"{name}: {shown} is not a readable set ({type(exc).__name__}); "
                                 f"{_rebuild_hint(name)}") from None
    classes = len(SHIPPED[name].classes)
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if (x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE)
                or y.dtype != np.uint8 or y.shape != (len(x),) or (len(y) and y.max() >= classes)):
            raise DatasetUnavailable(f"{name}: {shown} holds x_{split} {x.shape} {x.dtype}, y_{split} "
                                     f"{y.shape} {y.dtype}, not {IMAGE_SIZE}x{IMAGE_SIZE} uint8 images with "
                                     f"labels below {classes}; {_rebuild_hint(name)}")
    return {k: torch.from_numpy(v.astype(np.int64) if k.startswith("y") else v)
            for k, v in arrays.items()}


def load(name: str, *, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
         folder: Path | None = None) -> ImageDataset:
    """Shipped set ``name`` as an ImageDataset (float32 in [0, 1], (N, 1, 28, 28)); n_train / n_test:
    stratified seeded subsets of its train / test split (None = all of it)."""
    a = load_arrays(name, folder=folder)
    # independent streams for train and test (as the folder sets): n_test does not change the train subset
    train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
    x_tr, y_tr = _subsample(a["x_train"].unsqueeze(1), a["y_train"], n_train, what="n_train",
                            rng=np.random.default_rng(train_ss))
    x_te, y_te = _subsample(a["x_test"].unsqueeze(1), a["y_test"], n_test, what="n_test",
                            rng=np.random.default_rng(test_ss))
    return ImageDataset(name=name, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                        classes=SHIPPED[name].classes)


def _factory(name: str) -> Callable[..., ImageDataset]:
    def factory(*, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> ImageDataset:
        return load(name, n_train=n_train, n_test=n_test, seed=seed)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"The {name} subset shipped in {SHOWN_DIR}/{name}.npz (see its card); n_train / n_test: "
                       "stratified seeded subsets (None = all).")
    return factory


mnist = _factory("mnist")
fashion_mnist = _factory("fashion_mnist")
