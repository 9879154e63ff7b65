"""Procedural coloured shapes with object masks, class imbalance and named domain shifts.

Every image is rendered at once on a coordinate grid: each shape is an implicit function
``inside(u, v)`` of the pixel coordinates in the shape's own frame (rotated, shifted and
scaled per image), so 10,000 32x32 images take a fraction of a second on 2 cores.

The random draws (class order, position, scale, rotation, colours, texture, noise seed)
do not depend on ``domain``: the same seed gives the same objects and masks in every
domain, and only the rendering differs. That is what a controlled domain shift needs.

>>> x, y, mask = make_shapes(8, num_classes=3, size=16, seed=0)
>>> x.shape, y.tolist(), mask.shape
(torch.Size([8, 3, 16, 16]), [0, 1, 1, 2, 1, 0, 0, 2], torch.Size([8, 16, 16]))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base import ImageDataset
from .splits import allocate_counts

# Order matters: num_classes=K uses the first K, so the first four are the most distinct.
SHAPE_NAMES: tuple[str, ...] = (
    "circle", "square", "triangle", "cross", "ring", "star", "bar", "crescent", "diamond",
)
DOMAINS: tuple[str, ...] = ("flat", "noisy", "textured", "outline", "inverted")

MIN_SIZE, MAX_SIZE = 8, 128
MAX_N = 200_000
# 200,000 images at 32x32: 2.4 GB of float32 RGB; bigger requests would swamp the host.
MAX_PIXELS = MAX_N * 32 * 32
NOISE_STD = 0.2  # "noisy": Gaussian pixel noise, std in [0, 1] intensity units
TEXTURE_AMPLITUDE = 0.2  # "textured": +-amplitude around the flat colour
MIN_CONTRAST = 0.3  # every channel of foreground and background differs by at least this

Inside = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (u, v) (n, H, W) -> bool


def _triangle(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # equilateral, circumradius 1: inside all three half-planes at inradius 0.5
    edges = [u * math.cos(a) + v * math.sin(a) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    return torch.maximum(torch.maximum(edges[0], edges[1]), edges[2]) < 0.5


def _star(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # five points: the boundary radius goes linearly from 1.0 at a tip to 0.42 between tips
    t = torch.remainder(torch.atan2(v, u) * (5 / (2 * math.pi)), 1.0)
    boundary = 0.42 + 0.58 * (2 * t - 1).abs()
    return u * u + v * v < boundary * boundary


def _cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # a plus sign: two bars of half-length 0.9 and half-width 0.28
    au, av = u.abs(), v.abs()
    return (torch.minimum(au, av) < 0.28) & (torch.maximum(au, av) < 0.9)


# Each shape fits in the unit disc of its own frame, so a shape of scale s centred at
# distance <= 1 - s from the border stays inside the image at any rotation.
_INSIDE: dict[str, Inside] = {
    "circle": lambda u, v: u * u + v * v < 0.85**2,
    "square": lambda u, v: torch.maximum(u.abs(), v.abs()) < 0.68,
    "triangle": _triangle,
    "cross": _cross,
    "ring": lambda u, v: ((u * u + v * v) > 0.5**2) & ((u * u + v * v) < 0.9**2),
    "star": _star,
    "bar": lambda u, v: (u.abs() < 0.95) & (v.abs() < 0.25),
    "crescent": lambda u, v: ((u * u + v * v) < 0.85**2) & (((u - 0.45) ** 2 + v * v) > 0.7**2),
    "diamond": lambda u, v: (u.abs() / 0.5 + v.abs() / 0.95) < 1.0,
}
assert tuple(_INSIDE) == SHAPE_NAMES


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def class_counts_for(
    n: int | None,
    num_classes: int,
    *,
    class_ratio: Sequence[float] | None = None,
    class_counts: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Exact per-class counts: from ``class_counts``, or ``n`` split by ``class_ratio`` (balanced if None).

    >>> class_counts_for(100, 4, class_ratio=(1, 0.1, 0.1, 0.01))
    (83, 8, 8, 1)
    """
    if class_counts is not None:
        if class_ratio is not None:
            raise ValueError("give class_counts or class_ratio, not both")
        counts = tuple(class_counts)
        if len(counts) != num_classes:
            raise ValueError(f"class_counts has {len(counts)} entries but num_classes={num_classes}")
        for k, c in enumerate(counts):
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
                raise ValueError(f"class_counts[{k}] must be an integer >= 0, got {c!r}")
        if n is not None and n != sum(counts):
            raise ValueError(f"n={n} but class_counts {counts} sum to {sum(counts)}; "
                             "pass one or make them agree")
        counts = tuple(int(c) for c in counts)
    else:
        if n is None:
            raise ValueError("give n (the number of images) or class_counts")
        _check_int("n", n, 1, MAX_N)
        weights = (1.0,) * num_classes if class_ratio is None else tuple(class_ratio)
        if len(weights) != num_classes:
            raise ValueError(f"class_ratio has {len(weights)} entries but num_classes={num_classes}")
        counts = allocate_counts(n, weights)
    for k, c in enumerate(counts):
        if c == 0:
            raise ValueError(
                f"class {k} ({SHAPE_NAMES[k]!r}) gets 0 of {sum(counts)} images with counts {counts}; "
                "raise n or that class's share")
    if sum(counts) > MAX_N:
        raise ValueError(f"{sum(counts)} images requested; at most {MAX_N:,} allowed")
    return counts


