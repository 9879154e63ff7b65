"""Every activation of the registry and its derivative on a grid, where it saturates, and
the lecture's three questions: what happens at x = -10, 0 and 10?

Values and derivatives come from the registry's own modules (what the CNNs use), one
autograd pass over the whole grid, in float64 (in float32 tanh(10) rounds to 1 and its
derivative to exactly 0; the true value is 8.2e-9).

Maxout is not a scalar function: it is max(w1 x + b1, w2 x + b2) with learned pieces. We draw
it with fixed illustrative pieces, ``MAXOUT_PIECES``: max(x, -0.5 x - 1), a convex, piecewise
linear function that is neither ReLU nor Leaky ReLU, to show that its pieces are free.

>>> [c.name for c in activation_curves(["relu"], x_range=2.0, options={}, threshold=0.1)]
['relu']
>>> row = point_table(["sigmoid"], options={}, threshold=0.1)[1]
>>> row["x"], row["value"], row["grad"]
(0.0, 0.5, 0.25)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
from torch import nn

from cnnbp.nn.activations import Maxout, create_act, get_act, local_grad

QUESTION_POINTS = (-10.0, 0.0, 10.0)  # the lecture's "what happens when x = -10, 0, 10?"
# "Kills the gradient": |f'(+-10)| below 1/1000 of its peak. Fixed before any run.
SATURATED_AT_10 = 1e-3
GRID_POINTS = 601  # points across the plotted range: 0.04 apart at the default +-12
PEAK_RANGE = 20.0  # the peak |f'| is searched over [-20, 20] (every peak of the registry is near 0)
PEAK_POINTS = 40_001
MAXOUT_PIECES = ((1.0, 0.0), (-0.5, -1.0))  # (w, b) of each piece: max(x, -0.5 x - 1), illustrative


class ScalarMaxout(nn.Module):
    """max over fixed linear pieces of a scalar x: (N,) -> (N,), through the registry's Maxout."""

    def __init__(self, pieces: Sequence[tuple[float, float]] = MAXOUT_PIECES):
        super().__init__()
        self.pieces = tuple(pieces)
        self.maxout = Maxout(len(self.pieces))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.stack([w * x + b for w, b in self.pieces], dim=1)  # (N,) -> (N, k): one column per piece
        return self.maxout(z).squeeze(1)  # (N, k) -> (N, 1) -> (N,)


def maxout_formula(pieces: Sequence[tuple[float, float]] = MAXOUT_PIECES, *, compact: bool = False) -> str:
    """``max(1x + 0, -0.5x - 1)``: the pieces in words, for titles and verdicts; ``compact``:
    ``max(x, -0.5x-1)``, short enough for a panel's title."""
    if compact:
        terms = [f"{'' if w == 1 else '-' if w == -1 else f'{w:g}'}x{f'{b:+g}' if b else ''}" for w, b in pieces]
    else:
        terms = [f"{w:g}x {'+' if b >= 0 else '-'} {abs(b):g}" for w, b in pieces]
    return f"max({', '.join(terms)})"


def scalar_act(name: str, options: Mapping[str, float]) -> nn.Module:
    """The activation ``name`` as a scalar function in float64 (maxout: the fixed pieces)."""
    if not get_act(name).elementwise:
        return ScalarMaxout().double()
    return create_act(name, **options).double()


