"""The activation-function claims of lecture 003, each measured on the lesson's default
settings (seed 0; the race over ``RACE_SEEDS``), in a few seconds on 2 cores."""

from __future__ import annotations

import functools

import torch

from cnnbp.claims import register_claim
from cnnbp.data import get_dataset
from cnnbp.lessons.activations.functions import peak_grad_with, point_table, scalar_act, values_and_grads
from cnnbp.lessons.activations.lesson import (CENTRED_SAME_SIGN_MAX, MLP_BATCH, SATURATED_AT_10,
                                              ActivationsConfig, mean_dead)
from cnnbp.lessons.activations.race import RaceHistory, Variant, matched_init, train_variants
from cnnbp.lessons.activations.selu import MEAN_TOLERANCE, STD_BAND, deep_profiles
from cnnbp.lessons.activations.zero_centred import same_sign_fractions
from cnnbp.train import RunControl

DEFAULTS = ActivationsConfig()
RACE_SEEDS = (0, 1, 2)
# Tolerance, fixed before any run: ReLU must reach the target in fewer steps than sigmoid on a
# majority of the seeds (a seed where only ReLU reaches it counts for ReLU).
RACE_MAJORITY = 2


def _train(activation_lrs: list[tuple[str, float]], seed: int, *,
           probe_dead: bool) -> dict[tuple[str, float], RaceHistory]:
    cfg = DEFAULTS
    data = get_dataset(cfg.dataset, seed=seed)
    variants = [Variant(a, lr, matched_init(a)) for a, lr in activation_lrs]
    peaks = {a: peak_grad_with(a, {}) for a, _ in activation_lrs}
    histories: list[RaceHistory] = []
    for _, histories in train_variants(data, variants, depth=cfg.cnn_depth, width=cfg.cnn_width, epochs=cfg.epochs,
                                       batch_size=cfg.batch_size, seed=seed, options={}, peaks=peaks,
                                       control=RunControl(), probe_dead=probe_dead):
        pass
    return {(h.activation, h.lr): h for h in histories}


@register_claim("activations.saturation_kills_gradients", lesson="activations", source="003",
                statement="sigmoid and tanh saturate: at x = -10 and 10 their gradient vanishes; "
                          "ReLU's gradient is 0 for every x < 0")
def saturation_kills_gradients() -> tuple[bool, str]:
    rows = point_table(["sigmoid", "tanh"], options={}, threshold=SATURATED_AT_10)
    worst = {n: max(r["grad_over_peak"] for r in rows if r["activation"] == n and r["x"] != 0.0)
             for n in ("sigmoid", "tanh")}
    x_neg = -torch.logspace(-6, 3, 1000, dtype=torch.float64)  # -1e-6 ... -1000
    _, relu_grad = values_and_grads(scalar_act("relu", {}), x_neg)
    relu_max = float(relu_grad.abs().max())
    passed = all(w < SATURATED_AT_10 for w in worst.values()) and relu_max == 0.0
    return passed, (f"|f'(+-10)| / peak: sigmoid {worst['sigmoid']:.2g}, tanh {worst['tanh']:.2g} "
                    f"(line: {SATURATED_AT_10:g}); ReLU's largest |f'| over 1000 points in [-1000, -1e-6]: "
                    f"{relu_max:g}")


@register_claim("activations.same_sign_gradients", lesson="activations", source="003",
                statement="when a neuron's inputs are all positive, the gradients on all its weights "
                          "share one sign (per sample); zero-mean inputs do not")
def same_sign_gradients() -> tuple[bool, str]:
    by = {s.kind: s for s in same_sign_fractions(fan_in=DEFAULTS.fan_in, samples=DEFAULTS.samples, seed=0)}
    passed = by["sigmoid"].per_sample == 1.0 and by["centred"].per_sample <= CENTRED_SAME_SIGN_MAX
    return passed, (f"per-sample one-signed gradients, {DEFAULTS.fan_in} inputs, {DEFAULTS.samples} samples: "
                    f"sigmoid outputs {by['sigmoid'].per_sample:.1%}, ReLU outputs {by['relu'].per_sample:.1%}, "
                    f"tanh outputs {by['tanh'].per_sample:.1%}, centred {by['centred'].per_sample:.1%}; "
                    f"per minibatch of 32: sigmoid outputs {by['sigmoid'].per_minibatch:.1%}")


