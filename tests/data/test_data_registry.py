"""The dataset registry: names, options, availability."""

from __future__ import annotations

import pytest
import torch

from cnnbp.data import DATASETS, SHAPES, ImageDataset, available_datasets, dataset_options, dataset_shape, get_dataset

SMALL = {  # keeps every build in this file well under a second
    "shapes": {"n_train": 40, "n_test": 20, "size": 16},
    "mnist": {"n_train": 10, "n_test": 10},
    "fashion_mnist": {"n_train": 10, "n_test": 10},
    "mnist_full": {"n_train": 10, "n_test": 10},
    "fashion_mnist_full": {"n_train": 10, "n_test": 10},
    "cifar10": {"n_train": 10, "n_test": 5},
}


def check_dataset(ds: ImageDataset) -> None:
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == torch.float32 and x.ndim == 4
        assert y.dtype == torch.int64 and y.shape == (x.shape[0],)
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert 0 <= y.min() and y.max() < ds.num_classes
    assert ds.in_channels == ds.x_train.shape[1]
    assert ds.image_size == tuple(ds.x_train.shape[2:])
    assert ds.describe().startswith(ds.name + ":")


def test_registry_names() -> None:
    assert set(DATASETS) == {"digits", "shapes", "mnist", "fashion_mnist", "mnist_full", "fashion_mnist_full",
                             "cifar10"}
    assert set(SHAPES) == set(DATASETS)


def test_shipped_sets_are_available_with_no_data_folder(tmp_path, monkeypatch) -> None:
    # right after install: no $CNNBP_DATA_DIR, no download, no Debian package
    monkeypatch.setenv("CNNBP_DATA_DIR", str(tmp_path / "empty"))
    reasons = available_datasets()
    assert reasons["mnist"] == reasons["fashion_mnist"] == ""
    assert "mnist_full files missing" in reasons["mnist_full"]
    assert "apt-get install dataset-fashion-mnist" in reasons["fashion_mnist_full"]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shapes_table_matches_the_loaded_dataset(name: str) -> None:
    """SHAPES (what cost estimates and bounds use without loading) against the data on default options."""
    reason = available_datasets()[name]
    if reason:
        pytest.skip(reason)
    ds = get_dataset(name)
    shape = dataset_shape(name)
    assert (len(ds.y_train), len(ds.y_test), ds.in_channels, *ds.image_size, ds.num_classes) == (
        shape.n_train, shape.n_test, shape.channels, shape.size, shape.size, shape.classes)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_builds_from_files_in_real_format(name: str, fake_data_dir) -> None:
    assert available_datasets()[name] == ""
    ds = get_dataset(name, seed=1, **SMALL.get(name, {}))
    assert ds.name == name
    check_dataset(ds)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_available_here_builds(name: str) -> None:
    # whatever this machine has (./data or $CNNBP_DATA_DIR): usable ones must build
    reason = available_datasets()[name]
    if reason:
        pytest.skip(reason)
    check_dataset(get_dataset(name, **SMALL.get(name, {})))


def test_unknown_dataset_lists_choices() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'foo'; choose from digits, shapes, mnist, "
                                         "fashion_mnist, mnist_full, fashion_mnist_full, cifar10"):
        get_dataset("foo")


def test_unknown_option_is_named_with_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown option 'n_train' for dataset 'digits'; "
                                         r"valid options: test_fraction, seed"):
        get_dataset("digits", n_train=5)
    with pytest.raises(ValueError, match="'colour', 'bogus'"):
        get_dataset("shapes", colour=1, bogus=2)


def test_bad_seed() -> None:
    with pytest.raises(ValueError, match="seed"):
        get_dataset("digits", seed=-1)


def test_options_are_passed_through() -> None:
    assert dataset_options("mnist_full") == ("n_train", "n_test", "root")
    assert dataset_options("mnist") == ("n_train", "n_test")  # the shipped subset: no folder to choose
    ds = get_dataset("shapes", seed=2, num_classes=3, n_train=30, n_test=9, size=12)
    assert ds.classes == ("circle", "square", "triangle") and ds.image_size == (12, 12)


def test_image_dataset_validates_shapes() -> None:
    x, y = torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="y_train"):
        ImageDataset("bad", x, y[:3], x, y, ("a",))
    with pytest.raises(ValueError, match="mask_train"):
        ImageDataset("bad", x, y, x, y, ("a",), mask_train=torch.zeros(4, 7, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="x_test"):
        ImageDataset("bad", x, y, x.double(), y, ("a",))
