"""The label-imbalance claims of lectures 000-002, measured on the lesson's default settings
(binary digits, '8' against the rest at 1:50, 300 steps, threshold 0.5); a claim that trains
does so at the given seed and the next ``SEEDS - 1``."""

from __future__ import annotations

import functools
import statistics

import numpy as np

from cnnbp.claims import register_claim
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.data import build_data
from cnnbp.lessons.imbalance.metrics import (
    LOW_F1,
    PARADOX_ACCURACY,
    CurveMetrics,
    ThresholdMetrics,
    binary_report,
    curve_metrics,
    majority_probs,
    threshold_metrics,
)
from cnnbp.lessons.imbalance.scoring import F1_TOLERANCE, RECALL_GAIN, curves_of, score
from cnnbp.lessons.imbalance.training import METHODS, trained_run

SEEDS = 3
CLAIM_METHODS = ["none", "oversample", "undersample", "reweight", "balanced_batches"]
# Fixed before any run: "well below" = the rare recall of plain training on the imbalanced set
# is at least 15 points under the same network trained on a balanced set (1:1, same test set).
WELL_BELOW = 0.15
# The default values, not validated here: validation reads the digits pool (pool_counts), and
# importing the app must read no data; _cfg validates each claim's settings when it runs.
DEFAULTS = ImbalanceConfig.model_construct()


def _cfg(seed: int, **changes) -> ImbalanceConfig:
    return ImbalanceConfig(**{**DEFAULTS.model_dump(), "methods": CLAIM_METHODS, "seed": seed, **changes})


def _seeds(seed: int) -> list[int]:
    return list(range(seed, seed + SEEDS))


@functools.lru_cache(maxsize=2 * SEEDS)
def _scored(ratio: float, seed: int) -> dict[str, dict[str, ThresholdMetrics]]:
    """Test set -> model -> metrics at the default threshold, trained at ``seed``."""
    methods = CLAIM_METHODS if ratio == DEFAULTS.ratio else ["none"]
    return score(trained_run(_cfg(seed, ratio=ratio, methods=methods)), DEFAULTS.threshold)


def _baseline(seed: int) -> tuple[ThresholdMetrics, CurveMetrics]:
    """The always-the-majority model on the defaults' same-ratio test set drawn at ``seed`` (no
    training needed; the images differ by seed, their counts do not)."""
    data = build_data(DEFAULTS.dataset, task=DEFAULTS.task, rare=DEFAULTS.rare_class, ratio=DEFAULTS.ratio,
                      seed=seed)
    x, y = data.tests["same_ratio"]
    probs = majority_probs(len(y), num_classes=2, majority=int(np.argmax(data.counts("train"))))
    return (threshold_metrics(y.numpy(), probs, rare=data.rare, threshold=DEFAULTS.threshold),
            curve_metrics(y.numpy(), probs, rare=data.rare))


def _mean(values) -> float:
    return statistics.fmean(values)


def _rare_recall(seed: int, model: str, *, ratio: float = DEFAULTS.ratio) -> float:
    m = _scored(ratio, seed)["balanced"][model]
    return m.recall[m.rare]


@register_claim("imbalance.accuracy_paradox", lesson="imbalance", source="000, 002",
                statement="at a high imbalance the always-the-majority model has high accuracy and finds no "
                          "minority case (the accuracy paradox)")
def accuracy_paradox(seed: int) -> tuple[bool, str]:
    m, _ = _baseline(seed)
    return m.accuracy_paradox, (
        f"digits '8' vs the rest at 1:{DEFAULTS.ratio:g}, same-ratio test set ({m.support[1]} vs "
        f"{m.support[0]}): accuracy {m.accuracy:.1%}, minority recall {m.recall[m.rare]:.0%}, balanced "
        f"accuracy {m.balanced_accuracy:.0%}")


@register_claim("imbalance.plain_below_balanced", lesson="imbalance", source="000, 001",
                statement="trained on imbalanced data, a model does not learn the minority class: its recall stays "
                          "well below that of the same model trained on balanced data")
def plain_below_balanced(seed: int) -> tuple[bool, str]:
    seeds = _seeds(seed)
    plain = [_rare_recall(s, "none") for s in seeds]
    balanced = [_rare_recall(s, "none", ratio=1.0) for s in seeds]
    gap = _mean(balanced) - _mean(plain)
    return gap >= WELL_BELOW, (
        f"rare recall on the balanced test set, seeds {'/'.join(map(str, seeds))}: 1:{DEFAULTS.ratio:g} "
        f"{'/'.join(f'{r:.0%}' for r in plain)}, 1:1 {'/'.join(f'{r:.0%}' for r in balanced)}; mean gap "
        f"{gap:.0%} (line: {WELL_BELOW:.0%})")


