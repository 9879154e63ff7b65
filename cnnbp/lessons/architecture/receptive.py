"""The receptive field of one unit, drawn on an image: the theoretical field from the calculator's
recurrence, and the effective one of a trained net, measured by gradients (Luo et al. 2016): the
mean over test images of |d unit / d input|, where the unit's value is the sum over its channels
at (row, col) of a conv layer's output. No pixel outside the theoretical field can move the unit,
so its gradient there is exactly 0; inside, the gradient gathers towards the centre.

>>> net = StackNet(1, 10, channels=4, block=STACKS["3x3 x2"].block, seed=0)
>>> images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
>>> erf = effective_field(net, images, stack="3x3 x2", layer=3, row=0, col=7)
>>> erf.rows, erf.cols, erf.inside
((0, 3), (4, 7), 1.0)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from cnnbp.lessons.architecture.layers import Shape, stack_rows
from cnnbp.lessons.architecture.stacks import STACKS, StackNet


@dataclass
class EffectiveField:
    layer: int  # 1-based among the net's convs (1: the stem)
    row: int
    col: int
    size: int  # the theoretical field's side
    rows: tuple[int, int]  # the theoretical field clipped to the image: first and last row
    cols: tuple[int, int]
    gradient: list[list[float]]  # (H, W) mean |d unit / d input| over the images, over channels
    inside: float  # share of the gradient mass inside the theoretical field (1 unless a bug)
    centre: float  # share inside the field's central 3x3 (or smaller) window
    centre_area: float  # that window's share of the field's (clipped) area: the uniform expectation


def theoretical_field(stack: str, channels: int, image: Shape, layer: int, row: int, col: int
                      ) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """(side, (first, last) rows, (first, last) cols) of the field of unit (row, col) of conv ``layer``."""
    r = stack_rows(image, STACKS[stack].layers(channels))[layer - 1]
    (top, bottom), (left, right) = r.region(row, col)
    clip = lambda lo, hi, n: (max(0, int(lo)), min(n - 1, int(hi)))  # noqa: E731  (padding is not the image)
    return r.rf_size[0], clip(top, bottom, image.height), clip(left, right, image.width)


def _unit(net: StackNet, x: torch.Tensor, layer: int, row: int, col: int) -> torch.Tensor:
    """(N,): the sum over channels at (row, col) of conv ``layer``'s output (after its ReLU, if any)."""
    seen = 0
    for module in [*net.stem, *net.block]:
        if seen == layer and not isinstance(module, torch.nn.ReLU):
            break
        x = module(x)
        seen += isinstance(module, torch.nn.Conv2d)
    return x[:, :, row, col].sum(dim=1)


def effective_field(net: StackNet, images: torch.Tensor, *, stack: str, layer: int, row: int, col: int
                    ) -> EffectiveField:
    """Mean |d unit / d input| over ``images`` (N, C, H, W), beside the theoretical field."""
    x = images.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        _unit(net, x, layer, row, col).sum().backward()
    grad = x.grad.abs().mean(dim=0).sum(dim=0)  # (H, W)
    channels = net.head.in_features
    size, rows, cols = theoretical_field(stack, channels, Shape(x.shape[2], x.shape[3], x.shape[1]), layer, row, col)
    total = float(grad.sum()) or 1.0
    inside = float(grad[rows[0]:rows[1] + 1, cols[0]:cols[1] + 1].sum()) / total
    half = min(1, (size - 1) // 2)  # the central 3x3 window (1x1 for a 1-pixel field)
    centre_rows = (max(rows[0], row - half), min(rows[1], row + half))
    centre_cols = (max(cols[0], col - half), min(cols[1], col + half))
    centre = float(grad[centre_rows[0]:centre_rows[1] + 1, centre_cols[0]:centre_cols[1] + 1].sum()) / total
    area = (rows[1] - rows[0] + 1) * (cols[1] - cols[0] + 1)
    centre_area = (centre_rows[1] - centre_rows[0] + 1) * (centre_cols[1] - centre_cols[0] + 1) / area
    return EffectiveField(layer, row, col, size, rows, cols, grad.tolist(), inside, centre, centre_area)


@functools.lru_cache(maxsize=16)
def gradient_support(kernels: tuple[int, ...]) -> int:
    """The side of the input window that reaches the centre unit of a chain of stride-1 convs, found
    by gradients (all-ones weights, no biases, no activation: nothing inside the field cancels).

    >>> gradient_support((3, 3)), gradient_support((5,)), gradient_support((3, 3, 3))
    (5, 5, 7)
    """
    side = 2 * sum(k - 1 for k in kernels) + 1  # room on every side
    x = torch.ones(1, 1, side, side, requires_grad=True)
    y = x
    for k in kernels:
        y = torch.nn.functional.conv2d(y, torch.ones(1, 1, k, k), padding=k // 2)
    y[0, 0, side // 2, side // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1))
    return int(rows.max() - rows.min() + 1)
