"""The dataset images that most excite one channel, and where in each image it looked.

A channel's response to an image is its largest output over positions; the unit at that
position sees only its receptive field, so we crop that box out of the image (the lecture's
"activation values and receptive fields", AlexNet's pool5 figure).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnbp.lessons.visualise.model import layer_outputs, receptive_field
from cnnbp.nn import SmallCNN


@dataclass
class TopImage:
    index: int  # into the images searched
    activation: float
    unit: tuple[int, int]  # (row, col) of the strongest unit in the layer's map
    box: tuple[int, int, int, int]  # (top, left, bottom, right) inclusive, in input pixels


@torch.no_grad()
def top_images(model: SmallCNN, x: torch.Tensor, *, layer: int, channel: int, k: int,
               batch_size: int = 512) -> list[TopImage]:
    """The ``k`` images of ``x`` (N, C, H, W) with the largest response of ``channel`` in conv
    block ``layer`` (1-based), strongest first, with the receptive-field box of the unit."""
    rf = receptive_field(model, layer)
    best_val, best_pos = [], []
    for start in range(0, len(x), batch_size):
        maps = layer_outputs(model, x[start:start + batch_size])[layer - 1]
        if not 0 <= channel < maps.shape[1]:
            raise ValueError(f"channel ({channel}) must be below the {maps.shape[1]} channels of conv{layer}")
        flat = maps[:, channel].flatten(1)  # (B, H_l * W_l)
        val, pos = flat.max(dim=1)
        best_val.append(val)
        best_pos.append(pos)
        width = maps.shape[3]
    val, pos = torch.cat(best_val), torch.cat(best_pos)
    order = torch.argsort(val, descending=True, stable=True)[:k]
    size = (x.shape[2], x.shape[3])
    out = []
    for i in order.tolist():
        unit = (int(pos[i]) // width, int(pos[i]) % width)
        out.append(TopImage(index=i, activation=float(val[i]), unit=unit, box=rf.box(*unit, size)))
    return out
