"""The augmentation lesson's settings, their bounds and checks, and the job's estimated cost."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from cnnbp.data import dataset_shape, photos
from cnnbp.data.uploads import UploadError, load_image
from cnnbp.lessons.augment.augmentations import AUGMENTATIONS
from cnnbp.lessons.augment.training import EVALS_PER_RUN, MIN_SEEDS, aug_net_macs
from cnnbp.lessons.augment.tta import tta_views
from cnnbp.lessons.base import LessonConfig, choices

PartName = Literal["gallery", "training", "flips", "tta", "ensemble"]
PART_NAMES: tuple[str, ...] = ("gallery", "training", "flips", "tta", "ensemble")
NEEDS_TRAINING = ("flips", "tta", "ensemble")  # they look at the nets training leaves
Dataset = Literal["mnist", "fashion_mnist", "digits", "shapes"]
Photo = Literal["none", "chelsea", "coffee", "astronaut", "rocket", "motorcycle", "camera", "china", "flower"]
PHOTO_SIZE = 64  # a photo or upload is shown at 64 x 64 RGB in the gallery (colour jitter needs the colour)
TTA_SCALES = {f"{s:g}": s for s in (1.0, 0.9, 0.8, 0.7, 0.6)}
# Where a mirror image keeps the label: a mirrored shoe is a shoe, a mirrored 2 is no digit.
FLIPS_KEEP_LABEL = {"mnist": False, "fashion_mnist": True, "digits": False, "shapes": True}

# Seconds on one thread of the 2-core development machine (measured with bench/augment.py on a
# loaded machine, so an idle one runs faster than estimated):
STEP_OVERHEAD_S = 1.5e-3  # per training step of these tiny nets (optimizer, autograd, batch)
GFLOPS_ONE_THREAD = 8.0  # what one thread sustains on their convs
POLICY_IMAGE_S = 4e-4  # per image through a policy (RandAugment, TrivialAugment, AugMix: small sub-batches)
GALLERY_S = 0.3


class AugmentConfig(LessonConfig):
    parts: list[PartName] = Field(list(PART_NAMES), min_length=1, description="which experiments to run")
    dataset: Dataset = Field("mnist", description="mnist / fashion_mnist: 28x28 grey; digits: 8x8 grey; "
                             "shapes: 32x32 RGB")
    image_index: int = Field(0, ge=0, le=1999, description="test image shown in the gallery")
    photo: Photo = Field("none", description="a bundled photo for the gallery instead (64x64 RGB: colour jitter "
                         "shows); the nets still train on the dataset")
    image: str | None = Field(None, max_length=4096, description="optional PNG or JPEG of your own for the gallery "
                              "(64x64 RGB)", json_schema_extra={"upload": "image"})
    gallery: choices(AUGMENTATIONS, "augmentation") = Field(
        list(AUGMENTATIONS), description="augmentations shown in the gallery, each as one batch of copies")
    gallery_size: int = Field(8, ge=2, le=16, description="images per augmentation in the gallery")
    strength: float = Field(0.5, ge=0.0, le=1.0, description="scales every range (rotate: up to 30 x strength "
                            "degrees); 0 leaves the geometric and colour ones idle")
    augmentations: choices(AUGMENTATIONS, "augmentation") = Field(
        ["rotate", "translate"], description="what the augmented nets train with, in this order (rotations and "
        "shifts: the classic choice for handwriting)")
    train_images: int = Field(300, ge=20, le=10_000, description="training subset, balanced over the classes "
                              "(small: augmentation matters most with little data)")
    test_images: int = Field(1000, ge=100, le=2000, description="test subset, balanced over the classes")
    epochs: int = Field(10, ge=1, le=200, description="passes over the subset (the training "
                        "time grows with them)")
    batch_size: int = Field(32, ge=4, le=256, description="minibatch size")
    lr: float = Field(0.003, gt=0.0, le=0.1, description="Adam learning rate")
    seeds: int = Field(MIN_SEEDS, ge=1, le=5, description=f"training seeds: a plain and an augmented net at each "
                       f"(the same subset); the verdicts need {MIN_SEEDS}; the ensembles average them")
    tta_scales: choices(TTA_SCALES, "scale") = Field(
        ["1", "0.8"], description="test-time crops: the whole image at 1, else the 4 corners and the centre "
        "at that share of the side, each resized back (each scale below 1 adds 5 forward passes an image)")
    tta_flips: Literal["auto", "on", "off"] = Field(
        "auto", description="add each view's mirror image (auto: only where a mirror keeps the label, not digits)")
    tta_examples: int = Field(4, ge=1, le=8, description="test images whose every view is shown")

    @field_validator("image_index")
    @classmethod
    def _within_test_set(cls, value: int, info: ValidationInfo) -> int:
        shape = dataset_shape(info.data.get("dataset", "mnist"))
        if value >= shape.n_test:
            raise ValueError(f"image_index ({value}) must be below the {shape.n_test} test images")
        return value

    @field_validator("photo")
    @classmethod
    def _photo_installed(cls, photo: str) -> str:
        reason = photos.unavailable_reason(photo) if photo != "none" else ""
        if reason:
            raise ValueError(reason)
        return photo

    @field_validator("image")
    @classmethod
    def _image_decodes(cls, image: str | None) -> str | None:
        if image is not None:
            try:  # decoded here (milliseconds) so a bad file is refused before anything runs
                load_image(image, channels=3, size=(PHOTO_SIZE, PHOTO_SIZE))
            except UploadError as err:
                raise ValueError(str(err)) from None
        return image

    @field_validator("augmentations")
    @classmethod
    def _fit_the_data(cls, names: list[str], info: ValidationInfo) -> list[str]:
        dataset = info.data.get("dataset", "mnist")
        grey = [n for n in names if AUGMENTATIONS[n].rgb_only and dataset_shape(dataset).channels != 3]
        if grey:
            raise ValueError(f"{', '.join(grey)} needs RGB images and {dataset} is grey; choose shapes or drop it")
        return names

    @field_validator("train_images", "test_images")
    @classmethod
    def _within_dataset(cls, value: int, info: ValidationInfo) -> int:
        dataset = info.data.get("dataset", "mnist")
        shape = dataset_shape(dataset)
        n = shape.n_train if info.field_name == "train_images" else shape.n_test
        if value > n:
            raise ValueError(f"{info.field_name} ({value}) must not exceed the {n} images of {dataset}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "AugmentConfig":
        lonely = [p for p in self.parts if p in NEEDS_TRAINING]
        if lonely and "training" not in self.parts:
            raise ValueError(f"parts: {', '.join(lonely)} look at the nets that training trains; add training")
        if self.batch_size > self.train_images:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed train_images ({self.train_images})")
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    @property
    def flips_keep_label(self) -> bool:
        return FLIPS_KEEP_LABEL[self.dataset]

    def views(self):
        flips = self.tta_flips == "on" or (self.tta_flips == "auto" and self.flips_keep_label)
        return tta_views(sorted((TTA_SCALES[s] for s in self.tta_scales), reverse=True), flips=flips)

    def steps(self) -> int:
        return self.epochs * math.ceil(self.train_images / self.batch_size)

    def cost_seconds(self) -> float:
        shape = dataset_shape(self.dataset)
        image_s = 2 * aug_net_macs(shape.channels, (shape.size, shape.size), shape.classes) / (GFLOPS_ONE_THREAD * 1e9)
        cost = GALLERY_S if "gallery" in self.parts else 0.0
        if "training" not in self.parts:
            return cost
        policies = sum(AUGMENTATIONS[n].kind == "policy" for n in self.augmentations)
        step = STEP_OVERHEAD_S + self.batch_size * (3 * image_s + policies * POLICY_IMAGE_S)
        evals = (EVALS_PER_RUN + 2) * (self.train_images + self.test_images) * image_s
        cost += self.seeds * 2 * (self.steps() * step + evals)
        if "flips" in self.parts:
            cost += 4 * self.test_images * image_s
        if "tta" in self.parts:
            cost += self.seeds * len(self.views()) * self.test_images * image_s
        return cost
