"""The activation-function claims of lecture 003, each measured on the lesson's default
settings at the seed it is given (the CNN claims over that seed and the next ones, as the
lesson's verdicts), in a few seconds on 2 cores. Each reads the predicate its lesson's verdict
reads, and says it in the verdict's words."""

from __future__ import annotations

import functools
import math

import torch

from cnnbp.claims import register_claim
from cnnbp.lessons.activations.config import PART_NAMES, ActivationsConfig
from cnnbp.lessons.activations.functions import (
    SATURATED_AT_10,
    peak_grad_with,
    point_table,
    scalar_act,
    values_and_grads,
)
from cnnbp.lessons.activations.outcome import MIN_SEEDS, Race
from cnnbp.lessons.activations.parts import race_of
from cnnbp.lessons.activations.race import RaceHistory, Variant, When, matched_init, train_variants
from cnnbp.lessons.activations.selu import MEAN_TOLERANCE, MLP_BATCH, STD_BAND, deep_profiles
from cnnbp.lessons.activations.verdicts import dead_decision, speedup_decision
from cnnbp.lessons.activations.zero_centred import MINIBATCH, same_sign_fractions
from cnnbp.train import RunControl

# The claims read steps to the target 6 times an epoch (every 3 steps), as they were measured: ReLU
# reaches 80% in 20-50 steps, and the lesson's default 3 (every 7 steps) would round its count up by
# up to a quarter, below what the 3x line can tell. Every part: the dead-unit claim reads its own.
CLAIM_EVALS_PER_EPOCH = 6
DEFAULTS = ActivationsConfig(parts=list(PART_NAMES), evals_per_epoch=CLAIM_EVALS_PER_EPOCH)
# The race claim trains longer than the lesson's 6 epochs (138 steps), which can show ReLU 3x
# faster only where it needs at most 46 steps: 12 epochs (276 steps) tell it up to 92.
RACE_EPOCHS = 12


@functools.lru_cache(maxsize=16)  # claims over seeds 0..K-1 read seeds 0..K+1: each is trained once
def _trained_at(nets: tuple[tuple[str, float], ...], seed: int, *, epochs: int, accuracy: When,
                dead: When) -> tuple[RaceHistory, ...]:
    cfg = DEFAULTS
    variants = [Variant(a, lr, matched_init(a), seed, accuracy=accuracy, dead=dead) for a, lr in nets]
    histories = []
    for _, histories in train_variants(variants, dataset=cfg.dataset, depth=cfg.cnn_depth, width=cfg.cnn_width,
                                       epochs=epochs, batch_size=cfg.batch_size, options={},
                                       peaks={a: peak_grad_with(a, {}) for a, _ in nets},
                                       target=cfg.target_accuracy, evals_per_epoch=cfg.evals_per_epoch,
                                       control=RunControl(budget_s=math.inf)):
        pass
    return tuple(histories)


def _trained(nets: tuple[tuple[str, float], ...], seed: int, *, epochs: int, accuracy: When, dead: When) -> Race:
    """``nets`` (activation, lr) on the default CNN at seeds ``seed`` .. ``seed + MIN_SEEDS - 1``,
    measuring only what the claim reads; read as the lesson reads its run."""
    histories = [h for s in range(seed, seed + MIN_SEEDS)
                 for h in _trained_at(nets, s, epochs=epochs, accuracy=accuracy, dead=dead)]
    return race_of(histories, DEFAULTS.model_copy(update={"seed": seed, "epochs": epochs}))


@register_claim("activations.saturation_kills_gradients", lesson="activations", source="003",
                lecture="gradient gone at |x| = 10; ReLU's 0 for x < 0",
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
                lecture="all-positive inputs: gradients share one sign",
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
                lecture="ReLU about 6x faster than sigmoid",
                statement="ReLU converges much faster than sigmoid in practice (e.g. 6x)")
def relu_faster_than_sigmoid(seed: int) -> tuple[bool | None, str]:
    lr = DEFAULTS.lr
    race = _trained((("relu", lr), ("sigmoid", lr)), seed, epochs=RACE_EPOCHS, accuracy="until", dead="never")
    return race.relu_faster_than_sigmoid(), (
        f"steps to {DEFAULTS.target_accuracy:.0%} test accuracy, digits CNN, lr {lr:g}, {RACE_EPOCHS} epochs."
        + speedup_decision(race, race.total_steps, RACE_EPOCHS))


@register_claim("activations.high_lr_kills_relus", lesson="activations", source="003",
                lecture="a too-large learning rate kills ReLUs",
                statement="ReLU units can die: a too-large learning rate leaves more dead units "
                          "(use ReLU, be careful with your learning rates)")
def high_lr_kills_relus(seed: int) -> tuple[bool | None, str]:
    race = _trained((("relu", DEFAULTS.lr), ("relu", DEFAULTS.dead_lr)), seed, epochs=DEFAULTS.epochs,
                    accuracy="end", dead="end")
    return race.high_lr_kills_relus(), f"after {DEFAULTS.epochs} epochs: " + dead_decision(race)


@register_claim("activations.selu_self_normalises", lesson="activations", source="003",
                lecture="SELU keeps mean 0, std 1 without BatchNorm",
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
