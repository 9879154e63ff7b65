"""The label-imbalance claims of lectures 000-002, measured on the lesson's default settings
(binary digits, '8' against the rest at 1:50, 300 steps, threshold 0.5), over ``SEEDS``."""

from __future__ import annotations

import functools
import math
import statistics

import numpy as np

from cnnbp.claims import register_claim
from cnnbp.lessons.imbalance.data import build_data
from cnnbp.lessons.imbalance.lesson import (F1_TOLERANCE, PARADOX_ACCURACY, RECALL_GAIN, ImbalanceConfig, curves_of,
                                            score, trained_run)
from cnnbp.lessons.imbalance.metrics import (CurveMetrics, ThresholdMetrics, binary_report, curve_metrics,
                                             majority_probs, threshold_metrics)
from cnnbp.lessons.imbalance.training import METHODS
from cnnbp.train import RunControl

SEEDS = (0, 1, 2)
CLAIM_METHODS = ["none", "oversample", "undersample", "reweight", "balanced_batches"]
# Fixed before any run: "well below" = the rare recall of plain training on the imbalanced set
# is at least 15 points under the same network trained on a balanced set (1:1, same test set).
WELL_BELOW = 0.15
LOW_F1 = 0.5  # "F1 is low": under 0.5 while the accuracy is at least PARADOX_ACCURACY
# The default values, not validated here: validation reads the digits pool (pool_counts), and
# importing the app must read no data; _cfg validates each claim's settings when it runs.
DEFAULTS = ImbalanceConfig.model_construct()


def _cfg(seed: int, **changes) -> ImbalanceConfig:
    return ImbalanceConfig(**{**DEFAULTS.model_dump(), "methods": CLAIM_METHODS, "seed": seed, **changes})


def _trained(cfg: ImbalanceConfig):
    # no wall-clock budget: a claim is measured in full or not at all (the UI's budget is for users)
    return trained_run(cfg, RunControl(budget_s=math.inf))


@functools.lru_cache(maxsize=2)
def _scored(ratio: float) -> dict[int, dict[str, dict[str, ThresholdMetrics]]]:
    """seed -> test set -> model -> metrics at the default threshold."""
    methods = CLAIM_METHODS if ratio == DEFAULTS.ratio else ["none"]
    return {seed: score(_trained(_cfg(seed, ratio=ratio, methods=methods)), DEFAULTS.threshold) for seed in SEEDS}


def _baseline() -> tuple[ThresholdMetrics, CurveMetrics]:
    """The always-the-majority model on the defaults' same-ratio test set (no training needed)."""
    data = build_data(DEFAULTS.dataset, task=DEFAULTS.task, rare=DEFAULTS.rare_class, ratio=DEFAULTS.ratio, seed=0)
    x, y = data.tests["same_ratio"]
    probs = majority_probs(len(y), num_classes=2, majority=int(np.argmax(data.counts("train"))))
    return (threshold_metrics(y.numpy(), probs, rare=data.rare, threshold=DEFAULTS.threshold),
            curve_metrics(y.numpy(), probs, rare=data.rare))


def _mean(values) -> float:
    return statistics.fmean(values)


def _rare_recall(seed: int, model: str, *, ratio: float = DEFAULTS.ratio) -> float:
    m = _scored(ratio)[seed]["balanced"][model]
    return m.recall[m.rare]


@register_claim("imbalance.accuracy_paradox", lesson="imbalance", source="000, 002",
                statement="at a high imbalance the always-the-majority model has high accuracy and finds no "
                          "minority case (the accuracy paradox)")
def accuracy_paradox() -> tuple[bool, str]:
    m, _ = _baseline()
    passed = m.accuracy >= PARADOX_ACCURACY and m.recall[m.rare] == 0.0
    return passed, (f"digits '8' vs the rest at 1:{DEFAULTS.ratio:g}, same-ratio test set ({m.support[1]} vs "
                    f"{m.support[0]}): accuracy {m.accuracy:.1%}, minority recall {m.recall[m.rare]:.0%}, balanced "
                    f"accuracy {m.balanced_accuracy:.0%}")


@register_claim("imbalance.plain_below_balanced", lesson="imbalance", source="000, 001",
                statement="trained on imbalanced data, a model does not learn the minority class: its recall stays "
                          "well below that of the same model trained on balanced data")
def plain_below_balanced() -> tuple[bool, str]:
    plain = [_rare_recall(s, "none") for s in SEEDS]
    balanced = [_rare_recall(s, "none", ratio=1.0) for s in SEEDS]
    gap = _mean(balanced) - _mean(plain)
    return gap >= WELL_BELOW, (
        f"rare recall on the balanced test set, seeds {'/'.join(map(str, SEEDS))}: 1:{DEFAULTS.ratio:g} "
        f"{'/'.join(f'{r:.0%}' for r in plain)}, 1:1 {'/'.join(f'{r:.0%}' for r in balanced)}; mean gap "
        f"{gap:.0%} (line: {WELL_BELOW:.0%})")


