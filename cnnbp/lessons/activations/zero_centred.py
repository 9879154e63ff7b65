""""Sigmoid outputs are not zero-centred": what all-positive inputs do to a neuron's gradient.

A sigmoid neuron f(w . x + b) has dL/dw = upstream * f'(z) * x: one scalar times x. When every
x_i > 0 (the outputs of a sigmoid layer), every component of dL/dw has the sign of that
scalar: all positive or all negative, per sample. A minibatch averages samples whose
scalars differ in sign, so its mean gradient can mix signs ("minibatches help").

The 2-D picture: a linear neuron y = w . x learning w* = (1, -1) from w = (0, 0) by SGD, one
sample per step. With all-positive inputs every update points into the first or the third
quadrant, so reaching "one weight up, one down" takes a zig-zag; with zero-mean inputs of the
same second moment the updates point anywhere.

>>> r = same_sign_fractions(fan_in=8, samples=256, seed=0)[0]
>>> r.kind, r.per_sample
('sigmoid', 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from cnnbp.device import derive_seed, make_generator

MINIBATCH = 32  # samples averaged into one minibatch gradient (a common batch size)
CENTRED_SAME_SIGN_MAX = 0.05  # zero-mean inputs: at most 5% of per-sample gradients one-signed. Fixed before any run.
# What feeds the neuron: the outputs of a previous layer whose pre-activations are unit Gaussian.
INPUT_KINDS = {
    "sigmoid": "sigmoid outputs (all positive)",
    "relu": "ReLU outputs (positive or 0)",
    "tanh": "tanh outputs (zero-centred)",
    "centred": "sigmoid outputs minus their mean",
}
W_START = (0.0, 0.0)
W_STAR = (1.0, -1.0)  # the optimum: one weight must go up, the other down
# Inputs for the 2-D problem from one uniform draw u: all positive 2u ~ U(0, 2) and zero-mean
# 4u - 2 ~ U(-2, 2). Both have E[x_i^2] = 4/3, so the learning rate means the same to both.
ZIGZAG_KINDS = {"positive": "all-positive inputs, U(0, 2)", "zero_mean": "zero-mean inputs, U(-2, 2)"}
CLOSE_ENOUGH = 0.1  # "reached": within 10% of the starting distance to w*
CONTOUR_POINTS = 41


def same_sign(grads: torch.Tensor) -> torch.Tensor:
    """Per row of ``grads`` (N, D): all non-zero components share one sign (zeros update
    nothing, so they do not break it); a row of zeros does not count. -> (N,) bool."""
    pos, neg = (grads > 0).any(dim=1), (grads < 0).any(dim=1)
    return pos ^ neg


def neuron_inputs(kind: str, z: torch.Tensor) -> torch.Tensor:
    """The previous layer's outputs for pre-activations ``z`` (N, D)."""
    if kind == "sigmoid":
        return torch.sigmoid(z)
    if kind == "relu":
        return torch.relu(z)
    if kind == "tanh":
        return torch.tanh(z)
    if kind == "centred":
        h = torch.sigmoid(z)
        return h - h.mean(dim=0)  # the same outputs, centred over the batch
    raise ValueError(f"unknown input kind {kind!r}; choose from {', '.join(INPUT_KINDS)}")


