"""One BatchNorm layer up close: running statistics, train vs eval mode, the formulas.

The layer normalises real feature maps: the digits (or shapes) pushed through one fixed,
seeded random conv (``channels`` maps, each with its own mean and variance), so "the data
statistics" are known exactly: the per-channel mean and variance over the whole training set.

>>> r = running_stats(batch_size=32, steps=5, momentum=0.1, channels=4, seed=0)
>>> len(r.mean_error), len(r.running_mean[0])
(6, 4)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Generator

import torch
from torch import nn

from cnnbp.data import lesson_dataset
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.base import result_of

EPS = 1e-5  # BatchNorm2d's default epsilon
# Fixed before any run, never tuned to a result:
CONVERGED = 0.1  # running stats "converged": mean within 0.1 data std and variance within 10%
# A run that has not converged by 1.5x the steps the update rule needs has failed to (noise keeps
# the averages off); before that it is too short to tell.
RULE_MARGIN = 1.5
# "Equal" for a float32 layer against a float64 formula: float32 carries ~7 digits, and the
# statistics of thousands of values whose mean is far from 0 lose up to 3 of them. Relative
# to the larger of 1 and the compared values' scale.
EQUAL_TOL = 1e-4
DIFFER = 1e-3  # train and eval outputs "differ" when they are apart by more than this (relative)
HEARTBEAT_STEPS = 10  # minibatches between two heartbeats of the running statistics


@torch.no_grad()
def feature_maps(x: torch.Tensor, *, channels: int, seed: int) -> torch.Tensor:
    """(N, C_in, H, W) images -> (N, channels, H, W) maps of a fixed random 3x3 conv with a
    random bias: every channel has a different mean and spread."""
    g = make_generator(derive_seed(seed, "bn-features"))
    conv = nn.Conv2d(x.shape[1], channels, 3, padding=1)
    conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / 3.0)
    conv.bias.copy_(2.0 * torch.randn(channels, generator=g))
    return conv(x)


def data_stats(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (population) variance over N, H, W: (C,), (C,)."""
    return f.mean(dim=(0, 2, 3)), f.var(dim=(0, 2, 3), unbiased=False)


@dataclass
class RunningStats:
    momentum: float
    batch_size: int
    data_mean: list[float]  # per channel, over the whole training set
    data_var: list[float]
    steps: list[int] = field(default_factory=list)  # 0 (the initial 0 / 1) and every step
    running_mean: list[list[float]] = field(default_factory=list)  # [step][channel]
    running_var: list[list[float]] = field(default_factory=list)
    mean_error: list[float] = field(default_factory=list)  # max over channels |rm - mu| / sigma
    var_error: list[float] = field(default_factory=list)  # max over channels |rv / var - 1|
    expected_mean_error: list[float] = field(default_factory=list)  # (1 - m)^t x the start error

    def converged_at(self, tolerance: float) -> int | None:
        """The first step from which both errors stay below ``tolerance``; None if never."""
        at = None
        for s, a, b in zip(self.steps, self.mean_error, self.var_error):
            if a <= tolerance and b <= tolerance:
                at = s if at is None else at
            else:
                at = None
        return at

    @property
    def converged_step(self) -> int | None:
        """The step from which the running statistics stay within ``CONVERGED``; None if never."""
        return self.converged_at(CONVERGED)

    @property
    def rule_steps(self) -> int:
        """Steps the update rule needs to bring the start's larger error within ``CONVERGED``:
        the error decays as (1 - momentum)^step (batch noise aside)."""
        start = max(self.mean_error[0], self.var_error[0])
        if start <= CONVERGED:
            return 0
        if self.momentum >= 1.0:
            return 1
        return math.ceil(math.log(CONVERGED / start) / math.log(1.0 - self.momentum))

    @property
    def converges(self) -> bool | None:
        """Converged (True); not by ``RULE_MARGIN`` x the rule's steps (False); None: the run
        ended before that, too short to tell."""
        if self.converged_step is not None:
            return True
        return False if self.steps[-1] >= RULE_MARGIN * self.rule_steps else None


def running_stats(*, batch_size: int, steps: int, momentum: float, channels: int, seed: int,
                  dataset: str = "digits") -> RunningStats:
    """Feed ``steps`` shuffled training minibatches through a BatchNorm2d in train mode and
    record its running mean and variance after each."""
    return result_of(running_stats_steps(batch_size=batch_size, steps=steps, momentum=momentum, channels=channels,
                                         seed=seed, dataset=dataset))


@torch.no_grad()
def running_stats_steps(*, batch_size: int, steps: int, momentum: float, channels: int, seed: int,
                        dataset: str = "digits") -> Generator[float, None, RunningStats]:
    """:func:`running_stats`, yielding how far it is every ``HEARTBEAT_STEPS`` minibatches (each
    normalises a batch of the whole training set's feature maps: about 10 ms)."""
    f = feature_maps(lesson_dataset(dataset, seed=seed).x_train, channels=channels, seed=seed)
    mu, var = data_stats(f)
    sigma = var.sqrt()
    bn = nn.BatchNorm2d(channels, momentum=momentum).train()
    g = make_generator(derive_seed(seed, "bn-order"))
    out = RunningStats(momentum=momentum, batch_size=batch_size, data_mean=mu.tolist(), data_var=var.tolist())
    start_error = float((mu.abs() / sigma).max())

    def record(step: int) -> None:
        out.steps.append(step)
        out.running_mean.append(bn.running_mean.tolist())
        out.running_var.append(bn.running_var.tolist())
        out.mean_error.append(float(((bn.running_mean - mu).abs() / sigma).max()))
        out.var_error.append(float((bn.running_var / var - 1).abs().max()))
        out.expected_mean_error.append(start_error * (1 - momentum) ** step)

    record(0)
    order = torch.randperm(len(f), generator=g)
    for step in range(1, steps + 1):
        i = ((step - 1) * batch_size) % len(f)
        if i + batch_size > len(f):  # a new pass over the data, a new order
            order = torch.randperm(len(f), generator=g)
            i = 0
        bn(f[order[i:i + batch_size]])
        record(step)
        if step % HEARTBEAT_STEPS == 0:
            yield step / steps
    return out


