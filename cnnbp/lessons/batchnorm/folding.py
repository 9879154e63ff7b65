"""Test-time folding: at inference BatchNorm is a fixed per-channel affine map, so it can be
merged into the convolution before it ("zero overhead at test time").

For a conv (weight W, bias b, or no bias) followed by BN in eval mode, with
s = gamma / sqrt(running_var + eps):

    BN(conv(x)) = s * (W * x + b - running_mean) + beta
                = (s W) * x + (s (b - running_mean) + beta)

so the folded conv has weight ``s[:, None, None, None] * W`` and bias
``s * (b - running_mean) + beta`` (b = 0 when the conv has none: SmallCNN's convs before a
norm have no bias). We compute the new weights in float64 and round once to the conv's
dtype; PyTorch's ``torch.nn.utils.fusion.fuse_conv_bn_eval`` computes them in float32. Both
are compared below.

>>> conv, bn = torch.nn.Conv2d(1, 2, 3, bias=False), torch.nn.BatchNorm2d(2).eval()
>>> folded = fold_conv_bn(conv, bn)
>>> folded.bias is not None and folded.weight.shape == conv.weight.shape
True
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Generator

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, torch_threads
from cnnbp.lessons.base import result_of, scaled
from cnnbp.nn import SmallCNN, init_model
from cnnbp.nn.models import ConvBlock

FOLD_TOL = 1e-5  # folded logits "equal" within 1e-5, relative to max(1, max |logit|); fixed before any run


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv equal to ``bn(conv(x))`` in eval mode; ``conv`` may have ``bias=None``."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics (track_running_stats=False) cannot be folded")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"BatchNorm has {bn.num_features} channels but the conv makes {conv.out_channels}")
    w64 = conv.weight.detach().double()  # (C_out, C_in, k, k)
    b64 = (conv.bias.detach().double() if conv.bias is not None  # SmallCNN: no bias before a norm
           else torch.zeros(conv.out_channels, dtype=torch.float64, device=conv.weight.device))
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(b64)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(b64)
    scale = gamma / torch.sqrt(bn.running_var.double() + bn.eps)  # (C_out,)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                       padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True,
                       padding_mode=conv.padding_mode).to(device=conv.weight.device, dtype=conv.weight.dtype)
    folded.weight.copy_((w64 * scale[:, None, None, None]).to(conv.weight.dtype))
    folded.bias.copy_((scale * (b64 - bn.running_mean.double()) + beta).to(conv.weight.dtype))
    return folded


def _foldable(block: nn.Module) -> bool:
    return (isinstance(block, ConvBlock) and isinstance(block.norm, nn.BatchNorm2d)
            and block.norm_position == "before_act")


def fold_model(model: nn.Module, *, fuse: Callable[[nn.Conv2d, nn.BatchNorm2d], nn.Conv2d] = fold_conv_bn) -> nn.Module:
    """An eval-mode copy of ``model`` in which every ConvBlock's conv -> BN pair is one conv
    (the BN becomes ``nn.Identity``). ``fuse``: our :func:`fold_conv_bn` or torch's
    ``fuse_conv_bn_eval``. Blocks with BN after the activation cannot be folded into the conv
    before them (the nonlinearity sits between): a ValueError names the first one."""
    folded = copy.deepcopy(model).eval()
    for name, block in folded.named_modules():
        if isinstance(block, ConvBlock) and isinstance(block.norm, nn.BatchNorm2d):
            if not _foldable(block):
                raise ValueError(f"{name}: BatchNorm after the activation cannot be folded into the conv before it")
            block.conv = fuse(block.conv, block.norm)
            block.norm = nn.Identity()
    return folded


def count_batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free ``confidence`` interval for the median of ``values``: the order
    statistics (k-th smallest, k-th largest) whose sign-test (binomial) coverage is at least
    ``confidence``. None when there are too few values for any (5 or fewer at 95%).

    >>> median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    True
    >>> median_interval([float(v) for v in range(1, 11)])  # 97.9% coverage: 2nd to 9th value
    (2.0, 9.0)
    """
    n, ordered = len(values), sorted(values)
    below, k = 0.0, 0  # P(Binomial(n, 1/2) < k): the chance the median lies below the k-th value
    while k < n // 2 and below + math.comb(n, k) / 2**n <= (1 - confidence) / 2:
        below += math.comb(n, k) / 2**n
        k += 1
    return (ordered[k - 1], ordered[n - k]) if k else None


