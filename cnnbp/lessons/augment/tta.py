"""Test-time augmentation: the average of a model's softmax over a fixed set of views.

The lecture's ResNet example resizes the image to 5 scales and takes 10 crops of each (the 4
corners and the centre, and their mirror images). Scaled down to 28-pixel images: at each scale
below 1, the 5 crops of that share of the side, each resized back to the whole image; at scale
1 the image itself; and the mirror image of every view where a flip keeps the label.

>>> [v.name for v in tta_views([1.0, 0.8], flips=False)]
['whole', '0.8 centre', '0.8 top-left', '0.8 top-right', '0.8 bottom-left', '0.8 bottom-right']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.lessons.augment.augmentations import crop_box, warp
from cnnbp.lessons.base import result_of

POSITIONS = {"centre": (0, 0), "top-left": (-1, -1), "top-right": (1, -1), "bottom-left": (-1, 1),
             "bottom-right": (1, 1)}
# Fixed before any run: TTA "raises" accuracy by half a point (5 of 1,000 test images) or more,
# "lowers" it by as much; in between it ties.
TIE_BAND = 0.005


@dataclass(frozen=True)
class View:
    name: str
    scale: float  # share of the side kept
    position: str
    flip: bool

    def matrix(self) -> torch.Tensor:
        """(1, 3, 3): output -> input coordinates of the crop, resized to the whole image."""
        dx, dy = POSITIONS[self.position]
        s = torch.tensor([self.scale], dtype=torch.float64)
        m = crop_box(s, s, dx * (1 - s), dy * (1 - s))
        if self.flip:
            m[:, 0, 0] *= -1
        return m


def tta_views(scales: Sequence[float], *, flips: bool) -> list[View]:
    views = []
    for scale in scales:
        for position in (["centre"] if scale == 1.0 else POSITIONS):
            name = "whole" if scale == 1.0 else f"{scale:g} {position}"
            views.append(View(name, scale, position, False))
    if flips:
        views += [View(f"{v.name} flipped", v.scale, v.position, True) for v in views]
    return views


@dataclass
class ViewPredictions:
    views: list[str]
    probabilities: torch.Tensor  # (V, N, classes) softmax of each view
    forward_passes: int  # images through the model for these views (a view passed in ``known`` counts too)

    @property
    def average(self) -> torch.Tensor:
        """(N, classes): the mean of the views' softmax."""
        return self.probabilities.mean(0)


@torch.no_grad()
def predict_views(model: nn.Module, x: torch.Tensor, views: Sequence[View], *, batch_size: int = 1000,
                  whole: torch.Tensor | None = None) -> ViewPredictions:
    """Every view of every image through ``model`` in eval mode. ``whole``: the (N, classes)
    softmax of the unchanged images, if the caller has it already (the net's own test prediction):
    the whole view then costs no second pass here, though it still counts as TTA's cost."""
    return result_of(view_steps(model, x, views, batch_size=batch_size, whole=whole))


@torch.no_grad()  # a prediction: no graph to keep
def view_steps(model: nn.Module, x: torch.Tensor, views: Sequence[View], *, batch_size: int = 1000,
               whole: torch.Tensor | None = None) -> Generator[float, None, ViewPredictions]:
    """:func:`predict_views`, yielding how far it is after each view (a net's views are a 0.4-0.5 s stretch)."""
    model.eval()
    out, passes = [], 0
    for view in views:
        passes += len(x)
        if whole is not None and view.scale == 1.0 and not view.flip:
            out.append(whole)
            yield len(out) / len(views)
            continue
        probs = []
        for i in range(0, len(x), batch_size):
            seen = x[i:i + batch_size]
            if view.scale < 1.0 or view.flip:  # a crop resized back: "border", no zeros from outside the image
                seen = warp(seen, view.matrix().expand(len(seen), 3, 3), padding="border")
            probs.append(F.softmax(model(seen), dim=1))
        out.append(torch.cat(probs))
        yield len(out) / len(views)
    return ViewPredictions([v.name for v in views], torch.stack(out), passes)


def accuracy(probabilities: torch.Tensor, y: torch.Tensor) -> float:
    return float((probabilities.argmax(1) == y).double().mean())


@dataclass
class TTAResult:
    """Per seed: accuracy of the whole image alone and of the views' average."""

    seeds: list[int]
    single: list[float]
    tta: list[float]
    views: int
    forward_passes: int  # per model, all test images

    @property
    def changes(self) -> list[float]:
        # rounded: accuracies are counts over the test images, and 0.2 - 0.205 must read as -0.005
        return [round(b - a, 9) for a, b in zip(self.single, self.tta)]

    @property
    def outcome(self) -> str:
        """raises / ties / lowers on every seed, else "mixed"; the band is TIE_BAND."""
        kinds = {"raises" if d >= TIE_BAND else "lowers" if d <= -TIE_BAND else "ties" for d in self.changes}
        if kinds <= {"raises", "ties"}:
            return kinds.pop() if len(kinds) == 1 else "raises or ties"
        return "lowers" if kinds == {"lowers"} else "mixed"

    @property
    def raises_or_ties(self) -> bool | None:
        """The claim: True unless TTA lowers accuracy on some seed; False where it lowers it on every
        seed; None where seeds disagree that way, or fewer than 3 seeds."""
        if len(self.seeds) < 3:
            return None
        return {"raises": True, "ties": True, "raises or ties": True, "lowers": False}.get(self.outcome)
