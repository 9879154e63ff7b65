"""Every metric of the lesson, as ``sklearn.metrics`` computes it, split in two:

* :func:`curve_metrics` (threshold-free: the rare class's ROC and precision-recall curves,
  ROC-AUC, PR-AUC as average precision) is computed once per trained model;
* :func:`threshold_metrics` (everything that depends on the decision: accuracy, balanced
  accuracy, per-class precision/recall/F1/false-positive rate, confusion matrices) is
  recomputed for each threshold in milliseconds, from the kept test-set probabilities, by
  sklearn's formulas from one confusion matrix (the tests check every number against
  ``sklearn.metrics`` on the same predictions).

The decision rule: predict the rare class when its probability is at least ``threshold``,
otherwise the most probable of the other classes. For two classes that is p(rare) >= t; for
many, t = 0.5 is argmax except where the rare class wins with less than half the mass. The
rare-vs-rest confusion at t is exactly the point of the ROC and PR curves at t.

>>> probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
>>> decide(probs, rare=1, threshold=0.5).tolist(), decide(probs, rare=1, threshold=0.25).tolist()
([0, 1, 0], [0, 1, 1])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn import metrics as skm

# Fixed before any run, never tuned to a result:
PARADOX_ACCURACY = 0.9  # "high accuracy": the always-majority model is right on 90% or more
LOW_F1 = 0.5  # "F1 is low": under 0.5 while the accuracy is at least PARADOX_ACCURACY


def decide(probs: np.ndarray, *, rare: int, threshold: float) -> np.ndarray:
    """(N, K) probabilities -> (N,) predicted classes under the rule above."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    others = probs.copy()
    others[:, rare] = -np.inf
    pred = others.argmax(axis=1)
    pred[probs[:, rare] >= threshold] = rare
    return pred


def false_positive_rates(confusion: np.ndarray) -> np.ndarray:
    """Per class k: FP_k / (FP_k + TN_k), one-vs-rest, from a (K, K) count matrix (rows: truth).
    A class no image is outside of (impossible here) would get 0."""
    total = confusion.sum()
    fp = confusion.sum(axis=0) - np.diag(confusion)
    negatives = total - confusion.sum(axis=1)
    return np.divide(fp, negatives, out=np.zeros(len(fp)), where=negatives > 0)


@dataclass
class CurveMetrics:
    """Threshold-free: the rare class against the rest, scored by p(rare)."""

    roc_auc: float
    pr_auc: float  # average precision (sklearn's step-wise area under the PR curve)
    prevalence: float  # share of rare images: the PR chance line
    roc_fpr: list[float]
    roc_tpr: list[float]
    pr_precision: list[float]
    pr_recall: list[float]


def curve_metrics(y: np.ndarray, probs: np.ndarray, *, rare: int) -> CurveMetrics:
    positive, score = (y == rare).astype(int), probs[:, rare]
    fpr, tpr, _ = skm.roc_curve(positive, score)
    precision, recall, _ = skm.precision_recall_curve(positive, score)
    return CurveMetrics(roc_auc=float(skm.roc_auc_score(positive, score)),
                        pr_auc=float(skm.average_precision_score(positive, score)),
                        prevalence=float(positive.mean()), roc_fpr=fpr.tolist(), roc_tpr=tpr.tolist(),
                        pr_precision=precision.tolist(), pr_recall=recall.tolist())


@dataclass
class ThresholdMetrics:
    """What the decision at one threshold gives; per-class lists in class order."""

    threshold: float
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    fpr: list[float]
    support: list[int]
    confusion: list[list[int]]  # rows: true class, columns: predicted
    confusion_normalised: list[list[float]]  # each row divided by its true count
    rare: int

    @property
    def accuracy_paradox(self) -> bool:
        """High accuracy, yet not one rare case found."""
        return self.accuracy >= PARADOX_ACCURACY and self.recall[self.rare] == 0.0

    @property
    def rare_point(self) -> dict[str, float]:
        """The rare class's operating point: where the threshold sits on the ROC and PR curves."""
        r = self.rare
        return {"fpr": self.fpr[r], "tpr": self.recall[r], "precision": self.precision[r], "recall": self.recall[r]}


