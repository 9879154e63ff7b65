"""The initialisation claims of lecture 003, each checked on the lecture's own setting:
6 hidden layers of 4096, a batch of 16 unit-Gaussian inputs, at the given seed."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.data import lesson_dataset
from cnnbp.lessons.base import result_of
from cnnbp.lessons.init.classic import ClassicResult, classic_experiment
from cnnbp.lessons.init.symmetry import symmetry_contrast
from cnnbp.train import RunControl

SYMMETRY_STEPS = 40


LECTURE_ACTIVATIONS = ("tanh", "relu")
LECTURE_INITS = ("normal_0.01", "normal_0.05", "xavier", "kaiming")


@functools.lru_cache(maxsize=1)
def _lecture_runs(seed: int) -> dict[tuple[str, str], ClassicResult]:
    """All eight lecture configurations in one run: the 4096 x 4096 draws are paid once."""
    runs = classic_experiment(activations=LECTURE_ACTIVATIONS, inits=LECTURE_INITS, width=4096,
                              depth=6, batch_size=16, seed=seed)
    return {(r.activation, r.init): r for r in runs}


def lecture_mlp(activation: str, init: str, seed: int) -> ClassicResult:
    return _lecture_runs(seed)[(activation, init)]


def _profile(r: ClassicResult) -> str:
    s = r.stds()
    return f"std {s[0]:.3g} -> {s[-1]:.3g}, x{r.per_layer_factor:.2f} per layer"


@register_claim("init.small_std_collapses", lesson="init", source="003",
                lecture="std 0.01: tanh activations collapse to 0",
                statement="tanh, 6 layers of 4096, std 0.01: activations collapse towards zero")
def small_std_collapses(seed: int) -> tuple[bool | None, str]:
    r = lecture_mlp("tanh", "normal_0.01", seed)
    return r.collapses, _profile(r)


@register_claim("init.large_std_saturates", lesson="init", source="003",
                lecture="std 0.05: tanh saturates at +-1, gradients vanish",
                statement="tanh with std 0.05: activations saturate at +-1 and local gradients vanish")
def large_std_saturates(seed: int) -> tuple[bool, str]:
    r = lecture_mlp("tanh", "normal_0.05", seed)
    local = [l.mean_local_grad for l in r.layers]
    return r.gradients_vanish_everywhere, (f"mean local gradient {min(local):.2f}-{max(local):.2f} of its peak in "
                                           f"every layer; {r.layers[-1].frac_saturated:.0%} of the last layer's "
                                           "units saturated")


@register_claim("init.xavier_tanh_scaled_relu_collapses", lesson="init", source="003",
                lecture="Xavier: tanh stays scaled, ReLU collapses",
                statement="Xavier keeps tanh activations nicely scaled in every layer; with ReLU they collapse")
def xavier_tanh_vs_relu(seed: int) -> tuple[bool | None, str]:
    tanh, relu = lecture_mlp("tanh", "xavier", seed), lecture_mlp("relu", "xavier", seed)
    readings = [tanh.keeps_scale, tanh.saturated_layers == 0, relu.collapses]
    passed = False if False in readings else None if None in readings else True
    return passed, f"tanh: {_profile(tanh)}; ReLU: {_profile(relu)}"


@register_claim("init.kaiming_relu_scaled", lesson="init", source="003",
                lecture="Kaiming, std sqrt(2/Din), keeps ReLU scaled",
                statement="Kaiming (std = sqrt(2/Din)) keeps ReLU activations scaled")
def kaiming_relu_scaled(seed: int) -> tuple[bool | None, str]:
    r = lecture_mlp("relu", "kaiming", seed)
    return r.keeps_scale, _profile(r)


@register_claim("init.constant_symmetry", lesson="init", source="003",
                lecture="constant init: a layer's neurons stay identical",
                statement="constant init: every neuron of a layer stays identical after training steps")
def constant_symmetry(seed: int) -> tuple[bool, str]:
    contrast = result_of(symmetry_contrast(lesson_dataset("digits", seed=seed), activation="tanh", depth=4, width=16,
                                           steps=SYMMETRY_STEPS, batch_size=64, lr=0.05, seed=seed,
                                           control=RunControl()))
    counts = lambda r: ", ".join(f"{s.distinct_units}/{s.units}" for s in r.after)  # noqa: E731
    return contrast.holds, (f"distinct neurons per layer after {contrast.constant.steps} steps: constant "
                            f"{counts(contrast.constant)}; {contrast.other.init} {counts(contrast.other)}")
