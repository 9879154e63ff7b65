"""The batchnorm lesson's settings, their bounds and the cost estimate behind the refusal."""

from __future__ import annotations

from typing import Iterable, Literal

from pydantic import Field, model_validator

from cnnbp.data import LESSON_SET_CHOICES, lesson_shape
from cnnbp.lessons.activations.race import matched_init
from cnnbp.lessons.base import LessonConfig, choice, gflop_seconds
from cnnbp.lessons.batchnorm.training import EVALS_PER_EPOCH, MIN_SEEDS, Run, Variant
from cnnbp.nn import small_cnn_macs
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.nn.inits import INITS

PartName = Literal["modes", "robustness", "placement", "folding"]
PART_NAMES: tuple[str, ...] = ("modes", "robustness", "placement", "folding")
# The default run: every part but placement (BN after the nonlinearity: its own stacked net at every
# step), one tick away; chosen by cost: with it the run took 9.4-9.6 s idle, within 5% of the 10 s line,
# without it 0.81x the CPU seconds (interleaved, one process).
DEFAULT_PARTS: tuple[str, ...] = tuple(p for p in PART_NAMES if p != "placement")
Position = Literal["before_act", "after_act"]

# Seconds a training step or an evaluation of a tiny net costs whatever its flops (Python and
# kernel-launch overhead; ~5 ms measured per step of the default net on one thread).
STEP_OVERHEAD_S = 0.004
# The estimate before issue 11 counted every conv at the first layer's width and full resolution:
# 3.1x SmallCNN's multiply-adds on the default net (the default net itself runs at about
# NOMINAL_GFLOPS: 3.1-3.6 ms a step on one thread). Kept, so that the jobs refused stay the ones
# refused; the estimate is conservative by that much.
MARGIN = 3.0
# The single layer's steps are memory-bound, not flop-bound: gathering a shuffled minibatch of
# feature maps and normalising it measured 2-12 ns a value on one thread (the shapes at batch
# 512 and 32-64 channels: 4-7.5 ns, ~0.1-0.2 s a step), not the ~1 ns of 40 flops at NOMINAL_GFLOPS.
MODES_S_PER_VALUE = 5e-9