@dataclass
class ModeChecks:
    """Maximum absolute differences on one test batch (plain numbers), and a sample of points."""

    batch: int
    train_vs_eval: float  # the same input, train mode vs eval mode
    eval_vs_formula: float  # eval output vs gamma (x - running_mean) / sqrt(running_var + eps) + beta
    train_vs_formula: float  # train output vs the same formula with this batch's mean and (biased) var
    identity: float  # gamma = sqrt(batch var + eps), beta = batch mean: output vs input
    same_image_other_batch: float  # train mode: image 0's output in two different batches
    same_image_other_batch_eval: float  # the same in eval mode (0: eval is per image)
    output_scale: float  # max |eval output|, the scale the differences are measured against
    input_scale: float  # max |x|
    sample_eval: list[float] = field(default_factory=list)  # a few hundred output values, both modes
    sample_train: list[float] = field(default_factory=list)

    @property
    def equal_line(self) -> float:
        """Outputs "equal" within this (relative to their scale)."""
        return EQUAL_TOL * max(1.0, self.output_scale)

    @property
    def differ_line(self) -> float:
        return DIFFER * max(1.0, self.output_scale)

    @property
    def identity_line(self) -> float:
        return EQUAL_TOL * max(1.0, self.input_scale)

    @property
    def modes_differ(self) -> bool:
        """Train mode and eval mode give different outputs for the same batch."""
        return self.train_vs_eval > self.differ_line

    @property
    def eval_is_formula(self) -> bool:
        """Eval mode is gamma (x - running_mean) / sqrt(running_var + eps) + beta."""
        return self.eval_vs_formula <= self.equal_line

    @property
    def eval_uses_running_stats(self) -> bool:
        """The lecture's claim: train and eval differ, and eval is the running-statistics formula."""
        return self.modes_differ and self.eval_is_formula

    @property
    def train_is_formula(self) -> bool:
        return self.train_vs_formula <= self.equal_line

    @property
    def identity_holds(self) -> bool:
        """gamma = sigma, beta = mu give back the input."""
        return self.identity <= self.identity_line


@torch.no_grad()
def mode_checks(stats: RunningStats, *, batch_size: int, channels: int, seed: int, dataset: str = "digits",
                sample: int = 400) -> ModeChecks:
    """Every train/eval comparison on a test batch, for a BN whose running statistics are
    ``stats``'s last ones and whose gamma, beta are drawn away from 1, 0 (a trained layer's
    are; with 1, 0 the formula checks would skip half the formula)."""
    data = lesson_dataset(dataset, seed=seed)
    b = max(2, min(batch_size, len(data.x_test) // 2))  # two disjoint test batches
    x = feature_maps(data.x_test[:b], channels=channels, seed=seed)  # (B, C, H, W)
    other = feature_maps(data.x_test[b:2 * b], channels=channels, seed=seed)
    g = make_generator(derive_seed(seed, "bn-affine"))
    bn = nn.BatchNorm2d(channels, momentum=stats.momentum)
    bn.running_mean.copy_(torch.tensor(stats.running_mean[-1]))
    bn.running_var.copy_(torch.tensor(stats.running_var[-1]))
    bn.weight.copy_(torch.rand(channels, generator=g) + 0.5)
    bn.bias.copy_(torch.randn(channels, generator=g))
    y_eval = bn.eval()(x)
    y_train = copy.deepcopy(bn).train()(x)  # a copy: a train-mode forward moves the running stats
    # The references in float64, so a difference is BatchNorm2d's own float32 rounding.
    x64 = x.double()
    gamma, beta = bn.weight.double()[None, :, None, None], bn.bias.double()[None, :, None, None]
    rm, rv = bn.running_mean.double()[None, :, None, None], bn.running_var.double()[None, :, None, None]
    formula_eval = gamma * (x64 - rm) / torch.sqrt(rv + EPS) + beta
    bm = x64.mean(dim=(0, 2, 3), keepdim=True)
    bv = x64.var(dim=(0, 2, 3), unbiased=False, keepdim=True)  # normalising uses the biased variance
    formula_train = gamma * (x64 - bm) / torch.sqrt(bv + EPS) + beta

    ident = copy.deepcopy(bn).train()
    ident.weight.copy_(torch.sqrt(bv.flatten() + EPS))  # gamma = sigma (with BN's eps inside)
    ident.bias.copy_(bm.flatten())  # beta = mu
    y_ident = ident(x)

    mixed = torch.cat([x[:1], other[1:]])  # image 0 with other companions
    train0 = copy.deepcopy(bn).train()(mixed)[0] - y_train[0]
    eval0 = bn(mixed)[0] - y_eval[0]
    idx = torch.randperm(y_eval.numel(), generator=g)[:sample]
    return ModeChecks(
        batch=len(x), train_vs_eval=float((y_train - y_eval).abs().max()),
        eval_vs_formula=float((y_eval - formula_eval).abs().max()),
        train_vs_formula=float((y_train - formula_train).abs().max()),
        identity=float((y_ident - x).abs().max()),
        same_image_other_batch=float(train0.abs().max()), same_image_other_batch_eval=float(eval0.abs().max()),
        output_scale=float(y_eval.abs().max()), input_scale=float(x.abs().max()),
        sample_eval=y_eval.flatten()[idx].tolist(), sample_train=y_train.flatten()[idx].tolist())
