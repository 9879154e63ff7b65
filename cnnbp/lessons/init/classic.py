"""The lecture's classic experiment: a deep tanh/ReLU MLP, one batch, per-layer statistics.

    dims = [4096] * 7; x = np.random.randn(16, dims[0])
    for Din, Dout in zip(dims[:-1], dims[1:]):
        W = 0.01 * np.random.randn(Din, Dout); x = np.tanh(x.dot(W))

Every init scheme is ``scale * unit draw`` (see cnnbp.nn.inits), so each layer's unit
weights Z are drawn once per run and shared by every scheme and activation; then
x @ (s Z)^T = s (x @ Z^T) and no scaled copy of a 4096 x 4096 matrix is ever made.
Backward, ||dL/dW|| comes from two 16 x 16 Gram matrices instead of the 4096 x 4096
gradient: dL/dW = dz^T h, so ||dL/dW||_F^2 = sum((dz dz^T) * (h h^T)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Generator, Iterator, Sequence

import torch

from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.base import result_of, scaled
from cnnbp.nn.activations import create_act, get_act, grad_ratio
from cnnbp.nn.inits import Base, get_init, unit_draw
from cnnbp.probes import LayerStats, summarize

# Output ranges of the bounded activations: their histograms use the full range, as the
# lecture's plots do, so "collapsed to 0" and "saturated at +-1" read at a glance.
BOUNDED_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
BOUNDED = tuple(BOUNDED_RANGE)  # activations that saturate on both sides
# Losing or gaining more than 20% of the activation std per layer compounds to 3x over six
# layers: the scale is not kept. Fixed before any run, never tuned to a result.
COLLAPSE_FACTOR = 0.8
EXPLODE_FACTOR = 1.25
VANISHING_LOCAL_GRAD = 0.5  # mean |f'(z)| below half its peak: the gradient halves per layer
# A per-layer factor within EDGE_SDS of its own noise (:func:`factor_noise`) of a line is at the
# line's edge: another draw could put it on the other side, so it is read as neither.
EDGE_SDS = 3.0
NOISE_GROUPS = 8  # each layer's units split into this many interleaved sets to see its std's noise


@dataclass
class ClassicResult:
    """One (activation, init) of the classic experiment, with the lecture's readings of it:
    the verdicts, the claims and the figures all read these properties."""

    activation: str
    init: str
    factor_noise: float  # standard deviation of log(per_layer_factor) between draws, from this one
    layers: list[LayerStats]  # one per hidden layer; grad_norm = ||dL/dh|| there
    weight_grad_norm: list[float] = field(default_factory=list)  # ||dL/dW|| per layer

    def stds(self) -> list[float]:
        return [s.std for s in self.layers]

    @property
    def per_layer_factor(self) -> float:
        """Geometric-mean change of the activation std from one layer to the next."""
        stds = self.stds()
        first, last = stds[0], stds[-1]
        if first <= 0 or last <= 0:
            return 0.0
        return (last / first) ** (1 / max(1, len(stds) - 1))

    @property
    def edge(self) -> float:
        """How far (as a factor) a per-layer factor must be from a line to be on one side of it."""
        return math.exp(EDGE_SDS * self.factor_noise)

    def _below(self, line: float) -> bool | None:
        """Whether the per-layer factor is below ``line``; None within the edge of it."""
        f = self.per_layer_factor
        if f < line / self.edge:
            return True
        if f > line * self.edge:
            return False
        return None

    @property
    def collapses(self) -> bool | None:
        return self._below(COLLAPSE_FACTOR)

    @property
    def explodes(self) -> bool | None:
        below = self._below(EXPLODE_FACTOR)
        return None if below is None else not below

    @property
    def keeps_scale(self) -> bool | None:
        if self.collapses or self.explodes:
            return False
        if self.collapses is None or self.explodes is None:
            return None
        return True

    @property
    def saturated_layers(self) -> int:
        """Layers whose mean local gradient is below half its peak."""
        return sum(layer.mean_local_grad < VANISHING_LOCAL_GRAD for layer in self.layers)

    @property
    def gradients_vanish_everywhere(self) -> bool:
        """Every layer's mean local gradient is below half its peak."""
        return self.saturated_layers == len(self.layers)

    @property
    def behaviour(self) -> str:
        """collapse / explode / saturate / keep their scale, by the fixed lines above; "sit at the
        edge" where the per-layer factor is too close to a line for one draw to say which side.
        Saturation needs a bounded activation and most layers below the local-gradient line."""
        if self.activation in BOUNDED and self.saturated_layers > len(self.layers) / 2:
            return "saturate"
        if self.collapses:
            return "collapse towards zero"
        if self.explodes:
            return "explode"
        if self.keeps_scale:
            return "keep their scale"
        line = COLLAPSE_FACTOR if self.collapses is None else EXPLODE_FACTOR
        return (f"sit at the edge of our x{line:g} per layer line (within x{self.edge:.3f} of it, {EDGE_SDS:g} "
                f"times this draw's own noise): one draw cannot tell which side")