def confusion(y: np.ndarray, pred: np.ndarray, *, num_classes: int) -> np.ndarray:
    """(K, K) counts, rows: true class, columns: predicted (``sklearn.metrics.confusion_matrix``)."""
    return np.bincount(y * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (sklearn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def recalls(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-class recall, per-class support) from a confusion matrix (sklearn's ``zero_division=0``)."""
    support = cm.sum(axis=1)
    return _ratio(np.diag(cm).astype(float), support.astype(float)), support


def argmax_scores(y: np.ndarray, pred: np.ndarray, *, rare: int, num_classes: int) -> tuple[float, float]:
    """(balanced accuracy, rare recall) of the predictions ``pred``, as ``sklearn.metrics``'
    ``balanced_accuracy_score`` and ``recall_score`` give them, without their validation (the
    training curves ask for them 15 times per model).

    >>> argmax_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), rare=1, num_classes=2)
    (0.75, 1.0)
    """
    recall, support = recalls(confusion(y, pred, num_classes=num_classes))
    return float(recall[support > 0].mean()), float(recall[rare])


def threshold_metrics(y: np.ndarray, probs: np.ndarray, *, rare: int, threshold: float) -> ThresholdMetrics:
    """Every decision metric from one confusion matrix, by sklearn's formulas (the tests check
    each against ``sklearn.metrics`` on the same predictions): one ``bincount`` instead of six
    validated sklearn calls keeps a threshold change within milliseconds."""
    k = probs.shape[1]
    cm = confusion(y, decide(probs, rare=rare, threshold=threshold), num_classes=k)
    tp, predicted = np.diag(cm).astype(float), cm.sum(axis=0)
    recall, support = recalls(cm)
    f1 = _ratio(2 * tp, (2 * tp + (predicted - tp) + (support - tp)).astype(float))  # 2TP / (2TP + FP + FN)
    return ThresholdMetrics(
        threshold=threshold,
        accuracy=float(tp.sum() / cm.sum()),
        balanced_accuracy=float(recall[support > 0].mean()),
        macro_f1=float(f1.mean()),
        precision=_ratio(tp, predicted.astype(float)).tolist(), recall=recall.tolist(), f1=f1.tolist(),
        fpr=false_positive_rates(cm).tolist(), support=support.tolist(), confusion=cm.tolist(),
        confusion_normalised=(cm / np.maximum(support, 1)[:, None]).tolist(), rare=rare)


def majority_probs(n: int, *, num_classes: int, majority: int) -> np.ndarray:
    """The trivial "always the majority class" model: probability 1 on it for every image."""
    probs = np.zeros((n, num_classes))
    probs[:, majority] = 1.0
    return probs


@dataclass
class BinaryReport:
    """One classifier on a two-class test set with class ``positive`` called "1"."""

    positive: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    fpr: float
    roc_auc: float
    positives: int
    negatives: int

    @property
    def fpr_and_auc_expose(self) -> bool:
        """Accuracy and F1 look good, yet every negative is a false positive and the AUC is chance's:
        the lecture's "positives outnumber negatives" scenario for a model that says "1" to all."""
        return self.f1 >= PARADOX_ACCURACY and self.fpr == 1.0 and self.roc_auc == 0.5

    @property
    def f1_exposes(self) -> bool:
        """High accuracy, low F1: the lecture's "negatives outnumber positives" scenario."""
        return self.accuracy >= PARADOX_ACCURACY and self.f1 < LOW_F1


def binary_report(m: ThresholdMetrics, c: CurveMetrics, *, positive: int) -> BinaryReport:
    """The lecture's scenario numbers with class ``positive`` as "1", read off the per-class
    metrics (for two classes, class c's one-vs-rest numbers are exactly those with c positive;
    ROC-AUC is the same whichever class is positive, as p(other) = 1 - p(c))."""
    if len(m.support) != 2:
        raise ValueError(f"binary_report needs two classes, got {len(m.support)}")
    return BinaryReport(positive=positive, accuracy=m.accuracy, precision=m.precision[positive],
                        recall=m.recall[positive], f1=m.f1[positive], fpr=m.fpr[positive], roc_auc=c.roc_auc,
                        positives=m.support[positive], negatives=m.support[1 - positive])


def as_dict(m: CurveMetrics | ThresholdMetrics | BinaryReport) -> dict:
    return asdict(m)
