"""The full MNIST / Fashion-MNIST / CIFAR-10 readers, on tiny files in the real formats under tmp_path."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbp.data import DatasetUnavailable, available_datasets, get_dataset

from .conftest import set_system_folder
from .fakes import write_fake_cifar, write_fake_idx_set


@pytest.mark.parametrize("name, folder", [("mnist_full", "MNIST"), ("fashion_mnist_full", "FashionMNIST")])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_idx_pixels_and_labels_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          name: str, folder: str, compress: bool) -> None:
    fake = write_fake_idx_set(tmp_path, folder, compress=compress, seed=5)
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    assert available_datasets()[name] == ""
    ds = get_dataset(name)
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_test.shape == (10, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert torch.equal(ds.x_train * 255, torch.from_numpy(fake.x_train).float().unsqueeze(1))
    assert torch.equal(ds.x_test * 255, torch.from_numpy(fake.x_test).float().unsqueeze(1))
    assert ds.y_train.tolist() == fake.y_train.tolist() and ds.y_test.tolist() == fake.y_test.tolist()
    assert ds.x_train[0, 0, 0, 0] == 0.0 and ds.x_train[0, 0, 0, 1] == 1.0
    assert ds.num_classes == 10
    if name == "fashion_mnist_full":
        assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"


def test_cifar_pixels_labels_and_names_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = write_fake_cifar(tmp_path, seed=6)
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    ds = get_dataset("cifar10")
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (5, 3, 32, 32)
    assert ds.y_train.tolist() == fake.labels_train and ds.y_test.tolist() == fake.labels_test
    assert ds.classes == tuple(fake.label_names)
    # official row layout: 1024 red values, then green, then blue, each row-major 32x32
    i, c, h, w = 7, 2, 5, 30
    assert ds.x_train[i, c, h, w] * 255 == float(fake.data_train[i, 1024 * c + 32 * h + w])
    expected = torch.from_numpy(fake.data_test.reshape(5, 3, 32, 32)).float() / 255
    assert torch.equal(ds.x_test, expected)


def test_subsample_is_stratified_seeded_and_exact(fake_data_dir: Path) -> None:
    full = get_dataset("mnist_full")
    a = get_dataset("mnist_full", n_train=10, n_test=5, seed=3)
    b = get_dataset("mnist_full", n_train=10, n_test=5, seed=3)
    c = get_dataset("mnist_full", n_train=10, n_test=5, seed=4)
    assert a.x_train.shape == (10, 1, 28, 28) and a.x_test.shape == (5, 1, 28, 28)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert sorted(a.y_train.tolist()) == list(range(10))  # 2 of each class -> 1 of each
    # every sampled row is an original row with its own label
    for x, y in zip(a.x_train, a.y_train):
        hits = (full.x_train == x).flatten(1).all(1).nonzero().squeeze(1)
        assert len(hits) == 1 and full.y_train[hits[0]] == y


def test_subsample_too_large(fake_data_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"n_train must be an integer in \[1, 20\]"):
        get_dataset("mnist_full", n_train=21)


def test_cache_returns_private_copies(fake_data_dir: Path) -> None:
    get_dataset("cifar10").x_train.zero_()
    assert get_dataset("cifar10").x_train.max() > 0


def test_root_option_overrides_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = write_fake_idx_set(tmp_path / "elsewhere", "MNIST", compress=True, seed=8)
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path / "nothing-here"))
    ds = get_dataset("mnist_full", root=str(tmp_path / "elsewhere"))
    assert ds.y_test.tolist() == fake.y_test.tolist()


@pytest.mark.parametrize("name, folder", [("mnist_full", "MNIST/raw"), ("fashion_mnist_full", "FashionMNIST/raw"),
                                          ("cifar10", "cifar-10-batches-py")])
def test_missing_files_explain_where_and_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             name: str, folder: str) -> None:
    root = tmp_path / "empty"
    monkeypatch.setenv("CNNBP_DATA_DIR", str(root))
    expected_folder = str((root / folder).resolve())
    with pytest.raises(DatasetUnavailable) as info:
        get_dataset(name)
    message = str(info.value)
    assert expected_folder in message and "CNNBP_DATA_DIR" in message
    assert "CNNBP_ALLOW_DOWNLOAD=1" in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)
    reason = available_datasets()[name]
    assert expected_folder in reason and "CNNBP_DATA_DIR" in reason
    assert available_datasets()["digits"] == "" and available_datasets()["shapes"] == ""


def test_partly_missing_cifar_names_the_missing_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_cifar(tmp_path, skip=("test_batch",))
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    assert "test_batch" in available_datasets()["cifar10"]
    with pytest.raises(DatasetUnavailable, match="test_batch"):
        get_dataset("cifar10")


def test_download_allowed_counts_as_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CNNBP_ALLOW_DOWNLOAD", "1")
    assert available_datasets()["cifar10"] == ""  # it would be fetched on first use; not fetched here


def test_corrupt_idx_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_idx_set(tmp_path, "FashionMNIST", compress=True)
    (tmp_path / "FashionMNIST/raw/t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(np.array([0, 0, 0x0D, 1], dtype=np.uint8).tobytes()))
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="not an unsigned-byte idx file"):
        get_dataset("fashion_mnist_full")


def test_failed_download_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n"
                           "Tried https://x/, got:\nno network")

    monkeypatch.setattr(tvd, "MNIST", offline)  # never touch the network in a test
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CNNBP_ALLOW_DOWNLOAD", "1")
    with pytest.raises(DatasetUnavailable, match="download into .* failed .*no network") as info:
        get_dataset("mnist_full")
    assert "\n" not in str(info.value) and str(tmp_path / "MNIST" / "raw") in str(info.value)


def test_fashion_mnist_full_falls_back_to_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's dataset-fashion-mnist: the four .gz files flat in one folder, read where the data folder has none."""
    debian = write_fake_idx_set(tmp_path, "debian", compress=True, flat=True, seed=11)
    set_system_folder(monkeypatch, tmp_path / "debian")
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path / "empty"))
    assert available_datasets()["fashion_mnist_full"] == ""
    assert "mnist_full files missing" in available_datasets()["mnist_full"]  # MNIST has no such package
    ds = get_dataset("fashion_mnist_full")
    assert torch.equal(ds.x_test * 255, torch.from_numpy(debian.x_test).float().unsqueeze(1))
    assert ds.y_train.tolist() == debian.y_train.tolist()
    # files in the data folder come first
    local = write_fake_idx_set(tmp_path / "data", "FashionMNIST", compress=False, seed=12)
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path / "data"))
    assert torch.equal(get_dataset("fashion_mnist_full").x_test * 255,
                       torch.from_numpy(local.x_test).float().unsqueeze(1))


def test_a_truncated_gzip_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_idx_set(tmp_path, "MNIST", compress=True)
    path = tmp_path / "MNIST/raw/train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz is not a readable idx file \(EOFError") as info:
        get_dataset("mnist_full")
    assert "\n" not in str(info.value)