class UnitDraws:
    """Each layer's unit weights, drawn on first use from that layer's own random stream."""

    def __init__(self, seed: int):
        self.seed = seed
        self._cache: dict[tuple, torch.Tensor] = {}
        self._first: dict[tuple, torch.Tensor] = {}

    def first_layer(self, base: Base, x: torch.Tensor, d_out: int) -> torch.Tensor:
        """x Z_1^T: every configuration sees the same input batch, so compute it once."""
        key = (base, d_out)
        if key not in self._first:
            self._first[key] = x @ self.get(base, 0, (d_out, x.shape[1])).T
        return self._first[key]

    def get(self, base: Base, layer: int, shape: tuple[int, int]) -> torch.Tensor:
        key = (base, layer, shape)
        if key not in self._cache:
            g = make_generator(derive_seed(self.seed, "classic", base, layer, *shape))
            self._cache[key] = unit_draw(base, shape, generator=g)
        return self._cache[key]


def classic_inputs(*, width: int, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The unit-Gaussian input batch and the fixed upstream gradient dL/dh at the top.

    The same upstream gradient for every configuration: differences in the gradients
    per layer then come from the network alone.
    """
    x = torch.randn(batch_size, width, generator=make_generator(derive_seed(seed, "classic", "x")))
    up = torch.randn(batch_size, width, generator=make_generator(derive_seed(seed, "classic", "dL/dh")))
    return x, up


@torch.no_grad()
def classic_steps(
    activation: str,
    init: str,
    *,
    x: torch.Tensor,
    upstream: torch.Tensor,
    depth: int,
    draws: UnitDraws,
) -> Generator[float, None, ClassicResult]:
    """Forward ``x`` through ``depth`` layers of ``init``-initialised weights, then backward; yield how
    far it is after each layer's forward (a layer's first configuration draws its 4096 x 4096 unit
    weights there: 0.1-0.3 s each) and after each layer's backward, and return the result."""
    scheme, act = get_init(init), create_act(activation)
    pieces, width = get_act(activation).width_factor, upstream.shape[1]
    h, saved, outputs, ratios = x, [], [], []
    for layer in range(depth):
        d_in, d_out = h.shape[1], width * pieces
        if layer == 0:
            z_unit = draws.first_layer(scheme.base, x, d_out)
        else:
            z_unit = h @ draws.get(scheme.base, layer, (d_out, d_in)).T  # (B, d_out) = h Z^T
        scale = scheme.scale(d_in, d_out, activation)
        if scheme.data_dependent:  # LSUV: pre-activations are linear in the scale: one step
            std = float(z_unit.std())
            scale = 1.0 / std if std > 0 else 1.0
        z = z_unit * scale
        saved.append((h, z, scale))
        h = act(z)
        outputs.append(h)
        ratios.append(grad_ratio(act, activation, z))
        yield (layer + 1) / (2 * depth + 1)
    value_range = BOUNDED_RANGE.get(activation) or (
        min(float(o.min()) for o in outputs), max(float(o.max()) for o in outputs))
    layers = [summarize(f"layer {i + 1}", o, m, value_range=value_range)
              for i, (o, m) in enumerate(zip(outputs, ratios))]

    weight_grad_norm = [0.0] * depth
    dh = upstream
    for layer in reversed(range(depth)):
        h_in, z, scale = saved[layer]
        layers[layer].grad_norm = float(dh.norm())
        layers[layer].grad_std = float(dh.std())
        dz = _act_vjp(act, z, dh)  # (B, d_out)
        gram = (dz @ dz.T) * (h_in @ h_in.T)  # (B, B); its sum is ||dL/dW||_F^2
        weight_grad_norm[layer] = math.sqrt(max(float(gram.sum()), 0.0))
        if layer > 0:  # dL/dx at the input is never shown: skip that 4096-wide matmul
            dh = (dz @ draws.get(scheme.base, layer, (z.shape[1], h_in.shape[1]))) * scale
        yield (2 * depth - layer) / (2 * depth + 1)
    return ClassicResult(activation, init, factor_noise(outputs), layers, weight_grad_norm)


