"""The normalisation lesson's settings, their bounds and what a run of them costs."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from cnnbp.data import LESSON_SET_CHOICES, dataset_label, lesson_shape
from cnnbp.lessons.base import LessonConfig, choice, choices, gflop_seconds
from cnnbp.lessons.norms import axes
from cnnbp.lessons.norms.training import RunSpec
from cnnbp.nn import small_cnn_macs
from cnnbp.nn.norms import NORMS

PartName = Literal["picture", "equivalences", "contrast", "compare", "sweep", "batch_one", "sync"]
PART_NAMES: tuple[str, ...] = ("picture", "equivalences", "contrast", "compare", "sweep", "batch_one", "sync")
# The default run: every part but the batch-size sweep (7.6 s idle) and SyncBatchNorm's training
# (5.1 s), each one tick away; with them the run took 24 s, over a lecture's 10 s.
DEFAULT_PARTS: tuple[str, ...] = ("picture", "equivalences", "contrast", "compare", "batch_one")
SWEEP_NORMS = {k: NORMS[k] for k in ("batch", "group", "layer", "instance", "none")}
BATCH_SIZES = {str(b): b for b in (64, 32, 16, 8, 4, 2)}  # the sweep's choices, largest first
DEVICE_COUNTS = {str(k): k for k in (1, 2, 4, 8, 16, 32)}
# Measured: ~3 ms a training step of the default CNN on one thread, whatever the batch (Python
# and autograd overhead); the arithmetic comes on top at NOMINAL_GFLOPS.
STEP_OVERHEAD_S = 0.003


class NormsConfig(LessonConfig):
    parts: list[PartName] = Field(list(DEFAULT_PARTS), min_length=1, description="which experiments to run "
                                  "(sweep and sync: about 8 and 5 s more; batch_one trains its CNN with the sweep)")
    # The picture: a small tensor, so every cell is a visible marker.
    picture_batch: int = Field(4, ge=1, le=8, description="picture: N, the books")
    picture_channels: int = Field(6, ge=1, le=16, description="picture: C, the pages per book (lecture: 6)")
    # At least 2: torch's InstanceNorm refuses a 1 x 1 map in training (one word per page has no
    # spread), and a statistic of one cell has a zero gradient, so the check against torch cannot see it.
    picture_size: int = Field(3, ge=2, le=5, description="picture: H = W; H x W words per page")
    picture_groups: int = Field(3, ge=1, le=16, description="picture: GroupNorm's groups (the lecture's "
                                "GroupNorm(3, 6)); must divide picture_channels")
    cell_sample: int = Field(0, ge=0, le=7, description="picture: the chosen cell's book (sample)")
    cell_channel: int = Field(1, ge=0, le=15, description="picture: the chosen cell's page (channel)")
    # The CNN every training part uses.
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "digits", description="training data (shapes: 32x32 RGB, 16x the pixels: fewer epochs; mnist, "
                                "fashion_mnist: 28x28 grey, 12x; or your upload)")
    depth: int = Field(4, ge=1, le=6, description="CNN conv layers, a norm after each")
    width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer (doubling at each pooling)")
    groups: int = Field(4, ge=1, le=64, description="GroupNorm's groups in the CNN; must divide width")
    norms: choices(NORMS, "norm") = Field(list(NORMS), description="norms trained side by side")
    # 2 epochs: three seeds of five norms in the time two seeds took at 3 (BatchNorm is at 96-98% by then)
    epochs: int = Field(2, ge=1, le=20, description="epochs of the side-by-side and SyncBatchNorm runs")
    batch_size: int = Field(32, ge=2, le=256, description="minibatch of the side-by-side runs")
    # 2: the curves' shape at a quarter of the training's cost in evaluations (4 took 27% of it)
    evals_per_epoch: int = Field(2, ge=1, le=8, description="test accuracy so many times an epoch in the "
                                 "side-by-side and SyncBatchNorm runs")
    lr: float = Field(0.05, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9) at batch_size; "
                      "other batch sizes get lr x batch / batch_size (the linear scaling rule)")
    seeds: int = Field(3, ge=1, le=5, description="seeds of the side-by-side runs: a norm is named best only "
                       "when it is ahead on every one of at least 3")
    # BatchNorm and GroupNorm, the lecture's race, by default: three seeds of a third norm cost 40% more
    sweep_norms: choices(SWEEP_NORMS, "norm") = Field(["batch", "group"], description="norms in the batch-size sweep")
    sweep_batches: choices(BATCH_SIZES, "batch size") = Field(["32", "8", "2"],
                                                              description="batch sizes of the sweep")
    sweep_images: int = Field(512, ge=64, le=2000, description="sweep: train on the first so many images "
                              "(batch 2 takes images / 2 steps an epoch)")
    sweep_epochs: int = Field(2, ge=1, le=10, description="sweep (and batch size 1): epochs")
    sweep_seeds: int = Field(3, ge=1, le=5, description="sweep: seeds per point (GroupNorm vs BatchNorm is "
                             "decided only when one is ahead on every one of at least 3)")
    contrast_scale: float = Field(0.5, gt=0.0, le=10.0, description="contrast change x -> a x + b: a")
    contrast_shift: float = Field(0.2, ge=-1.0, le=1.0, description="contrast change x -> a x + b: b")
    sync_batch: int = Field(32, ge=2, le=256, description="SyncBatchNorm: the whole batch over all devices")
    sync_devices: choices(DEVICE_COUNTS, "device count") = Field(
        ["2", "8", "16"], description="SyncBatchNorm: simulated device counts K (per-device batch = sync_batch / K)")

    @field_validator("picture_groups")
    @classmethod
    def _picture_groups_divide(cls, groups: int, info: ValidationInfo) -> int:
        if "picture_channels" in info.data:
            axes.check_groups(info.data["picture_channels"], groups, what="picture_groups")
        return groups

    @field_validator("cell_sample", "cell_channel")
    @classmethod
    def _cell_inside(cls, value: int, info: ValidationInfo) -> int:
        size_field = {"cell_sample": "picture_batch", "cell_channel": "picture_channels"}[info.field_name]
        size = info.data.get(size_field)
        if size is not None and value >= size:
            raise ValueError(f"{info.field_name} ({value}) must be below {size_field} ({size})")
        return value

    @field_validator("groups")
    @classmethod
    def _groups_divide(cls, groups: int, info: ValidationInfo) -> int:
        if "width" in info.data:
            axes.check_groups(info.data["width"], groups)
        return groups

    @field_validator("sweep_images")
    @classmethod
    def _sweep_images_exist(cls, n: int, info: ValidationInfo) -> int:
        dataset, parts = info.data.get("dataset"), info.data.get("parts") or []
        if dataset and {"sweep", "batch_one"} & set(parts) and n > lesson_shape(dataset).n_train:
            raise ValueError(f"sweep_images ({n}) is more than the {lesson_shape(dataset).n_train} training "
                             f"images of {dataset_label(dataset)}")
        return n

    @field_validator("sync_devices")
    @classmethod
    def _devices_fit(cls, devices: list[str], info: ValidationInfo) -> list[str]:
        batch = info.data.get("sync_batch")
        too_many = [k for k in devices if batch is not None and DEVICE_COUNTS[k] > batch]
        if too_many:
            raise ValueError(f"sync_devices ({', '.join(too_many)}) must not exceed sync_batch ({batch}): "
                             "every device needs an image")
        return devices

    # ---- derived settings: the runs each part trains ----

    def batch_list(self) -> list[int]:
        """The sweep's batch sizes, largest first."""
        return sorted((BATCH_SIZES[b] for b in self.sweep_batches), reverse=True)

    def device_list(self) -> list[int]:
        return sorted(DEVICE_COUNTS[k] for k in self.sync_devices)

    def lr_at(self, batch: int) -> float:
        """The linear scaling rule (Goyal et al., as the GroupNorm paper trains): lr x b / batch_size."""
        return self.lr * batch / self.batch_size

    def first_map_pixels(self) -> int:
        """H x W of the first feature maps (same padding keeps the image size)."""
        return lesson_shape(self.dataset).size ** 2

    def seed_list(self, count: int) -> list[int]:
        """The seeds of a part that trains ``count`` of them: seed, seed + 1, ..."""
        return [self.seed + i for i in range(count)]

    def compare_specs(self) -> list[RunSpec]:
        return [RunSpec(n, s, self.batch_size, self.lr) for s in self.seed_list(self.seeds) for n in self.norms]

    def sweep_specs(self) -> list[RunSpec]:
        return [RunSpec(n, s, b, self.lr_at(b), label=f"{n}, batch {b}, seed {s}")
                for b in self.batch_list() for n in self.sweep_norms for s in self.seed_list(self.sweep_seeds)]

    def batch_one_spec(self) -> RunSpec:
        return RunSpec("batch", self.seed, 1, self.lr_at(1), label=f"batch, batch 1, seed {self.seed}")

    def sync_specs(self) -> list[RunSpec]:
        b = self.sync_batch
        specs = [RunSpec("batch", self.seed, b, self.lr_at(b), devices=k, sync=False,
                         label=f"{k} devices x {b / k:g} images, own statistics") for k in self.device_list()]
        k = max(self.device_list())
        specs.append(RunSpec("batch", self.seed, b, self.lr_at(b), devices=k, sync=True,
                             label=f"{k} devices, synchronised"))
        return specs

    def cost_seconds(self) -> float:
        shape = lesson_shape(self.dataset)
        macs = small_cnn_macs(in_channels=shape.channels, image_size=shape.size, depth=self.depth,
                              width=self.width, num_classes=shape.classes)

        def steps(batch: int, images: int, epochs: int) -> float:  # seconds to train one run
            count = math.ceil(images / batch) * epochs
            return count * STEP_OVERHEAD_S + gflop_seconds(6 * macs * images * epochs)

        evaluate = gflop_seconds(2 * macs * shape.n_test)  # one test-set forward
        streamed_evals = evaluate * (self.evals_per_epoch * self.epochs + 1)  # a side-by-side run's evaluations
        cost = 0.0
        if "compare" in self.parts:
            per_run = steps(self.batch_size, shape.n_train, self.epochs) + streamed_evals
            cost += per_run * len(self.compare_specs())
        if "sweep" in self.parts:
            cost += sum(steps(s.batch_size, self.sweep_images, self.sweep_epochs) + evaluate
                        for s in self.sweep_specs())
        if "batch_one" in self.parts and "sweep" in self.parts:  # its CNN trains with the sweep
            cost += steps(1, self.sweep_images, self.sweep_epochs) + evaluate
        if "sync" in self.parts:
            per_run = steps(self.sync_batch, shape.n_train, self.epochs) + streamed_evals
            cost += per_run * len(self.sync_specs())
        return cost
