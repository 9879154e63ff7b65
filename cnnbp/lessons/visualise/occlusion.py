"""Occlusion: slide a patch over the input and record how the model's class probability moves.

The explainer takes a forward function (images -> class scores) and returns a tensor shaped
like the input (as Captum's ``Occlusion``): every pixel gets the mean drop of the score over
the windows that cover it. All occluded copies of an image go through the model in batches,
so one map costs a few forward passes rather than one per position.

>>> forward = lambda x: x.sum(dim=(1, 2, 3)).unsqueeze(1)   # one "class": the pixel sum
>>> x = torch.ones(1, 1, 4, 4)
>>> occlusion(forward, x, target=torch.tensor([0]), window=2, stride=2, fill="grey")[0, 0]
tensor([[2., 2., 2., 2.],
        [2., 2., 2., 2.],
        [2., 2., 2., 2.],
        [2., 2., 2., 2.]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F

from cnnbp.lessons.visualise.estimate import Estimate, estimate

Fill = Literal["grey", "mean", "blur"]
FILLS: tuple[str, ...] = ("grey", "mean", "blur")
GREY = 0.5  # the lecture's grey square, in [0, 1] pixel units
BLUR_SIGMA = 2.0  # px: "blurred" keeps the coarse colour but removes the detail under the window
# Fixed before any run, never tuned to a result:
MASK_IMAGES = 64  # test images the object-vs-background test averages over (the figure shows a few)
ON_OBJECT = 0.5  # a window is "on the object" when at least half its pixels are object
Forward = Callable[[torch.Tensor], torch.Tensor]  # (B, C, H, W) -> (B, K)


def check_window(size: tuple[int, int], *, window: int, stride: int) -> None:
    """Raise ValueError naming the value if ``window``/``stride`` do not fit an image of ``size`` (H, W)."""
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= min(size):
        raise ValueError(f"window ({window!r}) must be an integer from 1 to the image size {min(size)}")
    if isinstance(stride, bool) or not isinstance(stride, int) or not 1 <= stride <= window:
        raise ValueError(f"stride ({stride!r}) must be an integer from 1 to the window ({window}): "
                         "a larger stride leaves pixels that no window covers")


def positions(size: tuple[int, int], *, window: int, stride: int) -> tuple[list[int], list[int]]:
    """Top rows and left columns of every window position.

    >>> positions((8, 8), window=4, stride=2)
    ([0, 2, 4], [0, 2, 4])
    """
    check_window(size, window=window, stride=stride)
    return list(range(0, size[0] - window + 1, stride)), list(range(0, size[1] - window + 1, stride))


def gaussian_blur(x: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), reflect padding; sigma in pixels."""
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    pad = min(radius, x.shape[2] - 1, x.shape[3] - 1)
    if pad < radius:  # tiny images: truncate the kernel so reflect padding is legal
        k = k[radius - pad: radius + pad + 1] / k[radius - pad: radius + pad + 1].sum()
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)  # along W
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)  # along H


def fill_images(x: torch.Tensor, fill: Fill) -> torch.Tensor:
    """What a window shows instead of the image: (N, C, H, W)."""
    if fill == "grey":
        return torch.full_like(x, GREY)
    if fill == "mean":  # each image's own per-channel mean colour
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    if fill == "blur":
        return gaussian_blur(x, sigma=BLUR_SIGMA)
    raise ValueError(f"unknown fill {fill!r}; choose from {', '.join(FILLS)}")


def window_masks(size: tuple[int, int], *, window: int, stride: int, device: torch.device | None = None
                 ) -> torch.Tensor:
    """(P, H, W) bool: True under the window at each position, row-major over positions."""
    rows, cols = positions(size, window=window, stride=stride)

    def covered(starts: list[int], n: int) -> torch.Tensor:  # (positions, n): the pixels each one covers
        first = torch.tensor(starts, device=device).unsqueeze(1)
        pixel = torch.arange(n, device=device)
        return (pixel >= first) & (pixel < first + window)

    in_rows, in_cols = covered(rows, size[0]), covered(cols, size[1])  # (R, H), (C, W)
    return (in_rows[:, None, :, None] & in_cols[None, :, None, :]).reshape(len(rows) * len(cols), *size)


