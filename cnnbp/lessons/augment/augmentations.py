"""Data augmentation on a whole batch tensor, on its device, every image with its own draw.

torchvision's ``transforms.v2`` classes draw their parameters from torch's global random state
(no generator argument) and, given a batch tensor, apply one draw to every image in it. Here each
augmentation draws one parameter per image from the run's own ``torch.Generator`` (a named
stream) and applies them all at once: the geometric ones as one ``affine_grid`` + ``grid_sample``
per run of consecutive geometric augmentations (their matrices multiplied), the photometric ones
as per-image factors, the policies (RandAugment, TrivialAugment, AugMix) through ``transforms.v2``'s
own operations on the sub-batches that drew the same operation. Tests check each against
``transforms.v2.functional`` on one image.

``strength`` in [0, 1] scales every augmentation's range (rotate: up to 30 x strength degrees).

>>> g = torch.Generator().manual_seed(0)
>>> augment(torch.rand(4, 1, 28, 28), ["rotate", "translate"], strength=0.5, generator=g).shape
torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

Kind = Literal["geometric", "elastic", "photometric", "policy", "mix"]
# Rec. 601 luma, as transforms.v2's rgb_to_grayscale, for contrast and saturation
LUMA = (0.2989, 0.587, 0.114)


@dataclass(frozen=True)
class Augmentation:
    name: str
    v2: str  # the transforms.v2 class it stands for
    detail: str  # its range at a strength (filled in by ``describe``)
    kind: Kind
    rgb_only: bool = False  # saturation needs three channels


AUGMENTATIONS: dict[str, Augmentation] = {a.name: a for a in (
    Augmentation("hflip", "RandomHorizontalFlip", "p 0.5", "geometric"),
    Augmentation("vflip", "RandomVerticalFlip", "p 0.5", "geometric"),
    Augmentation("crop", "RandomResizedCrop", "area {crop_min:.0%}-100%", "geometric"),
    Augmentation("translate", "RandomAffine", "translate up to {shift:.0%}", "geometric"),
    Augmentation("rotate", "RandomRotation", "up to {degrees:.0f} deg", "geometric"),
    Augmentation("shear", "RandomAffine", "shear up to {shear:.0f} deg", "geometric"),
    Augmentation("elastic", "ElasticTransform", "alpha {alpha:.0f}", "elastic"),
    Augmentation("brightness", "ColorJitter", "brightness x{low:.2f}-{high:.2f}", "photometric"),
    Augmentation("contrast", "ColorJitter", "contrast x{low:.2f}-{high:.2f}", "photometric"),
    Augmentation("saturation", "ColorJitter", "saturation x{low:.2f}-{high:.2f}", "photometric", rgb_only=True),
    Augmentation("erasing", "RandomErasing", "p 0.5, up to {erase:.0%}", "photometric"),
    Augmentation("noise", "GaussianNoise", "sigma {sigma:.2f}", "photometric"),
    Augmentation("randaugment", "RandAugment", "2 ops at {magnitude}/30", "policy"),
    Augmentation("trivialaugment", "TrivialAugmentWide", "no strength", "policy"),
    Augmentation("augmix", "AugMix", "severity {severity}", "policy"),
    Augmentation("mixup", "MixUp", "alpha {mix_alpha:.2f}", "mix"),
    Augmentation("cutmix", "CutMix", "alpha {mix_alpha:.2f}", "mix"),
)}


def ranges(strength: float) -> dict[str, float | int]:
    """Every augmentation's range at ``strength`` (the one place the numbers live)."""
    s = float(strength)
    return {"crop_min": max(0.08, 1.0 - 0.9 * s), "shift": 0.2 * s, "degrees": 30.0 * s, "shear": 30.0 * s,
            "alpha": 80.0 * s, "low": 1.0 - 0.8 * s, "high": 1.0 + 0.8 * s, "erase": 0.02 + 0.38 * s,
            "sigma": 0.3 * s, "magnitude": round(30 * s), "severity": 1 + round(9 * s),
            "mix_alpha": max(0.05, s)}


