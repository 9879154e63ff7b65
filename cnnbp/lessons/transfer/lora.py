"""LoRA (Hu et al., 2021) for conv and linear layers, in a few lines of our own.

The pretrained weight W stays frozen; the layer learns a low-rank change ``scale * B @ A``
(A: rank x fan-in, B: fan-out x rank, ``scale = alpha / rank``). B starts at zero, so the
wrapped network computes exactly what the source did until training moves B. A conv's
weight (out, in, kh, kw) is treated as an (out, in*kh*kw) matrix, so the update is one
extra term on the kernel and ``merged()`` folds it in for free inference.

Why not ``peft``: it would pull in transformers and accelerate for what is ~40 lines here.

>>> conv = nn.Conv2d(3, 8, 3, padding=1)
>>> lora = LoRAConv2d(conv, rank=2, generator=torch.Generator().manual_seed(0))
>>> x = torch.rand(1, 3, 5, 5)
>>> torch.equal(lora(x), conv(x)), lora.trainable_params()
(True, 70)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def max_rank(layer: nn.Conv2d | nn.Linear) -> int:
    """The largest rank a LoRA update of ``layer`` can have: min(fan-out, fan-in)."""
    w = layer.weight
    return min(w.shape[0], w[0].numel())


class _LoRA(nn.Module):
    def __init__(self, base: nn.Conv2d | nn.Linear, *, rank: int, alpha: float | None,
                 generator: torch.Generator):
        super().__init__()
        fan_out, fan_in = base.weight.shape[0], base.weight[0].numel()
        if isinstance(base, nn.Conv2d) and base.groups != 1:
            raise ValueError(f"LoRA here supports ungrouped convs only, got groups={base.groups}")
        limit = min(fan_out, fan_in)
        if not 1 <= rank <= limit:
            raise ValueError(f"LoRA rank {rank} does not fit a layer with {fan_out} outputs and {fan_in} "
                             f"inputs: the rank must be in [1, {limit}]")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank, self.scale = rank, (alpha if alpha is not None else rank) / rank
        # A as nn.Linear's default init (uniform, bound 1/sqrt(fan-in)); B zero: no change at init
        bound = 1.0 / math.sqrt(fan_in)
        a = torch.rand(rank, fan_in, generator=generator) * 2 * bound - bound
        self.lora_a = nn.Parameter(a.to(base.weight.device))  # (rank, fan_in)
        self.lora_b = nn.Parameter(torch.zeros(fan_out, rank, device=base.weight.device))  # (fan_out, rank)

    def delta(self) -> torch.Tensor:
        """The learned change of the weight, shaped like it."""
        return (self.scale * self.lora_b @ self.lora_a).view_as(self.base.weight)

    def trainable_params(self) -> int:
        return self.lora_a.numel() + self.lora_b.numel()


class LoRAConv2d(_LoRA):
    """A frozen ``nn.Conv2d`` plus a trainable rank-``rank`` change of its kernel."""

    def __init__(self, base: nn.Conv2d, *, rank: int, alpha: float | None = None,
                 generator: torch.Generator):
        super().__init__(base, rank=rank, alpha=alpha, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.base
        return F.conv2d(x, b.weight + self.delta(), b.bias, b.stride, b.padding, b.dilation, b.groups)

    def merged(self) -> nn.Conv2d:
        """A plain conv with the update folded into its kernel (same outputs)."""
        b = self.base
        conv = nn.Conv2d(b.in_channels, b.out_channels, b.kernel_size, stride=b.stride, padding=b.padding,
                         dilation=b.dilation, bias=b.bias is not None).to(b.weight.device)
        with torch.no_grad():
            conv.weight.copy_(b.weight + self.delta())
            if b.bias is not None:
                conv.bias.copy_(b.bias)
        return conv


class LoRALinear(_LoRA):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` change of its weight."""

    def __init__(self, base: nn.Linear, *, rank: int, alpha: float | None = None,
                 generator: torch.Generator):
        super().__init__(base, rank=rank, alpha=alpha, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.base.weight + self.delta(), self.base.bias)

    def merged(self) -> nn.Linear:
        b = self.base
        lin = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None).to(b.weight.device)
        with torch.no_grad():
            lin.weight.copy_(b.weight + self.delta())
            if b.bias is not None:
                lin.bias.copy_(b.bias)
        return lin


def apply_lora(model: nn.Module, *, rank: int, generator: torch.Generator,
               skip: tuple[str, ...] = ("head",)) -> list[str]:
    """Replace every Conv2d/Linear of ``model`` (except the modules named in ``skip``, e.g. a
    new head that trains in full, and grouped convs: a depthwise kernel is one small matrix per
    channel, nothing a low-rank change saves on) by its LoRA wrapper, in place; freeze every other
    parameter outside ``skip``. Returns the wrapped layers' names. A rank that does not fit some
    layer fails before anything is changed."""
    skipped = lambda name: any(name == s or name.startswith(s + ".") for s in skip)  # noqa: E731
    grouped = lambda m: isinstance(m, nn.Conv2d) and m.groups != 1  # noqa: E731
    targets = [(name, m) for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) and not skipped(name) and not grouped(m)]
    if not targets:
        raise ValueError("apply_lora found no Conv2d or Linear layer to wrap")
    too_small = [(name, max_rank(m)) for name, m in targets if rank > max_rank(m)]
    if too_small:
        name, limit = min(too_small, key=lambda t: t[1])
        raise ValueError(f"LoRA rank {rank} is larger than layer {name} allows (at most {limit})")
    for name, p in model.named_parameters():
        if not any(name.startswith(s + ".") for s in skip):
            p.requires_grad_(False)
    for name, m in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        wrapper = LoRAConv2d if isinstance(m, nn.Conv2d) else LoRALinear
        setattr(parent, child, wrapper(m, rank=rank, generator=generator))
    return [name for name, _ in targets]


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every LoRA wrapper of ``model`` into a plain layer, in place; returns ``model``."""
    for name, m in list(model.named_modules()):
        if isinstance(m, _LoRA):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, m.merged())
    return model
