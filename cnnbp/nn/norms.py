"""The normalisation registry. Every norm builds as ``create_norm(name, C)`` on (N, C, H, W).

Which axes each one averages over (the lecture's N x C x H x W picture):
batch: (N, H, W) per channel; layer: (C, H, W) per sample; instance: (H, W) per sample
and channel; group: (C/G, H, W) per sample and group of channels.

>>> create_norm("group", 32)
GroupNorm(8, 32, eps=1e-05, affine=True, bias=True)
"""

from __future__ import annotations

from typing import Callable

from torch import nn

DEFAULT_GROUPS = 8  # Wu & He use 32 groups on wide nets; our nets have 8-64 channels


def _groups_for(channels: int, groups: int) -> int:
    """The largest group count <= ``groups`` that divides ``channels`` (GroupNorm needs it)."""
    groups = max(1, min(groups, channels))
    while channels % groups:
        groups -= 1
    return groups


def group_norm(channels: int, *, groups: int = DEFAULT_GROUPS) -> nn.GroupNorm:
    """GroupNorm taking channels first, as every registry norm does (timm swaps them too)."""
    if groups < 1:
        raise ValueError(f"GroupNorm needs at least one group, got groups={groups}")
    return nn.GroupNorm(_groups_for(channels, groups), channels)


NORMS: dict[str, Callable[..., nn.Module]] = {
    "none": lambda channels: nn.Identity(),
    "batch": lambda channels: nn.BatchNorm2d(channels),
    # GroupNorm with one group = LayerNorm over (C, H, W), with a per-channel affine
    # like every other norm here, and no need to know H and W when building.
    "layer": lambda channels: nn.GroupNorm(1, channels),
    "instance": lambda channels: nn.InstanceNorm2d(channels, affine=True),
    "group": group_norm,
}


def create_norm(name: str, channels: int, **options: int) -> nn.Module:
    """Build norm ``name`` for ``channels`` channels; ``groups=`` for GroupNorm only."""
    if name not in NORMS:
        raise ValueError(f"unknown norm {name!r}; choose from {', '.join(NORMS)}")
    if channels < 1:
        raise ValueError(f"a norm needs at least one channel, got {channels}")
    if options and name != "group":
        raise ValueError(f"norm {name!r} takes no options, got {sorted(options)}")
    if set(options) - {"groups"}:
        raise ValueError(f"norm 'group' takes only the option groups, got {sorted(options)}")
    return NORMS[name](channels, **options)
