"""The source/target network and what the strategies do to it: stages, embeddings, a new head,
frozen stages, trainable-parameter counts.

A *stage* is one conv block of ``model.blocks`` with the pooling that follows it (a ResNet
backbone's stages are its stem and its four layers). Every network here has ``blocks``
(an ``nn.Sequential``), ``head`` (``nn.Linear``) and ``feature_dim``, as ``SmallCNN`` does.

>>> net = build_cnn(channels=1, num_classes=5, size=8, seed=0)
>>> num_stages(net), embed(net, torch.zeros(2, 1, 8, 8), stage=2).shape
(4, torch.Size([2, 16]))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnbp.device import derive_seed, make_generator
from cnnbp.nn import SmallCNN, init_model

DEPTH, WIDTH = 4, 16  # every shipped source: 4 conv blocks, 16 -> 32 channels (~17k parameters)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d)


def build_cnn(*, channels: int, num_classes: int, size: int, seed: int, key: str = "cnn-init") -> SmallCNN:
    """A SmallCNN (ReLU, Kaiming init from the named stream ``key`` of ``seed``): a source before
    pretraining, or the from-scratch baseline."""
    model = SmallCNN(channels, num_classes, depth=DEPTH, width=WIDTH, activation="relu", image_size=size)
    init_model(model, "kaiming", "relu", generator=make_generator(derive_seed(seed, key)))
    return model


def stage_ranges(model: nn.Module) -> list[range]:
    """Indices into ``model.blocks`` per stage: each non-pooling module starts a stage and the
    pools after it belong to it."""
    starts = [i for i, m in enumerate(model.blocks) if not isinstance(m, _POOLS)]
    ends = starts[1:] + [len(model.blocks)]
    return [range(a, b) for a, b in zip(starts, ends)]


def num_stages(model: nn.Module) -> int:
    return len(stage_ranges(model))


def stage_prefixes(model: nn.Module, stages: range | list[int]) -> list[str]:
    """Parameter-name prefixes (``blocks.3.``) of the given 0-based stages."""
    ranges = stage_ranges(model)
    return [f"blocks.{i}." for s in stages for i in ranges[s]]


def embed(model: nn.Module, x: torch.Tensor, *, stage: int, batch_size: int = 512) -> torch.Tensor:
    """Global-average-pooled activations after ``stage`` (1-based; the last stage gives the
    penultimate embedding the head reads): (N, C, H, W) -> (N, channels of that stage)."""
    n = len(stage_ranges(model))
    if not 1 <= stage <= n:
        raise ValueError(f"stage must be in [1, {n}], got {stage}")
    return embed_stages(model, x, upto=stage, batch_size=batch_size)[-1]


@torch.no_grad()
def embed_stages(model: nn.Module, x: torch.Tensor, *, upto: int | None = None,
                 batch_size: int = 512) -> list[torch.Tensor]:
    """:func:`embed` at stages 1 .. ``upto`` (default: all) from one pass through the blocks."""
    ends = [r.stop for r in stage_ranges(model)][:upto]
    was_training = model.training
    model.eval()
    per_batch = []
    for i in range(0, len(x), batch_size):
        h, pooled = x[i : i + batch_size], []
        for start, stop in zip([0, *ends], ends):
            h = model.blocks[start:stop](h)
            pooled.append(h.mean(dim=(2, 3)))
        per_batch.append(pooled)
    model.train(was_training)
    return [torch.cat(parts) for parts in zip(*per_batch)]  # per stage: (N, C_stage)


def replace_head(model: nn.Module, num_classes: int, *, generator: torch.Generator) -> nn.Module:
    """A new linear head for the target's classes, drawn from ``generator`` (Kaiming-uniform
    bound as nn.Linear's default, bias 0); the old head is returned."""
    old = model.head
    head = nn.Linear(model.feature_dim, num_classes).to(old.weight.device)
    bound = 1.0 / math.sqrt(model.feature_dim)
    with torch.no_grad():
        head.weight.copy_(torch.rand(head.weight.shape, generator=generator) * 2 * bound - bound)
        head.bias.zero_()
    model.head = head
    return old


def count_params(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
