"""The architecture lesson's settings, their bounds, and what a run costs on 2 CPU cores."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from cnnbp.data import dataset_shape
from cnnbp.lessons.architecture.layers import MAX_SPEC_CHARS, SYNTAX, Shape, parse_spec, stack_rows
from cnnbp.lessons.architecture.models import ARCHITECTURES
from cnnbp.lessons.architecture.stacks import EVALS_PER_RUN, MIN_SEEDS, STACKS, STEM_KERNEL
from cnnbp.lessons.base import LessonConfig, choices, gflop_seconds

PartName = Literal["calculator", "models", "stacks", "receptive"]
DEFAULT_STACKS = ["3x3 x2", "5x5", "3x3 x3", "7x7"]
# Measured on one idle core: python, Adam and the evaluation around each tiny step (~4 ms), the
# first count of the real architectures (imports timm and warms FlopCounterMode up; then cached).
STEP_OVERHEAD_S = 0.004
FIRST_COUNT_S = 3.0
MAX_SIDE = 4096


class ArchitectureConfig(LessonConfig):
    height: int = Field(90, ge=1, le=MAX_SIDE, description="input height (the lecture's example: 90 x 90 x 10)")
    width: int = Field(90, ge=1, le=MAX_SIDE, description="input width")
    channels: int = Field(10, ge=1, le=MAX_SIDE, description="input channels")
    layers: str = Field("conv 5 k3 s1 p1", max_length=MAX_SPEC_CHARS,
                        description=f"the stack, one layer per comma: {SYNTAX}. Defaults: k3 s1 p0 d1; a pool's "
                                    "stride is its window")
    model: Literal[tuple(ARCHITECTURES)] = Field(
        "vgg16", description="the real architecture whose layers are tabled and drawn (all four are summarised)")
    parts: list[PartName] = Field(["calculator", "models", "stacks", "receptive"], min_length=1,
                                  description="which experiments to run (receptive reads the stacks' trained nets)")
    dataset: Literal["digits", "mnist"] = Field("digits", description="the stacks' training data: digits (8x8, "
                                                "seconds) or the shipped MNIST subset (28x28, 8000 images)")
    stacks: choices(STACKS, "stack") = Field(DEFAULT_STACKS, description="blocks trained side by side: small "
                                             "filters stacked vs one large filter (and without the extra ReLU)")
    block_channels: int = Field(16, ge=2, le=64, description="C: channels in and out of every block conv "
                                "(weights 18C^2 / 25C^2 / 27C^2 / 49C^2)")
    # 3 (was 5), by cost: the stacks' training is 70% of the default run, which took 11.8 s idle at 5
    epochs: int = Field(3, ge=1, le=50, description="training epochs of every stack")
    batch_size: int = Field(64, ge=8, le=512, description="images per step")
    lr: float = Field(0.02, gt=0.0, le=0.5, description="Adam learning rate, the same for every stack")
    seeds: int = Field(MIN_SEEDS, ge=1, le=5, description=f"training seeds (seed, seed + 1, ...); a comparison "
                       f"is decided over {MIN_SEEDS} or more")
    unit_layer: int = Field(3, ge=1, le=4, description="the unit whose receptive field is drawn: its conv layer "
                            "in the first stack's net (1: the stem)")
    unit_row: int = Field(4, ge=0, le=27, description="the unit's row (same padding: the input's row)")
    unit_col: int = Field(4, ge=0, le=27, description="the unit's column")

    @field_validator("parts")
    @classmethod
    def _receptive_needs_stacks(cls, parts: list[str]) -> list[str]:
        if "receptive" in parts and "stacks" not in parts:
            raise ValueError("receptive reads the nets that stacks trains; add stacks")
        return parts

    @field_validator("layers")
    @classmethod
    def _layers_fit(cls, spec: str, info: ValidationInfo) -> str:
        """The spec parses and every layer fits its input (SpecError, a ValueError: one line)."""
        layers = parse_spec(spec)
        if all(k in info.data for k in ("height", "width", "channels")):
            stack_rows(Shape(info.data["height"], info.data["width"], info.data["channels"]), layers)
        return spec

    @field_validator("unit_layer")
    @classmethod
    def _layer_exists(cls, layer: int, info: ValidationInfo) -> int:
        stacks = info.data.get("stacks")
        if stacks:
            convs = 1 + len(STACKS[stacks[0]].block)
            if layer > convs:
                raise ValueError(f"the net of {stacks[0]!r} has {convs} convs (1: the stem)")
        return layer

    @field_validator("unit_row", "unit_col")
    @classmethod
    def _inside_image(cls, value: int, info: ValidationInfo) -> int:
        dataset = info.data.get("dataset")
        if dataset is not None and value >= dataset_shape(dataset).size:
            size = dataset_shape(dataset).size
            raise ValueError(f"{dataset} images are {size}x{size}, so 0..{size - 1}")
        return value

    @property
    def input_shape(self) -> Shape:
        return Shape(self.height, self.width, self.channels)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def training_key(self) -> str:
        """Every setting that changes the trained stacks (the calculator's and the unit's do not)."""
        return self.model_dump_json(include={"dataset", "stacks", "block_channels", "epochs", "batch_size", "lr",
                                             "seeds", "seed"})

    def cost_seconds(self) -> float:
        cost = 0.05  # the calculator: arithmetic, and torch's count on the meta device
        if "models" in self.parts:
            cost += FIRST_COUNT_S
        if "stacks" in self.parts:
            shape = dataset_shape(self.dataset)
            pixels, c = shape.size * shape.size, self.block_channels
            steps = math.ceil(shape.n_train / self.batch_size) * self.epochs
            for name in self.stacks:
                macs = pixels * (STEM_KERNEL ** 2 * shape.channels * c + STACKS[name].weights(c)) + c * shape.classes
                # forward + backward ~ 6 flops per multiply-add; the first seed's curve is evaluated
                # EVALS_PER_RUN + 1 times, the other seeds' nets once (their final accuracy)
                evaluations = EVALS_PER_RUN + 1 + (self.seeds - 1)
                cost += (self.seeds * steps * (gflop_seconds(6 * macs * self.batch_size) + STEP_OVERHEAD_S)
                         + gflop_seconds(2 * macs * shape.n_test) * evaluations)
        return cost
