"""Fixtures: a clean data environment and a data folder with tiny sets in the real formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakes import write_fake_cifar, write_fake_idx_set


@pytest.fixture(autouse=True)
def _no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    # a developer's CNNBP_ALLOW_DOWNLOAD=1 must never make a test touch the network
    monkeypatch.delenv("CNNBP_ALLOW_DOWNLOAD", raising=False)


@pytest.fixture
def fake_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CNNBP_DATA_DIR holding tiny MNIST (plain), FashionMNIST (gzip) and CIFAR-10 sets."""
    write_fake_idx_set(tmp_path, "MNIST", compress=False, seed=1)
    write_fake_idx_set(tmp_path, "FashionMNIST", compress=True, seed=2)
    write_fake_cifar(tmp_path, seed=3)
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path))
    return tmp_path
