"""scikit-learn digits: split sizes, value range, stratification, seeding."""

from __future__ import annotations

import pytest
import torch

from cnnbp.data import digits, get_dataset


def test_shapes_dtypes_and_range() -> None:
    ds = get_dataset("digits")
    assert ds.x_train.shape == (1437, 1, 8, 8) and ds.x_test.shape == (360, 1, 8, 8)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    both = torch.cat([ds.x_train, ds.x_test])
    assert both.min() == 0.0 and both.max() == 1.0  # raw pixels 0..16 divided by 16
    assert torch.equal(both * 16, (both * 16).round())  # still exact sixteenths
    assert ds.classes == tuple("0123456789") and ds.num_classes == 10
    assert ds.mask_train is None and ds.image_size == (8, 8) and ds.in_channels == 1


def test_stratified_split_keeps_class_proportions() -> None:
    ds = digits(test_fraction=0.25, seed=3)
    total = torch.bincount(torch.cat([ds.y_train, ds.y_test]), minlength=10)
    test = torch.bincount(ds.y_test, minlength=10)
    assert total.sum() == 1797
    assert len(ds.y_test) == 450  # ceil(0.25 * 1797), as scikit-learn rounds
    assert ((test - 0.25 * total).abs() <= 1).all(), (test, total)


def test_same_seed_same_tensors_other_seed_other_split() -> None:
    a, b, c = digits(seed=7), digits(seed=7), digits(seed=8)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train)
    assert not torch.equal(a.x_test, c.x_test)


def test_returned_tensors_are_private_copies() -> None:
    a = digits(seed=0)
    a.x_train.fill_(5.0)
    assert digits(seed=0).x_train.max() == 1.0


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, "0.2"])
def test_bad_test_fraction(bad) -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=bad)
