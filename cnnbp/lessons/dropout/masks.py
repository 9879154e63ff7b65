"""Dropout with masks from a seeded ``torch.Generator``: inverted (torch's) or the lecture's.

Convention used everywhere in this lesson (and the UI): ``p`` is the **drop** probability,
as in ``torch.nn.Dropout(p)``; ``q = 1 - p`` is the keep probability. Each unit is kept with
probability ``q`` independently, on every forward pass in training mode; eval mode draws nothing.

- *inverted* (torch, everyone today): training multiplies the kept units by ``1/q``, so the
  expected activation equals the eval activation, and eval is the identity.
- *lecture* ("at test time scale all activations"): training keeps units as they are, and
  eval multiplies every activation by the keep probability ``q``.

The mask is drawn exactly as torch's CPU kernel draws it (``bernoulli_(q)`` on an empty tensor
shaped like the input), so with a generator seeded like torch's global RNG the masks are
bit-for-bit torch's; the tests check it.

>>> g = torch.Generator().manual_seed(0)
>>> x = torch.ones(2, 4)
>>> y = dropout(x, p=0.5, generator=g)
>>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
True
>>> dropout(x, p=0.5, generator=g, training=False).equal(x)
True
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Convention = Literal["inverted", "lecture"]


def check_p(p: float) -> float:
    """``p`` must be a drop probability in [0, 1): p = 1 drops everything (nothing to scale)."""
    if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout p (drop probability) must be in [0, 1), got {p!r}")
    return float(p)


def draw_mask(like: torch.Tensor, *, p: float, generator: torch.Generator) -> torch.Tensor:
    """A 0/1 mask shaped like ``like`` (same dtype): each entry 1 with probability ``1 - p``."""
    return torch.empty_like(like).bernoulli_(1.0 - check_p(p), generator=generator)


def apply_mask(x: torch.Tensor, mask: torch.Tensor, *, p: float, convention: Convention = "inverted") -> torch.Tensor:
    """Training-mode dropout of ``x`` with a given ``mask`` (the two conventions differ only here)."""
    if convention == "inverted":
        return x * mask * (1.0 / (1.0 - p))  # the same order of operations as torch's kernel
    if convention == "lecture":
        return x * mask
    raise ValueError(f"unknown dropout convention {convention!r}; choose from inverted, lecture")


def eval_scale(p: float, *, convention: Convention = "inverted") -> float:
    """What eval mode multiplies activations by: 1 for inverted dropout, the keep probability
    ``1 - p`` for the lecture's convention."""
    return 1.0 if convention == "inverted" else 1.0 - check_p(p)


def dropout(x: torch.Tensor, *, p: float, generator: torch.Generator, training: bool = True,
            convention: Convention = "inverted") -> torch.Tensor:
    """Dropout of ``x`` with drop probability ``p``; masks come from ``generator`` only."""
    check_p(p)
    if not training:
        scale = eval_scale(p, convention=convention)
        return x if scale == 1.0 else x * scale
    if p == 0.0:
        return x
    return apply_mask(x, draw_mask(x, p=p, generator=generator), p=p, convention=convention)


class SeededDropout(nn.Module):
    """``nn.Dropout`` whose masks come from its own generator (never torch's global RNG).

    ``generator`` must live on the device of the inputs (``make_generator(seed, device=...)``);
    replace it (``module.generator = ...``) to draw a fresh, named stream, e.g. for MC dropout.
    """

    def __init__(self, p: float, *, generator: torch.Generator, convention: Convention = "inverted"):
        super().__init__()
        self.p = check_p(p)
        self.generator = generator
        self.convention: Convention = convention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, p=self.p, generator=self.generator, training=self.training, convention=self.convention)

    def multiplier(self, like: torch.Tensor) -> torch.Tensor | None:
        """The next training-mode mask times its scale, drawn as :meth:`forward` draws it (None at
        p = 0: nothing drawn). ``x * multiplier(x)`` equals ``forward(x)`` bit for bit (x * mask is
        exact for a 0/1 mask). K nets stacked as one (train/stacked_mlp.py) ask each net's layer."""
        if self.p == 0.0:
            return None
        mask = draw_mask(like, p=self.p, generator=self.generator)
        return apply_mask(mask, torch.ones_like(mask), p=self.p, convention=self.convention)

    def extra_repr(self) -> str:
        return f"p={self.p:g} (drop probability), {self.convention}"
