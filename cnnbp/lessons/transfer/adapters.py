"""The one adapter between image formats: a target set fed to a source trained on other images.

A source CNN expects the channels and size it was trained on; a dissimilar target (8x8 grey
digits into a 16x16 RGB shapes source, or the reverse) is converted here and nowhere else.

>>> adapt_images(torch.zeros(2, 1, 8, 8), channels=3, size=16).shape
torch.Size([2, 3, 16, 16])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adapt_images(x: torch.Tensor, *, channels: int, size: int) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N, channels, size, size): bilinear resize (antialiased when
    shrinking), grey -> RGB by repeating the channel, RGB -> grey by the channel mean.

    Returns ``x`` itself when it already has the format.

    >>> x = torch.rand(1, 3, 16, 16)
    >>> torch.allclose(adapt_images(x, channels=1, size=16), x.mean(1, keepdim=True))
    True
    """
    if x.ndim != 4:
        raise ValueError(f"adapt_images expects (N, C, H, W), got shape {tuple(x.shape)}")
    c = x.shape[1]
    if c not in (1, 3) or channels not in (1, 3):
        raise ValueError(f"adapt_images converts between 1 and 3 channels, got {c} -> {channels}")
    if x.shape[2:] != (size, size):
        shrink = x.shape[2] > size or x.shape[3] > size
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        x = x.clamp(0.0, 1.0)  # bilinear never overshoots, antialias can by a hair
    if c == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1).contiguous()  # (N, 1, H, W) -> (N, 3, H, W)
    elif c == 3 and channels == 1:
        x = x.mean(dim=1, keepdim=True)  # (N, 3, H, W) -> (N, 1, H, W)
    return x