def describe(name: str, strength: float) -> str:
    """``describe("rotate", 0.5)`` -> 'RandomRotation (up to 15 deg)'."""
    aug = AUGMENTATIONS[name]
    return f"{aug.v2} ({aug.detail.format(**ranges(strength))})"


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


# ---- geometric: one 3 x 3 matrix per image, output coordinates -> input coordinates (normalised) ----

def _eye(n: int) -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)


def _flip(n: int, g: torch.Generator, axis: int) -> torch.Tensor:
    m = _eye(n)
    m[:, axis, axis] = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    return m


def rotation(angles_deg: torch.Tensor) -> torch.Tensor:
    """Rotates the content counter-clockwise by ``angles_deg`` (as ``transforms.v2.functional.rotate``)."""
    a = torch.deg2rad(angles_deg.double())
    m = _eye(len(a))
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
    return m


def crop_box(scale_w: torch.Tensor, scale_h: torch.Tensor, centre_x: torch.Tensor, centre_y: torch.Tensor
             ) -> torch.Tensor:
    """The box of width ``scale_w`` and height ``scale_h`` (fractions of the image) centred at
    (``centre_x``, ``centre_y``) in [-1, 1], resized to the whole image."""
    m = _eye(len(scale_w))
    m[:, 0, 0], m[:, 1, 1], m[:, 0, 2], m[:, 1, 2] = scale_w, scale_h, centre_x, centre_y
    return m


def _crop(n: int, strength: float, g: torch.Generator) -> torch.Tensor:
    area = _uniform(n, ranges(strength)["crop_min"], 1.0, g)
    spread = math.log(4 / 3) * min(1.0, 2 * strength)  # v2's aspect ratios 3/4-4/3 from strength 0.5 up
    ratio = torch.exp(_uniform(n, -spread, spread, g))
    w, h = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)
    cx = (torch.rand(n, generator=g).double() * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=g).double() * 2 - 1) * (1 - h)
    return crop_box(w, h, cx, cy)


def _translate(n: int, strength: float, g: torch.Generator) -> torch.Tensor:
    m = _eye(n)
    shift = ranges(strength)["shift"]
    m[:, 0, 2], m[:, 1, 2] = 2 * _uniform(n, -shift, shift, g), 2 * _uniform(n, -shift, shift, g)
    return m


def _rotate(n: int, strength: float, g: torch.Generator) -> torch.Tensor:
    degrees = ranges(strength)["degrees"]
    return rotation(_uniform(n, -degrees, degrees, g))


def _shear(n: int, strength: float, g: torch.Generator) -> torch.Tensor:
    limit = math.radians(ranges(strength)["shear"])
    m = _eye(n)
    m[:, 0, 1], m[:, 1, 0] = torch.tan(_uniform(n, -limit, limit, g)), torch.tan(_uniform(n, -limit, limit, g))
    return m


GEOMETRIC: dict[str, Callable[[int, float, torch.Generator], torch.Tensor]] = {
    "hflip": lambda n, s, g: _flip(n, g, 0), "vflip": lambda n, s, g: _flip(n, g, 1), "crop": _crop,
    "translate": _translate, "rotate": _rotate, "shear": _shear}


INSIDE = {"crop", "hflip", "vflip"}  # they sample inside the image (up to half a pixel at its edge)


def warp(x: torch.Tensor, matrices: torch.Tensor, *, padding: Literal["zeros", "border"] = "zeros") -> torch.Tensor:
    """(N, C, H, W) sampled through (N, 3, 3) output -> input matrices (bilinear). Outside the image:
    zeros (``v2.RandomAffine``'s fill 0), or for crops the edge pixels ("border", as ``v2.functional.resized_crop``
    interpolates only inside the image)."""
    theta = matrices[:, :2].to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


# ---- elastic: a smooth random displacement per image ----

