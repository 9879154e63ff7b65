"""Picking a source (lecture 002): average the source's features over its own images and over
the target's, compare the two mean vectors; the more alike, the better the source should
transfer. We put each source's similarity next to the accuracy it actually gives.

>>> spearman([1, 2, 3, 4], [10, 20, 40, 30])
0.8
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from cnnbp.lessons.transfer.adapters import adapt_images
from cnnbp.lessons.transfer.models import embed, num_stages
from cnnbp.lessons.transfer.sources import Source
from cnnbp.lessons.transfer.tasks import get_source_task

SIMILARITY_IMAGES = 512  # source images averaged into its mean feature vector


def mean_feature_similarity(source: Source, target_images: torch.Tensor) -> float:
    """Cosine similarity of the mean penultimate feature vector of the source's own training
    images and of ``target_images`` (adapted to the source's format), both through the source."""
    own = get_source_task(source.name).x_train[:SIMILARITY_IMAGES]
    last = num_stages(source.model)
    mu_s = embed(source.model, own, stage=last).mean(0)  # (C,)
    mu_t = embed(source.model, adapt_images(target_images, channels=source.channels, size=source.size),
                 stage=last).mean(0)
    return float(torch.nn.functional.cosine_similarity(mu_s, mu_t, dim=0))


def _ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank (as scipy.stats.rankdata)."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for value in np.unique(v):
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson on the ranks); NaN when either side is constant."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"spearman needs two sequences of the same length >= 2, got {len(x)} and {len(y)}")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx**2).sum() * (ry**2).sum()))
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")
