"""A trained comparison scored at one threshold: every metric of every model on every test set,
and the lecture's two scenarios; what the verdicts and claims compare."""

from __future__ import annotations

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
RECALL_GAIN = 0.05  # a fix "raises" the rare recall when it gains 5 points (one seed moves ~2-3)
F1_TOLERANCE = 0.01  # ... and macro-F1 does not fall by more than 1 point (a tie is not a loss)

Scored = dict[str, dict[str, ThresholdMetrics]]  # test set -> model -> metrics at one threshold


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


def raises(fix: ThresholdMetrics, plain: ThresholdMetrics) -> bool:
    """The fix gains RECALL_GAIN of rare recall over plain training and loses at most
    F1_TOLERANCE of macro-F1."""
    return (fix.recall[fix.rare] - plain.recall[plain.rare] >= RECALL_GAIN
            and fix.macro_f1 - plain.macro_f1 >= -F1_TOLERANCE)


def trades(under: ThresholdMetrics, plain: ThresholdMetrics, *, majority: int) -> bool:
    """Under-sampling loses majority recall and gains rare recall."""
    return under.recall[majority] < plain.recall[majority] and under.recall[under.rare] > plain.recall[plain.rare]


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
