"""Activation maximisation: synthesise an input that excites one channel, with and without the
lecture's "natural image prior" (jitter, blur, an L2 pull towards grey).

Gradient ascent on the pixels: maximise the channel's mean output minus ``l2`` x the squared
distance from grey. Jitter shifts the image by a random few pixels before every step, blur
smooths it every few steps; both stop the optimiser from exploiting single-pixel patterns. All
randomness comes from the seeded generator, so the same settings give the same image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.visualise.model import layer_outputs
from cnnbp.lessons.visualise.occlusion import gaussian_blur
from cnnbp.nn import SmallCNN

START_STD = 0.05  # the start: grey plus a little seeded noise
NO_PRIOR = dict(jitter=0, blur_every=0, l2=0.0)  # plain gradient ascent, for contrast


@dataclass
class Synthesis:
    image: torch.Tensor  # (C, H, W) in [0, 1]
    activation: list[float]  # the channel's mean output at every step
    roughness: float  # mean squared neighbour difference over the image's variance


def roughness(image: torch.Tensor) -> float:
    """Mean squared difference of neighbouring pixels over twice the pixel variance: about 1 for
    white noise, near 0 for a smooth image.

    >>> round(roughness(torch.arange(16.0).view(1, 4, 4)), 3)  # by hand: (1 + 16) / 2 / (2 * 22.67)
    0.188
    """
    x = image.double()
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean()
    var = x.var()
    return float((dx + dy) / 2 / (2 * var)) if var > 0 else 0.0


def maximise(model: SmallCNN, *, shape: tuple[int, int, int], layer: int, channel: int, steps: int,
             lr: float = 0.05, jitter: int = 0, blur_every: int = 0, blur_sigma: float = 0.5,
             l2: float = 0.0, seed: int = 0) -> Synthesis:
    """Gradient ascent (Adam) on an image of ``shape`` (C, H, W) for ``channel`` of conv block
    ``layer``; pixels kept in [0, 1]. The model's own parameters are never touched."""
    gen = make_generator(derive_seed(seed, "visualise", "synthesis", layer, channel))
    x = (0.5 + START_STD * torch.randn(1, *shape, generator=gen)).clamp(0, 1).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    history = []
    for step in range(1, steps + 1):
        shifted = x
        if jitter:
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        act = layer_outputs(model, shifted)[layer - 1][0, channel].mean()
        objective = act - l2 * (x - 0.5).pow(2).sum()
        (grad,) = torch.autograd.grad(objective, x)  # grads w.r.t. the pixels only
        x.grad = -grad  # Adam minimises: ascend the objective
        opt.step()
        with torch.no_grad():
            if blur_every and step % blur_every == 0:
                x.copy_(gaussian_blur(x, sigma=blur_sigma))
            x.clamp_(0, 1)
        history.append(float(act.detach()))
    image = x.detach()[0]
    with torch.no_grad():
        final = float(layer_outputs(model, image.unsqueeze(0))[layer - 1][0, channel].mean())
    history.append(final)
    return Synthesis(image=image, activation=history, roughness=roughness(image))
