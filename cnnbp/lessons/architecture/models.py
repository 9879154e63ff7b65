"""Real architectures counted without weights: the app's own SmallCNN, VGG-16 (the lecture's example),
ResNet-18 (torchvision) and the EfficientNet-Lite0 of ``cnnbp.nn.imagenet`` (timm), each built on
the meta device and counted three ways: torch's ``sum(p.numel())`` and ``FlopCounterMode``
(:mod:`.counting`), our per-layer count from the shapes, and, for the plain stacks that the
calculator's syntax can write (SmallCNN's convs, VGG-16), the calculator's own recurrence.

>>> s = summary("vgg16")
>>> s.params, s.params_by_recurrence, s.macs, s.flops == 2 * s.macs, round(s.fc_share, 3)
(138357544, 138357544, 15470264320, True, 0.894)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from torch import nn

from cnnbp.lessons.architecture.counting import Count, count
from cnnbp.lessons.architecture.layers import Shape, parse_spec, stack_rows
from cnnbp.nn import SmallCNN, small_cnn_macs
from cnnbp.nn import imagenet as imagenet_net

# VGG-16 (configuration D of Simonyan & Zisserman): 13 3x3 convs in 5 stages, a 2x2 pool after each, 3 fc.
VGG16_SPEC = ", ".join(
    [", ".join([f"conv {c} k3 p1"] * n + ["pool 2"]) for c, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))]
    + ["fc 4096", "fc 4096", "fc 1000"])
SMALL_CNN = dict(in_channels=1, image_size=8, depth=4, width=16, num_classes=10)  # the lessons' SmallCNN on digits


@dataclass(frozen=True)
class Architecture:
    label: str
    build: Callable[[], nn.Module]  # called under ``torch.device("meta")``
    input_shape: tuple[int, int, int]  # (C, H, W)
    spec: str | None = None  # the same network in the calculator's syntax, where it can be written
    note: str = ""


def _small_cnn() -> nn.Module:
    c = SMALL_CNN
    return SmallCNN(c["in_channels"], c["num_classes"], depth=c["depth"], width=c["width"], image_size=c["image_size"])


def _small_cnn_spec() -> str:
    """SmallCNN's convs and pools in the calculator's syntax (the pooling schedule of its constructor;
    without a norm its convs keep their biases)."""
    c, width, size, layers = SMALL_CNN, SMALL_CNN["width"], SMALL_CNN["image_size"], []
    for i in range(c["depth"]):
        layers.append(f"conv {width} k3 p1")
        if i % 2 == 1 and size >= 4:
            layers.append("pool 2")
            size, width = size // 2, width * 2
    return ", ".join(layers)


def _torchvision(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)(weights=None)
    return build


def _model_card(enum: str) -> tuple[float, float] | None:
    """(parameters, GFLOPS) that torchvision's weights metadata reports (no download)."""
    import torchvision

    meta = getattr(torchvision.models, enum).IMAGENET1K_V1.meta
    return float(meta["num_params"]), float(meta["_ops"])


def _efficientnet() -> nn.Module:
    import timm

    return timm.create_model(imagenet_net.ARCH, pretrained=False, num_classes=imagenet_net.NUM_CLASSES)


ARCHITECTURES: dict[str, Architecture] = {
    "smallcnn": Architecture("SmallCNN (the lessons', digits)", _small_cnn, (1, 8, 8), spec=_small_cnn_spec(),
                             note="global average pooling + linear head after the convs"),
    "vgg16": Architecture("VGG-16", _torchvision("vgg16"), (3, 224, 224), spec=VGG16_SPEC,
                          note="the lecture's example: 13 3x3 convs, 5 pools, 3 fc"),
    "resnet18": Architecture("ResNet-18", _torchvision("resnet18"), (3, 224, 224),
                             note="batch norm and residual adds: not counted by any counter here"),
    "efficientnet_lite0": Architecture("EfficientNet-Lite0", _efficientnet, (3, 224, 224),
                                       note="depthwise convs: C_in/groups = 1 multiply-add per tap"),
}
CARDS = {"vgg16": "VGG16_Weights", "resnet18": "ResNet18_Weights"}  # torchvision's weights enums (metadata only)


@dataclass(frozen=True)
class Summary:
    name: str
    label: str
    input_shape: tuple[int, int, int]
    counted: Count
    params_by_recurrence: int | None  # the calculator's count of the same stack (None: not a plain stack)
    macs_by_recurrence: int | None
    rf_size: int | None  # the calculator's receptive field of the last conv or pool
    reported: tuple[float, float] | None  # the model card's (parameters, "GFLOPS"), where there is one
    reference_macs: int | None  # the app's own cost model (small_cnn_macs) where it applies
    note: str

    @property
    def params(self) -> int:
        return self.counted.params

    @property
    def flops(self) -> int:
        return self.counted.flops

    @property
    def macs(self) -> int:
        return self.counted.macs

    @property
    def fc_params(self) -> int:
        return sum(layer.params for layer in self.counted.layers if layer.kind == "Linear")

    @property
    def fc_share(self) -> float:
        return self.fc_params / self.params

    @property
    def largest(self):
        return max(self.counted.layers, key=lambda layer: layer.params)


@functools.lru_cache(maxsize=len(ARCHITECTURES))
def summary(name: str) -> Summary:
    """Count architecture ``name`` (cached: it never changes within a process)."""
    import torch

    if name == "efficientnet_lite0" and imagenet_net.unavailable_reason().startswith("the ImageNet network needs timm"):
        raise ValueError(imagenet_net.unavailable_reason())
    arch = ARCHITECTURES[name]
    with torch.device("meta"):
        model = arch.build()
    counted = count(model, arch.input_shape)
    by_recurrence = macs = rf = None
    if arch.spec is not None:
        c, h, w = arch.input_shape
        rows = stack_rows(Shape(h, w, c), parse_spec(arch.spec))
        by_recurrence, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
        rf = [r for r in rows if r.layer.kind != "fc"][-1].rf_size[0]
        if name == "smallcnn":  # the head: global average pool, then linear (not in the syntax)
            head = model.head
            by_recurrence += head.weight.numel() + head.bias.numel()
            macs += head.weight.numel()
    reference = small_cnn_macs(**SMALL_CNN) if name == "smallcnn" else None
    reported = _model_card(CARDS[name]) if name in CARDS else None
    return Summary(name, arch.label, arch.input_shape, counted, by_recurrence, macs, rf, reported, reference, arch.note)
