"""Flips that change the label: the share of flipped test images a trained model calls by
another name (a mirrored 2 is no digit; a 6 turned upside down reads as a 9).

>>> [name for name, _ in FLIPS]
['none', 'horizontal', 'vertical', 'both (180 deg)']
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cnnbp.lessons.augment.training import probabilities

FLIPS = (("none", ()), ("horizontal", (-1,)), ("vertical", (-2,)), ("both (180 deg)", (-2, -1)))


@dataclass
class FlipResult:
    classes: list[str]
    other_name: dict[str, float]  # flip -> share of test images predicted as another class
    per_class: dict[str, list[float]]  # flip -> that share for each true class
    read_as: dict[str, list[str]]  # flip -> each class's most common prediction after the flip
    images: int


@torch.no_grad()
def flipped_names(model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: list[str]) -> FlipResult:
    other, per_class, read_as = {}, {}, {}
    for name, dims in FLIPS:
        pred = probabilities(model, x.flip(dims) if dims else x).argmax(1)
        wrong = pred != y
        other[name] = float(wrong.double().mean())
        per_class[name] = [float(wrong[y == c].double().mean()) for c in range(len(classes))]
        read_as[name] = [classes[int(pred[y == c].mode().values)] for c in range(len(classes))]
    return FlipResult(list(classes), other, per_class, read_as, len(x))
