"""Picking a source (lecture 002): average the source's features over its own images and over
the target's, compare the two mean vectors; the more alike, the better the source should
transfer. We put each source's similarity next to the accuracy it actually gives.

>>> spearman([1, 2, 3, 4], [10, 20, 40, 30])
0.8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from cnnbp.lessons.transfer.adapters import adapt_images
from cnnbp.lessons.transfer.models import embed, num_stages
from cnnbp.lessons.transfer.sources import SOURCES, Source, load_source, source_problem
from cnnbp.lessons.transfer.strategies import linear_probe, make_split
from cnnbp.lessons.transfer.tasks import Task, get_source_task

SIMILARITY_IMAGES = 512  # source images averaged into its mean feature vector
RHO_LINE = 0.5  # "similarity ranks the sources": Spearman rank correlation of at least 0.5 (fixed before any run)


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


@dataclass(frozen=True)
class Selection:
    """Every loadable source's similarity to the target images and the accuracy it gives."""

    rows: list[dict]  # {"source", "similarity", "accuracy"}

    @property
    def spearman(self) -> float:
        return spearman([r["similarity"] for r in self.rows], [r["accuracy"] for r in self.rows])

    @property
    def ranks_sources(self) -> bool:
        """The similarity orders the sources as their transfer accuracy does, to the line."""
        return self.spearman >= RHO_LINE


def rank_sources(x: torch.Tensor, y: torch.Tensor, task: Task) -> Selection:
    """For every shipped source: the mean-feature similarity with the target images ``x`` and
    the linear-probe accuracy (top stage) those images give on the target test set."""
    rows = []
    for name in SOURCES:
        if source_problem(name):
            continue
        src = load_source(name)
        split = make_split(task, x, y, src)
        rows.append({"source": name, "similarity": mean_feature_similarity(src, x),
                     "accuracy": linear_probe(src.model, split, stage=num_stages(src.model))})
    return Selection(rows)
