"""The class's own data as the tests upload it: a zip of class folders (one colour per class), one
fixture for every test that uploads through the browser, the API or the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.test_hostile_uploads import class_folders, make_zip

# 100 a class: 80 train / 20 test each, over the norms quick run's 128-image sweep, enough test images for
# the visualising tab's embeddings (50 of the 60) and 10 test images a class for the ImageNet part
COUNTS = {"cat": 100, "dog": 100, "fox": 100}


def pets_archive(counts: dict[str, int] = COUNTS, *, size: tuple[int, int] = (24, 24)) -> bytes:
    """The zip's bytes: ``counts`` PNGs per class folder, each class one colour, ``size`` pixels."""
    return make_zip(class_folders(counts, size=size))


@pytest.fixture(scope="session")
def pets_zip(tmp_path_factory) -> Path:
    """pets.zip on disk (three classes, 100 images each, 24 x 24: every image resized to 32 x 32)."""
    path = tmp_path_factory.mktemp("pets") / "pets.zip"
    path.write_bytes(pets_archive())
    return path
