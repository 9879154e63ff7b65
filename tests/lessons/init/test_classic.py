"""The fast classic experiment against a plain nn.Module forward/backward, and the lecture's numbers."""

import math

import pytest
import torch

from cnnbp.lessons.init.classic import UnitDraws, classic_experiment, classic_inputs
from cnnbp.nn import DeepMLP, get_act, get_init
from cnnbp.nn.inits import INITS
from cnnbp.probes import ActivationProbe

WIDTH, DEPTH, BATCH, SEED = 64, 3, 8, 5


def reference(activation: str, init: str):
    """The same network as an nn.Module, weights = scale x the same unit draws, autograd backward."""
    x, upstream = classic_inputs(width=WIDTH, batch_size=BATCH, seed=SEED)
    draws, scheme = UnitDraws(SEED), get_init(init)
    net = DeepMLP(WIDTH, width=WIDTH, depth=DEPTH, activation=activation)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    h = x
    with torch.no_grad():
        for i, lin in enumerate(linears):
            w = draws.get(scheme.base, i, tuple(lin.weight.shape))
            scale = scheme.scale(lin.in_features, lin.out_features, activation)
            if scheme.data_dependent:
                scale = 1.0 / float((h @ w.T).std())
            lin.weight.copy_(w * scale)
            h = net.hidden[2 * i + 1](h @ lin.weight.T)
    with ActivationProbe(net, activation=activation, track_grads=True) as probe:
        out = net(x)
        (out * upstream).sum().backward()
    return probe.stats, [lin.weight.grad.norm().item() for lin in linears]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "maxout", "selu"])
@pytest.mark.parametrize("init", list(INITS))
def test_fast_path_matches_module_forward_and_backward(activation, init):
    (fast,) = classic_experiment(activations=[activation], inits=[init], width=WIDTH, depth=DEPTH,
                                 batch_size=BATCH, seed=SEED)
    stats, weight_grads = reference(activation, init)
    ref_layers = list(stats.values())
    assert len(fast.layers) == len(ref_layers) == DEPTH
    for mine, ref in zip(fast.layers, ref_layers):
        assert mine.mean == pytest.approx(ref.mean, rel=1e-4, abs=1e-6)
        assert mine.std == pytest.approx(ref.std, rel=1e-4, abs=1e-6)
        assert mine.frac_saturated == pytest.approx(ref.frac_saturated, abs=1e-6)
        assert mine.grad_norm == pytest.approx(ref.grad_norm, rel=1e-3, abs=1e-6)
    # ||dL/dW|| from the 16 x 16 Gram matrices equals the norm of the real gradient
    assert fast.weight_grad_norm == pytest.approx(weight_grads, rel=1e-3, abs=1e-6)


def test_lecture_numbers_std_001_tanh():
    """Lecture 003's figure: std 0.01 + tanh gives per-layer stds ~0.49, 0.29, 0.18, 0.11, 0.07, 0.05."""
    (r,) = classic_experiment(activations=["tanh"], inits=["normal_0.01"], width=4096, depth=6,
                              batch_size=16, seed=0)
    assert [round(s, 2) for s in r.stds()] == pytest.approx([0.49, 0.29, 0.18, 0.11, 0.07, 0.05], abs=0.011)


def test_kaiming_relu_variance_is_kept_and_xavier_halves_it():
    results = {r.init: r for r in classic_experiment(activations=["relu"], inits=["xavier", "kaiming"],
                                                     width=2048, depth=6, batch_size=16, seed=1)}
    k, x = results["kaiming"].stds(), results["xavier"].stds()
    assert k[-1] / k[0] == pytest.approx(1.0, abs=0.15)
    # Xavier with ReLU halves the second moment per layer: the std falls by ~1/sqrt(2) each time
    assert (x[-1] / x[0]) ** (1 / 5) == pytest.approx(1 / math.sqrt(2), abs=0.05)


def test_adding_an_init_does_not_change_the_others():
    one = next(classic_experiment(activations=["tanh"], inits=["xavier"], width=128, depth=3, seed=3))
    tanh_xavier = [r for r in classic_experiment(activations=["relu", "tanh"], inits=["kaiming", "xavier"],
                                                 width=128, depth=3, seed=3)
                   if r.activation == "tanh" and r.init == "xavier"][0]
    assert tanh_xavier.stds() == one.stds()
    assert tanh_xavier.weight_grad_norm == one.weight_grad_norm


def test_same_seed_same_numbers_other_seed_other_numbers():
    run = lambda seed: next(classic_experiment(activations=["tanh"], inits=["kaiming"], width=128, depth=3,  # noqa: E731
                                               seed=seed))
    assert run(7).stds() == run(7).stds()
    assert run(7).stds() != run(8).stds()


def test_histograms_count_every_activation():
    (r,) = classic_experiment(activations=["tanh"], inits=["normal_0.05"], width=256, depth=2, batch_size=16)
    for layer in r.layers:
        assert sum(layer.hist_counts) == 16 * 256
        assert layer.hist_edges[0] == -1.0 and layer.hist_edges[-1] == 1.0  # tanh's full range


def test_maxout_width_factor_in_fast_path():
    (r,) = classic_experiment(activations=["maxout"], inits=["xavier"], width=32, depth=2, batch_size=4)
    assert get_act("maxout").width_factor == 2
    assert sum(r.layers[0].hist_counts) == 4 * 32