def channels_last(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """An empty (B, C, H, W) tensor laid out NHWC. A small CNN's convolutions and poolings run about
    1.7x faster on a CPU in that layout (bench/visualise.py), and the output keeps it layer to layer.
    ``Tensor.contiguous(memory_format=torch.channels_last)`` would not do for one channel: it keeps
    strides that torch reads as NCHW, so the first convolution would go back to it."""
    return torch.empty_permuted(shape, (0, 2, 3, 1), dtype=like.dtype, device=like.device)


@dataclass
class OcclusionMap:
    """Scores of one batch of images under every window position."""

    base: torch.Tensor  # (N, K) scores of the unoccluded images
    scores: torch.Tensor  # (N, P, K) scores with the window at each position
    rows: list[int]  # window tops
    cols: list[int]  # window lefts
    masks: torch.Tensor  # (P, H, W) bool


@torch.no_grad()
def occlusion_scores(forward: Forward, x: torch.Tensor, *, window: int, stride: int, fill: Fill = "grey",
                     batch_size: int = 1024) -> OcclusionMap:
    """Every class score of every image with the window at every position.

    ``batch_size`` occluded copies go through ``forward`` at once; ``batch_size=1`` is the
    naive loop (one forward per position), kept for the benchmark and the tests.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size ({batch_size!r}) must be an integer >= 1")
    size = (x.shape[2], x.shape[3])
    rows, cols = positions(size, window=window, stride=stride)
    masks = window_masks(size, window=window, stride=stride, device=x.device)  # (P, H, W)
    fills = fill_images(x, fill)
    base = forward(channels_last(x.shape, x).copy_(x))  # (N, K)
    n, p = x.shape[0], masks.shape[0]
    out = torch.empty(n, p, base.shape[1], dtype=base.dtype, device=base.device)
    flat = out.view(n * p, -1)
    m = masks.unsqueeze(1)  # (P, 1, H, W)
    for start in range(0, n * p, batch_size):
        idx = torch.arange(start, min(start + batch_size, n * p), device=x.device)
        img, pos = idx // p, idx % p
        copies = torch.where(m[pos], fills[img], x[img], out=channels_last((len(idx), *x.shape[1:]), x))
        flat[start:start + len(idx)] = forward(copies)
    return OcclusionMap(base=base, scores=out, rows=rows, cols=cols, masks=masks)


def attribution(result: OcclusionMap, target: torch.Tensor, *, channels: int) -> torch.Tensor:
    """(N, C, H, W): per pixel, the mean over covering windows of (score - occluded score) of
    class ``target`` (N,); 0 where no window covers a pixel."""
    n = result.base.shape[0]
    idx = torch.arange(n, device=target.device)
    drop = result.base[idx, target].unsqueeze(1) - result.scores[idx, :, target]  # (N, P)
    m = result.masks.to(drop.dtype)  # (P, H, W)
    total = torch.einsum("np,phw->nhw", drop, m)
    count = m.sum(dim=0)  # (H, W) windows covering each pixel
    per_pixel = torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))
    return per_pixel.unsqueeze(1).expand(n, channels, *per_pixel.shape[1:]).contiguous()


def occlusion(forward: Forward, x: torch.Tensor, *, target: torch.Tensor, window: int, stride: int,
              fill: Fill = "grey", batch_size: int = 1024) -> torch.Tensor:
    """Occlusion attribution shaped like ``x`` (N, C, H, W) for class ``target`` (N,)."""
    result = occlusion_scores(forward, x, window=window, stride=stride, fill=fill, batch_size=batch_size)
    return attribution(result, target.to(result.base.device), channels=x.shape[1])


def mass_inside(attr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N,): share of the positive attribution (N, H, W) that falls inside ``mask`` (N, H, W);
    NaN where an image has no positive attribution.

    >>> mass_inside(torch.tensor([[[3.0, -1.0], [1.0, 0.0]]]), torch.tensor([[[True, True], [False, False]]]))
    tensor([0.7500])
    """
    pos = attr.clamp(min=0).flatten(1)
    inside = (pos * mask.flatten(1).to(pos.dtype)).sum(1)
    total = pos.sum(1)
    return torch.where(total > 0, inside / total.clamp(min=1e-30), torch.full_like(total, float("nan")))


def pointing_hits(attr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the pixel of largest attribution (N, H, W) lies on the object (the pointing game)."""
    flat = attr.flatten(1).argmax(dim=1)
    return mask.flatten(1).gather(1, flat.unsqueeze(1)).squeeze(1)


def object_vs_background_drop(drop: torch.Tensor, masks: torch.Tensor, objects: torch.Tensor, *,
                              on_object: float = 0.5) -> tuple[float, float, int, int]:
    """Mean score drop for windows that are mostly object (covered share >= ``on_object``) and
    for windows entirely on background; with how many windows fell in each group.

    ``drop``: (N, P) score drops; ``masks``: (P, H, W) windows; ``objects``: (N, H, W) bool.
    """
    m = masks.flatten(1).to(drop.dtype)  # (P, HW)
    covered = objects.flatten(1).to(drop.dtype) @ m.T / m.sum(1)  # (N, P) object share under each window
    obj, bg = covered >= on_object, covered == 0
    mean = lambda sel: float(drop[sel].mean()) if bool(sel.any()) else float("nan")  # noqa: E731
    return mean(obj), mean(bg), int(obj.sum()), int(bg.sum())


@dataclass(frozen=True)
class ObjectTest:
    """The lecture's test on many images: does hiding the object lower P(true class) more than
    hiding the background? Drops are means over windows; None where no window fell on that side."""

    images: int
    object_drop: float | None
    background_drop: float | None
    object_windows: int
    background_windows: int
    mass_inside: float | None  # mean share of the positive sensitivity on the object
    object_area: float  # mean share of the image that is object
    pointing: float  # share of images whose most sensitive pixel is on the object

    @property
    def comparable(self) -> bool:
        return self.object_windows > 0 and self.background_windows > 0

    @property
    def extra_drop(self) -> float | None:
        """How much more P(true) drops with the window on the object than on the background;
        None when no window fell wholly on one side (nothing to compare)."""
        return self.object_drop - self.background_drop if self.comparable else None


@dataclass(frozen=True)
class ObjectEffect:
    """The test on several models trained alike (other seeds): the extra drop varies more from
    model to model than from image to image, so the models are the repeats it is decided over."""

    tests: list[ObjectTest]  # one per model; the first is the run's own

    @property
    def extra_drops(self) -> list[float]:
        return [t.extra_drop for t in self.tests if t.extra_drop is not None]

    @property
    def effect(self) -> Estimate | None:
        """The mean extra drop over the models with its 95% interval; None when nothing compares."""
        return estimate(self.extra_drops) if self.extra_drops else None

    @property
    def object_matters_more(self) -> bool | None:
        """True when the whole interval is above 0, False when below, None when it holds 0 (or
        one model, or nothing to compare)."""
        return None if self.effect is None else self.effect.positive


def object_test(forward: Forward, x: torch.Tensor, target: torch.Tensor, objects: torch.Tensor, *, window: int,
                stride: int, fill: Fill) -> ObjectTest:
    """Occlude every image of ``x`` (N, C, H, W) at every position and compare the drop of
    P(``target``) with the window on the object (``objects``: (N, H, W) bool) and on the background."""
    result = occlusion_scores(forward, x, window=window, stride=stride, fill=fill)
    idx = torch.arange(len(x))
    drop = result.base[idx, target].unsqueeze(1) - result.scores[idx, :, target]  # (N, P) drop of P(true)
    obj_drop, bg_drop, n_obj, n_bg = object_vs_background_drop(drop, result.masks, objects, on_object=ON_OBJECT)
    attr = attribution(result, target, channels=1)[:, 0]
    mass = mass_inside(attr, objects)
    valid = ~torch.isnan(mass)
    return ObjectTest(
        images=len(x),
        # no window on that side (a window as large as the image): no mean, None, never NaN
        object_drop=obj_drop if n_obj else None, background_drop=bg_drop if n_bg else None,
        object_windows=n_obj, background_windows=n_bg,
        mass_inside=float(mass[valid].mean()) if valid.any() else None,
        object_area=float(objects.flatten(1).float().mean(1).mean()),
        pointing=float(pointing_hits(attr, objects).float().mean()))