def elastic_displacement(n: int, size: tuple[int, int], strength: float, g: torch.Generator) -> torch.Tensor:
    """(N, H, W, 2) displacements in normalised units, drawn as ``v2.ElasticTransform`` draws them
    (uniform noise in [-1, 1], Gaussian-blurred, times alpha / size), with sigma 15% of the side."""
    h, w = size
    sigma = 0.15 * max(h, w)
    kernel = 2 * math.ceil(3 * sigma) + 1
    noise = torch.rand(n * 2, 1, h, w, generator=g) * 2 - 1
    blurred = TF.gaussian_blur(noise, [kernel, kernel], [sigma, sigma]).reshape(n, 2, h, w)
    alpha = ranges(strength)["alpha"]
    return torch.stack([blurred[:, 0] * alpha / w, blurred[:, 1] * alpha / h], dim=-1)


def displace(x: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) sampled at the identity grid plus (N, H, W, 2) ``displacement``."""
    n = len(x)
    identity = F.affine_grid(torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(n, 2, 3), list(x.shape),
                             align_corners=False)
    return F.grid_sample(x, identity + displacement.to(x.device, x.dtype), mode="bilinear",
                         padding_mode="zeros", align_corners=False)


# ---- photometric: per-image factors, transforms.v2's formulas ----

def _per_image(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.to(x.device, x.dtype).view(-1, 1, 1, 1)


def grey(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 1, H, W) luma (C = 1: the image itself)."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def blend(x: torch.Tensor, other: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """factor * x + (1 - factor) * other, clamped to [0, 1] (``transforms.v2``'s ``_blend``)."""
    f = _per_image(factors, x)
    return (f * x + (1 - f) * other).clamp(0.0, 1.0)


def _photometric(name: str, x: torch.Tensor, strength: float, g: torch.Generator) -> torch.Tensor:
    n, r = len(x), ranges(strength)
    if name in ("brightness", "contrast", "saturation"):
        factors = _uniform(n, r["low"], r["high"], g)
        if name == "brightness":
            return blend(x, torch.zeros_like(x), factors)
        if name == "contrast":
            return blend(x, grey(x).mean(dim=(1, 2, 3), keepdim=True), factors)
        return blend(x, grey(x), factors)
    if name == "noise":
        noise = torch.randn(x.shape, generator=g).to(x.device, x.dtype)
        return (x + r["sigma"] * noise).clamp(0.0, 1.0)
    if name == "erasing":
        return x * (1 - erase_masks(n, tuple(x.shape[-2:]), strength, g).to(x.device, x.dtype))
    raise ValueError(f"{name} is not photometric")


def erase_masks(n: int, size: tuple[int, int], strength: float, g: torch.Generator) -> torch.Tensor:
    """(N, 1, H, W) masks, 1 inside each image's erased box; half the images keep no box
    (``RandomErasing``'s p = 0.5, its log-uniform aspect ratio in [0.3, 3.3], value 0)."""
    h, w = size
    area = _uniform(n, 0.02, ranges(strength)["erase"], g) * h * w
    ratio = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), g))
    bh = (area * ratio).sqrt().round().clamp(1, h)
    bw = (area / ratio).sqrt().round().clamp(1, w)
    top = (torch.rand(n, generator=g).double() * (h - bh + 1)).floor()
    left = (torch.rand(n, generator=g).double() * (w - bw + 1)).floor()
    erase = torch.rand(n, generator=g) < 0.5
    rows, cols = torch.arange(h).double().view(1, h, 1), torch.arange(w).double().view(1, 1, w)
    inside = ((rows >= top.view(-1, 1, 1)) & (rows < (top + bh).view(-1, 1, 1))
              & (cols >= left.view(-1, 1, 1)) & (cols < (left + bw).view(-1, 1, 1)))
    return (inside & erase.view(-1, 1, 1)).unsqueeze(1).float()


# ---- policies: transforms.v2's operations, the op and magnitude drawn per image here ----