def neuron_weight_grads(x: torch.Tensor, w: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """dL/dw of a sigmoid neuron sigmoid(x . w) for every sample at once: (N, D).

    dL/dw_i = upstream * sigma'(z) * x_i with sigma'(z) = sigma(z) (1 - sigma(z)) > 0.
    """
    s = torch.sigmoid(x @ w)  # (N, D) @ (D,) -> (N,)
    return (upstream * s * (1 - s))[:, None] * x  # (N,) scalars times (N, D) inputs


@dataclass
class SignResult:
    kind: str
    label: str
    per_sample: float  # share of samples whose gradient on w has one sign in every component
    per_minibatch: float  # the same for the mean gradient of each minibatch of MINIBATCH samples
    samples: int
    minibatches: int
    input_mean: float


class SameSign(list):
    """The :class:`SignResult` of every input kind, in ``INPUT_KINDS`` order."""

    def kind(self, kind: str) -> SignResult:
        return next(r for r in self if r.kind == kind)

    @property
    def holds(self) -> bool:
        """All-positive inputs give one-signed gradients on every sample; centred ones almost never."""
        return self.kind("sigmoid").per_sample == 1.0 and self.kind("centred").per_sample <= CENTRED_SAME_SIGN_MAX


def same_sign_fractions(*, fan_in: int, samples: int, seed: int) -> SameSign:
    """The share of same-sign weight gradients for each of ``INPUT_KINDS`` (same draws for all)."""
    g = make_generator(derive_seed(seed, "same-sign"))
    z = torch.randn(samples, fan_in, generator=g, dtype=torch.float64)  # previous layer's pre-activations
    w = torch.randn(fan_in, generator=g, dtype=torch.float64) / math.sqrt(fan_in)
    upstream = torch.randn(samples, generator=g, dtype=torch.float64)  # dL/df from above, either sign
    out = SameSign()
    n_batches = samples // MINIBATCH
    for kind, label in INPUT_KINDS.items():
        x = neuron_inputs(kind, z)
        grads = neuron_weight_grads(x, w, upstream)  # (N, D)
        batch_means = grads[: n_batches * MINIBATCH].view(n_batches, MINIBATCH, fan_in).mean(dim=1)
        out.append(SignResult(kind=kind, label=label, per_sample=float(same_sign(grads).double().mean()),
                              per_minibatch=float(same_sign(batch_means).double().mean()) if n_batches else math.nan,
                              samples=samples, minibatches=n_batches, input_mean=float(x.mean())))
    return out


@dataclass
class ZigzagPath:
    kind: str
    label: str
    w1: list[float] = field(default_factory=list)  # the path, W_START first
    w2: list[float] = field(default_factory=list)
    same_sign_updates: float = 0.0  # share of updates with both components of one sign
    final_distance: float = 0.0  # |w - w*| at the end
    steps_to_reach: int | None = None  # first step within CLOSE_ENOUGH of the start distance
    path_length: float = 0.0
    grid_w1: list[float] = field(default_factory=list)  # the loss surface, for contours
    grid_w2: list[float] = field(default_factory=list)
    grid_loss: list[list[float]] = field(default_factory=list)  # [w2 index][w1 index]


def zigzag_inputs(kind: str, u: torch.Tensor) -> torch.Tensor:
    if kind == "positive":
        return 2 * u
    if kind == "zero_mean":
        return 4 * u - 2
    raise ValueError(f"unknown input kind {kind!r}; choose from {', '.join(ZIGZAG_KINDS)}")


def zigzag(*, steps: int, lr: float, seed: int) -> list[ZigzagPath]:
    """SGD (one sample a step, squared error) on y = w . x towards ``W_STAR``, for each input kind;
    both kinds see the same uniform draws in the same order."""
    u = torch.rand(steps, 2, generator=make_generator(derive_seed(seed, "zigzag")), dtype=torch.float64)
    w_star = torch.tensor(W_STAR, dtype=torch.float64)
    start = torch.tensor(W_START, dtype=torch.float64)
    d0 = float((start - w_star).norm())
    out = []
    for kind, label in ZIGZAG_KINDS.items():
        x = zigzag_inputs(kind, u)  # (steps, 2)
        y = x @ w_star
        w, path, same, reached = start.clone(), [start.clone()], 0, None
        for t in range(steps):
            grad = (x[t] @ w - y[t]) * x[t]  # d/dw of 0.5 (w . x - y)^2: a scalar times x
            same += int(bool(same_sign(grad[None])[0]))
            w = w - lr * grad
            path.append(w)
            if reached is None and float((w - w_star).norm()) <= CLOSE_ENOUGH * d0:
                reached = t + 1
        p = torch.stack(path)  # (steps + 1, 2)
        if not torch.isfinite(p).all():
            raise ValueError(f"SGD diverged at lr {lr}; lower the learning rate")
        g1, g2, loss = loss_grid(x, y, p)
        out.append(ZigzagPath(kind=kind, label=label, w1=p[:, 0].tolist(), w2=p[:, 1].tolist(),
                              same_sign_updates=same / steps, final_distance=float((p[-1] - w_star).norm()),
                              steps_to_reach=reached, path_length=float((p[1:] - p[:-1]).norm(dim=1).sum()),
                              grid_w1=g1, grid_w2=g2, grid_loss=loss))
    return out


def loss_grid(x: torch.Tensor, y: torch.Tensor, path: torch.Tensor) -> tuple[list, list, list]:
    """Mean squared error 0.5 mean((w . x - y)^2) over the samples, on a grid around the path and w*."""
    pts = torch.cat([path, torch.tensor([W_STAR], dtype=path.dtype)])
    lo, hi = pts.min(dim=0).values - 0.25, pts.max(dim=0).values + 0.25
    a = torch.linspace(float(lo[0]), float(hi[0]), CONTOUR_POINTS, dtype=x.dtype)
    b = torch.linspace(float(lo[1]), float(hi[1]), CONTOUR_POINTS, dtype=x.dtype)
    w = torch.stack(torch.meshgrid(b, a, indexing="ij")[::-1], dim=-1)  # (w2, w1, 2): rows are w2
    residual = w @ x.T - y  # (G2, G1, steps)
    return a.tolist(), b.tolist(), (0.5 * residual.pow(2).mean(dim=-1)).tolist()
