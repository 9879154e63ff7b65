"""The weight-initialisation registry.

Every scheme is a *unit draw* times a *scale*: ``W = scale(fan_in, fan_out, act) * base``,
with base one of unit Gaussian, U(-1, 1), all ones, or a random orthogonal matrix.
Writing the schemes this way lets the classic experiment draw each layer's unit weights
once and reuse them for every scheme (common random numbers: the schemes differ only in
what they claim to differ in, and 4096 x 4096 draws are paid once, not once per scheme).

>>> from torch import nn
>>> layer = nn.Linear(400, 100)
>>> _ = init_model(layer, "kaiming", "relu", generator=torch.Generator().manual_seed(0))
>>> round(float(layer.weight.detach().std()), 3)  # sqrt(2 / 400)
0.071
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Literal

import torch
from torch import nn

Base = Literal["normal", "uniform", "ones", "orthogonal"]
LSUV_TOLERANCE = 0.01  # stop rescaling a layer once its output variance is within 1% of 1
LSUV_MAX_ITERS = 5


@dataclass(frozen=True)
class InitScheme:
    name: str
    label: str
    base: Base
    scale: Callable[[int, int, str], float]  # (fan_in, fan_out, activation) -> multiplier
    data_dependent: bool = False  # LSUV: rescale each layer on a batch after drawing


INITS: dict[str, InitScheme] = {
    s.name: s
    for s in [
        InitScheme("zeros", "zeros", "ones", lambda fi, fo, a: 0.0),
        # Constant 1/fan_in: each pre-activation is the mean of its inputs, so the net is
        # not dead, and every neuron of a layer computes exactly the same thing.
        InitScheme("constant", "constant 1/fan_in", "ones", lambda fi, fo, a: 1.0 / fi),
        InitScheme("normal_0.01", "small random (std 0.01)", "normal", lambda fi, fo, a: 0.01),
        InitScheme("normal_0.05", "larger random (std 0.05)", "normal", lambda fi, fo, a: 0.05),
        # The lecture's "Xavier": std = 1/sqrt(Din) (also known as LeCun normal).
        InitScheme("xavier", "Xavier (std 1/sqrt(fan_in))", "normal", lambda fi, fo, a: 1 / math.sqrt(fi)),
        # Glorot & Bengio's uniform form, averaging fan in and fan out (torch's xavier_uniform_).
        InitScheme(
            "xavier_uniform",
            "Xavier uniform (Glorot, bound sqrt(6/(fan_in+fan_out)))",
            "uniform",
            lambda fi, fo, a: math.sqrt(6 / (fi + fo)),
        ),
        InitScheme("kaiming", "Kaiming (std sqrt(2/fan_in))", "normal", lambda fi, fo, a: math.sqrt(2 / fi)),
        InitScheme(
            "kaiming_uniform",
            "Kaiming uniform (bound sqrt(6/fan_in))",
            "uniform",
            lambda fi, fo, a: math.sqrt(6 / fi),
        ),
        InitScheme("orthogonal", "orthogonal (gain 1)", "orthogonal", lambda fi, fo, a: 1.0),
        InitScheme(
            "lsuv",
            "LSUV (orthogonal, then unit output variance per layer)",
            "orthogonal",
            lambda fi, fo, a: 1.0,
            data_dependent=True,
        ),
    ]
}


def get_init(name: str) -> InitScheme:
    try:
        return INITS[name]
    except KeyError:
        raise ValueError(f"unknown init {name!r}; choose from {', '.join(INITS)}") from None


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out); for a conv, fan_in = kernel_h * kernel_w * in_channels (lecture)."""
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def unit_draw(base: Base, shape: tuple[int, ...], *, generator: torch.Generator,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A weight of ``shape`` (out, in, ...) from the unit distribution ``base``."""
    if base == "ones":
        return torch.ones(shape, dtype=dtype)
    if base == "normal":
        return torch.randn(shape, generator=generator, dtype=dtype)
    if base == "uniform":
        return torch.rand(shape, generator=generator, dtype=dtype).mul_(2).sub_(1)
    if base == "orthogonal":
        # As torch.nn.init.orthogonal_: QR of a Gaussian matrix, signs fixed so the result
        # is uniformly distributed over orthogonal matrices. (out, in*k*k) is flattened.
        rows, cols = shape[0], math.prod(shape[1:])
        flat = torch.randn(max(rows, cols), min(rows, cols), generator=generator, dtype=dtype)
        q, r = torch.linalg.qr(flat)
        q *= torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return q.reshape(shape).contiguous()
    raise ValueError(f"unknown base distribution {base!r}")


def _weighted_layers(model: nn.Module) -> list[nn.Module]:
    """Conv and Linear layers in the order they were registered (= forward order here)."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


@torch.no_grad()
def init_model(
    model: nn.Module,
    name: str,
    activation: str,
    *,
    generator: torch.Generator,
    sample: torch.Tensor | None = None,
) -> nn.Module:
    """Initialise every conv/linear weight of ``model`` with scheme ``name``; biases to 0.

    ``sample`` is a batch of inputs, needed by data-dependent schemes (LSUV).
    """
    scheme = get_init(name)
    layers = _weighted_layers(model)
    if not layers:
        raise ValueError("init_model found no Linear or Conv layer to initialise")
    if scheme.data_dependent and sample is None:  # check before touching a single weight
        raise ValueError(f"init {name!r} is data-dependent: pass a sample batch")
    for layer in layers:
        w = layer.weight
        draw = unit_draw(scheme.base, tuple(w.shape), generator=generator, dtype=w.dtype)
        w.copy_(draw.to(w.device) * scheme.scale(*fans(w), activation))
        if layer.bias is not None:
            layer.bias.zero_()
    if scheme.data_dependent:
        lsuv_rescale(model, layers, sample)
    return model


def lsuv_rescale(model: nn.Module, layers: Iterable[nn.Module], sample: torch.Tensor) -> None:
    """Mishkin & Matas (2015): layer by layer, scale W until its output has unit variance."""
    for layer in layers:
        for _ in range(LSUV_MAX_ITERS):
            seen: list[torch.Tensor] = []
            handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
            try:
                model(sample)
            finally:
                handle.remove()
            std = float(seen[0].std())
            if not math.isfinite(std) or std == 0.0 or abs(std**2 - 1) < LSUV_TOLERANCE:
                break
            layer.weight.div_(std)
