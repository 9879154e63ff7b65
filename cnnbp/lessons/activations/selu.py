"""SELU's "self-normalising" property: activation statistics through a deep plain MLP.

No BatchNorm, no biases: ``depth`` layers of ``width`` units on a batch of unit-Gaussian
inputs. SELU with LeCun-normal init (std 1/sqrt(fan_in), the registry's "xavier", as the
SELU paper asks) against ReLU with Kaiming and tanh with Xavier. Every pair starts from the
same unit weight draws (only the scale differs), so the profiles differ by the activation.

>>> r = deep_profiles(depth=3, width=32, batch=16, seed=0)[0]
>>> r.activation, r.init, len(r.std)
('selu', 'xavier', 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cnnbp.device import derive_seed, make_generator
from cnnbp.nn import DeepMLP, init_model

PAIRS = (("selu", "xavier"), ("relu", "kaiming"), ("tanh", "xavier"))  # (activation, init)
MLP_BATCH = 256  # unit-Gaussian inputs pushed through the deep MLP
# "Normalised" = every layer's mean within +-0.2 and std within [0.8, 1.25] (the init lesson's
# 20% / 25% scale lines, applied to the std itself). Fixed before any run.
MEAN_TOLERANCE = 0.2
STD_BAND = (0.8, 1.25)


@dataclass
class DeepProfile:
    activation: str
    init: str
    mean: list[float] = field(default_factory=list)  # per layer, over batch and units
    std: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.activation} + {self.init}"

    def normalised(self) -> bool:
        return (all(abs(m) <= MEAN_TOLERANCE for m in self.mean)
                and all(STD_BAND[0] <= s <= STD_BAND[1] for s in self.std))


@torch.no_grad()
def deep_profiles(*, depth: int, width: int, batch: int, seed: int) -> list[DeepProfile]:
    """Per-layer mean and std of the activations for every (activation, init) of ``PAIRS``."""
    x = torch.randn(batch, width, generator=make_generator(derive_seed(seed, "selu-inputs")))
    out = []
    for activation, init in PAIRS:
        model = DeepMLP(width, width=width, depth=depth, activation=activation)
        init_model(model, init, activation, generator=make_generator(derive_seed(seed, "selu-weights")))
        h, profile = x, DeepProfile(activation=activation, init=init)
        for layer in model.hidden:  # linear, act, linear, act, ...: (N, width) throughout
            h = layer(h)
            if not isinstance(layer, torch.nn.Linear):
                profile.mean.append(float(h.mean()))
                profile.std.append(float(h.std()))
        out.append(profile)
    return out
