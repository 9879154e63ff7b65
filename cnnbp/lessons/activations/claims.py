"""The activation-function claims of lecture 003, each measured on the lesson's default
settings at the seed it is given (the race over that seed and the next ones), in a few
seconds on 2 cores. Each reads the predicate its lesson's verdict reads."""

from __future__ import annotations

import functools

import torch

from cnnbp.claims import register_claim
from cnnbp.data import get_dataset
from cnnbp.lessons.activations.config import ActivationsConfig
from cnnbp.lessons.activations.functions import (
    SATURATED_AT_10,
    peak_grad_with,
    point_table,
    scalar_act,
    values_and_grads,
)
from cnnbp.lessons.activations.parts import race_of
from cnnbp.lessons.activations.race import Race, Variant, matched_init, train_variants
from cnnbp.lessons.activations.selu import MEAN_TOLERANCE, MLP_BATCH, STD_BAND, deep_profiles
from cnnbp.lessons.activations.zero_centred import MINIBATCH, same_sign_fractions
from cnnbp.train import RunControl

DEFAULTS = ActivationsConfig()
RACE_SEEDS = 3  # the race is run at the given seed and the next ones
# Tolerance, fixed before any run: ReLU must reach the target in fewer steps than sigmoid on a
# majority of the seeds (a seed where only ReLU reaches it counts for ReLU).
RACE_MAJORITY = 2


@functools.lru_cache(maxsize=8)  # the race's seeds overlap from one claim seed to the next
def _train(activation_lrs: tuple[tuple[str, float], ...], seed: int, *, probe_dead: bool) -> Race:
    cfg = DEFAULTS
    data = get_dataset(cfg.dataset, seed=seed)
    variants = [Variant(a, lr, matched_init(a)) for a, lr in activation_lrs]
    peaks = {a: peak_grad_with(a, {}) for a, _ in activation_lrs}
    histories = []
    for _, histories in train_variants(data, variants, depth=cfg.cnn_depth, width=cfg.cnn_width, epochs=cfg.epochs,
                                       batch_size=cfg.batch_size, seed=seed, options={}, peaks=peaks,
                                       control=RunControl(), probe_dead=probe_dead):
        pass
    return race_of(histories, cfg)


@register_claim("activations.saturation_kills_gradients", lesson="activations", source="003",
                statement="sigmoid and tanh saturate: at x = -10 and 10 their gradient vanishes; "
                          "ReLU's gradient is 0 for every x < 0")
def saturation_kills_gradients(seed: int) -> tuple[bool, str]:
    rows = point_table(["sigmoid", "tanh"], options={}, threshold=SATURATED_AT_10)
    worst = {n: max(r["grad_over_peak"] for r in rows if r["activation"] == n and r["x"] != 0.0)
             for n in ("sigmoid", "tanh")}
    # ReLU at points drawn with the seed, from -1e-6 to -1000 (log-uniform): exact zeros everywhere.
    g = torch.Generator().manual_seed(seed)
    x_neg = -torch.pow(10.0, torch.empty(1000, dtype=torch.float64).uniform_(-6, 3, generator=g))
    _, relu_grad = values_and_grads(scalar_act("relu", {}), x_neg)
    relu_max = float(relu_grad.abs().max())
    passed = rows.killed_at_10("sigmoid") and rows.killed_at_10("tanh") and relu_max == 0.0
    return passed, (f"|f'(+-10)| / peak: sigmoid {worst['sigmoid']:.2g}, tanh {worst['tanh']:.2g} "
                    f"(line: {SATURATED_AT_10:g}); ReLU's largest |f'| over 1000 points in [-1000, -1e-6]: "
                    f"{relu_max:g}")


@register_claim("activations.same_sign_gradients", lesson="activations", source="003",
                statement="when a neuron's inputs are all positive, the gradients on all its weights "
                          "share one sign (per sample); zero-mean inputs do not")
