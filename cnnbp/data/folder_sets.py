"""The full MNIST, Fashion-MNIST and CIFAR-10 read from a local folder (no network unless allowed).

These are the registry's ``mnist_full``, ``fashion_mnist_full`` and ``cifar10``; the subsets
that ship with the repository (``mnist``, ``fashion_mnist``) are in :mod:`cnnbp.data.shipped`.

Root folder: the ``root`` option, else ``$CNNBP_DATA_DIR``, else ``./data``; both read at
call time. Where the root lacks the files, the Fashion-MNIST of the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) is read instead; with
``CNNBP_ALLOW_DOWNLOAD=1`` missing files are fetched by torchvision.
Expected layout (what torchvision's own downloads produce)::

    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    <root>/FashionMNIST/raw/  (same four files)
    <root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}

>>> str(data_root("/srv/datasets"))
'/srv/datasets'
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import DatasetUnavailable, ImageDataset
from .splits import stratified_sample

DATA_DIR_ENV = "CNNBP_DATA_DIR"
DOWNLOAD_ENV = "CNNBP_ALLOW_DOWNLOAD"
DEFAULT_DATA_DIR = "./data"

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder datasets are read from: ``root``, else ``$CNNBP_DATA_DIR``, else ``./data``."""
    if root is None:
        root = os.environ.get(DATA_DIR_ENV, "").strip() or DEFAULT_DATA_DIR
    return Path(root).expanduser().resolve()


def download_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class _Spec:
    name: str  # registry name
    folder: str  # sub-folder of the root that holds the files
    files: tuple[str, ...]  # needed files; an idx file may also be present as <name>.gz
    classes: tuple[str, ...]
    torchvision_class: str  # used to download
    system_folders: tuple[Path, ...] = ()  # where a system package installs the same files
    system_package: str = ""  # the Debian package that installs them


# Debian's dataset-fashion-mnist installs the four original gzipped idx files here (dpkg -L).
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_SPECS = {
    "mnist_full": _Spec("mnist_full", "MNIST/raw", sum(_IDX_FILES.values(), ()), MNIST_CLASSES, "MNIST"),
    "fashion_mnist_full": _Spec("fashion_mnist_full", "FashionMNIST/raw", sum(_IDX_FILES.values(), ()),
                                FASHION_CLASSES, "FashionMNIST", (DEBIAN_FASHION_MNIST,),
                                "dataset-fashion-mnist"),
    "cifar10": _Spec("cifar10", "cifar-10-batches-py", CIFAR_FILES, (), "CIFAR10"),
}


def _missing(spec: _Spec, folder: Path) -> list[str]:
    """Needed files that are absent (an idx file counts as present if its .gz is there)."""
    def present(f: str) -> bool:
        return (folder / f).is_file() or (f.endswith("-ubyte") and (folder / f"{f}.gz").is_file())

    return [f for f in spec.files if not present(f)]


def _system_folder(spec: _Spec) -> Path | None:
    """The first system-package folder that holds every file (e.g. Debian's Fashion-MNIST), if any."""
    return next((f for f in spec.system_folders if not _missing(spec, f)), None)


def unavailable_reason(name: str, *, root: str | os.PathLike[str] | None = None) -> str:
    """"" if ``name`` can be loaded now (files present, or download allowed), else why not.

    Cheap: it only looks for the files, it reads none.
    """
    spec = _SPECS[name]
    folder = data_root(root) / spec.folder
    missing = _missing(spec, folder)
    if not missing or _system_folder(spec) or download_allowed():
        return ""
    shown = ", ".join(missing[:3]) + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
    package = f", apt-get install {spec.system_package}" if spec.system_package else ""
    return (f"{name} files missing in {folder}: {shown}; put them there and set {DATA_DIR_ENV} "
            f"to the folder holding {spec.folder.split('/')[0]}/ (now {data_root(root)}){package}, "
            f"or set {DOWNLOAD_ENV}=1 to download")


