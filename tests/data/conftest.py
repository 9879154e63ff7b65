"""Fixtures: a clean data environment and a data folder with tiny sets in the real formats."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cnnbp.data import folder_sets

from .fakes import write_fake_cifar, write_fake_idx_set


@pytest.fixture(autouse=True)
def _no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    # a developer's CNNBP_ALLOW_DOWNLOAD=1 must never make a test touch the network
    monkeypatch.delenv("CNNBP_ALLOW_DOWNLOAD", raising=False)


@pytest.fixture(autouse=True)
def _no_system_packages(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the files they write: Debian's Fashion-MNIST, where installed, is hidden
    (tests that want a system folder point the spec at one they fill: ``system_folder``)."""
    set_system_folder(monkeypatch, tmp_path_factory.mktemp("no-system-package"))


def set_system_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    spec = folder_sets._SPECS["fashion_mnist_full"]
    monkeypatch.setitem(folder_sets._SPECS, "fashion_mnist_full",
                        dataclasses.replace(spec, system_folders=(folder,)))


@pytest.fixture
def fake_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CNNBP_DATA_DIR holding tiny MNIST (plain), FashionMNIST (gzip) and CIFAR-10 sets."""
    write_fake_idx_set(tmp_path, "MNIST", compress=False, seed=1)
    write_fake_idx_set(tmp_path, "FashionMNIST", compress=True, seed=2)
    write_fake_cifar(tmp_path, seed=3)
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    return tmp_path


def debian_fashion_mnist_installed() -> bool:
    """Whether the Debian package dataset-fashion-mnist's four idx files are on this machine."""
    return all((folder_sets.DEBIAN_FASHION_MNIST / f"{f}.gz").is_file()
               for f in sum(folder_sets._IDX_FILES.values(), ()))
