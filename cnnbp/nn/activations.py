"""The activation registry: name -> how to build it, and how to tell when it saturates.

>>> act = create_act("leaky_relu", slope=0.1)
>>> float(act(torch.tensor(-10.0)))
-1.0
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

# A unit counts as saturated where its local gradient f'(z) is below this share of the
# activation's peak gradient: the signal passing back through it is cut by more than 10x.
SATURATION_GRAD_RATIO = 0.1


class Maxout(nn.Module):
    """max over ``pieces`` linear pieces (Goodfellow et al. 2013).

    The layer before it produces ``pieces`` times the width; this takes the max over
    consecutive groups of channels: (N, k*C, ...) -> (N, C, ...).
    """

    def __init__(self, pieces: int = 2):
        super().__init__()
        if pieces < 2:
            raise ValueError(f"maxout needs at least 2 pieces, got {pieces}")
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        return x.view(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class Swish(nn.Module):
    """x * sigmoid(beta * x) (Ramachandran et al. 2018); beta = 1 is SiLU."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


@dataclass(frozen=True)
class ActSpec:
    """One registry entry. ``width_factor``: how many inputs per output unit (maxout: 2)."""

    name: str
    label: str
    factory: Callable[..., nn.Module]
    options: dict[str, float] = field(default_factory=dict)  # tunable option -> default
    width_factor: int = 1
    elementwise: bool = True


ACTIVATIONS: dict[str, ActSpec] = {
    spec.name: spec
    for spec in [
        ActSpec("sigmoid", "sigmoid", nn.Sigmoid),
        ActSpec("tanh", "tanh", nn.Tanh),
        ActSpec("relu", "ReLU", nn.ReLU),
        ActSpec(
            "leaky_relu",
            "Leaky ReLU",
            lambda slope=0.01: nn.LeakyReLU(negative_slope=slope),
            {"slope": 0.01},
        ),
        ActSpec("prelu", "PReLU", lambda init=0.25: nn.PReLU(init=init), {"init": 0.25}),
        ActSpec("elu", "ELU", lambda alpha=1.0: nn.ELU(alpha=alpha), {"alpha": 1.0}),
        ActSpec("selu", "SELU", nn.SELU),
        ActSpec("maxout", "Maxout (2 pieces)", lambda: Maxout(2), width_factor=2, elementwise=False),
        ActSpec("swish", "Swish", lambda beta=1.0: Swish(beta), {"beta": 1.0}),
        ActSpec("silu", "SiLU (Swish, beta=1)", nn.SiLU),
        ActSpec("gelu", "GELU", nn.GELU),
    ]
}


def get_act(name: str) -> ActSpec:
    """The registry entry for ``name``; unknown names list the known ones."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}") from None


def create_act(name: str, **options: float) -> nn.Module:
    """Build the activation ``name`` with its options (``slope``, ``alpha``, ``beta``, ``init``)."""
    spec = get_act(name)
    unknown = set(options) - set(spec.options)
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ValueError(f"activation {name!r} has no option {sorted(unknown)}; options: {allowed}")
    return spec.factory(**options)


def local_grad(act: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """f'(z) elementwise, by autograd on a detached copy (works for every elementwise act)."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        # .forward, not __call__: probes call this from inside the module's own hook
        (grad,) = torch.autograd.grad(act.forward(z).sum(), z)
    return grad


@functools.lru_cache(maxsize=None)
def peak_grad(name: str) -> float:
    """max |f'(z)| over z in [-20, 20] at default options (sigmoid: 0.25, tanh: 1, SELU: 1.76)."""
    spec = get_act(name)
    if not spec.elementwise:
        return 1.0
    z = torch.linspace(-20, 20, 40_001)
    return float(local_grad(create_act(name), z).abs().max())


def grad_ratio(act: nn.Module, name: str, z: torch.Tensor) -> torch.Tensor:
    """|f'(z)| / peak |f'|, shaped like the activation's *output*: 1 passes the gradient
    at full strength, 0 kills it. Maxout always passes its winning piece's gradient: 1."""
    if not get_act(name).elementwise:
        return torch.ones_like(act.forward(z))
    return local_grad(act, z).abs() / peak_grad(name)


def saturated_mask(act: nn.Module, name: str, z: torch.Tensor) -> torch.Tensor:
    """Where f'(z) < 10% of its peak. ReLU's negative side counts (its gradient is 0)."""
    return grad_ratio(act, name, z) < SATURATION_GRAD_RATIO
