"""Batch size 1 and BatchNorm: what PyTorch does, and why (the lecture: the variance of one
sample is 0, x_norm = (x - m) / s carries nothing).

Three measurements:

1. A fully connected BatchNorm (N x D) in training on one sample: PyTorch refuses it. We catch
   the error and report its message.
2. The lecture's formula by hand on that one sample: m = x, so x - m = 0 for every feature and
   the output is beta whatever the input; the gradient reaching the input is 0.
3. BatchNorm2d on conv features (1, C, H, W): PyTorch accepts it, because each channel still
   has H x W values; the statistics are then one image's own, i.e. InstanceNorm in training
   (measured: max abs difference), and eval mode switches to running averages of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.device import derive_seed, make_generator

FEATURES = 8  # D of the fully connected example
MAP = (8, 4, 4)  # (C, H, W) of the conv example


@dataclass
class BatchOneResult:
    refused: bool  # PyTorch refused BatchNorm1d training on one sample
    error: str | None  # its message, word for word
    centred_max: float  # max |x - m| over the features of the one sample (0: nothing left)
    variance_max: float  # max per-feature variance of the one sample (0)
    output_spread: float  # max over features of the output's range across 4 different inputs
    input_grad_max: float  # max |d loss / d x| through the normalisation of one sample
    conv_accepted: bool  # BatchNorm2d on (1, C, H, W) ran
    conv_vs_instance: float | None  # max abs diff from InstanceNorm on the same map

    @property
    def degenerate(self) -> bool:
        """The lecture's formula on one sample leaves nothing: x - m, the variance and the spread
        of the outputs of four different samples are all exactly 0."""
        return self.centred_max == 0.0 and self.variance_max == 0.0 and self.output_spread == 0.0

    @property
    def breaks_batchnorm(self) -> bool:
        """The claim: PyTorch refuses to train on one sample, and by hand nothing is left."""
        return self.refused and self.degenerate


def batch_one(*, seed: int) -> BatchOneResult:
    g = make_generator(derive_seed(seed, "batch-one"))
    x = torch.randn(1, FEATURES, generator=g)
    refused, error = False, None
    try:
        nn.BatchNorm1d(FEATURES).train()(x)
    except ValueError as err:  # what a training step at batch size 1 would raise
        refused, error = True, str(err)

    # The lecture's formula, by hand, over the batch axis of a batch of one.
    xs = x.clone().requires_grad_(True)
    m, var = xs.mean(0, keepdim=True), xs.var(0, unbiased=False, keepdim=True)
    y = (xs - m) / torch.sqrt(var + 1e-5)
    (grad,) = torch.autograd.grad((y * torch.randn(y.shape, generator=g)).sum(), xs)
    outs = []
    for _ in range(4):  # four unrelated samples, each normalised alone: the same output
        xi = torch.randn(1, FEATURES, generator=g) * 5 + 3
        outs.append((xi - xi.mean(0)) / torch.sqrt(xi.var(0, unbiased=False) + 1e-5))
    outs = torch.cat(outs)  # (4, D)
    spread = float((outs.amax(0) - outs.amin(0)).max())

    conv_x = torch.randn(1, *MAP, generator=g)
    conv_accepted, conv_diff = True, None
    try:
        with torch.no_grad():
            out = nn.BatchNorm2d(MAP[0]).train()(conv_x)
        conv_diff = float((out - F.instance_norm(conv_x)).abs().max())
    except ValueError:
        conv_accepted = False
    return BatchOneResult(refused=refused, error=error, centred_max=float((x - x.mean(0)).abs().max()),
                          variance_max=float(x.var(0, unbiased=False).max()), output_spread=spread,
                          input_grad_max=float(grad.abs().max()), conv_accepted=conv_accepted,
                          conv_vs_instance=conv_diff)