def _ensure_files(spec: _Spec, root: Path) -> Path:
    """The folder holding the files: the root's, else a system package's; downloads them into
    the root first if neither has them and downloading is allowed."""
    folder = root / spec.folder
    if not _missing(spec, folder):
        return folder
    system = _system_folder(spec)
    if system is not None:
        return system
    if not download_allowed():
        raise DatasetUnavailable(unavailable_reason(spec.name, root=root))
    import torchvision.datasets as tvd

    try:
        for train in (True, False):
            getattr(tvd, spec.torchvision_class)(str(root), train=train, download=True)
    except Exception as exc:  # no network, bad mirror, disk full: say so in one line
        detail = " ".join(str(exc).split())[:300]  # torchvision's messages span lines
        raise DatasetUnavailable(f"{spec.name}: download into {root} failed ({type(exc).__name__}: "
                                 f"{detail}); put the files in {folder} and set {DATA_DIR_ENV}") from exc
    if _missing(spec, folder):
        raise DatasetUnavailable(f"{spec.name}: download finished but {folder} still lacks "
                                 f"{', '.join(_missing(spec, folder))}")
    return folder


def _stamp(folder: Path, files: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the files present, so the cache notices replaced files."""
    out = []
    for f in files:
        for p in (folder / f, folder / f"{f}.gz"):
            if p.is_file():
                st = p.stat()
                out.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def read_idx(path: Path) -> np.ndarray:
    """A (possibly gzipped) idx-ubyte file -> uint8 array; only the unsigned-byte type MNIST uses."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:  # a truncated or non-gzip .gz: one line, not a traceback
        raise ValueError(f"{path} is not a readable idx file ({type(exc).__name__}: {exc})") from exc
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != 0x08 or not 1 <= data[3] <= 3 \
            or len(data) < 4 + 4 * data[3]:
        raise ValueError(f"{path} is not an unsigned-byte idx file (magic {data[:4].hex()})")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} = {int(np.prod(dims))} bytes, file has {body.size}")
    return body.reshape(dims)


