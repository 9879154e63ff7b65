"""The preprocessing lesson's settings, their bounds, and what a run costs on 2 CPU cores."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from cnnbp.data import LESSON_SET_CHOICES, lesson_shape
from cnnbp.lessons.base import LessonConfig, choice, choices, gflop_seconds
from cnnbp.lessons.preprocessing.sensitivity import SIZES, SLICE_POINTS
from cnnbp.lessons.preprocessing.training import EVAL_EVERY, TRAIN_DATASET
from cnnbp.lessons.preprocessing.transforms import IMAGE_TRANSFORMS

PartName = Literal["cloud", "images", "training"]
STEP_OVERHEAD_S = 0.0015  # Python + optimiser time of one tiny step on 2 cores (measured ~0.3-1 ms)
FORWARD_OVERHEAD_S = 0.0005  # one small forward pass outside training


class PreprocessingConfig(LessonConfig):
    parts: list[PartName] = Field(["cloud", "images", "training"], min_length=1,
                                  description="which experiments to run")
    cloud_points: int = Field(400, ge=10, le=5000, description="points in the 2-D cloud")
    correlation: float = Field(0.8, gt=-1.0, lt=1.0, description="correlation of the cloud's two coordinates")
    offset: float = Field(6.0, ge=-100.0, le=100.0,
                          description="the cloud's centre is (offset, offset): data away from the origin")
    scale: float = Field(3.0, gt=0.0, le=100.0, description="std of the cloud's first coordinate (the second has 1)")
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "shapes", description="images for the statistics (shapes: RGB 32x32, so per-channel numbers mean something)")
    input_scale: float = Field(255.0, gt=0.0, le=1000.0,
                               description="raw pixel = value in [0, 1] x scale + offset "
                                           "(255: 8-bit pixels, as CIFAR-10)")
    input_offset: float = Field(0.0, ge=-1000.0, le=1000.0,
                                description="added to every raw pixel (data far from the origin)")
    transforms: choices(IMAGE_TRANSFORMS, "transform") = Field(
        list(IMAGE_TRANSFORMS),
        description="preprocessing of the images: raw, - mean image, - channel mean, channel mean & std")
    model: Literal["linear", "mlp"] = Field("linear", description="classifier trained on the digits")
    hidden: int = Field(64, ge=4, le=512, description="hidden units of the MLP")
    epochs: int = Field(3, ge=1, le=30, description="training epochs on the digits")
    batch_size: int = Field(64, ge=8, le=512, description="minibatch size")
    lr: float = Field(0.05, gt=0.0, le=2.0, description="SGD learning rate (momentum 0.9), the same for every input")
    runs: int = Field(3, ge=1, le=10, description="training runs (seeds) per preprocessing")
    perturbation: float = Field(0.01, gt=0.0, le=1.0,
                                description="relative size ||dW|| / ||W|| of the weight perturbation")
    directions: int = Field(50, ge=1, le=100, description="random perturbation directions averaged over (per run)")

    def cost_seconds(self) -> float:
        cost = 0.0
        if "cloud" in self.parts:
            cost += 0.05 + 2e-6 * self.cloud_points
        if "images" in self.parts:
            cost += 1.0 if self.dataset == "shapes" else 0.3  # rendering shapes, eigen-decompositions
        if "training" in self.parts:
            shape = lesson_shape(TRAIN_DATASET)
            d, k = shape.channels * shape.size * shape.size, shape.classes
            params = d * k if self.model == "linear" else d * self.hidden + self.hidden * k
            variants = len(self.transforms) * self.runs
            steps = math.ceil(shape.n_train / self.batch_size) * self.epochs
            step_s = STEP_OVERHEAD_S + gflop_seconds(6 * params * self.batch_size)
            evals = steps // EVAL_EVERY + 2
            eval_s = 2 * STEP_OVERHEAD_S + gflop_seconds(2 * params * (shape.n_train + shape.n_test))
            # the first run's classifier at every size and along the slice, the other runs' at the chosen size
            forwards = (len(SIZES) + self.runs) * self.directions + SLICE_POINTS + 1
            sens_s = len(self.transforms) * forwards * (FORWARD_OVERHEAD_S + gflop_seconds(2 * params * shape.n_train))
            cost += 1.0 + variants * (steps * step_s + evals * eval_s) + sens_s
        return cost