@dataclass
class FoldResult:
    """Outputs compared on one batch, and inference times (seconds per forward, median)."""

    batch: int
    batchnorms_before: int
    batchnorms_after: int
    max_abs_diff: float  # unfolded vs our folded, over the logits
    max_abs_diff_torch: float  # unfolded vs torch's fuse_conv_bn_eval
    max_abs_diff_ours_vs_torch: float
    max_abs_logit: float  # the scale of the outputs compared
    argmax_agree: float  # share of images whose predicted class is unchanged by folding
    seconds: dict[str, float] = field(default_factory=dict)  # "unfolded" / "folded" / "torch fused"
    times: dict[str, list[float]] = field(default_factory=dict)  # every repeat, in the order they ran

    @property
    def line(self) -> float:
        """The folded logits' equality line, relative to their scale."""
        return FOLD_TOL * max(1.0, self.max_abs_logit)

    @property
    def exact(self) -> bool:
        """Folding keeps the logits (within ``line``)."""
        return self.max_abs_diff <= self.line

    def ratios(self, name: str = "folded") -> list[float]:
        """Unfolded time / ``name``'s time in each repeat (the two timed side by side)."""
        return [u / t for u, t in zip(self.times["unfolded"], self.times[name])]

    @property
    def speedup(self) -> float:
        """The median over repeats of unfolded time / our folded time (> 1: folding is faster)."""
        return statistics.median(self.ratios())

    @property
    def speedup_interval(self) -> tuple[float, float] | None:
        """95% interval of that median (None: too few repeats to have one)."""
        return median_interval(self.ratios())

    @property
    def speedup_torch(self) -> float:
        return statistics.median(self.ratios("torch fused"))

    @property
    def faster(self) -> bool | None:
        """Folding is faster (True) or slower (False) when the speedup's interval lies wholly above
        or below 1; None when it covers 1 (too close to call) or there is none (too few repeats)."""
        interval = self.speedup_interval
        if interval is None or interval[0] <= 1.0 <= interval[1]:
            return None
        return interval[0] > 1.0

    @property
    def exact_and_faster(self) -> bool | None:
        """The lecture's claim: the same outputs and no overhead. False when the outputs differ,
        else what the timing can say (``faster``)."""
        return self.faster if self.exact else False


def compare_folding(model: nn.Module, x: torch.Tensor, *, repeats: int) -> FoldResult:
    """:func:`compare_steps` run to its end."""
    return result_of(compare_steps(model, x, repeats=repeats))


