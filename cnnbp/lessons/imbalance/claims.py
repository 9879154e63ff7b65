"""The label-imbalance claims of lectures 000-002, measured on the lesson's default settings
(binary digits, '8' against the rest at 1:50, the lecture's five methods, its default steps,
threshold 0.5). A claim that trains reads the lesson's own comparison at the given seed and the next
ones (seeds: the lesson's default), with the same predicates as its verdicts."""

from __future__ import annotations

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
from cnnbp.lessons.imbalance.scoring import F1_TOLERANCE, RECALL_GAIN, Scored, compare, curves_of, every_seed, score
from cnnbp.lessons.imbalance.training import METHODS, trained_runs

# Fixed before any run: "well below" = the rare recall of plain training on the imbalanced set
# is at least 15 points under the same network trained on a balanced set (1:1, same test set).
WELL_BELOW = 0.15
TEST_SET = "balanced"  # every method's recall on each class, from equally many images
# The default values, not validated here: validation reads the digits pool (pool_counts), and
# importing the app must read no data; _cfg validates each claim's settings when it runs.
DEFAULTS = ImbalanceConfig.model_construct()


def _cfg(seed: int, **changes) -> ImbalanceConfig:
    return ImbalanceConfig(**{**DEFAULTS.model_dump(), "seed": seed, **changes})


def _scored(cfg: ImbalanceConfig) -> dict[int, Scored]:
    """Seed -> test set -> model -> metrics at the default threshold (runs kept in PREDICTIONS)."""
    return {seed: score(run, DEFAULTS.threshold) for seed, run in zip(cfg.seed_list, trained_runs(cfg))}


def _baseline(seed: int) -> tuple[ThresholdMetrics, CurveMetrics]:
    """The always-the-majority model on the defaults' same-ratio test set drawn at ``seed`` (no
    training needed; the images differ by seed, their counts do not)."""
    data = build_data(DEFAULTS.dataset, task=DEFAULTS.task, rare=DEFAULTS.rare_class, ratio=DEFAULTS.ratio,
                      seed=seed)
    x, y = data.tests["same_ratio"]
    probs = majority_probs(len(y), num_classes=2, majority=int(np.argmax(data.counts("train"))))
    return (threshold_metrics(y.numpy(), probs, rare=data.rare, threshold=DEFAULTS.threshold),
            curve_metrics(y.numpy(), probs, rare=data.rare))


def _recalls(scored: dict[int, Scored], model: str, cls: int | None = None) -> str:
    """One model's recall of class ``cls`` (the rare class by default) per seed, as 83/86/86%."""
    return "/".join(f"{m.recall[m.rare if cls is None else cls] * 100:.0f}" for m in
                    (s[TEST_SET][model] for s in scored.values())) + "%"


@register_claim("imbalance.accuracy_paradox", lesson="imbalance", source="000, 002",
                lecture="majority-only model: high accuracy, no rare case",
                statement="at a high imbalance the always-the-majority model has high accuracy and finds no "
                          "minority case (the accuracy paradox)")
def accuracy_paradox(seed: int) -> tuple[bool, str]:
    m, _ = _baseline(seed)
    return m.accuracy_paradox, (
        f"digits '8' vs the rest at 1:{DEFAULTS.ratio:g}, same-ratio test set ({m.support[1]} vs "
        f"{m.support[0]}): accuracy {m.accuracy:.1%}, minority recall {m.recall[m.rare]:.0%}, balanced "
        f"accuracy {m.balanced_accuracy:.0%}")


@register_claim("imbalance.plain_below_balanced", lesson="imbalance", source="000, 001",
                lecture="plain training misses the minority class",
                statement="trained on imbalanced data, a model does not learn the minority class: its recall stays "
                          "well below that of the same model trained on balanced data")
def plain_below_balanced(seed: int) -> tuple[bool | None, str]:
    imbalanced = _scored(_cfg(seed))  # the lesson's comparison: its plain model
    balanced = _scored(_cfg(seed, methods=["none"], ratio=1.0))
    gaps = [b[TEST_SET]["none"].recall[1] - i[TEST_SET]["none"].recall[1]
            for i, b in zip(imbalanced.values(), balanced.values())]
    passed = every_seed(gaps, holds=lambda g: g >= WELL_BELOW, fails=lambda g: g <= 0)
    return passed, (
        f"rare recall on the balanced test set, seeds {'/'.join(map(str, imbalanced))}: 1:{DEFAULTS.ratio:g} "
        f"{_recalls(imbalanced, 'none')}, 1:1 {_recalls(balanced, 'none')} (line: {WELL_BELOW:.0%} below on "
        f"every seed)")


