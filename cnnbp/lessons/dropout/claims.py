"""The dropout claims of lecture 004, each measured on the lesson's default settings at the
given seed (the gap over that seed and the next ones, as many as the lesson's default)."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.data import get_dataset
from cnnbp.device import torch_threads
from cnnbp.lessons.dropout.config import DIGITS, DropoutConfig
from cnnbp.lessons.dropout.mechanics import MEAN_RATIO_MAX, SAME_NET_TOL, Expectation, expectation, lecture_net
from cnnbp.lessons.dropout.training import GAP_MARGIN, THREADS, gap_narrowing, settled, train_gap
from cnnbp.train import RunControl

DEFAULTS = DropoutConfig()
MEAN_PS = (0.25, 0.5, 0.75)  # the drop probabilities of the lesson's default comparison
GAP_P = 0.5  # the usual choice (Hinton et al.; the lecture's p = 0.5 reading is unambiguous)


@functools.lru_cache(maxsize=2)  # two claims read the same measurement
def _expectations(seed: int) -> dict[float, Expectation]:
    data = get_dataset("digits", seed=seed)
    net = lecture_net(inputs=DIGITS.channels * DIGITS.size**2, hidden=DEFAULTS.hidden, outputs=DIGITS.classes,
                      seed=seed)
    x = data.x_test[: DEFAULTS.images].flatten(1)
    with torch_threads(THREADS):
        return {p: expectation(net, x, p=p, passes=DEFAULTS.passes, seed=seed) for p in MEAN_PS}


@register_claim("dropout.inverted_keeps_mean", lesson="dropout", source="004",
                lecture="inverted dropout keeps the expected activation",
                statement="inverted dropout keeps the expected activation: the mean over many training passes "
                          "equals the eval-mode output (within the masks' sampling error)")
def inverted_keeps_mean(seed: int) -> tuple[bool | None, str]:
    parts, each = [], []
    for p, e in _expectations(seed).items():
        ratios = e.ratios
        each.append(e.keeps_mean)
        parts.append(f"p = {p:g}: hidden {e.final['inverted hidden']:.2%} ({ratios['inverted hidden']:.2f}x sampling "
                     f"error), output {e.final['inverted']:.2%} ({ratios['inverted']:.2f}x); unscaled "
                     f"{e.final['lecture, no test scaling']:.0%}")
    ok = None if None in each else all(each)
    return ok, (f"relative L2 distance of the mean of {DEFAULTS.passes} passes from eval, {DEFAULTS.images} digits, "
                f"{DEFAULTS.hidden} hidden units: " + "; ".join(parts) + f" (line: {MEAN_RATIO_MAX:g}x)")


@register_claim("dropout.test_time_scaling_same_net", lesson="dropout", source="004",
                lecture="scale by the keep probability at test: same net",
                statement="without inverted scaling, scaling the activations at test time (by the keep "
                          "probability) gives the same expected output: W2 * (1 - p) * max(0, W1 x + b1) + b2")
def test_time_scaling_same_net(seed: int) -> tuple[bool, str]:
    parts, ok = [], True
    for p, e in _expectations(seed).items():
        ok &= e.same_net
        parts.append(f"p = {p:g}: max |diff| {max(e.max_abs_diff.values()):.2g}, mean vs scaled eval "
                     f"{e.final['lecture']:.2%}, scaled by the drop p instead "
                     f"{e.final['lecture, scaled by drop p']:.0%}")
    return ok, ("inverted net vs the lecture's convention on W2 / (1 - p), same masks: " + "; ".join(parts)
                + f" (line: {SAME_NET_TOL:g}; the slide's 'scale by p' holds with p = keep probability)")


@register_claim("dropout.narrows_gap", lesson="dropout", source="004",
                lecture="dropout narrows the train-test gap",
                statement="dropout is a regulariser: on a small training set it narrows the gap between "
                          "train and test accuracy")
def narrows_gap(seed: int) -> tuple[bool | None, str]:
    cfg = DEFAULTS.model_copy(update={"seed": seed})
    histories = {}
    for _, histories, _ in train_gap({s: get_dataset("digits", seed=s) for s in cfg.seed_list}, [0.0, GAP_P],
                                     arch=cfg.arch, width=cfg.width, depth=cfg.depth, train_images=cfg.train_images,
                                     epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, control=RunControl()):
        pass
    (n,) = gap_narrowing(histories)
    parts = [f"seed {s}: gap {plain.settled_gap:.1%} -> {drop.settled_gap:.1%} (test "
             f"{settled(plain.test_accuracy):.1%} -> {settled(drop.test_accuracy):.1%}, train "
             f"{settled(plain.train_accuracy):.0%} -> {settled(drop.train_accuracy):.0%})"
             for s, (plain, drop) in histories.items()]
    return n.narrows, (
        f"{cfg.train_images} training digits, {cfg.arch} {cfg.depth} x {cfg.width}, {cfg.epochs} epochs, p = 0 -> "
        f"{GAP_P:g}: " + "; ".join(parts) + f"; narrower by {'/'.join(f'{d * 100:+.1f}' for d in n.narrowing)} "
        f"points (line: {GAP_MARGIN * 100:g} or more on every seed; 0 or less on every seed: does not hold)")
