"""The imbalance lesson's parts, exactly: the imbalanced sets against the requested ratio, the
samplers' class frequencies, the class weights and focal loss against sklearn / torch, and
every metric against ``sklearn.metrics`` on the same predictions."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as skm
from sklearn.utils.class_weight import compute_class_weight

from cnnbp.lessons.base import ConfigError, validate_config
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.data import build_data, class_counts, load_pool, long_tail_counts, pool_counts
from cnnbp.lessons.imbalance.losses import effective_number_weights, focal_loss, inverse_frequency_weights
from cnnbp.lessons.imbalance.metrics import (
    argmax_scores,
    binary_report,
    curve_metrics,
    decide,
    false_positive_rates,
    majority_probs,
    threshold_metrics,
)
from cnnbp.lessons.imbalance.samplers import BalancedBatchSampler, EpochSampler, oversample, undersample
from cnnbp.lessons.imbalance.scoring import SeedComparison


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- the imbalanced sets ------------------------------------------------------------------

def test_pool_counts_do_not_depend_on_the_seed():
    for name in ("digits", "shapes"):
        train, test, _ = pool_counts(name)
        pool = load_pool(name, seed=3)
        assert torch.bincount(pool.y_train).tolist() == list(train)
        assert torch.bincount(pool.y_test).tolist() == list(test)


@pytest.mark.parametrize("ratio", [1.0, 2.5, 20.0, 50.0, 200.0, 500.0])
def test_binary_counts_follow_the_ratio(ratio):
    train, _, _ = pool_counts("digits")
    counts = class_counts(train, task="binary", rare=8, ratio=ratio)
    rare, rest = counts[8], sum(counts) - counts[8]
    # one side is exactly the other times (or over) the ratio, rounded half up
    assert rare == int(np.floor(rest / ratio + 0.5)) or rest == int(np.floor(rare * ratio + 0.5))
    assert all(c <= p for c, p in zip(counts, train))


def test_long_tail_counts_span_the_ratio_geometrically():
    counts = long_tail_counts(139, num_classes=10, ratio=50.0)
    assert counts[0] == 139 and counts[-1] == 3 and list(counts) == sorted(counts, reverse=True)
    expected = [139 * 50 ** (-r / 9) for r in range(10)]
    assert all(abs(c - e) <= 0.5 for c, e in zip(counts, expected))


def test_build_data_draws_the_counts_and_relabels_binary():
    d = build_data("digits", task="binary", rare=8, ratio=50.0, seed=0)
    train, test, _ = pool_counts("digits")
    want = class_counts(train, task="binary", rare=8, ratio=50.0)
    assert d.counts("train") == [sum(want) - want[8], want[8]] == [1298, 26]
    assert d.classes == ("not 8", "8") and d.rare == 1
    assert d.counts("balanced") == [35, 35]
    assert d.counts("same_ratio") == [325, 7]  # 325 / 50 = 6.5 -> 7
    again = build_data("digits", task="binary", rare=8, ratio=50.0, seed=0)
    assert torch.equal(d.x_train, again.x_train) and torch.equal(d.tests["same_ratio"][0], again.tests["same_ratio"][0])
    other = build_data("digits", task="binary", rare=8, ratio=50.0, seed=1)
    assert not torch.equal(d.x_train, other.x_train)


def test_multiclass_tail_and_missing_same_ratio_test_set():
    d = build_data("shapes", task="multiclass", rare=0, ratio=10.0, seed=0)
    want = class_counts((500,) * 4, task="multiclass", rare=0, ratio=10.0)
    assert d.counts("train") == list(want) == [50, 500, 232, 108]
    tail = build_data("digits", task="multiclass", rare=9, ratio=200.0, seed=0)
    assert "same_ratio" not in tail.tests and tail.counts("train")[9] == 1  # 139 / 200 = 0.7 -> 1


# ---- bad settings -------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [
    ({"task": "multiclass", "ratio": 300}, "ratio: 1:300 leaves class '8' with no training image (from a pool of 139)"),
    ({"task": "multiclass", "ratio": 80, "test_set": "same_ratio"},
     "leaves class '8' with no same-ratio test image (from a pool of 35); lower the ratio or choose test_set balanced"),
])
def test_bad_settings_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(ImbalanceConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_a_rare_class_past_the_sets_classes_is_its_last_class_with_a_note():
    """The default rare class 8 works on any offered set: a set with fewer classes takes its last."""
    shapes = validate_config(ImbalanceConfig, {"dataset": "shapes", "steps": 20})  # 4 classes, rare_class 8
    assert shapes.rare == 3 and shapes.train_counts()[3] < min(shapes.train_counts()[:3])
    assert shapes.rare_note() == ("rare_class 8 is past the 4 classes of shapes: its last class, "
                                  f"{pool_counts('shapes')[2][3]} (3), is the rare one")
    assert validate_config(ImbalanceConfig, {"dataset": "shapes", "steps": 20, "rare_class": 1}).rare_note() == ""
    digits = validate_config(ImbalanceConfig)  # the shipped default is untouched
    assert digits.rare == digits.rare_class == 8 and digits.rare_note() == ""


def test_defaults_fit_the_budget_and_cost_grows():
    cfg = validate_config(ImbalanceConfig)
    assert 5 < cfg.cost_seconds() < 40
    assert validate_config(ImbalanceConfig, {"steps": 2 * cfg.steps}).cost_seconds() == pytest.approx(
        2 * cfg.cost_seconds())
    assert validate_config(ImbalanceConfig, {"seeds": 1}).cost_seconds() == pytest.approx(cfg.cost_seconds() / 3)


def test_training_key_ignores_only_the_threshold():
    a, b = ImbalanceConfig(threshold=0.2), ImbalanceConfig(threshold=0.9)
    assert a.training_key() == b.training_key() != ImbalanceConfig(seed=1).training_key()


def test_a_seeds_run_is_the_same_whichever_seeds_it_is_trained_among():
    three, one = ImbalanceConfig(seeds=3, threshold=0.2), ImbalanceConfig(seed=1, seeds=1)
    assert three.seed_list == [0, 1, 2] and three.run_key(1) == one.run_key(1) != three.run_key(0)
    assert ImbalanceConfig(steps=20).run_key(0) != three.run_key(0)


@pytest.mark.parametrize("gains, raises, trades", [
    # (rare recall gain, majority recall change, macro-F1 change) per seed
    ([(0.8, 0.0, 0.5)] * 3, True, False),  # raises everywhere, costs the majority nothing: no trade
    ([(0.8, -0.2, 0.5)] * 3, True, True),
    ([(0.9, 0.0, 0.6), (0.0, 0.0, 0.0), (0.8, 0.0, 0.5)], None, False),  # one seed never finds the rare class
    ([(0.0, 0.0, 0.0)] * 3, False, False),
    ([(0.04, -0.1, 0.02)] * 3, None, None),  # gains, but less than the 5-point line
    ([(0.5, -0.1, -0.05)] * 3, None, True),  # more recall, but macro-F1 falls by more than 0.01
    ([(0.8, -0.2, 0.5)] * 2, None, None),  # two seeds: too few to tell
])
def test_a_method_is_judged_against_plain_training_over_seeds(gains, raises, trades):
    rare, majority, f1 = (list(v) for v in zip(*gains))
    c = SeedComparison(method="m", seeds=list(range(len(gains))), rare_gain=rare, majority_change=majority,
                       f1_change=f1)
    assert (c.raises, c.trades) == (raises, trades)


# ---- samplers: class frequencies against the requested ratio ---------------------------------

LABELS = torch.tensor([0] * 50 + [1] * 10 + [2] * 3)


def test_oversample_copies_each_class_up_to_the_largest():
    idx = oversample(LABELS, generator=gen())
    assert torch.bincount(LABELS[idx]).tolist() == [50, 50, 50]
    copies = torch.bincount(idx, minlength=len(LABELS))
    assert copies[:50].tolist() == [1] * 50 and set(copies[50:60].tolist()) == {5}
    assert set(copies[60:].tolist()) <= {16, 17} and copies[60:].sum() == 50  # 50 = 3 x 16 + 2


def test_undersample_cuts_each_class_to_the_smallest():
    idx = undersample(LABELS, generator=gen())
    assert torch.bincount(LABELS[idx]).tolist() == [3, 3, 3] and len(set(idx.tolist())) == 9


def test_plain_epochs_follow_the_ratio_exactly():
    sampler = EpochSampler(torch.arange(len(LABELS)), batch_size=8, generator=gen())
    epoch = torch.cat([sampler.next_batch() for _ in range(8)])  # 63 images: 7 batches of 8 and one of 7
    assert sorted(epoch.tolist()) == list(range(63))
    assert torch.bincount(LABELS[epoch]).tolist() == [50, 10, 3]


def test_balanced_batches_hold_each_class_equally():
    sampler = BalancedBatchSampler(LABELS, batch_size=8, generator=gen())
    batches = [LABELS[sampler.next_batch()] for _ in range(30)]
    for b in batches:
        counts = torch.bincount(b, minlength=3)
        assert len(b) == 8 and counts.max() - counts.min() <= 1
    total = torch.bincount(torch.cat(batches[:3]), minlength=3)  # the odd places rotate: 3 batches even out
    assert total.tolist() == [8, 8, 8]


def test_balanced_batches_walk_each_class_before_repeating():
    sampler = BalancedBatchSampler(LABELS, batch_size=6, generator=gen())
    seen = torch.cat([sampler.next_batch() for _ in range(25)])  # 50 images of class 0
    zeros = seen[LABELS[seen] == 0]
    assert sorted(zeros.tolist()) == list(range(50))


# ---- losses ---------------------------------------------------------------------------------

def test_inverse_weights_are_sklearns_balanced_weights():
    y = LABELS.numpy()
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert np.allclose(inverse_frequency_weights([50, 10, 3]).numpy(), expected, rtol=1e-15, atol=0)


def test_effective_number_weights_by_hand():
    w = effective_number_weights([1, 2], beta=0.5)  # (1 - b)/(1 - b^n): 1 and 0.5 / 0.75 = 2/3; sum to 2
    assert w.tolist() == pytest.approx([1.2, 0.8], rel=1e-14)
    near_one = effective_number_weights([50, 10], beta=0.999999)
    assert (near_one / near_one.sum()).tolist() == pytest.approx([10 / 60, 50 / 60], rel=1e-4)  # ~ inverse frequency


def test_focal_loss_by_hand_and_gamma_zero_is_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 0.1]])
    y = torch.tensor([0, 2])
    assert torch.isclose(focal_loss(logits, y, gamma=0.0), F.cross_entropy(logits, y))
    p = F.softmax(logits, dim=1)[torch.arange(2), y]
    by_hand = (-(1 - p) ** 2 * torch.log(p)).mean()
    assert torch.isclose(focal_loss(logits, y, gamma=2.0), by_hand)
    w = torch.tensor([1.0, 2.0, 3.0])
    assert torch.isclose(focal_loss(logits, y, gamma=0.0, weight=w), F.cross_entropy(logits, y, weight=w))


# ---- metrics against sklearn.metrics --------------------------------------------------------

def random_case(k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, n), rng.dirichlet(np.ones(k), size=n)


@pytest.mark.parametrize("k", [2, 4, 10])
@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.5, 0.77, 1.0])
def test_threshold_metrics_are_sklearns(k, threshold):
    for seed in range(5):
        y, probs = random_case(k, 60, seed)
        if seed == 4:
            y[y == 1] = 0  # a class with no image: sklearn's zero_division and balanced accuracy rules
        m = threshold_metrics(y, probs, rare=k - 1, threshold=threshold)
        pred = decide(probs, rare=k - 1, threshold=threshold)
        labels = list(range(k))
        p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        assert (m.precision, m.recall, m.f1, m.support) == (p.tolist(), r.tolist(), f.tolist(), s.tolist())
        assert m.accuracy == skm.accuracy_score(y, pred)
        assert m.macro_f1 == skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns about the class with no image
            assert m.balanced_accuracy == skm.balanced_accuracy_score(y, pred)
        assert m.confusion == skm.confusion_matrix(y, pred, labels=labels).tolist()
        normalised = np.nan_to_num(skm.confusion_matrix(y, pred, labels=labels, normalize="true"))
        assert np.array_equal(np.array(m.confusion_normalised), normalised)
        for c in range(k):  # FPR of class c: its one-vs-rest confusion
            tn, fp, fn, tp = skm.confusion_matrix(y == c, pred == c, labels=[False, True]).ravel()
            assert m.fpr[c] == (fp / (fp + tn) if fp + tn else 0.0)


@pytest.mark.parametrize("k", [2, 4, 10])
def test_the_training_curves_scores_are_sklearns(k):
    for seed in range(5):
        y, probs = random_case(k, 60, seed)
        if seed == 4:
            y[y == 1] = 0  # a class with no image
        pred = probs.argmax(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns about the class with no image
            expected = (skm.balanced_accuracy_score(y, pred), skm.recall_score(y == k - 1, pred == k - 1,
                                                                               zero_division=0))
        assert argmax_scores(y, pred, rare=k - 1, num_classes=k) == expected


def test_decision_rule():
    probs = np.array([[0.5, 0.2, 0.3], [0.2, 0.45, 0.35], [0.1, 0.5, 0.4]])
    assert decide(probs, rare=2, threshold=0.5).tolist() == [0, 1, 1]
    assert decide(probs, rare=2, threshold=0.35).tolist() == [0, 2, 2]
    assert decide(probs, rare=2, threshold=0.0).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="threshold must be in"):
        decide(probs, rare=2, threshold=1.01)


@pytest.mark.parametrize("k", [2, 5])
def test_curve_metrics_are_sklearns_and_the_threshold_point_is_on_the_curve(k):
    y, probs = random_case(k, 80, 7)
    c = curve_metrics(y, probs, rare=1)
    positive = (y == 1).astype(int)
    assert c.roc_auc == skm.roc_auc_score(positive, probs[:, 1])
    assert c.pr_auc == skm.average_precision_score(positive, probs[:, 1])
    fpr, tpr, thresholds = skm.roc_curve(positive, probs[:, 1], drop_intermediate=False)
    m = threshold_metrics(y, probs, rare=1, threshold=0.4)
    i = np.flatnonzero(thresholds >= 0.4)[-1]  # sklearn's point for "score >= 0.4"
    if k == 2:  # two classes: the decision is exactly score >= t
        assert (m.rare_point["fpr"], m.rare_point["tpr"]) == (fpr[i], tpr[i])
    assert c.prevalence == positive.mean()


def test_majority_baseline_and_the_scenarios_against_sklearn():
    y = np.array([0] * 30 + [1] * 2)
    probs = majority_probs(len(y), num_classes=2, majority=0)
    m, c = threshold_metrics(y, probs, rare=1, threshold=0.5), curve_metrics(y, probs, rare=1)
    assert m.accuracy == 30 / 32 and m.recall[1] == 0.0 and c.roc_auc == 0.5
    everything_positive = binary_report(m, c, positive=0)  # call the majority positive
    pred = decide(probs, rare=1, threshold=0.5)
    yt, yp = (y == 0).astype(int), (pred == 0).astype(int)
    assert everything_positive.precision == skm.precision_score(yt, yp)
    assert everything_positive.recall == skm.recall_score(yt, yp) == 1.0
    assert everything_positive.f1 == skm.f1_score(yt, yp) and everything_positive.fpr == 1.0
    assert everything_positive.roc_auc == skm.roc_auc_score(yt, probs[:, 0])
    y2, p2 = random_case(2, 50, 3)
    r = binary_report(threshold_metrics(y2, p2, rare=1, threshold=0.3), curve_metrics(y2, p2, rare=1), positive=0)
    pred2 = decide(p2, rare=1, threshold=0.3)
    assert r.f1 == skm.f1_score(y2 == 0, pred2 == 0) and r.roc_auc == skm.roc_auc_score(y2 == 0, p2[:, 0])


def test_false_positive_rates_by_hand():
    cm = np.array([[5, 1], [2, 2]])  # class 1: FP 1 of 6 negatives; class 0: FP 2 of 4
    assert false_positive_rates(cm).tolist() == [0.5, 1 / 6]


def test_importing_the_lesson_reads_no_data():
    # the claims' DEFAULTS used to validate a Config at import, which loads the digits pool
    code = ("import cnnbp.lessons, cnnbp.lessons.imbalance.claims as c\n"
            "from cnnbp.lessons.imbalance.data import pool_counts\n"
            "assert pool_counts.cache_info().misses == 0, pool_counts.cache_info()\n"
            "assert c.DEFAULTS.ratio == 50.0 and c.DEFAULTS.rare_class == 8 and c.DEFAULTS.threshold == 0.5\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CPU_CORES": "1"})
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("gamma", [0.0, 0.2, 0.5, 2.0])
def test_focal_loss_gradient_is_finite_for_a_certain_image(gamma):
    # a logit gap of 40 makes p_t exactly 1 in float32: for 0 < gamma < 1 the gradient was NaN,
    # which turned the focal model's weights into NaN and crashed the lesson in sklearn
    # (gamma 0.2, lr 0.2, 600 steps)
    logits = torch.tensor([[40.0, 0.0], [0.0, 1.0]], requires_grad=True)
    y = torch.tensor([0, 1])
    loss = focal_loss(logits, y, gamma=gamma)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    ref = torch.tensor([[40.0, 0.0], [0.0, 1.0]], requires_grad=True)
    log_p = F.log_softmax(ref, dim=1).gather(1, y[:, None]).squeeze(1)
    expected = (-((1.0 - log_p.exp()) ** gamma) * log_p).mean()
    assert torch.equal(loss.detach(), expected.detach())  # the same value as the formula
    expected.backward()
    assert torch.allclose(logits.grad[1], ref.grad[1])  # and the same gradient where p_t < 1
