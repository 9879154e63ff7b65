"""The gallery: one image through each augmentation, as the batch of copies the network would see.

Every copy draws its own parameters (the stream ``(seed, "gallery", name)``); MixUp and CutMix
mix each image with the next one of a batch of different images, so their batch holds the chosen
image and others of the same source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from cnnbp.data import ImageDataset, photos
from cnnbp.data.uploads import load_image
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.augment.augmentations import AUGMENTATIONS, augment, describe

DIGIT_SETS = ("mnist", "digits")


@dataclass
class GalleryRow:
    name: str
    title: str  # the transforms.v2 name and range
    label: str  # what it does to the label, in words
    images: np.ndarray | None  # (k, H, W, 3) uint8; None where it does not apply
    mix: float | None = None  # MixUp / CutMix: the share of the first image's label


def label_note(name: str, dataset: str | None, degrees: float) -> str:
    """What ``name`` does to the label of an image of ``dataset`` (None: a photo)."""
    digits = dataset in DIGIT_SETS
    if name == "hflip":
        return ("changes it: a mirrored 2, 3, 4, 5, 6, 7 or 9 is no digit (0, 1, 8 survive); measured below"
                if digits else "keeps it: a mirrored shoe or shirt is one" if dataset == "fashion_mnist"
                else "keeps it")
    if name == "vflip":
        return ("changes it: upside down a 6 is a mirrored 9 (both flips: a 9); measured below" if digits
                else "keeps the class, but no test image is upside down" if dataset == "fashion_mnist"
                else "keeps it")
    if name == "rotate" and digits:
        return "keeps it" if degrees <= 45 else f"at up to {degrees:.0f} deg a 6 starts to read as a 9"
    if AUGMENTATIONS[name].kind == "mix":
        return "mixes it: lam of this image's label, 1 - lam of its partner's (soft targets)"
    if name in ("crop", "erasing") and digits:
        return "keeps it while enough of the stroke is left; a tight crop or a big box can erase the digit"
    return "keeps it"


def source_images(data: ImageDataset, *, dataset: str, image_index: int, photo: str, image: str | None,
                  count: int) -> tuple[torch.Tensor, str, str | None]:
    """(count, C, H, W): the chosen image first, then others of the same source (the partners of
    the batch mixes); its description; the dataset it comes from (None: a photo or upload)."""
    if image is not None or photo != "none":
        first = (load_image(image, channels=3, size=(64, 64)) if image is not None
                 else _square(photos.photo_tensor(photo)))
        pool = [first, *(_square(photos.photo_tensor(p)) for p in photos.available_photos() if p != photo)]
        batch = torch.stack([pool[i % len(pool)] for i in range(count)])
        return batch, ("your upload" if image is not None else photo) + " (64x64 RGB)", None
    idx = [(image_index + i) % len(data.x_test) for i in range(count)]
    label = data.classes[int(data.y_test[image_index])]
    return data.x_test[idx], f"{dataset} test image {image_index} (a {label})", dataset


def _square(image: torch.Tensor) -> torch.Tensor:
    side = min(image.shape[-2:])
    return TF.resize(TF.center_crop(image, [side, side]), [64, 64], antialias=True).clamp(0, 1)


def to_rgb_uint8(x: torch.Tensor) -> np.ndarray:
    """(k, C, H, W) in [0, 1] -> (k, H, W, 3) uint8."""
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def gallery(images: torch.Tensor, names: list[str], *, dataset: str | None, strength: float, seed: int
            ) -> list[GalleryRow]:
    """One row per augmentation: the first image repeated (the mixes: the batch of different images)."""
    k, channels = len(images), images.shape[1]
    copies = images[:1].expand(k, -1, -1, -1).contiguous()
    degrees = 30.0 * strength
    rows = []
    for name in names:
        aug, title = AUGMENTATIONS[name], describe(name, strength)
        if aug.rgb_only and channels != 3:
            rows.append(GalleryRow(name, title, f"RGB only: a grey image has no {name} to change", None))
            continue
        g = make_generator(derive_seed(seed, "gallery", name))
        batch = images if aug.kind == "mix" else copies
        out, mixed = augment(batch, [name], strength=strength, generator=g, with_mix=True)
        rows.append(GalleryRow(name, title, label_note(name, dataset, degrees), to_rgb_uint8(out),
                               mixed.lam if mixed is not None else None))
    return rows