def make_shapes(
    n: int | None,
    *,
    num_classes: int = 4,
    size: int = 32,
    domain: str = "flat",
    class_ratio: Sequence[float] | None = None,
    class_counts: Sequence[int] | None = None,
    seed: int | np.random.Generator = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render ``n`` shape images: x (N, 3, H, W) float32 in [0, 1], y (N,) int64, mask (N, H, W) bool.

    ``class_ratio`` (relative weights, e.g. ``(1, 0.1)``) is applied to ``n`` exactly by
    largest-remainder rounding; ``class_counts`` gives the counts directly (``n`` may then be
    None). The images come shuffled. ``mask`` is the filled object in every domain (also
    for ``outline``, where only its border is drawn). ``seed`` may be a numpy Generator.

    >>> x, y, m = make_shapes(None, num_classes=2, class_counts=(3, 1), seed=1)
    >>> sorted(y.tolist()), bool(m.any(dim=(1, 2)).all())
    ([0, 0, 0, 1], True)
    """
    num_classes = _check_int("num_classes", num_classes, 2, len(SHAPE_NAMES))
    size = _check_int("size", size, MIN_SIZE, MAX_SIZE)
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose from {', '.join(DOMAINS)}")
    counts = class_counts_for(n, num_classes, class_ratio=class_ratio, class_counts=class_counts)
    total = sum(counts)
    if total * size * size > MAX_PIXELS:
        raise ValueError(f"{total} images of {size}x{size} exceed the budget of {MAX_PIXELS:,} pixels "
                         f"(e.g. {MAX_N:,} at 32x32); lower n or size")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    # All random draws happen here, in a fixed order, independent of domain and chunking.
    y = rng.permutation(np.repeat(np.arange(num_classes), counts))  # (N,)
    p = _draw_params(total, size, rng)
    noise_gen = torch.Generator().manual_seed(int(rng.integers(2**62)))

    x = torch.empty(total, 3, size, size)  # (N, 3, H, W)
    mask = torch.empty(total, size, size, dtype=torch.bool)  # (N, H, W)
    chunk = max(1, 2**22 // (size * size))  # ~16 MB per (n, H, W) float temporary
    for start in range(0, total, chunk):
        sl = slice(start, min(start + chunk, total))
        part = {k: v[sl] for k, v in p.items()}
        m = _render_masks(y[sl], part, size)
        mask[sl] = m
        x[sl] = _paint(m, part, size, domain, noise_gen)
    return x, torch.from_numpy(y.astype(np.int64)), mask


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres in [-1, 1]: gx (1, 1, W), gy (1, H, 1), y pointing up."""
    lin = (torch.arange(size, dtype=torch.float32) + 0.5) * (2.0 / size) - 1.0
    return lin.view(1, 1, size), -lin.view(1, size, 1)


def _draw_params(n: int, size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Per-image random parameters as float32 tensors (n,) or (n, 3)."""
    def u(lo: float, hi: float, shape: tuple[int, ...] = ()) -> np.ndarray:
        return rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)

    scale = u(0.4, 0.75)  # shape radius as a fraction of the half-width
    room = 1.0 - scale  # keeps the whole shape inside the image at any rotation
    cx, cy = u(-1, 1) * room, u(-1, 1) * room
    theta = u(0, 2 * math.pi)
    bg = u(0, 1, (3,))
    # fg differs from bg by 0.3..0.7 in every channel (mod 1): always visible, any hue
    fg = np.remainder(bg + u(MIN_CONTRAST, 1 - MIN_CONTRAST, (3,)), 1.0)
    max_freq = size / 3.0  # cycles across the image; keeps stripes >= 3 px wide
    params = {
        "scale": scale, "cx": cx, "cy": cy, "theta": theta, "bg": bg, "fg": fg,
        "stripe_freq": np.minimum(u(2.5, 5.0), max_freq), "stripe_angle": u(0, math.pi),
        "stripe_phase": u(0, 2 * math.pi), "check_freq": np.minimum(u(2.0, 4.0), max_freq),
        "check_phase_x": u(0, 2 * math.pi), "check_phase_y": u(0, 2 * math.pi),
    }
    return {k: torch.from_numpy(v) for k, v in params.items()}


def _render_masks(y: np.ndarray, p: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """Bool masks (n, H, W): every image's pixels inside its shape."""
    gx, gy = _grid(size)  # (1, 1, W), (1, H, 1)
    mask = torch.zeros(len(y), size, size, dtype=torch.bool)
    labels = torch.from_numpy(y)
    for k in np.unique(y):
        # gather the few per-image parameters of class k, not (n, H, W) coordinate arrays
        idx = (labels == int(k)).nonzero().squeeze(1)
        col = lambda name: p[name][idx].view(-1, 1, 1)  # noqa: E731  (n_k,) -> (n_k, 1, 1)
        theta, inv = col("theta"), 1.0 / col("scale")
        cos, sin = torch.cos(theta) * inv, torch.sin(theta) * inv
        dx, dy = gx - col("cx"), gy - col("cy")  # (n_k, 1, W), (n_k, H, 1)
        # rotate the coordinates by -theta (= the shape by +theta), scale to the unit frame
        u = cos * dx + sin * dy  # (n_k, H, W)
        v = cos * dy - sin * dx  # (n_k, H, W)
        mask[idx] = _INSIDE[SHAPE_NAMES[k]](u, v)
    # Thin shapes at tiny sizes may fall between pixel centres: light the centre pixel then.
    empty = (~mask.flatten(1).any(dim=1)).nonzero().squeeze(1)
    if len(empty):
        to_px = lambda c: ((c + 1) * size / 2).long().clamp(0, size - 1)  # noqa: E731
        mask[empty, to_px(-p["cy"][empty]), to_px(p["cx"][empty])] = True
    return mask


def _paint(mask: torch.Tensor, p: dict[str, torch.Tensor], size: int, domain: str,
           noise_gen: torch.Generator) -> torch.Tensor:
    """Colour the masks (n, H, W) in the given domain -> images (n, 3, H, W) in [0, 1]."""
    fg, bg = p["fg"].view(-1, 3, 1, 1), p["bg"].view(-1, 3, 1, 1)  # (n, 3, 1, 1)
    if domain == "outline":
        w = max(1, round(size / 32))  # outline width in pixels
        # erosion = not(dilation of the outside); the border ring is mask minus its erosion
        outside = (~mask).unsqueeze(1).float()  # (n, 1, H, W)
        eroded = F.max_pool2d(outside, 2 * w + 1, stride=1, padding=w).squeeze(1) == 0
        mask = mask & ~eroded
    m = mask.unsqueeze(1).float()  # (n, 1, H, W)
    if domain != "textured":
        x = bg + (fg - bg) * m  # (n, 3, H, W)
        if domain == "noisy":
            # noise_gen feeds nothing else, so skipping it in other domains changes no draw
            noise = torch.randn(x.shape, generator=noise_gen)  # (n, 3, H, W)
            x = (x + NOISE_STD * noise).clamp_(0.0, 1.0)
        elif domain == "inverted":
            x = 1.0 - x
        return x
    gx, gy = _grid(size)  # (1, 1, W), (1, H, 1)
    col = lambda t: t.view(-1, 1, 1)  # noqa: E731
    along = col(torch.cos(p["stripe_angle"])) * gx + col(torch.sin(p["stripe_angle"])) * gy
    stripes = torch.sin(math.pi * col(p["stripe_freq"]) * along + col(p["stripe_phase"])) > 0
    check = (torch.sin(math.pi * col(p["check_freq"]) * gx + col(p["check_phase_x"]))
             * torch.sin(math.pi * col(p["check_freq"]) * gy + col(p["check_phase_y"]))) > 0
    # stripes inside the shape, a checkerboard outside: +-amplitude around the flat colours
    tex = torch.where(mask, stripes, check).unsqueeze(1).float() * 2 - 1  # (n, 1, H, W) in {-1, 1}
    return (bg + (fg - bg) * m + TEXTURE_AMPLITUDE * tex).clamp_(0.0, 1.0)


def shapes(
    *,
    n_train: int | None = 2000,
    n_test: int = 1000,
    num_classes: int = 4,
    size: int = 32,
    domain: str = "flat",
    test_domain: str | None = None,
    class_ratio: Sequence[float] | None = None,
    class_counts: Sequence[int] | None = None,
    test_class_ratio: Sequence[float] | None = None,
    seed: int = 0,
) -> ImageDataset:
    """Shapes train/test sets from two independent streams derived from ``seed``.

    The test set is balanced unless ``test_class_ratio`` is given, and drawn in
    ``test_domain`` (default: ``domain``) for domain-shift experiments. ``class_counts``
    fixes the train counts exactly and then replaces the default ``n_train`` (an explicit
    ``n_train`` other than 2000 must equal their sum).

    >>> ds = shapes(n_train=39, n_test=20, class_ratio=(1, 1, 1, 0.25), seed=3)
    >>> torch.bincount(ds.y_train).tolist(), torch.bincount(ds.y_test).tolist()
    ([12, 12, 12, 3], [5, 5, 5, 5])
    """
    if class_counts is not None and n_train == 2000:
        n_train = None  # the default n_train yields to explicit counts
    test_domain = domain if test_domain is None else test_domain
    if test_domain not in DOMAINS:
        raise ValueError(f"unknown test_domain {test_domain!r}; choose from {', '.join(DOMAINS)}")
    train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
    x_tr, y_tr, m_tr = make_shapes(
        n_train, num_classes=num_classes, size=size, domain=domain, class_ratio=class_ratio,
        class_counts=class_counts, seed=np.random.default_rng(train_ss))
    x_te, y_te, m_te = make_shapes(
        n_test, num_classes=num_classes, size=size, domain=test_domain,
        class_ratio=test_class_ratio, seed=np.random.default_rng(test_ss))
    return ImageDataset(
        name="shapes", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
        classes=SHAPE_NAMES[:num_classes], mask_train=m_tr, mask_test=m_te,
    )
