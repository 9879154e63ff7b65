"""First-layer filters: how smooth they are, as one number.

The lecture: noisy filters mean the net needs more training. We measure smoothness as the
correlation between horizontally and vertically neighbouring weights of the same filter and
input channel (each filter's mean removed): about 0 (slightly below, from removing the mean)
for independent random weights, towards 1 for smooth blobs and edges.

>>> smooth = torch.tensor([[[[1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0]]]])
>>> round(neighbour_correlation(smooth), 3)  # by hand: 8 / 14 (a ramp, mean removed)
0.571
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from cnnbp.lessons.visualise.estimate import Estimate, estimate


def neighbour_correlation(weights: torch.Tensor) -> float:
    """Pooled Pearson correlation of neighbouring weights; ``weights`` (F, C, k, k), k >= 2."""
    if weights.ndim != 4 or weights.shape[-1] < 2 or weights.shape[-2] < 2:
        raise ValueError(f"weights must be (F, C, k, k) with k >= 2, got {tuple(weights.shape)}")
    w = weights.double()
    w = w - w.mean(dim=(2, 3), keepdim=True)  # each filter's own level does not count as smoothness
    pairs = [(w[..., :, :-1], w[..., :, 1:]), (w[..., :-1, :], w[..., 1:, :])]  # horizontal, vertical
    a = torch.cat([p[0].flatten() for p in pairs])
    b = torch.cat([p[1].flatten() for p in pairs])
    denom = float(torch.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / denom if denom > 0 else 0.0


@dataclass(frozen=True)
class Smoothing:
    """Neighbour correlation of the first-layer filters at init and after training, one pair per
    model (models trained alike at other seeds): how much training smoothed them, with its spread."""

    init: list[float]
    trained: list[float]

    @property
    def change(self) -> Estimate:
        return estimate([t - i for i, t in zip(self.init, self.trained)])

    @property
    def smoother(self) -> bool | None:
        """True when the whole 95% interval of the change is above 0, False when below, None
        when it holds 0 or one model gives no interval."""
        return self.change.positive


def smoothing(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Smoothing:
    """``pairs``: (init, trained) first-layer weights of each model."""
    return Smoothing([neighbour_correlation(i) for i, _ in pairs], [neighbour_correlation(t) for _, t in pairs])