@functools.lru_cache(maxsize=1)
def _race() -> dict[int, dict[tuple[str, float], RaceHistory]]:
    pair = [("relu", DEFAULTS.lr), ("sigmoid", DEFAULTS.lr)]
    return {seed: _train(pair, seed, probe_dead=False) for seed in RACE_SEEDS}


@register_claim("activations.relu_faster_than_sigmoid", lesson="activations", source="003",
                statement="ReLU converges much faster than sigmoid in practice (e.g. 6x)")
def relu_faster_than_sigmoid() -> tuple[bool, str]:
    target, total = DEFAULTS.target_accuracy, None
    wins, parts = 0, []
    for seed, runs in _race().items():
        relu, sigmoid = runs[("relu", DEFAULTS.lr)], runs[("sigmoid", DEFAULTS.lr)]
        total = relu.steps[-1]
        r, s = relu.steps_to(target), sigmoid.steps_to(target)
        wins += r is not None and (s is None or r < s)
        ratio = (f"{s / r:.2g}x" if s is not None else f"> {total / r:.2g}x") if r else "no ratio"
        parts.append(f"seed {seed}: ReLU {r if r is not None else 'never'}, sigmoid "
                     f"{s if s is not None else f'never (in {total})'} ({ratio})")
    return wins >= RACE_MAJORITY, (f"steps to {target:.0%} test accuracy, digits CNN, lr {DEFAULTS.lr:g}: "
                                   + "; ".join(parts) + f"; ReLU faster on {wins}/{len(RACE_SEEDS)} seeds "
                                   f"(lecture: about 6x)")


@register_claim("activations.high_lr_kills_relus", lesson="activations", source="003",
                statement="ReLU units can die: a too-large learning rate leaves more dead units "
                          "(use ReLU, be careful with your learning rates)")
def high_lr_kills_relus() -> tuple[bool, str]:
    runs = _train([("relu", DEFAULTS.lr), ("relu", DEFAULTS.dead_lr)], seed=0, probe_dead=True)
    low, high = runs[("relu", DEFAULTS.lr)], runs[("relu", DEFAULTS.dead_lr)]
    layers = lambda h: ", ".join(f"{d:.0%}" for d in h.dead[-1])  # noqa: E731
    return mean_dead(high) > mean_dead(low), (
        f"dead ReLUs per layer after {DEFAULTS.epochs} epochs: lr {DEFAULTS.lr:g}: {layers(low)} "
        f"(mean {mean_dead(low):.0%}); lr {DEFAULTS.dead_lr:g}: {layers(high)} (mean {mean_dead(high):.0%})")


@register_claim("activations.selu_self_normalises", lesson="activations", source="003",
                statement="SELU is self-normalising: a deep network without BatchNorm keeps its activations "
                          "at mean 0, std 1")
def selu_self_normalises() -> tuple[bool, str]:
    profiles = {p.activation: p for p in deep_profiles(depth=DEFAULTS.mlp_depth, width=DEFAULTS.mlp_width,
                                                       batch=MLP_BATCH, seed=0)}
    s, r = profiles["selu"], profiles["relu"]
    span = lambda v: f"{min(v):.2f}..{max(v):.2f}"  # noqa: E731
    return s.normalised(), (f"{DEFAULTS.mlp_depth} x {DEFAULTS.mlp_width} MLP: SELU mean {span(s.mean)}, std "
                            f"{span(s.std)}; ReLU + Kaiming mean {span(r.mean)}, std {span(r.std)} "
                            f"(line: |mean| <= {MEAN_TOLERANCE:g}, std in [{STD_BAND[0]:g}, {STD_BAND[1]:g}])")