class BatchNormConfig(LessonConfig):
    parts: list[PartName] = Field(list(DEFAULT_PARTS), min_length=1, description="which experiments to run "
                                  "(placement: BN after the nonlinearity too, one more CNN, about 1.5 s more)")
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "digits", description="data (shapes: 32x32 RGB, 16x the pixels: fewer epochs; mnist, "
                                "fashion_mnist: 28x28 grey, 12x; or your upload)")
    bn_momentum: float = Field(0.1, gt=0.0, le=1.0, description="BN running-statistics momentum "
                               "(PyTorch's default 0.1: running = 0.9 running + 0.1 batch)")
    stat_steps: int = Field(100, ge=5, le=2000, description="minibatches fed to the single BN layer")
    stat_channels: int = Field(8, ge=1, le=64, description="channels of the single BN layer")
    depth: int = Field(4, ge=1, le=8, description="CNN conv layers")
    width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer")
    activation: choice(ACTIVATIONS, "activation") = Field("relu", description="CNN activation")
    norm_position: Position = Field(
        "before_act", description="where BN sits in the trained BN nets (lecture: before the nonlinearity); "
                                  "the placement part also trains the other")
    bad_init: choice(INITS, "init") = Field(
        "normal_0.01", description="the bad init (lecture: small random numbers, std 0.01)")
    # 3 (was 6, then 4), by cost: training is ~85% of the default run, which took 11.7 s idle at 4
    epochs: int = Field(3, ge=1, le=30, description="training epochs")
    batch_size: int = Field(64, ge=4, le=512, description="training minibatch (and the single layer's batch)")
    lr: float = Field(0.05, gt=0.0, le=2.0, description="SGD learning rate (momentum 0.9)")
    high_lr: float = Field(0.5, gt=0.0, le=5.0, description="the high learning rate (default: 10x lr)")
    target_accuracy: float = Field(0.8, gt=0.0, le=1.0, description="test accuracy to reach")
    seeds: int = Field(MIN_SEEDS, ge=1, le=5, description=(
        f"seeds each with/without-BN race runs at (seed, seed + 1, ...; the figures draw the first); a race is "
        f"decided over {MIN_SEEDS} or more, all agreeing"))
    bug_batch: int = Field(8, ge=1, le=256, description="small test batch for the evaluate-in-train-mode bug")
    fold_batch: int = Field(256, ge=1, le=4096, description="images per forward when timing the folded net")
    fold_repeats: int = Field(40, ge=3, le=500, description="timed forwards of each net, side by side (the "
                              "median speedup and its 95% interval reported; 6 or more give an interval)")

    @model_validator(mode="after")
    def _robustness_compares_something(self) -> "BatchNormConfig":
        if "robustness" in self.parts and self.high_lr <= self.lr:
            raise ValueError(f"high_lr ({self.high_lr:g}) must be larger than lr ({self.lr:g})")
        if "robustness" in self.parts and f"{self.high_lr:g}" == f"{self.lr:g}":  # nets are named by their rate
            raise ValueError(f"high_lr ({self.high_lr!r}) must differ from lr ({self.lr!r}) in its first 6 digits")
        if "robustness" in self.parts and self.bad_init == self.good_init:
            raise ValueError(f"bad_init ({self.bad_init}) is the good init for {self.activation}, the reference; "
                             "choose another (e.g. normal_0.01)")
        return self

    @property
    def good_init(self) -> str:
        """The init made for the activation (Kaiming for ReLU-like, Xavier for tanh/sigmoid/SELU)."""
        return matched_init(self.activation)

    @property
    def other_position(self) -> str:
        return "after_act" if self.norm_position == "before_act" else "before_act"

    @property
    def total_steps(self) -> int:
        """Training steps of every CNN: minibatches an epoch x epochs."""
        n_train = lesson_shape(self.dataset).n_train
        return -(-n_train // min(self.batch_size, n_train)) * self.epochs

    @property
    def eval_every(self) -> int:
        """Steps between two evaluations of the test accuracy."""
        return max(1, self.total_steps // self.epochs // EVALS_PER_EPOCH)

    def pairs(self) -> dict[str, tuple[Variant, Variant]]:
        """The (no BN, BN) pairs: the good-init reference at lr, and with "robustness" the bad
        init at lr and the good init at high_lr."""
        good, pos = self.good_init, self.norm_position

        def pair(scenario: str, init: str, lr: float) -> tuple[Variant, Variant]:
            return Variant(scenario, "none", init, lr), Variant(scenario, "batch", init, lr, pos)

        out = {"reference": pair(f"good init ({good}), lr {self.lr:g}", good, self.lr)}
        if "robustness" in self.parts:
            out["bad init"] = pair(f"bad init ({self.bad_init}), lr {self.lr:g}", self.bad_init, self.lr)
            out["high lr"] = pair(f"high lr {self.high_lr:g}, {good}", good, self.high_lr)
        return out

    def variants(self) -> list[Variant]:
        """The CNNs to train at the first seed: the pairs, and BN at the other position."""
        if not {"robustness", "placement"} & set(self.parts):
            return []
        out = [v for pair in self.pairs().values() for v in pair]
        return out + [self.placement_variant()] if "placement" in self.parts else out

    def placement_variant(self) -> Variant:
        """The reference BN net with BN at the other position."""
        ref = self.pairs()["reference"][1]
        return Variant(ref.scenario, "batch", ref.init, ref.lr, self.other_position)

    def runs(self) -> list[Run]:
        """Every variant at the first seed, to the last step (the figures draw them); the races
        (bad init, high lr) again at each further seed."""
        races = [name for name in self.pairs() if name != "reference"]
        return [Run(v, self.seed) for v in self.variants()] + self.further_runs(races)

    def further_runs(self, races: Iterable[str]) -> list[Run]:
        """The pairs of ``races`` (keys of :meth:`pairs`) at each seed after the first, each net
        trained only until its race is decided (see :class:`Run`)."""
        pairs, target = self.pairs(), self.target_accuracy
        return [run for k in range(1, self.seeds) for name in races for run in (
            Run(pairs[name][0], self.seed + k, until=target, twin=pairs[name][1]),
            Run(pairs[name][1], self.seed + k, until=target))]

    def cost_seconds(self) -> float:
        shape = lesson_shape(self.dataset)
        macs = small_cnn_macs(in_channels=shape.channels, image_size=shape.size, depth=self.depth,
                              width=self.width, num_classes=shape.classes)
        # forward + backward ~ 6 flops a multiply-add; a forward alone 2
        per_image = 6 * macs * get_act(self.activation).width_factor * MARGIN
        cost = 0.0
        nets = len(self.runs())  # the further seeds' nets counted to the last step: an upper bound
        if nets:
            train = per_image * shape.n_train * self.epochs
            evals = per_image / 3 * shape.n_test * (EVALS_PER_EPOCH * self.epochs + 1)
            bug = per_image / 3 * shape.n_test * 7
            cost += gflop_seconds((train + evals) * nets + bug)
            # small nets are bound by per-call overhead, not flops: a fixed cost per step and evaluation
            steps = self.total_steps
            # nets of one architecture and learning rate step as one stacked model: one overhead a step
            stacks = len({(r.variant.norm, r.variant.norm_position, r.variant.lr) for r in self.runs()})
            cost += STEP_OVERHEAD_S * (stacks * steps + nets * (EVALS_PER_EPOCH * self.epochs + 1))
        if "modes" in self.parts:  # a minibatch gathered from the feature maps and one BN on it, every step
            cost += MODES_S_PER_VALUE * self.stat_steps * self.batch_size * shape.size**2 * self.stat_channels
        if "folding" in self.parts:  # calibration pass + 3 nets x (repeats + 1) forwards of the batch
            cost += gflop_seconds(per_image / 3 * (shape.n_train + 3 * (self.fold_repeats + 1) * self.fold_batch))
        return cost