def _raises(method: str) -> tuple[bool, str]:
    d_rec = [_rare_recall(s, method) - _rare_recall(s, "none") for s in SEEDS]
    d_f1 = [_scored(DEFAULTS.ratio)[s]["balanced"][method].macro_f1 - _scored(DEFAULTS.ratio)[s]["balanced"]["none"]
            .macro_f1 for s in SEEDS]
    passed = _mean(d_rec) >= RECALL_GAIN and _mean(d_f1) >= -F1_TOLERANCE
    fixed = "/".join(f"{_rare_recall(s, method):.0%}" for s in SEEDS)
    plain = "/".join(f"{_rare_recall(s, 'none'):.0%}" for s in SEEDS)
    return passed, (f"{METHODS[method].label} vs none, balanced test set, seeds {'/'.join(map(str, SEEDS))}: rare "
                    f"recall {fixed} vs {plain} (mean {_mean(d_rec):+.0%}); "
                    f"macro-F1 mean {_mean(d_f1):+.3f} (lines: recall +{RECALL_GAIN:.0%}, macro-F1 >= "
                    f"-{F1_TOLERANCE:g})")


@register_claim("imbalance.oversampling_helps", lesson="imbalance", source="000",
                statement="over-sampling the minority (copies) raises minority recall and macro-F1 over no fix")
def oversampling_helps() -> tuple[bool, str]:
    return _raises("oversample")


@register_claim("imbalance.reweighting_helps", lesson="imbalance", source="000, 001",
                statement="reweighting the loss by the class ratio raises minority recall and macro-F1 over no fix")
def reweighting_helps() -> tuple[bool, str]:
    return _raises("reweight")


@register_claim("imbalance.balanced_batches_help", lesson="imbalance", source="000",
                statement="batch sampling (each class equally in every batch) raises minority recall and macro-F1 "
                          "over no fix")
def balanced_batches_help() -> tuple[bool, str]:
    return _raises("balanced_batches")


@register_claim("imbalance.undersampling_trades", lesson="imbalance", source="000",
                statement="under-sampling the majority trades majority accuracy for minority recall")
def undersampling_trades() -> tuple[bool, str]:
    by = {m: [_scored(DEFAULTS.ratio)[s]["balanced"][m] for s in SEEDS] for m in ("none", "undersample")}
    maj = {m: _mean(x.recall[0] for x in v) for m, v in by.items()}  # binary: class 0 is the majority (the rest)
    rare = {m: _mean(x.recall[1] for x in v) for m, v in by.items()}
    passed = maj["undersample"] < maj["none"] and rare["undersample"] > rare["none"]
    return passed, (f"mean over seeds {'/'.join(map(str, SEEDS))}, balanced test set: majority recall "
                    f"{maj['none']:.1%} -> {maj['undersample']:.1%}, minority recall {rare['none']:.0%} -> "
                    f"{rare['undersample']:.0%} (none -> under-sampling)")


@register_claim("imbalance.fpr_auc_when_positives_dominate", lesson="imbalance", source="002",
                statement="positives outnumber negatives: a model that predicts everything positive looks good on "
                          "accuracy and F1; its high FPR and low AUC tell the truth")
def fpr_auc_when_positives_dominate() -> tuple[bool, str]:
    r = binary_report(*_baseline(), positive=0)  # the majority "rest" called positive: the baseline says 1 always
    passed = r.fpr == 1.0 and r.roc_auc == 0.5 and r.f1 >= PARADOX_ACCURACY
    return passed, (f"{r.positives} positives, {r.negatives} negatives, always 'positive': accuracy {r.accuracy:.1%}, "
                    f"precision {r.precision:.3f}, recall {r.recall:.0f}, F1 {r.f1:.3f}; FPR {r.fpr:g}, "
                    f"ROC-AUC {r.roc_auc:g}")


@register_claim("imbalance.f1_when_negatives_dominate", lesson="imbalance", source="002",
                statement="negatives outnumber positives: precision and recall of the positives are low, and F1 "
                          "shows it where accuracy does not")
def f1_when_negatives_dominate() -> tuple[bool, str]:
    reports = []
    for s in SEEDS:
        trained = _trained(_cfg(s))
        m = score(trained, DEFAULTS.threshold)["same_ratio"]["none"]
        reports.append(binary_report(m, curves_of(trained)["same_ratio"]["none"], positive=1))
    acc, f1 = _mean(r.accuracy for r in reports), _mean(r.f1 for r in reports)
    passed = acc >= PARADOX_ACCURACY and f1 < LOW_F1
    return passed, (f"plain training, '8' positive ({reports[0].positives} vs {reports[0].negatives}), seeds "
                    f"{'/'.join(map(str, SEEDS))}: accuracy {'/'.join(f'{r.accuracy:.1%}' for r in reports)}, "
                    f"precision {'/'.join(f'{r.precision:.2f}' for r in reports)}, recall "
                    f"{'/'.join(f'{r.recall:.2f}' for r in reports)}, F1 {'/'.join(f'{r.f1:.2f}' for r in reports)} "
                    f"(line: F1 < {LOW_F1:g} with accuracy >= {PARADOX_ACCURACY:.0%})")
