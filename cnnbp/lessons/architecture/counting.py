"""What torch itself says about a network: parameters (``sum(p.numel())``), FLOPs (torch's own
``torch.utils.flop_counter.FlopCounterMode``) and, per layer, the output shape and multiply-adds
read off forward hooks. Everything runs on the meta device: shapes flow, no number is computed,
so VGG-16's 15.5 G multiply-adds are counted in milliseconds and no weights are drawn.

What the counters count (where they disagree, this is why):

- ``FlopCounterMode`` counts 2 FLOPs per multiply-add of the convolutions and matrix products
  (``aten.convolution``, ``aten.addmm``, ``aten.mm``...) and nothing else: no bias add, no
  normalisation, activation, pooling or residual add. Our multiply-adds (MACs) count the weight
  products only, so for conv and fc layers FLOPs = 2 x MACs exactly.
- torchvision's model cards report "GFLOPS" (VGG-16: 15.47) that are multiply-adds, as most papers'
  "FLOPs" are: half of what FlopCounterMode reports.

>>> from torch import nn
>>> c = count(nn.Sequential(nn.Conv2d(10, 5, 3, padding=1)), (10, 90, 90))
>>> c.params, c.flops, c.macs, c.layers[0].out_shape
(455, 7290000, 3645000, (5, 90, 90))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnbp.lessons.architecture.layers import Layer, Shape, stack_rows

COUNTED = (nn.Conv2d, nn.Linear)  # the layers with multiply-adds; the rest are free in every count here


@dataclass(frozen=True)
class LayerCount:
    name: str  # the module's name in the network, e.g. "features.0"
    kind: str  # its class, e.g. "Conv2d"
    out_shape: tuple[int, ...]  # (C, H, W) or (units,), one image
    params: int  # its own parameters (not its children's)
    macs: int  # multiply-adds of one image, from the shapes (conv and linear only)


@dataclass(frozen=True)
class Count:
    params: int  # sum(p.numel()) over the network
    flops: int  # FlopCounterMode's total for one image
    flops_by_op: dict[str, int]  # its split by aten op
    layers: list[LayerCount] = field(default_factory=list)

    @property
    def macs(self) -> int:
        """Our own multiply-adds: the sum of the conv and linear layers' counts from their shapes."""
        return sum(layer.macs for layer in self.layers)


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    """Multiply-adds of one image through ``module`` given its output ``out`` (N, ...)."""
    per_image = math.prod(out.shape[1:])
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_image * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


def hwc(out_shape: tuple[int, ...]) -> str:
    """torch's (C, H, W) or (units,) of one image as the calculator writes shapes, H x W x C.

    >>> hwc((5, 90, 90)), hwc((10,))
    ('90x90x5', '1x1x10')
    """
    if len(out_shape) == 3:
        c, h, w = out_shape
        return f"{h}x{w}x{c}"
    return f"1x1x{math.prod(out_shape)}"


def count(model: nn.Module, input_shape: tuple[int, ...]) -> Count:
    """Count ``model`` (built anywhere) on one image of ``input_shape`` (C, H, W), on the meta
    device: the model is moved there (its weights are dropped), so pass a model built for counting."""
    model = model.to("meta").eval()
    layers: list[LayerCount] = []
    handles = []

    def record(name: str):
        def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
            if isinstance(out, torch.Tensor):
                own = sum(p.numel() for p in module.parameters(recurse=False))
                layers.append(LayerCount(name, type(module).__name__, tuple(out.shape[1:]), own, _macs(module, out)))
        return hook

    for name, module in model.named_modules():
        # leaves, and modules with weights of their own (timm's BatchNormAct2d holds an activation)
        if not list(module.children()) or list(module.parameters(recurse=False)):
            handles.append(module.register_forward_hook(record(name)))
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(torch.empty(1, *input_shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
    by_op = {str(op).removeprefix("aten."): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return Count(sum(p.numel() for p in model.parameters()), int(counter.get_total_flops()), by_op, layers)


def build_stack(inp: Shape, layers: list[Layer], *, activation: type[nn.Module] | None = None,
                device: str | torch.device = "meta") -> nn.Sequential:
    """The torch network of a parsed spec (``activation`` after every conv and fc but the last),
    so that torch can check the calculator. An fc layer's input size is the calculator's; a wrong
    one would fail torch's matrix product. On the meta device unless told otherwise."""
    modules: list[nn.Module] = []
    with torch.device(device):
        for i, row in enumerate(stack_rows(inp, layers)):
            layer = row.layer
            if layer.kind == "conv":
                modules.append(nn.Conv2d(row.inp.channels, layer.size, layer.kernel, stride=layer.stride,
                                         padding=layer.padding, dilation=layer.dilation, bias=layer.bias))
            elif layer.kind == "pool":
                pool = nn.MaxPool2d if layer.mode == "max" else nn.AvgPool2d
                modules.append(pool(layer.kernel, stride=layer.stride))
            else:
                if not any(isinstance(m, nn.Flatten) for m in modules):  # (N, C, H, W) -> (N, C*H*W), once
                    modules.append(nn.Flatten())
                modules.append(nn.Linear(row.inp.elements, layer.size, bias=layer.bias))
            if activation is not None and layer.kind != "pool" and i < len(layers) - 1:
                modules.append(activation())
    return nn.Sequential(*modules)
