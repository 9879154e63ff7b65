"""Whether torchvision's ImageNet ResNet-18 weights are on this machine: the one place the lessons
that offer that network (visualise, transfer) ask. Nothing is downloaded at run time; a message
names the file, never the server folder it would be in."""

from __future__ import annotations

from pathlib import Path

import torch

FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1, as torch.hub caches it


def weights_path() -> Path:
    """Where torch's hub cache would hold the weights (the file may be absent)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FILE


def unavailable_reason(path: Path | None = None) -> str:
    """'' when the weights are cached here (at ``path``, by default the hub cache), else one line."""
    if (path or weights_path()).is_file():
        return ""
    return (f"the ImageNet ResNet-18 weights are not in torch's hub cache ({FILE}) and this app never downloads "
            "weights (on a machine with internet: python -c \"import torchvision; "
            "torchvision.models.resnet18(weights='IMAGENET1K_V1')\")")