_POLICY_CLASSES = {"randaugment": v2.RandAugment, "trivialaugment": v2.TrivialAugmentWide, "augmix": v2.AugMix}
MAGNITUDE_BINS = 31  # RandAugment's and TrivialAugmentWide's default
AUGMIX_LEVELS = 10  # AugMix's _PARAMETER_MAX
AUGMIX_WIDTH = 3  # chains mixed, AugMix's default mixture_width


def _space(name: str, channels: int) -> dict:
    space = dict(_POLICY_CLASSES[name]._AUGMENTATION_SPACE)
    if channels == 1:
        space.pop("Color", None)  # saturation of a grey image is the image itself
    return space


def _apply_ops(x: torch.Tensor, op_names: list[str], magnitudes: torch.Tensor, policy: v2.Transform) -> torch.Tensor:
    """Image i through ``transforms.v2``'s operation ``op_names[i]`` at ``magnitudes[i]``; the images
    that share an operation and magnitude go through it as one sub-batch."""
    out = x.clone()
    keys = [(op, float(m)) for op, m in zip(op_names, magnitudes)]
    for op, m in dict.fromkeys(keys):
        idx = torch.tensor([i for i, k in enumerate(keys) if k == (op, m)], device=x.device)
        out[idx] = policy._apply_image_or_video_transform(x[idx], op, m, interpolation=policy.interpolation,
                                                          fill=policy._fill).to(x.dtype)
    return out


def _draw_ops(n: int, space: dict, bins: int, *, level: torch.Tensor | None, levels: int, size: tuple[int, int],
              g: torch.Generator) -> tuple[list[str], torch.Tensor]:
    """One operation per image from ``space`` and its signed magnitude: at ``level`` (RandAugment)
    or at a level drawn below ``levels`` (TrivialAugment: all bins; AugMix: below the severity)."""
    names = list(space)
    picks = torch.randint(len(names), (n,), generator=g).tolist()
    chosen = level if level is not None else torch.randint(levels, (n,), generator=g)
    signs = torch.where(torch.rand(n, generator=g) <= 0.5, -1.0, 1.0)
    magnitudes = torch.zeros(n, dtype=torch.float64)
    for i, pick in enumerate(picks):
        magnitudes_fn, signed = space[names[pick]]
        table = magnitudes_fn(bins, *size)
        if table is not None:
            magnitudes[i] = float(table[int(chosen[i])]) * (float(signs[i]) if signed else 1.0)
    return [names[p] for p in picks], magnitudes


def policy(name: str, x: torch.Tensor, strength: float, g: torch.Generator) -> torch.Tensor:
    """RandAugment (2 ops at one magnitude), TrivialAugmentWide (1 op, random magnitude) or AugMix
    (``AUGMIX_WIDTH`` chains of 1-3 ops mixed with Dirichlet weights, then with the image by a Beta
    weight), each image with its own draws."""
    n, size = len(x), tuple(x.shape[-2:])
    space, r = _space(name, x.shape[1]), ranges(strength)
    transform = _POLICY_CLASSES[name](interpolation="bilinear")
    if name == "randaugment":
        for _ in range(2):
            ops, mags = _draw_ops(n, space, MAGNITUDE_BINS, level=torch.full((n,), r["magnitude"]), levels=0,
                                  size=size, g=g)
            x = _apply_ops(x, ops, mags, transform)
        return x
    if name == "trivialaugment":
        ops, mags = _draw_ops(n, space, MAGNITUDE_BINS, level=None, levels=MAGNITUDE_BINS, size=size, g=g)
        return _apply_ops(x, ops, mags, transform)
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=g)))
    m = torch.from_numpy(rng.beta(1.0, 1.0, size=n))  # the original image's weight
    weights = torch.from_numpy(rng.dirichlet([1.0] * AUGMIX_WIDTH, size=n)) * (1 - m).view(-1, 1)
    mix = _per_image(m, x) * x
    for chain in range(AUGMIX_WIDTH):
        aug, depth = x, torch.randint(1, 4, (n,), generator=g)
        for step in range(3):
            ops, mags = _draw_ops(n, space, AUGMIX_LEVELS, level=None, levels=r["severity"], size=size, g=g)
            stepped = _apply_ops(aug, ops, mags, transform)
            aug = torch.where(_per_image(depth > step, x).bool(), stepped, aug)
        mix = mix + _per_image(weights[:, chain], x) * aug
    return mix.clamp(0.0, 1.0)


