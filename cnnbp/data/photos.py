"""Real photos for the ImageNet network, from files that ship inside installed wheels (no download).

scikit-image's wheel carries ``skimage/data/`` (Chelsea the cat, a coffee cup, an astronaut, a
rocket launch, a motorcycle, a camera man ...) and scikit-learn's carries ``china.jpg`` and
``flower.jpg`` (``sklearn.datasets.load_sample_image``). The files are located without importing
either package and opened with Pillow.

>>> sorted(PHOTOS)[:3]
['astronaut', 'camera', 'chelsea']
>>> load_photo("chelsea").size  # (width, height)
(451, 300)
>>> tuple(photo_tensor("camera").shape)  # grey, given as RGB
(3, 512, 512)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .files import installed_package_dir


class PhotoUnavailable(ValueError):
    """A bundled photo whose package or file is not installed: one line saying what to install."""


@dataclass(frozen=True)
class Photo:
    name: str
    package: str  # the import name of the package whose wheel holds the file
    pip: str  # what to pip install for it
    path: str  # inside the package
    title: str
    licence: str


SKIMAGE = ("skimage", "scikit-image")
SKLEARN = ("sklearn", "scikit-learn")

PHOTOS: dict[str, Photo] = {p.name: p for p in (
    Photo("chelsea", *SKIMAGE, "data/chelsea.png", "Chelsea the cat", "CC0 (Stefan van der Walt)"),
    Photo("coffee", *SKIMAGE, "data/coffee.png", "A cup of coffee", "CC0 (Rachel Michetti)"),
    Photo("astronaut", *SKIMAGE, "data/astronaut.png", "Astronaut Eileen Collins",
          "public domain (NASA)"),
    Photo("rocket", *SKIMAGE, "data/rocket.jpg", "Falcon 9 launch (DSCOVR)", "public domain (SpaceX)"),
    Photo("motorcycle", *SKIMAGE, "data/motorcycle_left.png", "A motorcycle (Middlebury 2014 stereo, left view)",
          "Middlebury stereo benchmark (Scharstein et al. 2014); no licence stated, cite the paper"),
    Photo("camera", *SKIMAGE, "data/camera.png", "A camera man (greyscale)", "CC0 (Lav Varshney)"),
    Photo("china", *SKLEARN, "datasets/images/china.jpg", "A Chinese palace (scikit-learn sample)",
          "CC BY 2.0 (danielbuechele on Flickr)"),
    Photo("flower", *SKLEARN, "datasets/images/flower.jpg", "A flower (scikit-learn sample)",
          "CC BY 2.0 (vultilion on Flickr)"),
)}


_package_dir = installed_package_dir  # one name to replace in tests


def _get(name: str) -> Photo:
    if not isinstance(name, str) or name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose from {', '.join(PHOTOS)}")
    return PHOTOS[name]


def photo_path(name: str) -> Path:
    """The photo's file inside its installed package; :class:`PhotoUnavailable` if it is not there."""
    photo = _get(name)
    folder = _package_dir(photo.package)
    path = folder / photo.path if folder is not None else None
    if path is None or not path.is_file():
        raise PhotoUnavailable(f"photo {name!r} ships with {photo.pip}, which is not installed here "
                               f"(pip install -r requirements.txt)")
    return path


def unavailable_reason(name: str) -> str:
    """"" if photo ``name`` can be loaded, else the one line why not."""
    try:
        photo_path(name)
    except PhotoUnavailable as exc:
        return str(exc)
    return ""


def available_photos() -> list[str]:
    """The names of the bundled photos installed here, in PHOTOS order."""
    return [n for n in PHOTOS if not unavailable_reason(n)]


def load_photo(name: str) -> Image.Image:
    """Photo ``name`` as an RGB PIL image at its own size (greyscale photos are given three equal channels)."""
    with Image.open(photo_path(name)) as im:
        return im.convert("RGB")


def photo_tensor(name: str) -> torch.Tensor:
    """Photo ``name`` as a (3, H, W) float32 tensor in [0, 1]."""
    array = np.asarray(load_photo(name), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()
