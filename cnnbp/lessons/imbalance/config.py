"""The label-imbalance lesson's settings, their bounds, and the job's estimated cost."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cnnbp.data import LESSON_SET_CHOICES, dataset_label
from cnnbp.lessons.base import LessonConfig, choice, choices, gflop_seconds
from cnnbp.lessons.imbalance.data import class_counts, empty_class_message, image_shape, pool_counts
from cnnbp.lessons.imbalance.scoring import MIN_SEEDS
from cnnbp.lessons.imbalance.training import CNN_DEPTH, CNN_WIDTH, LECTURE_METHODS, METHODS, TRAIN_THREADS
from cnnbp.nn import small_cnn_macs

STEP_OVERHEAD_S = 0.002  # python + optimiser per step of a tiny CNN on 2 cores (measured ~2 ms; stacked: once)
TOTAL_THREADS = 2  # what gflop_seconds assumes; the methods train on TRAIN_THREADS of them


class ImbalanceConfig(LessonConfig):
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "digits", description="digits (8x8, 10 classes), shapes (16x16 RGB, 4 classes), mnist or "
                                "fashion_mnist (28x28, 10 classes), or your upload")
    task: Literal["binary", "multiclass"] = Field(
        "binary", description="binary: the rare class vs the rest (a rare disease); multiclass: a long tail")
    rare_class: int = Field(8, ge=0, le=9, description="binary: the positive, rare class; multiclass: the tail "
                            "(8: it shares strokes with 3, 5, 9 and 0; past a set's classes: its last class)")
    ratio: float = Field(50.0, ge=1.0, le=500.0, description="majority : minority images (binary: rest : rare; "
                         "multiclass: head : tail). 50: 26 rare digits against 1298")
    test_set: Literal["balanced", "same_ratio"] = Field(
        "balanced", description="the test set of the figures (the table shows both, where the same-ratio one "
                                "leaves every class an image)")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="decide the rare class when its probability is at "
                             "least this; moving it re-scores the trained models at once",
                             json_schema_extra={"step": 0.01})
    methods: choices(METHODS, "method") = Field(list(LECTURE_METHODS), description="fixes to train side by side "
                                                "(by default the lecture's; effective number and focal loss too)")
    # 100 (was 300, then 120), by cost: the default run took 9.2-9.6 s idle at 120, within 10% of the 10 s line
    steps: int = Field(100, ge=10, le=5000, description="optimisation steps per method (the same for all: "
                       "same compute; 100 keeps the default run under 10 s on 2 cores)")
    batch_size: int = Field(64, ge=8, le=512, description="images per step")
    lr: float = Field(0.05, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9)")
    beta: float = Field(0.999, ge=0.0, lt=1.0, description="effective-number beta (Cui et al.: 0.999; 0: no "
                        "reweighting, towards 1: inverse frequency)")
    gamma: float = Field(2.0, ge=0.0, le=5.0, description="focal-loss gamma (Lin et al.: 2; 0: cross-entropy)")
    seeds: int = Field(MIN_SEEDS, ge=1, le=5, description=f"training seeds (seed, seed + 1, ...): every method "
                       f"trained at each; the figures show the first; a fix's effect is decided over {MIN_SEEDS} "
                       f"or more")

    @model_validator(mode="after")
    def _every_class_has_images(self) -> "ImbalanceConfig":
        train, test, names = pool_counts(self.dataset)
        message = empty_class_message(self.train_counts(), names, where="training", ratio=self.ratio, pool=train)
        if message is None and self.test_set == "same_ratio":
            counts = class_counts(test, task=self.task, rare=self.rare, ratio=self.ratio)
            message = empty_class_message(counts, names, where="same-ratio test", ratio=self.ratio, pool=test)
            message = message and message + " or choose test_set balanced"
        if message:
            raise ValueError(message)
        return self

    def train_counts(self) -> tuple[int, ...]:
        return class_counts(pool_counts(self.dataset)[0], task=self.task, rare=self.rare, ratio=self.ratio)

    @property
    def rare(self) -> int:
        """The rare class trained on: ``rare_class``, or the set's last class when it has fewer classes
        (the default 8 on a 4-class set or a 3-class upload); :meth:`rare_note` says so."""
        return min(self.rare_class, len(pool_counts(self.dataset)[2]) - 1)

    def rare_note(self) -> str:
        """'' when ``rare_class`` is trained as chosen, else the line that says which class is rare instead."""
        names = pool_counts(self.dataset)[2]
        if self.rare == self.rare_class:
            return ""
        return (f"rare_class {self.rare_class} is past the {len(names)} classes of {dataset_label(self.dataset)}: "
                f"its last class, {names[self.rare]} ({self.rare}), is the rare one")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def training_key(self) -> str:
        """Every setting that changes the trained models: all but the threshold."""
        return self.model_dump_json(exclude={"threshold"})

    def run_key(self, seed: int) -> str:
        """The training settings of the run at one ``seed`` (runs at seeds that two requests share
        are trained once)."""
        return self.model_copy(update={"seed": seed}).model_dump_json(exclude={"threshold", "seeds"})

    def cost_seconds(self) -> float:
        channels, size, classes = image_shape(self.dataset, task=self.task)
        macs = small_cnn_macs(in_channels=channels, image_size=size, depth=CNN_DEPTH, width=CNN_WIDTH,
                              num_classes=classes)
        # forward + backward ~ 6 flops per multiply-add, on TRAIN_THREADS of the cores gflop_seconds assumes
        # the methods of one seed step as one stacked model: the overhead once a step, the flops per method
        flops = gflop_seconds(6 * macs * self.batch_size) * TOTAL_THREADS / TRAIN_THREADS
        return (flops * len(self.methods) + STEP_OVERHEAD_S) * self.steps * self.seeds