# ---- batch mixes: MixUp and CutMix pair each image with the next (the batch rolled by one, as v2's) ----

@dataclass
class Mix:
    """The labels of a mixed batch: ``lam`` of each image's own label, ``1 - lam`` of its partner's,
    the label of the image after it in the batch (``torch.roll(y, 1)``)."""

    lam: float

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against the soft labels: lam * CE(y) + (1 - lam) * CE(partner's y)."""
        return self.lam * F.cross_entropy(logits, y) + (1 - self.lam) * F.cross_entropy(logits, y.roll(1, 0))


def mix(name: str, x: torch.Tensor, strength: float, g: torch.Generator) -> tuple[torch.Tensor, Mix]:
    """MixUp: lam * x + (1 - lam) * partner; CutMix: a box of area 1 - lam pasted from the partner
    (lam then the exact share of pixels kept, as ``v2.CutMix``). lam ~ Beta(alpha, alpha)."""
    alpha = ranges(strength)["mix_alpha"]
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=g)))
    lam = float(rng.beta(alpha, alpha))
    partner = x.roll(1, 0)
    if name == "mixup":
        return lam * x + (1 - lam) * partner, Mix(lam)
    h, w = x.shape[-2:]
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    rh, rw = int(round(h * math.sqrt(1 - lam))), int(round(w * math.sqrt(1 - lam)))
    top, bottom = max(cy - rh // 2, 0), min(cy + rh - rh // 2, h)
    left, right = max(cx - rw // 2, 0), min(cx + rw - rw // 2, w)
    out = x.clone()
    out[..., top:bottom, left:right] = partner[..., top:bottom, left:right]
    return out, Mix(1.0 - (bottom - top) * (right - left) / (h * w))


# ---- a batch through a sequence of augmentations ----

def augment(x: torch.Tensor, names: Sequence[str], *, strength: float, generator: torch.Generator,
            with_mix: bool = False) -> torch.Tensor | tuple[torch.Tensor, Mix | None]:
    """(N, C, H, W) in [0, 1] through ``names`` in order (consecutive geometric ones as one warp).

    The batch mixes (mixup, cutmix) change the labels: with ``with_mix`` the result is
    ``(x, Mix or None)``; when both are chosen each batch takes one of them at random (as
    ``v2.RandomChoice([CutMix(), MixUp()])``)."""
    n, g, pending, warped = len(x), generator, None, set()
    mixes = [name for name in names if AUGMENTATIONS[name].kind == "mix"]
    for name in names:
        aug = AUGMENTATIONS[name]
        if aug.rgb_only and x.shape[1] != 3:
            raise ValueError(f"{name} needs RGB images; these have {x.shape[1]} channel(s)")
        if aug.kind == "geometric":
            m = GEOMETRIC[name](n, strength, g)
            pending, warped = (m if pending is None else pending @ m), warped | {name}
            continue
        if pending is not None:
            x, pending, warped = warp(x, pending, padding="border" if warped <= INSIDE else "zeros"), None, set()
        if aug.kind == "elastic":
            x = displace(x, elastic_displacement(n, tuple(x.shape[-2:]), strength, g))
        elif aug.kind == "photometric":
            x = _photometric(name, x, strength, g)
        elif aug.kind == "policy":
            x = policy(name, x, strength, g)
    if pending is not None:
        x = warp(x, pending, padding="border" if warped <= INSIDE else "zeros")
    chosen_mix = None
    if mixes:
        which = mixes[int(torch.randint(len(mixes), (1,), generator=g))]
        x, chosen_mix = mix(which, x, strength, g)
    return (x, chosen_mix) if with_mix else x
