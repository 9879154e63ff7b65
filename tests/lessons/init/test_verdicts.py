"""The init lesson's readings on made-up results: a per-layer factor at the edge of a line is
read as neither side, the draw's own noise sets that edge, and a CNN run too short for any init
to train says so instead of ranking."""

import math

import pytest
import torch

from cnnbp.lessons.init.classic import COLLAPSE_FACTOR, ClassicResult, classic_experiment, factor_noise
from cnnbp.lessons.init.cnn import VariantHistory
from cnnbp.lessons.init.verdicts import cnn_verdicts
from cnnbp.probes import LayerStats


def classic(factor: float, noise: float, depth: int = 5, activation: str = "relu") -> ClassicResult:
    """A made-up MLP whose activation std changes by ``factor`` per layer."""
    layers = [LayerStats(f"layer {i + 1}", 0.0, factor**i, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0) for i in range(depth)]
    return ClassicResult(activation, "xavier", noise, layers)


@pytest.mark.parametrize("factor, noise, collapses, behaviour", [
    (0.70, 0.01, True, "collapse towards zero"),
    (0.79, 0.001, True, "collapse towards zero"),  # 1% below the line, the draw's noise 0.1%
    (0.79, 0.01, None, "sit at the edge"),  # the same factor, but three noises reach past the line
    (0.82, 0.01, None, "sit at the edge"),
    (0.90, 0.01, False, "keep their scale"),
])
def test_a_factor_within_three_noises_of_a_line_is_read_as_neither_side(factor, noise, collapses, behaviour):
    r = classic(factor, noise)
    assert r.per_layer_factor == pytest.approx(factor)
    assert r.edge == pytest.approx(math.exp(3 * noise))
    assert r.collapses is collapses
    assert r.behaviour.startswith(behaviour)
    assert r.keeps_scale is (None if collapses is None else not collapses)


def test_the_edge_text_names_the_line():
    assert f"x{COLLAPSE_FACTOR:g} per layer line" in classic(0.8, 0.01).behaviour
    assert "x1.25 per layer line" in classic(1.25, 0.01).behaviour and classic(1.25, 0.01).explodes is None


def test_the_noise_of_a_draw_shrinks_with_width_and_is_zero_for_identical_units():
    def noise(width):
        (r,) = classic_experiment(activations=["relu"], inits=["kaiming"], width=width, depth=4, seed=0)
        return r.factor_noise
    assert noise(1024) < noise(64) / 2  # ~1/sqrt(width): 4x narrower, noise 4x smaller
    same = [torch.ones(16, 32) * (i + 1) for i in range(3)]
    assert factor_noise(same) == 0.0


def cnn(init: str, accuracy: float, activation: str = "relu", diverged: int | None = None) -> VariantHistory:
    return VariantHistory(init=init, activation=activation, steps=[1, 2, 23], eval_steps=[0, 23],
                          test_accuracy=[0.1, accuracy], layer_std=[[1.0], [1.0]], layer_dead=[[0.0], [0.0]],
                          layer_names=["conv1"], diverged_at=diverged)


def test_a_cnn_run_where_no_init_trains_is_too_short_to_tell():
    (v,) = cnn_verdicts([cnn("kaiming", 0.244), cnn("xavier", 0.222), cnn("normal_0.01", 0.1)], num_classes=10)
    assert v.passed is None
    assert "No init reaches 55% (halfway from chance to 100%) in 23 steps: too short to tell" in v.text
    assert v.text.index("kaiming 24.4%") < v.text.index("xavier 22.2%")  # best first


def test_a_cnn_run_names_the_inits_that_trained_and_reports_divergence():
    (v,) = cnn_verdicts([cnn("kaiming", 0.9), cnn("xavier", 0.6), cnn("normal_0.05", 0.1, diverged=7)],
                        num_classes=10)
    assert v.passed is None
    assert "Trained (test accuracy >= 55%, halfway from chance to 100%): kaiming, xavier." in v.text
    assert "normal_0.05 diverged at step 7" in v.text and "One seed" in v.text