@functools.lru_cache(maxsize=4)
def _load_idx_split(folder: str, split: str,
                    stamp: tuple[tuple[str, int, int], ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """One split, cached: x (N, 1, 28, 28) uint8, y (N,) int64. Never handed out unmodified.

    Plain or gzipped files, in torchvision's ``<Class>/raw`` folders or Debian's flat one, all
    read by :func:`read_idx` (a folder holding just the .gz downloads gets no extracted copies).
    """
    del stamp  # part of the cache key only
    folder_p = Path(folder)
    image_file, label_file = _IDX_FILES[split]

    def pick(f: str) -> Path:
        return folder_p / f if (folder_p / f).is_file() else folder_p / f"{f}.gz"

    x = torch.from_numpy(read_idx(pick(image_file)).copy())
    y = torch.from_numpy(read_idx(pick(label_file)).astype(np.int64))
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise ValueError(f"{folder}: {split} images {tuple(x.shape)} do not match labels {tuple(y.shape)}")
    return x.unsqueeze(1), y.long()  # (N, 1, H, W)


# CIFAR-10 is read here rather than with torchvision.datasets.CIFAR10, because that class
# checks the md5 sum of every batch file and of batches.meta (even with download=False), so it
# rejects anything but the exact official files (e.g. the tiny files the tests write, or a
# re-pickled subset). The official python format is simple: each batch is a pickled dict with
# b"data" (N, 3072) uint8, rows = 1024 R, then G, then B values of a 32x32 image, and
# b"labels" (N ints); batches.meta holds b"label_names".
def _unpickle(path: Path) -> dict:
    with open(path, "rb") as fh:
        # encoding="bytes" keeps the official byte-string keys; the files are a trusted local
        # dataset (pickle can run code, so never point CNNBP_DATA_DIR at untrusted files)
        return pickle.load(fh, encoding="bytes")


def _get(entry: dict, key: str, path: Path) -> object:
    for k in (key.encode(), key):  # official files use bytes keys; accept str keys too
        if k in entry:
            return entry[k]
    raise ValueError(f"{path} has no {key!r} entry (keys: {sorted(map(str, entry))})")


@functools.lru_cache(maxsize=2)
def _load_cifar_split(folder: str, split: str, stamp: tuple[tuple[str, int, int], ...]
                      ) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """One split, cached: x (N, 3, 32, 32) uint8, y (N,) int64, class names."""
    del stamp
    folder_p = Path(folder)
    names = CIFAR_FILES[:5] if split == "train" else ("test_batch",)
    xs, ys = [], []
    for name in names:
        entry = _unpickle(folder_p / name)
        data = np.asarray(_get(entry, "data", folder_p / name), dtype=np.uint8)
        labels = np.asarray(_get(entry, "labels", folder_p / name), dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
            raise ValueError(f"{folder_p / name}: data {data.shape} / labels {labels.shape} are not "
                             "CIFAR-10 shaped ((N, 3072) and (N,))")
        xs.append(data.reshape(-1, 3, 32, 32))  # channel-major rows: (N, C, H, W) directly
        ys.append(labels)
    meta = _unpickle(folder_p / "batches.meta")
    classes = tuple(n.decode() if isinstance(n, bytes) else str(n)
                    for n in _get(meta, "label_names", folder_p / "batches.meta"))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)), classes


def _subsample(x: torch.Tensor, y: torch.Tensor, n: int | None, *, what: str,
               rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A stratified random subset of n rows (all rows if n is None), as new float32 tensors in [0, 1]."""
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(y):
            raise ValueError(f"{what} must be an integer in [1, {len(y)}] (the {what[2:]} set size) "
                             f"or None for all, got {n!r}")
        idx = torch.from_numpy(stratified_sample(y.numpy(), int(n), rng=rng))
        x, y = x[idx], y[idx]
    else:
        y = y.clone()
    return x.float().div_(255.0), y  # (N, C, H, W) in [0, 1]; .float() copies the cache


def _load(spec: _Spec, *, n_train: int | None, n_test: int | None,
          root: str | os.PathLike[str] | None, seed: int) -> ImageDataset:
    folder = _ensure_files(spec, data_root(root))
    stamp = _stamp(folder, spec.files)
    splits = {}
    classes = spec.classes
    for split in ("train", "test"):
        if spec.name == "cifar10":
            x, y, classes = _load_cifar_split(str(folder), split, stamp)
        else:
            x, y = _load_idx_split(str(folder), split, stamp)
        splits[split] = (x, y)
    # independent streams for train and test, so n_test does not change the train subset
    train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
    x_tr, y_tr = _subsample(*splits["train"], n_train, what="n_train", rng=np.random.default_rng(train_ss))
    x_te, y_te = _subsample(*splits["test"], n_test, what="n_test", rng=np.random.default_rng(test_ss))
    return ImageDataset(name=spec.name, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                        classes=classes)


def _factory(name: str) -> Callable[..., ImageDataset]:
    spec = _SPECS[name]

    def load(*, n_train: int | None = None, n_test: int | None = None,
             root: str | os.PathLike[str] | None = None, seed: int = 0) -> ImageDataset:
        return _load(_SPECS[name], n_train=n_train, n_test=n_test, root=root, seed=seed)  # looked up per call

    load.__name__ = load.__qualname__ = name
    system = f", else {spec.system_folders[0]} ({spec.system_package})" if spec.system_folders else ""
    load.__doc__ = (f"{name} from <root>/{spec.folder} (root: the option, ${DATA_DIR_ENV} or ./data){system};"
                    " n_train / n_test: stratified seeded subsets (None = all).")
    return load


mnist_full = _factory("mnist_full")
fashion_mnist_full = _factory("fashion_mnist_full")
cifar10 = _factory("cifar10")