def _raises(method: str, seed: int) -> tuple[bool, str]:
    seeds = _seeds(seed)
    d_rec = [_rare_recall(s, method) - _rare_recall(s, "none") for s in seeds]
    d_f1 = [_scored(DEFAULTS.ratio, s)["balanced"][method].macro_f1 - _scored(DEFAULTS.ratio, s)["balanced"]["none"]
            .macro_f1 for s in seeds]
    passed = _mean(d_rec) >= RECALL_GAIN and _mean(d_f1) >= -F1_TOLERANCE
    fixed = "/".join(f"{_rare_recall(s, method):.0%}" for s in seeds)
    plain = "/".join(f"{_rare_recall(s, 'none'):.0%}" for s in seeds)
    return passed, (f"{METHODS[method].label} vs none, balanced test set, seeds {'/'.join(map(str, seeds))}: rare "
                    f"recall {fixed} vs {plain} (mean {_mean(d_rec):+.0%}); "
                    f"macro-F1 mean {_mean(d_f1):+.3f} (lines: recall +{RECALL_GAIN:.0%}, macro-F1 >= "
                    f"-{F1_TOLERANCE:g})")


@register_claim("imbalance.oversampling_helps", lesson="imbalance", source="000",
                statement="over-sampling the minority (copies) raises minority recall and macro-F1 over no fix")
def oversampling_helps(seed: int) -> tuple[bool, str]:
    return _raises("oversample", seed)


@register_claim("imbalance.reweighting_helps", lesson="imbalance", source="000, 001",
                statement="reweighting the loss by the class ratio raises minority recall and macro-F1 over no fix")
def reweighting_helps(seed: int) -> tuple[bool, str]:
    return _raises("reweight", seed)


@register_claim("imbalance.balanced_batches_help", lesson="imbalance", source="000",
                statement="batch sampling (each class equally in every batch) raises minority recall and macro-F1 "
                          "over no fix")
def balanced_batches_help(seed: int) -> tuple[bool, str]:
    return _raises("balanced_batches", seed)


@register_claim("imbalance.undersampling_trades", lesson="imbalance", source="000",
                statement="under-sampling the majority trades majority accuracy for minority recall")
def undersampling_trades(seed: int) -> tuple[bool, str]:
    seeds = _seeds(seed)
    by = {m: [_scored(DEFAULTS.ratio, s)["balanced"][m] for s in seeds] for m in ("none", "undersample")}
    maj = {m: _mean(x.recall[0] for x in v) for m, v in by.items()}  # binary: class 0 is the majority (the rest)
    rare = {m: _mean(x.recall[1] for x in v) for m, v in by.items()}
    passed = maj["undersample"] < maj["none"] and rare["undersample"] > rare["none"]
    return passed, (f"mean over seeds {'/'.join(map(str, seeds))}, balanced test set: majority recall "
                    f"{maj['none']:.1%} -> {maj['undersample']:.1%}, minority recall {rare['none']:.0%} -> "
                    f"{rare['undersample']:.0%} (none -> under-sampling)")


@register_claim("imbalance.fpr_auc_when_positives_dominate", lesson="imbalance", source="002",
                statement="positives outnumber negatives: a model that predicts everything positive looks good on "
                          "accuracy and F1; its high FPR and low AUC tell the truth")
def fpr_auc_when_positives_dominate(seed: int) -> tuple[bool, str]:
    r = binary_report(*_baseline(seed), positive=0)  # the "rest" called positive: the baseline says 1 always
    return r.fpr_and_auc_expose, (
        f"{r.positives} positives, {r.negatives} negatives, always 'positive': accuracy {r.accuracy:.1%}, "
        f"precision {r.precision:.3f}, recall {r.recall:.0f}, F1 {r.f1:.3f}; FPR {r.fpr:g}, ROC-AUC {r.roc_auc:g}")


@register_claim("imbalance.f1_when_negatives_dominate", lesson="imbalance", source="002",
                statement="negatives outnumber positives: precision and recall of the positives are low, and F1 "
                          "shows it where accuracy does not")
def f1_when_negatives_dominate(seed: int) -> tuple[bool, str]:
    seeds = _seeds(seed)
    reports = []
    for s in seeds:
        trained = trained_run(_cfg(s))
        m = score(trained, DEFAULTS.threshold)["same_ratio"]["none"]
        reports.append(binary_report(m, curves_of(trained)["same_ratio"]["none"], positive=1))
    acc, f1 = _mean(r.accuracy for r in reports), _mean(r.f1 for r in reports)
    passed = acc >= PARADOX_ACCURACY and f1 < LOW_F1
    return passed, (f"plain training, '8' positive ({reports[0].positives} vs {reports[0].negatives}), seeds "
                    f"{'/'.join(map(str, seeds))}: accuracy {'/'.join(f'{r.accuracy:.1%}' for r in reports)}, "
                    f"precision {'/'.join(f'{r.precision:.2f}' for r in reports)}, recall "
                    f"{'/'.join(f'{r.recall:.2f}' for r in reports)}, F1 {'/'.join(f'{r.f1:.2f}' for r in reports)} "
                    f"(line: F1 < {LOW_F1:g} with accuracy >= {PARADOX_ACCURACY:.0%})")
