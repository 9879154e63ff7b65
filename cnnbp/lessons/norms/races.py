"""Which norm trains the better CNN, decided over seeds.

Runs of one seed share the init draws and the data order, so a seed pairs two norms' final test
accuracies and their difference is the norm's doing plus that seed's luck. One seed's luck can
be several points either way (GroupNorm at batch 2: 67.5% to 92% over seeds 0-5), so a race is
decided only when the same norm is ahead on every one of at least ``MIN_SEEDS`` seeds; a race
split between the seeds is too close to call, and fewer seeds cannot tell. Fixed before any run.

>>> Paired("group", "batch", [0, 1, 2], [0.90, 0.84, 0.68], [0.94, 0.94, 0.91]).a_wins
False
>>> Paired("group", "batch", [0, 1, 2], [0.95, 0.84, 0.68], [0.94, 0.94, 0.91]).a_wins is None
True
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from cnnbp.lessons.norms.training import NormRun

MIN_SEEDS = 3  # with 3 seeds, two equal norms lead on all of them 1 time in 4 (either way): less is a coin


def _ahead(a: float | None, b: float | None, margin: float = 0.0) -> int:
    """+1: a finished with the higher accuracy (by more than ``margin``), -1: b did, 0: level (within
    it). A run that diverged or stopped (None) is behind one that finished."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a - b > margin) - (b - a > margin)


@dataclass
class Paired:
    """Two norms' final test accuracies on the same seeds (None: that run diverged or stopped)."""

    a: str
    b: str
    seeds: list[int]
    a_accuracy: list[float | None]
    b_accuracy: list[float | None]
    margin: float = 0.0  # a seed counts for a norm only when it is ahead by more than this (0: any lead)

    @property
    def a_ahead_on(self) -> int:
        """Seeds on which a ends ahead of b (by more than the margin)."""
        return sum(_ahead(x, y, self.margin) > 0 for x, y in zip(self.a_accuracy, self.b_accuracy))

    @property
    def b_ahead_on(self) -> int:
        return sum(_ahead(x, y, self.margin) < 0 for x, y in zip(self.a_accuracy, self.b_accuracy))

    @property
    def enough_seeds(self) -> bool:
        return len(self.seeds) >= MIN_SEEDS

    @property
    def a_wins(self) -> bool | None:
        """True: a ahead on every seed; False: b ahead on every seed; None: split, or too few seeds."""
        if not self.enough_seeds:
            return None
        if self.a_ahead_on == len(self.seeds):
            return True
        if self.b_ahead_on == len(self.seeds):
            return False
        return None

    @property
    def mean_difference(self) -> float | None:
        """Mean of a - b over the seeds where both finished (None: no such seed)."""
        both = [x - y for x, y in zip(self.a_accuracy, self.b_accuracy) if x is not None and y is not None]
        return statistics.fmean(both) if both else None

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "seeds": self.seeds, "a_accuracy": self.a_accuracy,
                "b_accuracy": self.b_accuracy, "margin": self.margin, "a_ahead_on": self.a_ahead_on,
                "b_ahead_on": self.b_ahead_on, "a_wins": self.a_wins}


@dataclass
class SideBySide:
    """Final test accuracy per norm and seed (the same seeds for every norm).

    The leader is picked after the fact (the highest mean), so a paired win on every seed would
    name one of two equal norms best one time in four. Naming it best takes more: its worst seed
    must beat every other norm's best seed (two equal norms over three seeds: at most one time in
    ten, one in twenty when the seeds' luck is shared as here; among five equal norms, under 1%)."""

    seeds: list[int]
    accuracy: dict[str, list[float | None]]  # norm -> one per seed

    def _finished(self, norm: str) -> list[float]:
        return [a for a in self.accuracy[norm] if a is not None]

    @property
    def leader(self) -> str | None:
        """The norm with the highest mean accuracy over the seeds it finished (ties: the first)."""
        means = {n: statistics.fmean(self._finished(n)) for n in self.accuracy if self._finished(n)}
        return max(means, key=means.get) if means else None

    @property
    def leader_worst(self) -> float | None:
        """The leader's worst seed (None: one of its runs diverged or stopped)."""
        accs = self.accuracy[self.leader] if self.leader else [None]
        return None if None in accs else min(accs)

    def best_seed(self, norm: str) -> float | None:
        return max(self._finished(norm), default=None)

    @property
    def contenders(self) -> list[str]:
        """The other norms whose best seed reaches the leader's worst."""
        worst = self.leader_worst
        return [n for n in self.accuracy if n != self.leader and self.best_seed(n) is not None
                and (worst is None or self.best_seed(n) >= worst)]

    @property
    def best(self) -> str | None:
        """The leader, when over at least MIN_SEEDS seeds its worst seed beats every other norm's best."""
        if self.leader is None or len(self.seeds) < MIN_SEEDS or self.contenders:
            return None
        return self.leader

    def as_dict(self) -> dict:
        return {"seeds": self.seeds, "leader": self.leader, "best": self.best, "contenders": self.contenders}


def accuracies_by_seed(runs: Sequence[NormRun], norm: str, seeds: Sequence[int], *,
                       batch_size: int | None = None) -> list[float | None]:
    """``norm``'s final test accuracy at each of ``seeds`` among ``runs`` (at ``batch_size``, if
    given); None where that run is missing, diverged or stopped."""
    found = {r.seed: r.final_accuracy for r in runs
             if r.norm == norm and (batch_size is None or r.batch_size == batch_size)}
    return [found.get(seed) for seed in seeds]


def group_vs_batch(runs: Sequence[NormRun], seeds: Sequence[int], batch_size: int, *, margin: float = 0.0) -> Paired:
    """GroupNorm against BatchNorm at ``batch_size``, seed by seed: the lecture's small-batch claim
    (``margin``: the lead a seed needs, :data:`cnnbp.lessons.norms.real_data.MARGIN` on real images)."""
    return Paired("group", "batch", list(seeds), accuracies_by_seed(runs, "group", seeds, batch_size=batch_size),
                  accuracies_by_seed(runs, "batch", seeds, batch_size=batch_size), margin)


def side_by_side(runs: Sequence[NormRun], norms: Sequence[str], seeds: Sequence[int]) -> SideBySide:
    return SideBySide(list(seeds), {n: accuracies_by_seed(runs, n, seeds) for n in norms})
