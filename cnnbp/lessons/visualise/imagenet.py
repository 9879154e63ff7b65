"""The torchvision ResNet-18 trained on ImageNet, where its weights are already on this machine.

The app never downloads weights: the option is offered only when torch's hub cache holds the
checkpoint torchvision would fetch (``ResNet18_Weights.IMAGENET1K_V1``; ``cnnbp.nn.resnet18_weights``),
and otherwise says why not. Only the first-layer filters are read (no model is built, so no random init):
64 RGB 7x7 filters, the lecture's "smooth after training" picture on a real ImageNet net.
"""

from __future__ import annotations

import torch

from cnnbp.device import derive_seed, make_generator
from cnnbp.nn import resnet18_weights
from cnnbp.nn.resnet18_weights import weights_path


def unavailable_reason() -> str:
    """"" when the weights are cached here, else one line saying why the option cannot run."""
    reason = resnet18_weights.unavailable_reason()
    return reason and f"{reason}; use the model trained here"


def first_layer_filters() -> torch.Tensor:
    """(64, 3, 7, 7) conv1 weights of the cached checkpoint."""
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    return state["conv1.weight"].detach().float().clone()


def kaiming_like(weights: torch.Tensor, *, seed: int) -> torch.Tensor:
    """A Kaiming-normal draw of the same shape from the run's own stream: "at init" for contrast."""
    fan_in = weights[0].numel()
    gen = make_generator(derive_seed(seed, "visualise", "imagenet-init"))
    return torch.randn(weights.shape, generator=gen) * (2.0 / fan_in) ** 0.5