def same_sign_gradients(seed: int) -> tuple[bool, str]:
    signs = same_sign_fractions(fan_in=DEFAULTS.fan_in, samples=DEFAULTS.samples, seed=seed)
    by = {s.kind: s for s in signs}
    return signs.holds, (f"per-sample one-signed gradients, {DEFAULTS.fan_in} inputs, {DEFAULTS.samples} samples: "
                         f"sigmoid outputs {by['sigmoid'].per_sample:.1%}, ReLU outputs {by['relu'].per_sample:.1%}, "
                         f"tanh outputs {by['tanh'].per_sample:.1%}, centred {by['centred'].per_sample:.1%}; "
                         f"per minibatch of {MINIBATCH}: sigmoid outputs {by['sigmoid'].per_minibatch:.1%}")


@register_claim("activations.relu_faster_than_sigmoid", lesson="activations", source="003",
                statement="ReLU converges much faster than sigmoid in practice (e.g. 6x)")
def relu_faster_than_sigmoid(seed: int) -> tuple[bool, str]:
    target, lr = DEFAULTS.target_accuracy, DEFAULTS.lr
    seeds = range(seed, seed + RACE_SEEDS)
    wins, parts = 0, []
    for s in seeds:
        race = _train((("relu", lr), ("sigmoid", lr)), s, probe_dead=False)
        relu, sigmoid = race.find("relu", lr), race.find("sigmoid", lr)
        total = relu.steps[-1]
        r, sg = relu.steps_to(target), sigmoid.steps_to(target)
        wins += bool(race.relu_beats_sigmoid())
        ratio = (f"{sg / r:.2g}x" if sg is not None else f"> {total / r:.2g}x") if r else "no ratio"
        parts.append(f"seed {s}: ReLU {r if r is not None else 'never'}, sigmoid "
                     f"{sg if sg is not None else f'never (in {total})'} ({ratio})")
    return wins >= RACE_MAJORITY, (f"steps to {target:.0%} test accuracy, digits CNN, lr {lr:g}: "
                                   + "; ".join(parts) + f"; ReLU faster on {wins}/{RACE_SEEDS} seeds "
                                   f"(lecture: about 6x)")


@register_claim("activations.high_lr_kills_relus", lesson="activations", source="003",
                statement="ReLU units can die: a too-large learning rate leaves more dead units "
                          "(use ReLU, be careful with your learning rates)")
def high_lr_kills_relus(seed: int) -> tuple[bool, str]:
    race = _train((("relu", DEFAULTS.lr), ("relu", DEFAULTS.dead_lr)), seed, probe_dead=True)
    low, high = race.find("relu", DEFAULTS.lr), race.find("relu", DEFAULTS.dead_lr)
    layers = lambda h: ", ".join(f"{d:.0%}" for d in h.dead[-1])  # noqa: E731
    return bool(race.high_lr_kills_relus()), (
        f"dead ReLUs per layer after {DEFAULTS.epochs} epochs: lr {DEFAULTS.lr:g}: {layers(low)} "
        f"(mean {low.mean_dead:.0%}); lr {DEFAULTS.dead_lr:g}: {layers(high)} (mean {high.mean_dead:.0%})")


@register_claim("activations.selu_self_normalises", lesson="activations", source="003",
                statement="SELU is self-normalising: a deep network without BatchNorm keeps its activations "
                          "at mean 0, std 1")
def selu_self_normalises(seed: int) -> tuple[bool, str]:
    profiles = {p.activation: p for p in deep_profiles(depth=DEFAULTS.mlp_depth, width=DEFAULTS.mlp_width,
                                                       batch=MLP_BATCH, seed=seed)}
    s, r = profiles["selu"], profiles["relu"]
    span = lambda v: f"{min(v):.2f}..{max(v):.2f}"  # noqa: E731
    return s.normalised(), (f"{DEFAULTS.mlp_depth} x {DEFAULTS.mlp_width} MLP: SELU mean {span(s.mean)}, std "
                            f"{span(s.std)}; ReLU + Kaiming mean {span(r.mean)}, std {span(r.std)} "
                            f"(line: |mean| <= {MEAN_TOLERANCE:g}, std in [{STD_BAND[0]:g}, {STD_BAND[1]:g}])")