def factor_noise(outputs: list[torch.Tensor]) -> float:
    """How much log(per_layer_factor) would move with another draw, read off this one: each
    layer's std measured on NOISE_GROUPS interleaved sets of its units scatters by its own sampling
    noise (the units of a layer are independent draws); the layers after the first each add theirs
    to the last layer's std. Tracks the spread over 10 seeds within 0.4-2x (widths 16-2048, depths
    2-6, ReLU, tanh, SELU, sigmoid). A layer whose std is 0 (zeros, a dead layer) adds no noise."""
    var = 0.0
    for h in outputs[1:]:
        stds = torch.stack([h[:, g::NOISE_GROUPS].std() for g in range(NOISE_GROUPS)])
        if bool((stds > 0).all()):
            var += float(stds.log().var()) / NOISE_GROUPS
    return math.sqrt(var) / max(1, len(outputs) - 1)


def _act_vjp(act: torch.nn.Module, z: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(act.forward(z), z, upstream)
    return grad


def classic_experiment(
    *,
    activations: Sequence[str],
    inits: Sequence[str],
    width: int = 4096,
    depth: int = 6,
    batch_size: int = 16,
    seed: int = 0,
    beats: bool = False,
) -> Iterator[ClassicResult | float]:
    """Yield one :class:`ClassicResult` per (activation, init), activations outermost. ``beats``:
    also how far each configuration is (a float in 0..1) after each of its layers' forward.

    >>> (r,) = classic_experiment(activations=["relu"], inits=["kaiming"], width=1024, depth=3)
    >>> [round(s, 1) for s in r.stds()]  # Kaiming keeps a ReLU net's scale
    [0.8, 0.8, 0.8]
    """
    x, upstream = classic_inputs(width=width, batch_size=batch_size, seed=seed)
    draws = UnitDraws(seed)
    for activation in activations:
        for init in inits:
            steps = classic_steps(activation, init, x=x, upstream=upstream, depth=depth, draws=draws)
            yield (yield from scaled(steps)) if beats else result_of(steps)


def classic_flops(*, n_configs: int, width: int, depth: int, batch_size: int, pieces: int = 1,
                  orthogonal: bool = False) -> float:
    """Multiply-adds x 2 of the experiment, plus QR of each orthogonal draw (4/3 n^3)."""
    matmuls = n_configs * depth * 2 * (2 * batch_size * width * width * pieces)
    qr = depth * (4 / 3) * (width * pieces) * width * width if orthogonal else 0.0
    draws = depth * width * width * pieces * 20  # ~20 flop-equivalents per random number
    return matmuls + qr + draws
