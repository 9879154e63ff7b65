"""Picking a source (lecture 002): average the source's features over its own images and over
the target's, compare the two mean vectors; the more alike, the better the source should
transfer. We put each source's similarity next to the accuracy it actually gives.

>>> spearman([1, 2, 3, 4], [10, 20, 40, 30])
0.8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Mapping, Sequence

import numpy as np
import torch

from cnnbp.device import torch_threads
from cnnbp.lessons.base import result_of
from cnnbp.lessons.transfer.adapters import adapt_images
from cnnbp.lessons.transfer.comparison import Lead
from cnnbp.lessons.transfer.models import embed, num_stages
from cnnbp.lessons.transfer.sources import RANKED, Source, load_source, source_problem
from cnnbp.lessons.transfer.strategies import fit_probe
from cnnbp.lessons.transfer.tasks import Task, get_source_task

SIMILARITY_IMAGES = 512  # source images averaged into its mean feature vector
# "Similarity ranks the sources": a Spearman rank correlation above 0.5, at every seed (fixed before any
# run). With 4 sources Spearman moves in steps of 0.2, and any order of them arises by chance 1 in 24 times.
RHO_LINE = 0.5


def mean_feature_similarity(source: Source, target_images: torch.Tensor) -> float:
    """Cosine similarity of the mean penultimate feature vector of the source's own training
    images and of ``target_images`` (adapted to the source's format), both through the source."""
    return _cosine(own_mean(source), _top_features(source, target_images).mean(0))


def own_mean(source: Source) -> torch.Tensor:
    """The mean penultimate feature vector of the source's own training images (C,)."""
    return _top_features(source, get_source_task(source.name).x_train[:SIMILARITY_IMAGES], adapt=False).mean(0)


def _top_features(source: Source, images: torch.Tensor, *, adapt: bool = True) -> torch.Tensor:
    """Penultimate embeddings of ``images`` through ``source`` (adapted to its format first)."""
    if adapt:
        images = adapt_images(images, channels=source.channels, size=source.size)
    return embed(source.model, images, stage=num_stages(source.model))


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


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

@dataclass(frozen=True)
class SeedSelection:
    """The ranking at several seeds (the target images drawn at each; the run's seed first)."""

    seeds: list[int]
    results: list[Selection]

    @property
    def ranks_sources(self) -> Lead:
        """Spearman above the line, seed by seed."""
        return Lead(tuple(r.spearman - RHO_LINE for r in self.results), 0.0)


def rank_sources(task: Task, samples: Mapping[int, tuple[torch.Tensor, torch.Tensor]],
                 known: Mapping[tuple[str, int], float] | None = None) -> SeedSelection:
    """:func:`ranking_steps` run to its end."""
    return result_of(ranking_steps(task, samples, known))


def ranking_steps(task: Task, samples: Mapping[int, tuple[torch.Tensor, torch.Tensor]],
                  known: Mapping[tuple[str, int], float] | None = None) -> Generator[float, None, SeedSelection]:
    """For every shipped source and every seed's target images ``samples[seed] = (x, y)``: the
    mean-feature similarity with those images and the linear-probe accuracy (top stage) they give
    on the target test set. ``known[(source, seed)]``: a top-stage probe accuracy measured already
    (the compare part's) on the same images. The source's own mean and the test set's features are
    computed once per source, each seed's training features once for both numbers. Yields how far
    it is before each source (its features and probes: 0.1-0.2 s)."""
    rows: dict[int, list[dict]] = {seed: [] for seed in samples}
    known = known or {}
    for done, name in enumerate(RANKED):
        yield done / len(RANKED)
        if source_problem(name):
            continue
        src = load_source(name)
        with torch_threads(1):  # as linear_probe: tiny batches
            mu_s = own_mean(src)
            f_test = None
            for seed, (x, y) in samples.items():
                f_train = _top_features(src, x)
                accuracy = known.get((name, seed))
                if accuracy is None:
                    f_test = _top_features(src, task.x_test) if f_test is None else f_test
                    accuracy = fit_probe(f_train.numpy(), y.numpy(), f_test.numpy(), task.y_test.numpy())
                rows[seed].append({"source": name, "similarity": _cosine(mu_s, f_train.mean(0)),
                                   "accuracy": accuracy})
    return SeedSelection(list(samples), [Selection(r) for r in rows.values()])
