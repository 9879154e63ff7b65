"""The bundled photos: found inside the installed wheels, the same pixels as the packages' own loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbp.data import photos


def test_every_photo_is_installed_here() -> None:
    assert photos.available_photos() == list(photos.PHOTOS)
    assert {"chelsea", "coffee", "astronaut", "rocket", "motorcycle", "camera", "china", "flower"} == set(photos.PHOTOS)
    for photo in photos.PHOTOS.values():
        assert photo.title and photo.licence


@pytest.mark.parametrize("name, loader", [
    ("chelsea", "chelsea"), ("coffee", "coffee"), ("astronaut", "astronaut"), ("rocket", "rocket"),
    ("camera", "camera"),
])
def test_skimage_photos_equal_skimage_data(name: str, loader: str) -> None:
    import skimage.data

    expected = getattr(skimage.data, loader)()
    got = np.asarray(photos.load_photo(name))
    if expected.ndim == 2:  # camera is grey: three equal channels
        assert (got == expected[..., None]).all()
    else:
        assert np.array_equal(got, expected)


def test_motorcycle_is_the_left_stereo_view() -> None:
    import skimage.data

    left, _, _ = skimage.data.stereo_motorcycle()
    assert np.array_equal(np.asarray(photos.load_photo("motorcycle")), left)


@pytest.mark.parametrize("name", ["china", "flower"])
def test_sklearn_photos_equal_load_sample_image(name: str) -> None:
    from sklearn.datasets import load_sample_image

    assert np.array_equal(np.asarray(photos.load_photo(name)), load_sample_image(f"{name}.jpg"))


def test_photo_tensor_is_chw_in_unit_range() -> None:
    x = photos.photo_tensor("chelsea")
    assert x.shape == (3, 300, 451) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert np.array_equal((x * 255).round().byte().permute(1, 2, 0).numpy(), np.asarray(photos.load_photo("chelsea")))


def test_a_missing_package_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = photos._package_dir
    monkeypatch.setattr(photos, "_package_dir", lambda package: None if package == "skimage" else real(package))
    reason = photos.unavailable_reason("chelsea")
    assert reason == ("photo 'chelsea' ships with scikit-image, which is not installed here "
                      "(pip install -r requirements.txt)")
    with pytest.raises(photos.PhotoUnavailable, match="scikit-image"):
        photos.load_photo("chelsea")
    assert photos.available_photos() == ["china", "flower"]


def test_unknown_photo_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown photo 'dog'; choose from chelsea, coffee, astronaut"):
        photos.load_photo("dog")
