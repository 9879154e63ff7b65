"""The dropout lesson's settings, their bounds, and the job's estimated cost.

**Which p.** ``p`` is the **drop** probability, as ``torch.nn.Dropout(p)``; the lecture's
test-time factor is then the keep probability ``1 - p`` (its slide reads p both ways; the two
readings agree only at p = 0.5).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from cnnbp.data import dataset_shape
from cnnbp.lessons.base import LessonConfig, choices
from cnnbp.lessons.dropout.training import EVALS_PER_RUN, MIN_SEEDS, dropout_net_macs

DIGITS = dataset_shape("digits")  # every part of the lesson runs on the digits
PartName = Literal["masks", "expectation", "regularisation", "mc"]
PART_NAMES: tuple[str, ...] = ("masks", "expectation", "regularisation", "mc")
# Drop probabilities offered for the keep-fraction plot and the nets trained side by side.
DROP_PROBS = {f"{p:g}": p for p in (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)}
MASK_COLS = 16  # hidden units are drawn as rows of 16
KEEP_PASSES = 1000  # passes of the hidden layer whose masks are counted for the share kept

# Seconds, measured on the 2-core development machine with other work beside it (the lesson
# runs on one thread; defaults: 14 s estimated, 6-11 s measured):
MASK_ENTRY_S = 1e-8  # per mask entry drawn and applied (expectation: passes x images x hidden)
STEP_OVERHEAD_S = {"mlp": 1e-3, "cnn": 2e-3}  # per training step of the stacked nets, one thread
GFLOPS_ONE_THREAD = 10.0  # what one thread sustains on their small matmuls


class DropoutConfig(LessonConfig):
    parts: list[PartName] = Field(list(PART_NAMES), min_length=1, description="which experiments to run")
    p: float = Field(0.5, ge=0.0, le=0.95, description="drop probability (torch's p) of the masks and expectation "
                     "parts; the lecture's test-time factor is the keep probability 1 - p")
    hidden: int = Field(256, ge=16, le=1024, description="hidden units of the lecture's net "
                        "f = W2 max(0, W1 x + b1) + b2 (drawn as rows of 16)", json_schema_extra={"step": 16})
    mask_passes: int = Field(4, ge=1, le=8, description="training passes whose masks are shown")
    images: int = Field(32, ge=1, le=DIGITS.n_test, description="test digits fed through the lecture's net")
    passes: int = Field(1000, ge=10, le=20_000, description="training passes averaged for the expectation "
                        "(the sampling error falls as 1/sqrt(passes))")
    drop_probs: choices(DROP_PROBS, "drop probability") = Field(
        ["0", "0.25", "0.5", "0.75"], description="drop probabilities: one net each, trained side by side "
        "(include 0 for the gap without dropout)")
    arch: Literal["mlp", "cnn"] = Field("mlp", description="mlp: digits' 64 pixels -> hidden layers; cnn: two "
                                        "conv blocks first; dropout after every hidden layer either way")
    width: int = Field(128, ge=16, le=1024, description="units per hidden layer", json_schema_extra={"step": 16})
    depth: int = Field(2, ge=1, le=4, description="hidden layers, each followed by ReLU and dropout")
    train_images: int = Field(100, ge=20, le=DIGITS.n_train, description="training subset, balanced over the 10 "
                              "digits (small: the plain net overfits)")
    # 160 (was 200), by cost: with the curves redrawn at a tenth the default run measured 0.86x (9.3-10.3 CPU s
    # idle before), not enough for 8.5 s on the slower run; 160 epochs cut the training's 800 steps to 640
    epochs: int = Field(160, ge=1, le=1000, description="passes over the subset (many: it is small)")
    batch_size: int = Field(32, ge=4, le=256, description="minibatch size")
    lr: float = Field(0.01, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9)")
    seeds: int = Field(MIN_SEEDS, ge=1, le=5, description=f"training seeds (seed, seed + 1, ...): every p trained "
                       f"at each; the curves show the first; whether dropout narrows the gap is decided over "
                       f"{MIN_SEEDS} or more")
    mc_passes: int = Field(100, ge=1, le=2000, description="stochastic passes averaged by MC dropout")

    @model_validator(mode="after")
    def _consistent(self) -> "DropoutConfig":
        if self.hidden % MASK_COLS:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of {MASK_COLS} (masks are drawn as "
                             f"rows of {MASK_COLS} units)")
        if "mc" in self.parts and "regularisation" not in self.parts:
            raise ValueError("parts: mc averages the nets that regularisation trains; add regularisation")
        if "mc" in self.parts and all(DROP_PROBS[p] == 0 for p in self.drop_probs):
            raise ValueError("drop_probs: mc needs a net with dropout; add a drop probability above 0")
        if self.batch_size > self.train_images:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed train_images ({self.train_images})")
        return self

    @property
    def ps(self) -> list[float]:
        return [DROP_PROBS[p] for p in self.drop_probs]

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def steps(self) -> int:
        return self.epochs * math.ceil(self.train_images / self.batch_size)

    def cost_seconds(self) -> float:
        cost = 0.0
        if "masks" in self.parts:
            cost += MASK_ENTRY_S * (len(self.ps) + 1) * KEEP_PASSES * self.hidden
        if "expectation" in self.parts:
            cost += MASK_ENTRY_S * 3 * self.passes * self.images * self.hidden
        flops_per_image = 2 * dropout_net_macs((DIGITS.channels, DIGITS.size, DIGITS.size), DIGITS.classes,
                                               arch=self.arch, width=self.width, depth=self.depth)
        image_s = flops_per_image / (GFLOPS_ONE_THREAD * 1e9)  # one image's forward pass, one thread
        if "regularisation" in self.parts:  # every net steps in one stacked model: one overhead a step
            nets = len(self.ps) * self.seeds
            train = self.steps() * (STEP_OVERHEAD_S[self.arch] + 3 * image_s * self.batch_size * nets)
            evals = (EVALS_PER_RUN + 1) * (self.train_images + DIGITS.n_test) * image_s * nets
            cost += train + evals
        if "mc" in self.parts:
            cost += len(self.ps) * self.mc_passes * DIGITS.n_test * image_s
        return cost
