"""The images of a real set that most excite one channel of the ImageNet network (EfficientNet-Lite0):
the lecture's "activation values and receptive fields" (AlexNet's pool5 figure) on a real network.

The set searched is one of the shipped 28x28 sets (Fashion-MNIST by default: photographs of clothing,
grey; or MNIST), ``TOP_IMAGES`` test images resized whole to ``TOP_SIZE`` px, the input size the
transfer lesson and the embeddings use. They are not ImageNet's kind of photo: a channel tuned to fur
or sky finds only its nearest stand-in among them, and the figure says so.

One forward over the set (batched, channels-last) records, for every stage in ``STAGES`` and every
channel, each image's largest output and where it sits: choosing another stage or channel reads this
cache (:func:`stage_peaks`) instead of the network. A channel's top-k are the k images with the
largest peak. The receptive-field crop of each is the box of input pixels whose gradient on that
unit is non-zero on that image: exact for the network's "same" padding and strides, and it shrinks
where ReLU6 switched a path off (at most the theoretical receptive field; at the deep stages a 48 px
image lies wholly inside it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from cnnbp.cache import BoundedCache
from cnnbp.data import get_dataset
from cnnbp.lessons.visualise.explain import STAGE_LABELS, STAGES
from cnnbp.nn import imagenet

TOP_SETS = ("fashion_mnist", "mnist")
TOP_IMAGES = 1000  # test images searched
TOP_SIZE = 48  # px: the 28x28 images resized whole (the transfer lesson's and the embeddings' input size)
# channels of each stage in STAGES (checked against the network in the tests): the settings' bounds, known
# without building the network
STAGE_CHANNELS = {"bn1": 32, "blocks.1": 24, "blocks.3": 80, "blocks.5": 192, "bn2": 1280}


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage)


@dataclass
class StagePeaks:
    """Every image's largest output per channel of one stage, and where it sits."""

    values: torch.Tensor  # (N, C) the largest output of each channel on each image
    positions: torch.Tensor  # (N, C) its flat index in the (H, W) map
    size: tuple[int, int]  # (H, W) of the stage's map

    @property
    def channels(self) -> int:
        return self.values.shape[1]


@dataclass
class SearchedSet:
    """The images searched, their labels, and every stage's peaks."""

    name: str
    images: torch.Tensor  # (N, 1, 28, 28) in [0, 1], as shipped
    labels: list[str]
    peaks: dict[str, StagePeaks]
    seconds: float  # the forward over the set (the cache's first fill)


@dataclass
class TopImage:
    index: int  # into the searched set
    label: str
    activation: float
    unit: tuple[int, int]  # (row, col) of the strongest unit in the stage's map
    box: tuple[int, int, int, int]  # (top, left, bottom, right), inclusive, in input pixels


@torch.no_grad()
def all_stage_peaks(net: nn.Module, x: torch.Tensor, stages=STAGES) -> dict[str, StagePeaks]:
    """One batched forward of ``x`` (N, 3, S, S): every stage's per-channel maximum and its position."""
    modules = dict(net.named_modules())
    values: dict[str, list] = {s: [] for s in stages}
    positions: dict[str, list] = {s: [] for s in stages}
    sizes: dict[str, tuple[int, int]] = {}

    def keep(stage):
        def hook(module, inputs, output):
            sizes[stage] = tuple(output.shape[-2:])
            v, p = output.flatten(2).max(dim=2)  # (B, C)
            values[stage].append(v)
            positions[stage].append(p)
        return hook

    hooks = [modules[s].register_forward_hook(keep(s)) for s in stages]
    try:
        batch = imagenet.batch_size_for(max(x.shape[-2:]))
        for i in range(0, len(x), batch):
            net.forward_features(x[i:i + batch].contiguous(memory_format=torch.channels_last))
    finally:
        for h in hooks:
            h.remove()
    return {s: StagePeaks(torch.cat(values[s]), torch.cat(positions[s]), sizes[s]) for s in stages}


SEARCHED: BoundedCache[SearchedSet] = BoundedCache(2)  # about 15 MB a set: the 28x28 images and every stage's peaks


def searched_set(name: str, *, seed: int) -> SearchedSet:
    """The first TOP_IMAGES test images of ``name`` (split at ``seed``) at TOP_SIZE px, and every
    stage's peaks (cached: another stage, channel or k reads them)."""
    if name not in TOP_SETS:
        raise ValueError(f"the ImageNet top images search {', '.join(TOP_SETS)}, not {name!r}")
    found = SEARCHED.get((name, seed))
    if found is not None:
        return found
    data = get_dataset(name, n_test=TOP_IMAGES, n_train=10, seed=seed)
    start = time.perf_counter()
    peaks = all_stage_peaks(imagenet.network(), network_input(data.x_test))
    seconds = time.perf_counter() - start
    found = SearchedSet(name, data.x_test, [data.classes[int(y)] for y in data.y_test], peaks, seconds)
    SEARCHED.put((name, seed), found)
    return found


def network_input(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) images in [0, 1] -> the network's (N, 3, TOP_SIZE, TOP_SIZE) inputs."""
    return imagenet.to_network_input(images, size=TOP_SIZE)


def shown(images: torch.Tensor) -> torch.Tensor:
    """The same images as the network sees them, in [0, 1] (N, 1, TOP_SIZE, TOP_SIZE): what the figure draws."""
    return ((network_input(images)[:, :1] * imagenet.STD + imagenet.MEAN) / 255.0).clamp(0, 1)


def is_cached(name: str, *, seed: int) -> bool:
    """Whether a run at these settings skips the forward over the set."""
    return SEARCHED.get((name, seed)) is not None


def top_images(searched: SearchedSet, stage: str, channel: int, k: int) -> list[TopImage]:
    """The ``k`` images whose largest output of ``channel`` at ``stage`` is highest, strongest first,
    each with the gradient support of its strongest unit."""
    peaks = searched.peaks[stage]
    if not 0 <= channel < peaks.channels:
        raise ValueError(f"channel ({channel}) must be below the {peaks.channels} channels of {stage_label(stage)}")
    values = peaks.values[:, channel]
    order = torch.argsort(values, descending=True, stable=True)[:k]
    width = peaks.size[1]
    out = []
    for i in order.tolist():
        pos = int(peaks.positions[i, channel])
        unit = (pos // width, pos % width)
        box = gradient_box(imagenet.network(), network_input(searched.images[i:i + 1])[0], stage, channel, unit)
        out.append(TopImage(i, searched.labels[i], float(values[i]), unit, box))
    return out


def gradient_box(net: nn.Module, x: torch.Tensor, stage: str, channel: int, unit: tuple[int, int]
                 ) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the input pixels whose gradient on the unit (``stage``,
    ``channel``, ``unit``) is non-zero for the input ``x`` (3, S, S); the whole image if none is."""
    kept: dict[str, torch.Tensor] = {}
    module = dict(net.named_modules())[stage]

    def hook(m, inputs, output):
        kept["out"] = output

    handle = module.register_forward_hook(hook)
    x = x.unsqueeze(0).clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            net.forward_features(x.contiguous(memory_format=torch.channels_last))
            kept["out"][0, channel, unit[0], unit[1]].backward()
    finally:
        handle.remove()
    seen = x.grad[0].abs().sum(0) > 0  # (S, S)
    rows, cols = torch.nonzero(seen.any(1)).flatten(), torch.nonzero(seen.any(0)).flatten()
    if len(rows) == 0:
        return (0, 0, x.shape[-2] - 1, x.shape[-1] - 1)
    return (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))
