"""A trained comparison scored at one threshold: every metric of every model on every test set,
and the lecture's two scenarios; what the verdicts and claims compare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from cnnbp.lessons.imbalance.metrics import (
    BinaryReport,
    CurveMetrics,
    ThresholdMetrics,
    binary_report,
    curve_metrics,
    threshold_metrics,
)
from cnnbp.lessons.imbalance.training import BASELINE, TrainedRun

# The majority baseline is a constant classifier: "always the majority class", at any threshold.
# Its p(rare) is 0 (1 where the rare class is the majority), so "p(rare) >= 0" would turn it into
# "always the rare class" at threshold 0; at 1 the rule gives the majority class either way.
BASELINE_THRESHOLD = 1.0
# Fixed before any run, never tuned to a result:
RECALL_GAIN = 0.05  # a fix "raises" the rare recall when it gains 5 points (about 2 of the 35 rare test images)
F1_TOLERANCE = 0.01  # ... and macro-F1 does not fall by more than 1 point (a tie is not a loss)
MIN_SEEDS = 3  # a comparison of trained models is decided over at least 3 seeds, or not at all

Scored = dict[str, dict[str, ThresholdMetrics]]  # test set -> model -> metrics at one threshold
T = TypeVar("T")


def every_seed(values: Sequence[T], holds: Callable[[T], bool], fails: Callable[[T], bool]) -> bool | None:
    """True where every seed's value holds, False where every one fails, None where the seeds
    disagree or are fewer than MIN_SEEDS (too few to tell).

    >>> positive, not_positive = (lambda v: v > 0), (lambda v: v <= 0)
    >>> [every_seed(v, positive, not_positive) for v in ([1, 2, 3], [-1, 0, -3], [1, -1, 3], [1, 2])]
    [True, False, None, None]
    """
    if len(values) < MIN_SEEDS:
        return None
    if all(holds(v) for v in values):
        return True
    if all(fails(v) for v in values):
        return False
    return None


def curves_of(trained: TrainedRun) -> dict[str, dict[str, CurveMetrics]]:
    """Threshold-free curves per test set and model, computed once per trained run."""
    if trained.curves is None:
        trained.curves = {t: {m: curve_metrics(trained.labels[t], p, rare=trained.rare) for m, p in by.items()}
                          for t, by in trained.probs.items()}
    return trained.curves


def score(trained: TrainedRun, threshold: float) -> Scored:
    return {t: {m: threshold_metrics(trained.labels[t], p, rare=trained.rare,
                                     threshold=BASELINE_THRESHOLD if m == BASELINE else threshold)
                for m, p in by.items()} for t, by in trained.probs.items()}


@dataclass
class SeedComparison:
    """One method against plain training, seed by seed (the same data, initial weights and step
    budget at each seed), on one test set at one threshold."""

    method: str
    seeds: list[int]
    rare_gain: list[float]  # the method's rare-class recall minus plain training's
    majority_change: list[float]  # the same for the majority class's recall
    f1_change: list[float]  # the same for macro-F1

    @property
    def raises(self) -> bool | None:
        """A fix raises the rare recall: by RECALL_GAIN or more with macro-F1 down by at most
        F1_TOLERANCE on every seed; it does not where no seed gains any rare recall."""
        return every_seed(list(zip(self.rare_gain, self.f1_change)),
                          holds=lambda g: g[0] >= RECALL_GAIN and g[1] >= -F1_TOLERANCE, fails=lambda g: g[0] <= 0)

    @property
    def trades(self) -> bool | None:
        """Under-sampling trades majority recall for rare recall: the majority loses and the rare
        class gains RECALL_GAIN or more on every seed; no seed trades anything: it does not."""
        return every_seed(list(zip(self.majority_change, self.rare_gain)),
                          holds=lambda g: g[0] < 0 and g[1] >= RECALL_GAIN, fails=lambda g: g[0] >= 0 or g[1] <= 0)


def compare(scored: dict[int, Scored], method: str, *, test_set: str, majority: int) -> SeedComparison:
    """``method`` against "none" at each seed of ``scored`` (seed -> scored run)."""
    fix = {seed: by_set[test_set][method] for seed, by_set in scored.items()}
    plain = {seed: by_set[test_set]["none"] for seed, by_set in scored.items()}
    return SeedComparison(
        method=method, seeds=list(scored),
        rare_gain=[fix[s].recall[fix[s].rare] - plain[s].recall[plain[s].rare] for s in scored],
        majority_change=[fix[s].recall[majority] - plain[s].recall[majority] for s in scored],
        f1_change=[fix[s].macro_f1 - plain[s].macro_f1 for s in scored])


def scenarios(trained: TrainedRun, scored: Scored) -> dict[str, dict[str, BinaryReport]] | None:
    """The lecture's two scenarios on the same-ratio binary test set, for the majority baseline
    and the plain model: positives the majority (the rest called "positive"; the baseline
    says "1" to everything) and negatives the majority (the rare class positive)."""
    if len(trained.classes) != 2 or "same_ratio" not in scored:
        return None
    curves = curves_of(trained)["same_ratio"]
    models = [m for m in (BASELINE, "none") if m in scored["same_ratio"]]
    return {scenario: {m: binary_report(scored["same_ratio"][m], curves[m], positive=positive) for m in models}
            for scenario, positive in (("positives_outnumber_negatives", 1 - trained.rare),
                                       ("negatives_outnumber_positives", trained.rare))}
