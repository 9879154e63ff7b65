"""The real ImageNet network explained on a bundled photo: top-5, first-layer filters, feature maps
per stage with their dead channels, occlusion of the predicted class (coarse, then refined), Grad-CAM
on the last conv stage, how far the two agree, and the sanity check that randomising the top of the
network changes the Grad-CAM map (an explanation that does not change is not explaining the model).

Occlusion works on [0, 1] pixels (the grey window is the lecture's 0.5, about 0 in the network's
scaling) through :func:`cnnbp.lessons.visualise.occlusion.occlusion_scores`, the small CNN's batched
explainer; the forward scales to the network's (x - 127) / 128 itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.stats import spearmanr

from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.visualise.occlusion import attribution, occlusion_scores

# Fixed before any run, never tuned to a result:
RANDOMISED_LINE = 0.5  # the sanity check passes when the randomised map's Spearman with the original is below this
AGREEMENT_CELLS = 14  # maps compared on a 14 x 14 grid (16-pixel cells of the 224 input)
# occluded 224 x 224 copies per forward. Measured on one thread of a loaded 2-core machine, 169 positions: 2 a
# batch 0.7-1.2x the time of one at a time (noise), 3-8 slower (a CPU at this size is compute-bound and larger
# batches leave the caches); batching pays on a GPU, not here
OCCLUSION_BATCH = 2
# cumulative, top down: the classifier, then the 1x1 conv head, then the last two block stages
RANDOMISE_CASCADE = ("classifier", "conv_head", "blocks.6", "blocks.5")
STAGES = ("bn1", "blocks.1", "blocks.3", "blocks.5", "bn2")  # post-activation stem, three block stages, head
STAGE_LABELS = {"bn1": "stem (conv_stem + BN + ReLU6)", "bn2": "head (conv_head + BN + ReLU6)"}


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """The network's input scaling (x - 127) / 128 of 0-255 pixels -> [0, 1] pixels."""
    return ((x * 128.0 + 127.0) / 255.0).clamp(0, 1)


def from_unit(x: torch.Tensor) -> torch.Tensor:
    return (x * 255.0 - 127.0) / 128.0


def probabilities(net: nn.Module):
    """[0, 1] images (B, 3, H, W) -> class probabilities (B, 1000)."""
    return lambda x: torch.softmax(net(from_unit(x).contiguous(memory_format=torch.channels_last)), dim=1)


# ---- feature maps ------------------------------------------------------------------------------

@torch.no_grad()
def stage_outputs(net: nn.Module, x: torch.Tensor, names=STAGES) -> dict[str, torch.Tensor]:
    """Outputs (C, H, W) of the named submodules for one network input ``x`` (3, S, S)."""
    modules = dict(net.named_modules())
    out: dict[str, torch.Tensor] = {}
    hooks = [modules[n].register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o[0].detach()))
             for n in names]
    try:
        net(x.unsqueeze(0).contiguous(memory_format=torch.channels_last))
    finally:
        for h in hooks:
            h.remove()
    return {n: out[n].contiguous() for n in names}


def dead_channels(maps: torch.Tensor) -> list[int]:
    """Channels of (C, H, W) that are zero everywhere on this image."""
    return torch.nonzero(maps.flatten(1).abs().amax(1) == 0).flatten().tolist()


# ---- Grad-CAM ------------------------------------------------------------------------------

def grad_cam(net: nn.Module, layer: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) of class ``target`` at ``layer``'s output for one input ``x``
    (C, H, W): ReLU(sum_k alpha_k A_k) with alpha_k the spatial mean of d logit / d A_k; (h, w),
    the layer's resolution, not upsampled."""
    kept: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        output.retain_grad()
        kept["a"] = output

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = net(x.unsqueeze(0).contiguous(memory_format=torch.channels_last))
            logits[0, target].backward()
    finally:
        handle.remove()
    a, g = kept["a"][0].detach(), kept["a"].grad[0]
    alpha = g.mean(dim=(1, 2))  # (C,)
    return torch.relu(torch.einsum("c,chw->hw", alpha, a))


