"""MC dropout: average many stochastic passes of a trained net and compare with its eval pass.

The lecture's reading: each mask picks a sub-network, so dropout trains "an ensemble of
neural networks that share parameters", and the eval pass (no masks, inverted scaling) stands
in for that ensemble's average. Here we average the softmax of ``k`` masked passes and watch
its distance to the eval pass's softmax as ``k`` grows. The distance falls like a sampling
error at first and then levels off: with ReLUs between dropout layers the eval pass is only an
approximation of the ensemble's average (exact only for a single dropout layer followed by
something linear, and for the logits, not the softmax).

>>> from cnnbp.lessons.dropout.training import DropoutNet
>>> net = DropoutNet((1, 8, 8), 10, arch="mlp", width=16, depth=1, p=0.5, seed=0)
>>> r = mc_average(net, torch.ones(5, 1, 8, 8), torch.arange(5), passes=8, seed=0)
>>> r.ks, len(r.distance)
([1, 2, 3, 4, 5, 6, 7, 8], 8)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Generator

import torch
from torch import nn

from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.base import result_of
from cnnbp.lessons.dropout.masks import SeededDropout
from cnnbp.lessons.dropout.mechanics import checkpoints


@dataclass
class MCResult:
    """Distance and accuracy of the average of ``k`` stochastic passes, at each ``k``."""

    ks: list[int]
    # mean over test images of the total variation distance (1/2 sum |P_k - P_eval|, in [0, 1])
    distance: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)  # of the averaged softmax's argmax
    eval_accuracy: float = 0.0
    single_pass_accuracy: float = 0.0  # mean accuracy of one stochastic pass
    agreement: list[float] = field(default_factory=list)  # share of images where MC and eval predict alike

    @property
    def approaches(self) -> bool:
        """The average of all the passes is closer to the eval pass than one pass is."""
        return self.distance[-1] < self.distance[0]

    @property
    def levels_off(self) -> bool:
        """Pure sampling noise would shrink like 1/sqrt(k); more than twice that line at the last
        k means the average converges to something other than the eval pass."""
        return self.distance[-1] > 2 * self.distance[0] / math.sqrt(self.ks[-1])


def _share(hits: torch.Tensor) -> float:
    """Exact share of True (a count over the size, as ``train.evaluate`` computes accuracy)."""
    return int(hits.sum()) / len(hits)


def mc_average(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, passes: int, seed: int,
               points: int = 16) -> MCResult:
    """``passes`` masked passes of ``model`` on ``x``, masks from the streams ``(seed, "mc", p, i)``.

    Only the dropout layers are put in training mode; the model's mode and generators are
    restored afterwards (so this does not disturb a later training step's masks).
    """
    return result_of(mc_steps(model, x, y, passes=passes, seed=seed, points=points))


@torch.no_grad()
def mc_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, passes: int, seed: int,
             points: int = 16) -> Generator[float, None, MCResult]:
    """:func:`mc_average`, yielding how far it is at each averaged ``k`` (a net's passes are one 0.2-0.3 s
    stretch otherwise); the model is restored when it ends or is closed."""
    dropouts = [m for m in model.modules() if isinstance(m, SeededDropout)]
    if not dropouts:
        raise ValueError("mc_average needs a model with SeededDropout layers")
    was_training, saved = model.training, [m.generator for m in dropouts]
    device = x.device
    model.eval()
    try:
        p_eval = model(x).softmax(1)  # (N, classes)
        for i, m in enumerate(dropouts):
            m.generator = make_generator(derive_seed(seed, "mc", m.p, i), device=device)
            m.train()
        result = MCResult(ks=checkpoints(passes, points=points),
                          eval_accuracy=_share(p_eval.argmax(1) == y))
        total, single, done = torch.zeros_like(p_eval), 0.0, 0
        for k in result.ks:
            while done < k:
                probs = model(x).softmax(1)
                single += _share(probs.argmax(1) == y)
                total += probs
                done += 1
            avg = total / k
            result.distance.append(float(0.5 * (avg - p_eval).abs().sum(1).mean()))
            result.accuracy.append(_share(avg.argmax(1) == y))
            result.agreement.append(_share(avg.argmax(1) == p_eval.argmax(1)))
            yield k / passes
        result.single_pass_accuracy = single / passes
        return result
    finally:
        for m, g in zip(dropouts, saved):
            m.generator = g
        model.train(was_training)