def values_and_grads(act: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(f(x), f'(x)) for every point of ``x`` at once: one forward, one autograd pass."""
    with torch.no_grad():
        value = act(x)
    return value, local_grad(act, x)


@functools.lru_cache(maxsize=256)
def _peak(name: str, options: tuple[tuple[str, float], ...]) -> float:
    z = torch.linspace(-PEAK_RANGE, PEAK_RANGE, PEAK_POINTS, dtype=torch.float64)
    return float(local_grad(scalar_act(name, dict(options)), z).abs().max())


def peak_grad_with(name: str, options: Mapping[str, float]) -> float:
    """max |f'(x)| over [-20, 20] with these options (ELU with alpha 2 peaks at 2, not 1)."""
    return _peak(name, tuple(sorted(options.items())))


def saturated_intervals(x: Sequence[float], saturated: Sequence[bool]) -> list[tuple[float, float]]:
    """Contiguous runs of saturated grid points as (first x, last x).

    >>> saturated_intervals([0, 1, 2, 3, 4], [True, True, False, True, True])
    [(0, 1), (3, 4)]
    """
    out, start = [], None
    for i, s in enumerate(saturated):
        if s and start is None:
            start = i
        if start is not None and (not s or i == len(saturated) - 1):
            end = i if s else i - 1
            out.append((x[start], x[end]))
            start = None
    return out


@dataclass
class Curve:
    """One activation on the shared grid, as plain numbers."""

    name: str
    label: str
    x: list[float]
    value: list[float]
    grad: list[float]
    peak: float  # max |f'| (over [-20, 20])
    threshold: float  # saturated where |f'(x)| < threshold * peak
    saturated: list[tuple[float, float]] = field(default_factory=list)  # intervals of x
    frac_saturated: float = 0.0  # share of the plotted range
    zero_grad: bool = False  # f'(x) is exactly 0 somewhere on the grid (ReLU's x < 0)


def activation_curves(names: Sequence[str], *, x_range: float, options: Mapping[str, Mapping[str, float]],
                      threshold: float) -> list[Curve]:
    """f and f' of every activation in ``names`` on [-x_range, x_range] (``GRID_POINTS`` points).

    ``options``: activation name -> its options (``slope``, ``alpha``, ``beta``); missing: defaults.
    """
    x = torch.linspace(-x_range, x_range, GRID_POINTS, dtype=torch.float64)
    xs = [round(v, 9) for v in x.tolist()]  # -2.5e-16 -> 0.0 in tables and hovers
    out = []
    for name in names:
        opts = dict(options.get(name, {}))
        value, grad = values_and_grads(scalar_act(name, opts), x)
        peak = peak_grad_with(name, opts)
        sat = (grad.abs() < threshold * peak).tolist()
        label = get_act(name).label if get_act(name).elementwise else f"Maxout {maxout_formula()}"
        out.append(Curve(name=name, label=label, x=xs, value=value.tolist(), grad=grad.tolist(), peak=peak,
                         threshold=threshold, saturated=saturated_intervals(xs, sat),
                         frac_saturated=sum(sat) / len(sat), zero_grad=bool((grad == 0).any())))
    return out


class PointTable(list):
    """Rows of :func:`point_table` (a plain list of dicts for tables and JSON) and the lecture's
    questions asked of them."""

    def row(self, name: str, x: float) -> dict:
        return next(r for r in self if r["activation"] == name and r["x"] == x)

    def killed_at_10(self, name: str) -> bool:
        """|f'(-10)| and |f'(10)| are both below ``SATURATED_AT_10`` of the peak."""
        return all(self.row(name, x)["grad_over_peak"] < SATURATED_AT_10 for x in (-10.0, 10.0))


def point_table(names: Sequence[str], *, options: Mapping[str, Mapping[str, float]], threshold: float,
                points: Sequence[float] = QUESTION_POINTS) -> PointTable:
    """One row per (activation, x in ``points``): f(x), f'(x), f'(x) / peak, saturated or not.

    At x = 0 the ReLU family is not differentiable; the row shows PyTorch's choice (ReLU: 0).
    """
    x = torch.tensor(list(points), dtype=torch.float64)
    rows = PointTable()
    for name in names:
        opts = dict(options.get(name, {}))
        value, grad = values_and_grads(scalar_act(name, opts), x)
        peak = peak_grad_with(name, opts)
        for xi, v, g in zip(points, value.tolist(), grad.tolist()):
            rows.append({"activation": name, "x": float(xi), "value": v, "grad": g, "grad_over_peak": abs(g) / peak,
                         "saturated": abs(g) < threshold * peak})
    return rows
