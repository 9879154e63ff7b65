"""Feature maps of one image, and the filters that are never active over a whole dataset.

The lecture: looking at activations is "useful to debug dead filters (e.g. with ReLU)". A
channel is *dead* here when its output is exactly zero at every position of every image
we show it (the ReLU never opens), so it passes no signal and gets no gradient.
"""

from __future__ import annotations

import torch

from cnnbp.lessons.visualise.model import layer_outputs
from cnnbp.nn import SmallCNN


@torch.no_grad()
def feature_maps(model: SmallCNN, image: torch.Tensor) -> list[torch.Tensor]:
    """Every conv block's output for one image (C, H, W): list of (C_l, H_l, W_l)."""
    return [o[0] for o in layer_outputs(model, image.unsqueeze(0))]


@torch.no_grad()
def channel_peaks(model: SmallCNN, x: torch.Tensor, *, batch_size: int = 512) -> list[torch.Tensor]:
    """Per layer, (N, C_l): each channel's largest output over the positions of each image."""
    peaks: list[list[torch.Tensor]] = []
    for start in range(0, len(x), batch_size):
        outs = layer_outputs(model, x[start:start + batch_size])
        if not peaks:
            peaks = [[] for _ in outs]
        for store, o in zip(peaks, outs):
            store.append(o.amax(dim=(2, 3)))
    return [torch.cat(p) for p in peaks]


def dead_channels(peaks: list[torch.Tensor]) -> list[list[int]]:
    """Per layer, the channels whose output is <= 0 on every image and position.

    >>> dead_channels([torch.tensor([[0.0, 1.0], [0.0, 0.0]])])
    [[0]]
    """
    return [[int(c) for c in (p.amax(dim=0) <= 0).nonzero().flatten()] for p in peaks]