def upsample(m: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(m[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0]


def cells(m: torch.Tensor, n: int = AGREEMENT_CELLS) -> np.ndarray:
    """A (H, W) map averaged onto an n x n grid (what the agreement compares)."""
    return F.adaptive_avg_pool2d(m[None, None].float(), n)[0, 0].numpy()


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two maps' cells; 0 when either is constant (an empty map ranks nothing).

    >>> rank_correlation(np.array([1.0, 2, 3]), np.array([10.0, 20, 30]))
    1.0
    >>> rank_correlation(np.array([1.0, 2, 3]), np.zeros(3))
    0.0
    """
    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def top_overlap(a: np.ndarray, b: np.ndarray, share: float = 0.1) -> float:
    """Share of the top ``share`` cells of ``a`` that are also among the top of ``b``.

    >>> top_overlap(np.arange(10.0), np.arange(10.0), share=0.2)
    1.0
    """
    k = max(1, int(round(share * np.size(a))))
    top_a, top_b = set(np.argsort(np.ravel(a))[-k:]), set(np.argsort(np.ravel(b))[-k:])
    return len(top_a & top_b) / k


def randomised(net: nn.Module, prefixes: tuple[str, ...], *, seed: int) -> nn.Module:
    """``net`` (a copy of your own) with every parameter under ``prefixes`` redrawn from a normal of
    the same mean and std as the trained tensor (seeded), in place; returns it."""
    gen = make_generator(derive_seed(seed, "visualise", "randomise", *prefixes))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if any(name == pre or name.startswith(pre + ".") for pre in prefixes):
                std = float(p.std()) if p.numel() > 1 else 0.0
                p.copy_(torch.randn(p.shape, generator=gen) * std + float(p.mean()))
    return net


# ---- results -----------------------------------------------------------------------------------

@dataclass
class PhotoOcclusion:
    """One occlusion map of the predicted class: the drop of P(class) per window position."""

    window: int
    stride: int
    tops: list[int]
    lefts: list[int]
    p_class: np.ndarray  # (n_y, n_x) P(class) with the window at each position
    base: float  # P(class) unoccluded
    attribution: np.ndarray  # (H, W) mean drop over the windows covering each pixel
    seconds: float

    @property
    def positions(self) -> int:
        return len(self.tops) * len(self.lefts)

    @property
    def hottest(self) -> tuple[int, int]:
        """(top, left) of the window whose occlusion lowers P(class) most."""
        i, j = np.unravel_index(int(np.argmin(self.p_class)), self.p_class.shape)
        return self.tops[i], self.lefts[j]

    @property
    def hottest_mass(self) -> float | None:
        """Share of the positive attribution inside the hottest window; None if nothing is positive."""
        pos = np.clip(self.attribution, 0, None)
        if pos.sum() <= 0:
            return None
        t, left = self.hottest
        return float(pos[t:t + self.window, left:left + self.window].sum() / pos.sum())

    @property
    def hottest_area(self) -> float:
        return self.window ** 2 / self.attribution.size


def occlude(net: nn.Module, x01: torch.Tensor, target: int, *, window: int, stride: int,
            batch_size: int = OCCLUSION_BATCH) -> PhotoOcclusion:
    """Occlusion of class ``target`` over one [0, 1] photo (3, S, S), grey window, batched."""
    import time

    t0 = time.perf_counter()
    r = occlusion_scores(probabilities(net), x01.unsqueeze(0), window=window, stride=stride, fill="grey",
                         batch_size=batch_size)
    attr = attribution(r, torch.tensor([target]), channels=1)[0, 0]
    p = r.scores[0, :, target].view(len(r.rows), len(r.cols))
    return PhotoOcclusion(window=window, stride=stride, tops=r.rows, lefts=r.cols, p_class=p.numpy(),
                          base=float(r.base[0, target]), attribution=attr.numpy(), seconds=time.perf_counter() - t0)


@dataclass
class SanityCheck:
    """Grad-CAM after randomising the top of the network step by step (cumulative)."""

    steps: list[str]  # what was randomised at each step (cumulative)
    correlations: list[float]  # Spearman of each step's map with the original map
    maps: list[np.ndarray] = field(repr=False, default_factory=list)
    line: float = RANDOMISED_LINE

    @property
    def map_changes(self) -> bool:
        """The check passes when the fully randomised map's correlation with the original is below the line."""
        return self.correlations[-1] < self.line


def sanity_check(original: torch.Tensor, x: torch.Tensor, target: int, *, seed: int,
                 cascade: tuple[str, ...] = RANDOMISE_CASCADE, layer_name: str = "bn2") -> SanityCheck:
    """Grad-CAM maps of a fresh network copy randomised top-down (``cascade``, cumulative), each
    against ``original`` (the trained network's map)."""
    from cnnbp.nn import imagenet as net_module

    net = net_module.create_network()
    steps, corrs, maps = [], [], []
    for k in range(len(cascade)):
        randomised(net, (cascade[k],), seed=seed)
        cam = grad_cam(net, dict(net.named_modules())[layer_name], x, target)
        steps.append(" + ".join(cascade[:k + 1]))
        corrs.append(rank_correlation(cells(cam), cells(original)))
        maps.append(cam.numpy())
    return SanityCheck(steps=steps, correlations=corrs, maps=maps)


@dataclass
class Agreement:
    """How far occlusion and Grad-CAM agree, on AGREEMENT_CELLS x AGREEMENT_CELLS cells."""

    spearman: float
    top_overlap: float  # share of occlusion's top-10% cells among Grad-CAM's top 10%


def agreement(occlusion_attr: np.ndarray, cam: torch.Tensor, size: int) -> Agreement:
    a = cells(torch.from_numpy(np.asarray(occlusion_attr, dtype=np.float32)))
    b = cells(upsample(cam, size))
    return Agreement(spearman=rank_correlation(a, b), top_overlap=top_overlap(a, b))