def _raises(method: str, seed: int) -> tuple[bool | None, str]:
    scored = _scored(_cfg(seed))
    c = compare(scored, method, test_set=TEST_SET, majority=0)  # binary: class 0 is the majority (the rest)
    return c.raises, (
        f"{METHODS[method].label} vs none, balanced test set, seeds {'/'.join(map(str, c.seeds))}: rare recall "
        f"{_recalls(scored, method)} vs {_recalls(scored, 'none')}; macro-F1 "
        f"{'/'.join(f'{d:+.3f}' for d in c.f1_change)} (lines: recall +{RECALL_GAIN:.0%} with macro-F1 >= "
        f"-{F1_TOLERANCE:g} on every seed; no recall gained on any seed: does not hold)")


@register_claim("imbalance.oversampling_helps", lesson="imbalance", source="000",
                lecture="over-sampling raises minority recall and F1",
                statement="over-sampling the minority (copies) raises minority recall and macro-F1 over no fix")
def oversampling_helps(seed: int) -> tuple[bool | None, str]:
    return _raises("oversample", seed)


@register_claim("imbalance.reweighting_helps", lesson="imbalance", source="000, 001",
                lecture="reweighting raises minority recall and F1",
                statement="reweighting the loss by the class ratio raises minority recall and macro-F1 over no fix")
def reweighting_helps(seed: int) -> tuple[bool | None, str]:
    return _raises("reweight", seed)


@register_claim("imbalance.balanced_batches_help", lesson="imbalance", source="000",
                lecture="balanced batches raise minority recall and F1",
                statement="batch sampling (each class equally in every batch) raises minority recall and macro-F1 "
                          "over no fix")
def balanced_batches_help(seed: int) -> tuple[bool | None, str]:
    return _raises("balanced_batches", seed)


@register_claim("imbalance.undersampling_trades", lesson="imbalance", source="000",
                lecture="under-sampling trades majority for minority",
                statement="under-sampling the majority trades majority accuracy for minority recall")
def undersampling_trades(seed: int) -> tuple[bool | None, str]:
    scored = _scored(_cfg(seed))
    c = compare(scored, "undersample", test_set=TEST_SET, majority=0)
    return c.trades, (f"seeds {'/'.join(map(str, c.seeds))}, balanced test set, none -> under-sampling: majority "
                      f"recall {_recalls(scored, 'none', 0)} -> {_recalls(scored, 'undersample', 0)}, minority recall "
                      f"{_recalls(scored, 'none')} -> {_recalls(scored, 'undersample')} (line: on every seed the "
                      f"majority loses and the minority gains {RECALL_GAIN:.0%} or more)")


@register_claim("imbalance.fpr_auc_when_positives_dominate", lesson="imbalance", source="002",
                lecture="FPR and AUC expose the all-positive model",
                statement="positives outnumber negatives: a model that predicts everything positive looks good on "
                          "accuracy and F1; its high FPR and low AUC tell the truth")
def fpr_auc_when_positives_dominate(seed: int) -> tuple[bool, str]:
    r = binary_report(*_baseline(seed), positive=0)  # the "rest" called positive: the baseline says 1 always
    return r.fpr_and_auc_expose, (
        f"{r.positives} positives, {r.negatives} negatives, always 'positive': accuracy {r.accuracy:.1%}, "
        f"precision {r.precision:.3f}, recall {r.recall:.0f}, F1 {r.f1:.3f}; FPR {r.fpr:g}, ROC-AUC {r.roc_auc:g}")


@register_claim("imbalance.f1_when_negatives_dominate", lesson="imbalance", source="002",
                lecture="F1 shows what accuracy hides",
                statement="negatives outnumber positives: precision and recall of the positives are low, and F1 "
                          "shows it where accuracy does not")
def f1_when_negatives_dominate(seed: int) -> tuple[bool | None, str]:
    cfg = _cfg(seed)
    reports = []
    for run, scored in zip(trained_runs(cfg), _scored(cfg).values()):
        reports.append(binary_report(scored["same_ratio"]["none"], curves_of(run)["same_ratio"]["none"], positive=1))
    passed = every_seed(reports, holds=lambda r: r.f1_exposes, fails=lambda r: not r.f1_exposes)
    return passed, (f"plain training, '8' positive ({reports[0].positives} vs {reports[0].negatives}), seeds "
                    f"{'/'.join(map(str, cfg.seed_list))}: accuracy {'/'.join(f'{r.accuracy:.1%}' for r in reports)}, "
                    f"precision {'/'.join(f'{r.precision:.2f}' for r in reports)}, recall "
                    f"{'/'.join(f'{r.recall:.2f}' for r in reports)}, F1 {'/'.join(f'{r.f1:.2f}' for r in reports)} "
                    f"(line: F1 < {LOW_F1:g} with accuracy >= {PARADOX_ACCURACY:.0%}, on every seed)")
