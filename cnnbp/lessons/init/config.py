"""The init lesson's settings, their bounds, and what a run costs on 2 CPU cores."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from cnnbp.data import LESSON_SET_CHOICES, lesson_shape
from cnnbp.lessons.base import LessonConfig, choice, choices, gflop_seconds
from cnnbp.lessons.init.classic import classic_flops
from cnnbp.nn import small_cnn_macs
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.nn.inits import INITS, get_init

PartName = Literal["classic", "cnn", "symmetry"]
# Forward + backward of an image is ~3x its forward multiply-adds, 2 flops each.
TRAIN_FLOPS_PER_MAC = 6
# The small CNN trains at about a third of the nominal rate: the per-layer probes and test-set
# evaluations twice an epoch, the optimiser, and Python around each small step.
CNN_SLOWDOWN = 3.0


class InitConfig(LessonConfig):
    parts: list[PartName] = Field(["classic", "cnn", "symmetry"], min_length=1,
                                  description="which experiments to run")
    activations: choices(ACTIVATIONS, "activation") = Field(
        ["tanh", "relu"], validation_alias=AliasChoices("activations", "activation"),
        description="activation functions to compare (also accepted as 'activation')")
    inits: choices(INITS, "init") = Field(
        ["normal_0.01", "normal_0.05", "xavier", "kaiming"], description="initialisation schemes")
    width: int = Field(4096, ge=16, le=8192, description="MLP hidden width (lecture: 4096)",
                       json_schema_extra={"step": 16})
    depth: int = Field(6, ge=2, le=12, description="MLP hidden layers (lecture: 6)")
    batch_size: int = Field(16, ge=2, le=256, description="MLP input batch (lecture: 16)")
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "digits", description="CNN training data (mnist, fashion_mnist: 28x28 grey, 12x the digits' pixels; "
                              "or your upload)")
    cnn_depth: int = Field(4, ge=1, le=8, description="CNN conv layers")
    cnn_width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer")
    epochs: int = Field(3, ge=1, le=30, description="CNN training epochs")
    cnn_batch_size: int = Field(64, ge=8, le=512, description="CNN minibatch size")
    lr: float = Field(0.05, gt=0, le=2.0, description="SGD learning rate (momentum 0.9)")
    symmetry_steps: int = Field(60, ge=1, le=1000, description="training steps from constant init")

    def cost_seconds(self) -> float:
        n_variants = len(self.activations) * len(self.inits)
        pieces = max(get_act(a).width_factor for a in self.activations)
        cost = 0.0
        if "classic" in self.parts:
            orthogonal = any(get_init(i).base == "orthogonal" for i in self.inits)
            cost += gflop_seconds(classic_flops(n_configs=n_variants, width=self.width, depth=self.depth,
                                                batch_size=self.batch_size, pieces=pieces,
                                                orthogonal=orthogonal))
        if {"cnn", "symmetry"} & set(self.parts):
            shape = lesson_shape(self.dataset)
            macs = small_cnn_macs(in_channels=shape.channels, image_size=shape.size, depth=self.cnn_depth,
                                  width=self.cnn_width, num_classes=shape.classes)
            per_image = TRAIN_FLOPS_PER_MAC * macs * pieces * CNN_SLOWDOWN
            if "cnn" in self.parts:
                cost += gflop_seconds(per_image * shape.n_train * self.epochs * n_variants)
            if "symmetry" in self.parts:
                cost += gflop_seconds(per_image * self.cnn_batch_size * self.symmetry_steps * 2)
        return cost
