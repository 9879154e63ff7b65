"""InstanceNorm's contrast invariance (Ulyanov et al., the lecture's feed-forward stylisation).

Change an image's contrast, x -> a x + b, and push both versions through the same first conv
layer and then each norm. A conv is linear, so every feature map becomes a_c' = a * map + (its
own constant): a per-(image, channel) affine change, which InstanceNorm removes exactly (up to
its eps). BatchNorm in eval uses fixed running statistics (here fitted on training images), so
its output moves with the contrast. LayerNorm and GroupNorm pool channels whose constants
differ, so they remove the scale but not the shift.

No clipping to [0, 1]: the change must stay affine for the argument to hold; the verdict says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator
from cnnbp.nn import create_norm

CONV_CHANNELS = 8  # first-layer feature maps; GroupNorm takes 4 groups of 2
NORMS_SHOWN: tuple[str, ...] = ("none", "batch", "layer", "instance", "group")
GROUPS = 4
# The lines, fixed before any run, from the size of the effect. BatchNorm in eval is the control:
# its statistics are fixed, so its output moves with the contrast, by ~1 on outputs of order 1.
# Below CHANGED_ABOVE the contrast change barely moves it: nothing to be invariant to, cannot tell.
# InstanceNorm removes the change exactly but for eps (1e-5 added to each map's variance: with
# eps = 0 what is left is float rounding, ~1e-6). "Invariant" means it keeps less than
# INVARIANT_RATIO of the control's change: an order of magnitude. A norm that removes only the
# scale (LayerNorm, GroupNorm) or nothing keeps about half of it or more; eps's share grows as a
# map's variance falls towards eps (flat backgrounds, a strong contrast cut).
CHANGED_ABOVE = 0.1
INVARIANT_RATIO = 0.1
TRAIN_IMAGES = 256  # the lesson fits BatchNorm's running statistics on the first 256 training images
PROBE_IMAGES = 64  # and changes the contrast of the first 64 test images


@dataclass
class ContrastResult:
    scale: float
    shift: float
    change: dict[str, float]  # norm -> max abs change of its output over the probe images
    relative_change: dict[str, float]  # norm -> that change / the output's std
    image: list[list[float]]  # the first probe image, channel 0, before ...
    image_changed: list[list[float]]  # ... and after the contrast change
    maps: dict[str, list[list[list[float]]]]  # norm -> [before, after] of feature map 0, image 0
    instance_without_eps: float | None  # InstanceNorm's change with eps = 0 (None: a flat map)

    @property
    def ratio(self) -> float | None:
        """InstanceNorm's change over the control's (BatchNorm in eval); None: the control did not move."""
        return self.change["instance"] / self.change["batch"] if self.change["batch"] > CHANGED_ABOVE else None

    @property
    def invariant(self) -> bool | None:
        """The claim: InstanceNorm keeps less than INVARIANT_RATIO of the change BatchNorm (in
        eval) shows; None: the contrast change barely moved BatchNorm, so nothing to tell."""
        return None if self.ratio is None else self.ratio < INVARIANT_RATIO


def first_layer(in_channels: int, *, seed: int) -> nn.Conv2d:
    """A 3x3 conv with Kaiming-scaled weights and small biases from the run's own stream.

    Replicate padding, not zeros: padded zeros do not take part in the contrast change, so the
    border outputs would not move by the same affine map as the rest of the feature map."""
    conv = nn.Conv2d(in_channels, CONV_CHANNELS, 3, padding=1, padding_mode="replicate")
    g = make_generator(derive_seed(seed, "contrast-conv"))
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * math.sqrt(2 / (in_channels * 9)))
        conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=g))
    return conv


def fitted_norms(features: torch.Tensor) -> dict[str, nn.Module]:
    """Each norm in eval mode; BatchNorm's running statistics set by one training-mode pass
    over ``features`` with a cumulative average (momentum None): the data's own statistics."""
    norms = {name: create_norm(name, CONV_CHANNELS, **({"groups": GROUPS} if name == "group" else {}))
             for name in NORMS_SHOWN}
    norms["batch"].momentum = None
    with torch.no_grad():
        norms["batch"].train()(features)
    return {name: m.eval() for name, m in norms.items()}


def contrast_invariance(train_images: torch.Tensor, probe_images: torch.Tensor, *, scale: float, shift: float,
                        seed: int) -> ContrastResult:
    """Max abs change of each norm's output when ``probe_images`` (M, C, H, W) become
    ``scale * x + shift``; BatchNorm's statistics come from ``train_images``."""
    conv = first_layer(train_images.shape[1], seed=seed)
    with torch.no_grad():
        norms = fitted_norms(conv(train_images))
        before_feats, after_feats = conv(probe_images), conv(scale * probe_images + shift)
        change, relative, maps = {}, {}, {}
        for name, norm in norms.items():
            before, after = norm(before_feats), norm(after_feats)
            change[name] = float((after - before).abs().max())
            relative[name] = change[name] / max(float(before.std()), 1e-12)
            maps[name] = [before[0, 0].tolist(), after[0, 0].tolist()]
        # eps = 0: what is left of InstanceNorm's change is float rounding, not the contrast
        no_eps = (F.instance_norm(after_feats, eps=0.0) - F.instance_norm(before_feats, eps=0.0)).abs().max()
    return ContrastResult(scale=scale, shift=shift, change=change, relative_change=relative,
                          image=probe_images[0, 0].tolist(),
                          image_changed=(scale * probe_images[0, 0] + shift).tolist(),
                          maps=maps, instance_without_eps=float(no_eps) if torch.isfinite(no_eps) else None)


def contrast_on_dataset(data: ImageDataset, *, scale: float, shift: float, seed: int) -> ContrastResult:
    """:func:`contrast_invariance` as the lesson and its claim run it on a dataset."""
    return contrast_invariance(data.x_train[:TRAIN_IMAGES], data.x_test[:PROBE_IMAGES], scale=scale, shift=shift,
                               seed=seed)