@torch.inference_mode()
def compare_steps(model: nn.Module, x: torch.Tensor, *, repeats: int) -> Generator[float, None, FoldResult]:
    """Fold ``model`` (ours and torch's), compare outputs on ``x`` and time the three forwards;
    yield how far it is after the warm-up and after each repeat (never inside one's timing).

    The three models are timed side by side within each repeat (after one warm-up forward
    each), in an order reversed every other repeat, so a machine that slows down or speeds up
    during the run, or a model that gains from running second, shifts none of them; each
    repeat gives one ratio of times, and the lesson reads their median and its interval.
    """
    model = model.eval()
    models = {"unfolded": model, "folded": fold_model(model), "torch fused": fold_model(model, fuse=fuse_conv_bn_eval)}
    outputs = {name: m(x) for name, m in models.items()}  # also the warm-up
    yield 0.0
    ref = outputs["unfolded"]
    times: dict[str, list[float]] = {name: [] for name in models}
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    for i in range(repeats):
        for name in list(models)[::1 if i % 2 == 0 else -1]:
            sync()
            start = time.perf_counter()
            models[name](x)
            sync()
            times[name].append(time.perf_counter() - start)
        yield (i + 1) / repeats
    return FoldResult(
        batch=len(x), batchnorms_before=count_batchnorms(model), batchnorms_after=count_batchnorms(models["folded"]),
        max_abs_diff=float((outputs["folded"] - ref).abs().max()),
        max_abs_diff_torch=float((outputs["torch fused"] - ref).abs().max()),
        max_abs_diff_ours_vs_torch=float((outputs["folded"] - outputs["torch fused"]).abs().max()),
        max_abs_logit=float(ref.abs().max()),
        argmax_agree=float((outputs["folded"].argmax(1) == ref.argmax(1)).float().mean()),
        seconds={name: statistics.median(t) for name, t in times.items()}, times=times)


@torch.no_grad()
def calibrated_model(data_x: torch.Tensor, *, in_channels: int, num_classes: int, depth: int, width: int,
                     activation: str, image_size: int, seed: int, batch_size: int = 256) -> nn.Module:
    """A SmallCNN with BN before each activation, as training would leave it at test time:
    Kaiming weights, running statistics averaged over train-mode passes on ``data_x``
    (momentum None: the plain mean of the batch statistics) and gamma, beta drawn away from
    1, 0 (so the fold has something to fold). The model lives on ``data_x``'s device. No
    gradient step: folding does not care how the weights were found, and this keeps the part a
    second long."""
    model = SmallCNN(in_channels, num_classes, depth=depth, width=width, activation=activation, norm="batch",
                     image_size=image_size)
    init_model(model, "kaiming", activation, generator=make_generator(derive_seed(seed, "fold-init")))
    g = make_generator(derive_seed(seed, "fold-affine"))
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.momentum = None  # cumulative average of every batch seen
        bn.weight.copy_(torch.rand(bn.num_features, generator=g) + 0.5)  # U(0.5, 1.5)
        bn.bias.copy_(0.5 * torch.randn(bn.num_features, generator=g))
    model.to(data_x.device).train()  # the draws above are made on the CPU: same numbers on any device
    for i in range(0, len(data_x), batch_size):
        model(data_x[i:i + batch_size])
    return model.eval()


def fold_inputs(data: ImageDataset, batch: int) -> torch.Tensor:
    """``batch`` test images (the test set repeated if it is smaller)."""
    reps = -(-batch // len(data.x_test))
    return torch.cat([data.x_test] * reps)[:batch]


def measure_folding(data: ImageDataset, *, depth: int, width: int, activation: str, batch: int, repeats: int,
                    seed: int, device: torch.device, threads: int) -> FoldResult:
    """:func:`folding_steps` run to its end."""
    return result_of(folding_steps(data, depth=depth, width=width, activation=activation, batch=batch,
                                   repeats=repeats, seed=seed, device=device, threads=threads))


def folding_steps(data: ImageDataset, *, depth: int, width: int, activation: str, batch: int, repeats: int,
                  seed: int, device: torch.device, threads: int) -> Generator[float, None, FoldResult]:
    """A calibrated BN net on ``data`` folded and timed on ``batch`` test images, on ``threads`` threads;
    yields once between the calibration and the timing (each 0.2-0.5 s)."""
    with torch_threads(threads):
        model = calibrated_model(data.x_train.to(device), in_channels=data.in_channels, num_classes=data.num_classes,
                                 depth=depth, width=width, activation=activation, image_size=data.image_size[0],
                                 seed=seed)
    yield 0.3
    with torch_threads(threads):
        return (yield from scaled(compare_steps(model, fold_inputs(data, batch).to(device), repeats=repeats), 0.3))
