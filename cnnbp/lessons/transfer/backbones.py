"""torchvision's ImageNet ResNet-18 as a source, only where its weights are already on disk.

Nothing is downloaded at run time: the option is offered when torchvision's cached file exists
(``cnnbp.nn.resnet18_weights``, the one place that says), and otherwise refused with the reason.
The network is wrapped to look like our SmallCNN (``blocks``, ``head``, ``feature_dim``), so
every strategy of the lesson applies; its five stages are the stem and layer1..layer4.
Target images are resized to ``INPUT_SIZE`` by the lesson's adapter.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from cnnbp.lessons.transfer.sources import Source, SourceError
from cnnbp.nn import resnet18_weights
from cnnbp.nn.resnet18_weights import FILE, weights_path  # noqa: F401  (FILE: the cached file's name)

NAME = "resnet18_imagenet"
HASH_PREFIX = "f37072fd"  # torch.hub's convention: the file name carries the sha256's first digits
INPUT_SIZE = 32  # 8x8 or 16x16 targets upsampled; a 32x32 input leaves a 1x1 map after layer4
IMAGENET_TOP1 = 0.69758  # torchvision's published accuracy of these weights


def unavailable_reason(path: Path | None = None) -> str:
    """'' when the ImageNet weights are cached here, else the one line saying why not."""
    return resnet18_weights.unavailable_reason(path or weights_path())


RESNET_PARTS = ("conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "fc")


def is_resnet(net: nn.Module) -> bool:
    """A torchvision or timm ResNet (the parts ResNetBackbone cuts into stages)."""
    return all(isinstance(getattr(net, name, None), nn.Module) for name in RESNET_PARTS) and \
        isinstance(getattr(net, "relu", None) or getattr(net, "act1", None), nn.Module)


class ResNetBackbone(nn.Module):
    """A torchvision (or timm) ResNet as stages: blocks = (stem, layer1, ..., layer4), then GAP and ``head``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        act = getattr(net, "relu", None) or net.act1  # torchvision calls it relu, timm act1
        stem = nn.Sequential(net.conv1, net.bn1, act, net.maxpool)
        self.blocks = nn.Sequential(stem, net.layer1, net.layer2, net.layer3, net.layer4)
        self.head = net.fc
        self.feature_dim = net.fc.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).mean(dim=(2, 3))  # (N, 3, H, W) -> (N, 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_resnet18(path: Path | str | None = None, *, check_hash: bool = True) -> Source:
    """The ResNet-18 source from a state dict file (torchvision's cached one by default).

    ``check_hash`` compares the file's sha256 with the prefix in torchvision's file name; a
    test passes False for a state dict it saved itself."""
    from torchvision.models import resnet18

    path = Path(path) if path is not None else weights_path()
    problem = unavailable_reason(path)
    if problem:
        raise SourceError(problem)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if check_hash and not digest.startswith(HASH_PREFIX):
        raise SourceError(f"{NAME}: {path.name} has sha256 {digest[:12]}..., not {HASH_PREFIX}...: the file is "
                          "corrupt; delete it and fetch it again")
    net = resnet18(weights=None)
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:
        raise SourceError(f"{NAME}: {path.name} is not a ResNet-18 state dict ({type(err).__name__})") from None
    model = ResNetBackbone(net).eval()
    card = {"name": NAME, "task": "ImageNet-1k classification (torchvision IMAGENET1K_V1)", "self_supervised": False,
            "input": {"channels": 3, "size": INPUT_SIZE}, "accuracy": IMAGENET_TOP1,
            "parameters": sum(p.numel() for p in model.parameters()), "sha256": digest, "file": path.name}
    return Source(NAME, model, card)
