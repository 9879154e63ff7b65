"""The activations lesson's settings, their bounds and the cost estimate behind the refusal."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import AliasChoices, Field

from cnnbp.data import LESSON_SET_CHOICES, lesson_shape
from cnnbp.lessons.activations.outcome import MIN_SEEDS
from cnnbp.lessons.activations.race import PROBE_IMAGES, Variant, matched_init
from cnnbp.lessons.activations.selu import MLP_BATCH, PAIRS
from cnnbp.lessons.activations.zero_centred import MINIBATCH
from cnnbp.lessons.base import LessonConfig, choice, choices, gflop_seconds
from cnnbp.nn import small_cnn_macs
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.nn.inits import INITS

PartName = Literal["functions", "zero_centred", "selu", "race", "dead"]
PART_NAMES: tuple[str, ...] = get_args(PartName)
# The default run: every part but the dead units' high-rate training (its nets were 5 of the 14
# CNNs, about 5 s idle), one tick away; with it the run took 13 s, over a lecture's 10 s.
DEFAULT_PARTS: tuple[str, ...] = ("functions", "zero_centred", "selu", "race")
INIT_CHOICES = {"matched": None, **INITS}  # "matched": Xavier for sigmoid/tanh/SELU, Kaiming otherwise
# The estimate counts 3x SmallCNN's multiply-adds: what the lesson's own formula counted before
# cnnbp.nn owned them (every conv at full resolution and width), so the refusal bounds stay put.
MARGIN = 3.0


class ActivationsConfig(LessonConfig):
    parts: list[PartName] = Field(list(DEFAULT_PARTS), min_length=1, description="which experiments to run "
                                  "(dead: the dead units at a too-large rate, about 5 s more)")
    functions: choices(ACTIVATIONS, "activation") = Field(
        list(ACTIVATIONS), description="activations to plot with their derivatives")
    x_range: float = Field(12.0, ge=1.0, le=50.0, description="plot x from -x_range to x_range "
                           "(12: the lecture's x = -10 and 10 in view)")
    saturation: float = Field(0.1, gt=0.0, lt=1.0, description="shade where |f'(x)| is below this share "
                              "of its peak (0.1: the gradient is cut 10x, the registry's line)")
    leaky_slope: float = Field(0.01, gt=0.0, le=1.0, description="Leaky ReLU slope for x < 0 (lecture: 0.01)")
    elu_alpha: float = Field(1.0, gt=0.0, le=5.0, description="ELU alpha (lecture: 1)")
    swish_beta: float = Field(1.0, gt=0.0, le=10.0, description="Swish beta (1: SiLU)")
    fan_in: int = Field(16, ge=2, le=1024, description="inputs of the neuron whose gradient signs we count")
    samples: int = Field(1024, ge=MINIBATCH, le=65_536,
                         description=f"samples for the sign count ({MINIBATCH} per minibatch)")
    zigzag_steps: int = Field(60, ge=5, le=1000, description="SGD steps of the 2-weight problem")
    # Per-sample SGD on U(0, 2) inputs is stable while lr < 2 / max|x|^2 = 0.25.
    zigzag_lr: float = Field(0.1, gt=0.0, le=0.25, description="SGD learning rate of the 2-weight problem")
    mlp_depth: int = Field(30, ge=2, le=100, description="layers of the deep MLP (SELU part)")
    mlp_width: int = Field(256, ge=16, le=2048, description="units per layer of the deep MLP",
                           json_schema_extra={"step": 16})
    activations: choices(ACTIVATIONS, "activation") = Field(
        ["sigmoid", "tanh", "relu", "leaky_relu", "elu"],
        validation_alias=AliasChoices("activations", "activation"),
        description="activations racing on the CNN (include relu for the ratios)")
    init: choice(INIT_CHOICES, "init") = Field(
        "matched", description="CNN init; matched: Xavier for sigmoid/tanh/SELU, Kaiming otherwise")
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "digits", description="CNN training data (shapes: 32x32 RGB, 16x the pixels: fewer epochs or "
                                "variants; mnist, fashion_mnist: 28x28 grey, 12x; or your upload)")
    cnn_depth: int = Field(4, ge=1, le=8, description="CNN conv layers")
    cnn_width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer")
    epochs: int = Field(6, ge=1, le=30, description="CNN training epochs")
    batch_size: int = Field(64, ge=8, le=512, description="CNN minibatch size")
    lr: float = Field(0.05, gt=0.0, le=2.0, description="SGD learning rate (momentum 0.9) of the race")
    target_accuracy: float = Field(0.8, gt=0.0, le=1.0, description="test accuracy the race is to")
    # 3: every 7 steps on the digits at batch 64 (was 6, every 3 steps: a fifth of the default run
    # went to evaluating); the claims keep 6 (activations/claims.py)
    evals_per_epoch: int = Field(3, ge=1, le=12, description="test accuracy so many times an epoch: steps to the "
                                 "target are read at these points (more: finer, slower)")
    dead_activations: choices(ACTIVATIONS, "activation") = Field(
        ["relu", "leaky_relu", "elu"], description="activations trained at both rates (dead units)")
    dead_lr: float = Field(0.5, gt=0.0, le=5.0, description="the too-large learning rate (default: 10x lr)")
    seeds: int = Field(MIN_SEEDS, ge=1, le=5, description=f"seeds the CNN verdicts are decided over: this seed "
                       f"and the next ones (the figures draw this one; fewer than {MIN_SEEDS} cannot decide)")

    def variants(self) -> list[Variant]:
        """The CNNs to train: the race at ``lr`` and the dead-unit pairs at ``lr`` and ``dead_lr``,
        drawn (their dead units at every evaluation where the dead-unit figure draws them, at the
        end for the table otherwise); at each further seed only the nets the verdicts read, and only
        what they read: ReLU and sigmoid at ``lr`` (if both race) until they reach the target, ReLU
        at ``lr`` and ``dead_lr`` (if ReLU is among the dead-unit activations) its final dead share."""
        wanted, speed_nets, dead_nets = [], [], []
        if "race" in self.parts:
            wanted += [(a, self.lr) for a in self.activations]
            if {"relu", "sigmoid"} <= set(self.activations):
                speed_nets = [("relu", self.lr), ("sigmoid", self.lr)]
        if "dead" in self.parts:
            wanted += [(a, lr) for a in self.dead_activations for lr in (self.lr, self.dead_lr)]
            if "relu" in self.dead_activations and self.dead_lr > self.lr:
                dead_nets = [("relu", self.lr), ("relu", self.dead_lr)]
        init = lambda a: matched_init(a) if self.init == "matched" else self.init  # noqa: E731
        drawn_dead = self.dead_activations if "dead" in self.parts else []
        drawn = [Variant(a, lr, init(a), self.seed, dead="every" if a in drawn_dead else "end")
                 for a, lr in dict.fromkeys(wanted)]
        further = [Variant(a, lr, init(a), seed, accuracy="until" if (a, lr) in speed_nets else "end",
                           dead="end" if (a, lr) in dead_nets else "never")
                   for seed in range(self.seed + 1, self.seed + self.seeds)
                   for a, lr in dict.fromkeys(speed_nets + dead_nets)]
        return drawn + further

    def options(self) -> dict[str, dict[str, float]]:
        """Activation name -> its options (the same in every part)."""
        return {"leaky_relu": {"slope": self.leaky_slope}, "elu": {"alpha": self.elu_alpha},
                "swish": {"beta": self.swish_beta}}

    def total_steps(self) -> int:
        """Training steps of every CNN: whole minibatches of the training split, per epoch."""
        n_train = lesson_shape(self.dataset).n_train
        return -(-n_train // min(self.batch_size, n_train)) * self.epochs

    def eval_every(self) -> int:
        return max(1, self.total_steps() // self.epochs // self.evals_per_epoch)

    def cost_seconds(self) -> float:
        cost = 0.0
        if "selu" in self.parts:  # forward only: 2 flops per weight per sample
            cost += gflop_seconds(len(PAIRS) * 2 * self.mlp_depth * self.mlp_width**2 * MLP_BATCH)
        variants = self.variants()
        if variants:
            shape = lesson_shape(self.dataset)
            pieces = max(get_act(v.activation).width_factor for v in variants)
            macs = small_cnn_macs(in_channels=shape.channels, image_size=shape.size, depth=self.cnn_depth,
                                  width=self.cnn_width, num_classes=shape.classes)
            per_image = 6 * macs * pieces * MARGIN  # forward + backward: ~6 flops per multiply-add
            train = per_image * shape.n_train * self.epochs
            # an evaluation is a forward (a third of a step) of the test set or of the probe images
            evaluations = {"every": (self.evals_per_epoch + 1) * self.epochs,
                           "until": (self.evals_per_epoch + 1) * self.epochs,
                           "end": 1, "never": 0}
            images = lambda v: (shape.n_test * evaluations[v.accuracy]  # noqa: E731
                                + PROBE_IMAGES * evaluations[v.dead])
            cost += gflop_seconds(sum(train + per_image / 3 * images(v) for v in variants))
        return cost
