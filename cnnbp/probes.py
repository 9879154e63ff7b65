"""Per-layer statistics of activations and gradients, as plain numbers.

Hooks are context managers that always remove themselves (a hook left on a shared model
is a bug) and keep floats, never tensors. :class:`ForwardHooks` is that context manager once;
:class:`ActivationProbe` and the activations lesson's dead-unit probe say only which modules
they hook and what they keep.

>>> from cnnbp.nn import SmallCNN
>>> net = SmallCNN(1, 10, depth=2, width=4)
>>> with ActivationProbe(net, activation="relu") as probe:
...     _ = net(torch.randn(8, 1, 8, 8))
>>> sorted(probe.stats)
['blocks.0.act', 'blocks.1.act']
>>> 0.0 <= probe.stats["blocks.0.act"].frac_zero <= 1.0
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from cnnbp.nn.activations import ACTIVATIONS, SATURATION_GRAD_RATIO, create_act, grad_ratio

HIST_BINS = 40


@dataclass
class LayerStats:
    """What one activation layer did on one batch. Units are channels (conv) or features."""

    layer: str
    mean: float
    std: float
    min: float
    max: float
    frac_zero: float  # share of outputs exactly 0
    frac_saturated: float  # share of outputs whose local gradient is < 10% of its peak
    frac_dead_units: float  # share of units saturated on every sample and position
    mean_local_grad: float  # mean |f'(z)| / peak |f'|: 1 passes gradients whole, 0 kills them
    hist_counts: list[int] = field(default_factory=list)
    hist_edges: list[float] = field(default_factory=list)
    grad_norm: float | None = None  # ||dL/dh|| at this layer, when a backward pass ran
    grad_std: float | None = None

    def as_row(self) -> dict:
        row = asdict(self)
        row.pop("hist_counts"), row.pop("hist_edges")
        return row


def histogram(values: torch.Tensor, *, bins: int = HIST_BINS,
              value_range: tuple[float, float] | None = None) -> tuple[list[int], list[float]]:
    """Counts and edges (bins + 1) of ``values`` over ``value_range`` (default: min..max)."""
    v = values.detach().float().flatten()
    lo, hi = value_range if value_range else (float(v.min()), float(v.max()))
    if hi <= lo:  # a constant layer (e.g. all zeros): one narrow bin around the value
        lo, hi = lo - 0.5, lo + 0.5
    counts = torch.histc(v.clamp(lo, hi), bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1)
    return [int(c) for c in counts.tolist()], [float(e) for e in edges.tolist()]


def summarize(layer: str, h: torch.Tensor, ratio: torch.Tensor, *,
              value_range: tuple[float, float] | None = None, histograms: bool = True) -> LayerStats:
    """Statistics of one activation output ``h`` (N, C, ...) and its local-gradient ratio
    (:func:`cnnbp.nn.activations.grad_ratio`, same shape); ``histograms=False`` leaves the
    histogram empty (a third of the cost where nothing draws it)."""
    h = h.detach().float()
    saturated = ratio < SATURATION_GRAD_RATIO
    per_unit = saturated.transpose(0, 1).flatten(1)  # (C, N * H * W): units first
    dead = per_unit.all(dim=1)
    counts, edges = histogram(h, value_range=value_range) if histograms else ([], [])
    return LayerStats(
        layer=layer,
        mean=float(h.mean()),
        std=float(h.std()) if h.numel() > 1 else 0.0,
        min=float(h.min()),
        max=float(h.max()),
        frac_zero=float((h == 0).float().mean()),
        frac_saturated=float(saturated.float().mean()),
        frac_dead_units=float(dead.float().mean()),
        mean_local_grad=float(ratio.float().mean()),
        hist_counts=counts,
        hist_edges=edges,
    )


def _activation_types() -> tuple[type, ...]:
    return tuple({type(create_act(name)) for name in ACTIVATIONS})


class ForwardHooks:
    """A forward hook on every module of ``model`` that :meth:`wants`, as a context manager:
    registered on enter (a ValueError if none matched), removed on exit, even on error.

    Subclasses say which modules they want and what :meth:`on_forward` keeps of each forward;
    ``looked_for`` names those modules in the error.
    """

    looked_for = "activation"

    def __init__(self, model: nn.Module):
        self.model = model
        self._handles: list = []

    def wants(self, module: nn.Module) -> bool:
        raise NotImplementedError

    def on_forward(self, name: str, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        raise NotImplementedError

    def __enter__(self):
        for name, module in self.model.named_modules():
            if self.wants(module):
                self._handles.append(module.register_forward_hook(self._hook(name)))
        if not self._handles:
            raise ValueError(f"{type(self).__name__} found no {self.looked_for} module in the model")
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self.on_forward(name, module, inputs, output)
        return hook


class ActivationProbe(ForwardHooks):
    """Record :class:`LayerStats` for every activation module of ``model`` on each forward.

    ``track_grads=True`` also records ||dL/dh|| after ``loss.backward()`` (tensor hooks).
    Only the latest forward is kept in ``stats``; hooks are removed on exit, even on error.
    """

    def __init__(self, model: nn.Module, *, activation: str, track_grads: bool = False,
                 value_range: tuple[float, float] | None = None, histograms: bool = True):
        super().__init__(model)
        self.activation, self.histograms = activation, histograms
        self.track_grads = track_grads
        self.value_range = value_range
        self.stats: dict[str, LayerStats] = {}
        self._types = _activation_types()

    def wants(self, module: nn.Module) -> bool:
        return isinstance(module, self._types)

    def on_forward(self, name: str, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        with torch.no_grad():
            ratio = grad_ratio(module, self.activation, inputs[0])
        self.stats[name] = summarize(name, output, ratio, value_range=self.value_range, histograms=self.histograms)
        if self.track_grads and output.requires_grad:
            output.register_hook(self._grad_hook(name))

    def _grad_hook(self, name: str):
        def hook(grad: torch.Tensor) -> None:
            self.stats[name].grad_norm = float(grad.norm())
            self.stats[name].grad_std = float(grad.std())
        return hook


def weight_grad_stats(model: nn.Module) -> dict[str, dict[str, float]]:
    """||dL/dW|| and std(dL/dW) for every conv/linear weight that has a gradient."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)) and module.weight.grad is not None:
            g = module.weight.grad
            out[name] = {"grad_norm": float(g.norm()), "grad_std": float(g.std())}
    return out
