"""The init registry: every scheme is a unit draw times a scale, checked against
torch.nn.init, against its formula, and for reproducibility."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Callable

import pytest
import torch
from torch import nn

from cnnbp.nn.inits import INITS, LSUV_TOLERANCE, fans, get_init, init_model, unit_draw

DATA_DEPENDENT = sorted(n for n, s in INITS.items() if s.data_dependent)
PLAIN = sorted(n for n, s in INITS.items() if not s.data_dependent)
ACT = "relu"


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def linear() -> nn.Module:
    return nn.Linear(256, 128)  # weight (128, 256): fan_in 256, fan_out 128, wide


def conv() -> nn.Module:
    return nn.Conv2d(8, 16, 3)  # weight (16, 8, 3, 3): fan_in 8*3*3 = 72, fan_out 16*9 = 144


LAYERS = {"linear": linear, "conv": conv}


def sample_for(model: nn.Module) -> torch.Tensor:
    """An input batch for ``model``'s first layer (LSUV needs one), not unit variance."""
    first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    shape = (64, first.in_features) if isinstance(first, nn.Linear) else (16, first.in_channels, 10, 10)
    return torch.randn(*shape, generator=gen(99)) * 3 + 0.5


def init(model: nn.Module, name: str, seed: int = 0) -> nn.Module:
    sample = sample_for(model) if get_init(name).data_dependent else None
    return init_model(model, name, ACT, generator=gen(seed), sample=sample)


# RMS of the entries, worked out from each scheme's formula (fan_in fi, fan_out fo, and
# out = output units). RMS rather than std so the constant schemes are exact too.
EXPECTED_RMS: dict[str, Callable[[int, int, int], float]] = {
    "zeros": lambda fi, fo, out: 0.0,
    "constant": lambda fi, fo, out: 1 / fi,
    "normal_0.01": lambda fi, fo, out: 0.01,
    "normal_0.05": lambda fi, fo, out: 0.05,
    "xavier": lambda fi, fo, out: 1 / math.sqrt(fi),
    "xavier_uniform": lambda fi, fo, out: math.sqrt(6 / (fi + fo)) / math.sqrt(3),  # U(-b, b): b/sqrt(3)
    "kaiming": lambda fi, fo, out: math.sqrt(2 / fi),
    "kaiming_uniform": lambda fi, fo, out: math.sqrt(6 / fi) / math.sqrt(3),
    # the (out, fi) matrix has orthonormal rows or columns: min(out, fi) units of squared
    # norm spread over out * fi entries
    "orthogonal": lambda fi, fo, out: 1 / math.sqrt(max(out, fi)),
}


def _torch_orthogonal(w: torch.Tensor, g: torch.Generator) -> None:
    assert w.shape[0] >= math.prod(w.shape[1:]), "torch draws wide matrices transposed"
    nn.init.orthogonal_(w, generator=g)


# The same schemes in torch.nn.init, fed the same generator.
REFERENCE: dict[str, Callable[[torch.Tensor, torch.Generator], None]] = {
    "zeros": lambda w, g: nn.init.zeros_(w),
    "constant": lambda w, g: nn.init.constant_(w, 1 / fans(w)[0]),
    "normal_0.01": lambda w, g: nn.init.normal_(w, 0, 0.01, generator=g),
    "normal_0.05": lambda w, g: nn.init.normal_(w, 0, 0.05, generator=g),
    "xavier": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="linear", generator=g),  # LeCun
    "xavier_uniform": lambda w, g: nn.init.xavier_uniform_(w, generator=g),
    "kaiming": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
    "kaiming_uniform": lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g),
    "orthogonal": _torch_orthogonal,
}


def test_every_plain_scheme_has_a_formula_and_a_reference_here() -> None:
    assert set(EXPECTED_RMS) == set(REFERENCE) == set(PLAIN), "add the new init to the tables"


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("name", sorted(INITS))
def test_every_init_keeps_shapes_and_zeroes_biases(name: str, layer: str) -> None:
    model = LAYERS[layer]()
    nn.init.constant_(model.bias, 3.0)
    shape = model.weight.shape
    assert init(model, name) is model
    assert model.weight.shape == shape and model.weight.dtype == torch.float32
    assert torch.equal(model.bias, torch.zeros_like(model.bias))
    assert torch.isfinite(model.weight).all()


def test_fans() -> None:
    assert fans(linear().weight) == (256, 128)
    assert fans(conv().weight) == (8 * 3 * 3, 16 * 3 * 3)
    assert fans(nn.Conv1d(4, 6, 5).weight) == (20, 30)


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("name", PLAIN)
def test_weight_is_the_unit_draw_times_the_scale(name: str, layer: str) -> None:
    # exact, so it also pins the conv fan_in to k * k * in_channels
    scheme, model = get_init(name), LAYERS[layer]()
    init(model, name, seed=5)
    fi, fo = (256, 128) if layer == "linear" else (72, 144)
    draw = unit_draw(scheme.base, tuple(model.weight.shape), generator=gen(5))
    assert torch.equal(model.weight, draw * scheme.scale(fi, fo, ACT))


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("name", PLAIN)
def test_rms_matches_the_formula(name: str, layer: str) -> None:
    model = init(LAYERS[layer](), name, seed=1)
    w = model.weight.detach()
    fi, fo = fans(w)
    rms = float(w.double().pow(2).mean().sqrt())
    # 4 standard errors of an RMS estimate from n draws (1/sqrt(2n)): 3% for the linear layer
    assert rms == pytest.approx(EXPECTED_RMS[name](fi, fo, w.shape[0]), rel=4 / math.sqrt(2 * w.numel()), abs=1e-12)


@pytest.mark.parametrize("name", ["normal_0.01", "xavier", "kaiming", "xavier_uniform", "kaiming_uniform"])
def test_random_schemes_are_centred(name: str) -> None:
    w = init(linear(), name).weight.detach()
    assert abs(float(w.mean())) < 4 * float(w.std()) / math.sqrt(w.numel())


@pytest.mark.parametrize("name, value", [("zeros", 0.0), ("constant", 1 / 256)])
def test_constant_schemes_are_constant(name: str, value: float) -> None:
    w = init(linear(), name).weight.detach()
    assert torch.equal(w, torch.full_like(w, value))


@pytest.mark.parametrize("name, bound", [("xavier_uniform", math.sqrt(6 / (256 + 128))),
                                         ("kaiming_uniform", math.sqrt(6 / 256))])
def test_uniform_schemes_fill_their_bounds(name: str, bound: float) -> None:
    w = init(linear(), name).weight.detach()
    assert float(w.abs().max()) <= bound
    assert float(w.abs().max()) > 0.99 * bound  # 32768 draws reach the edge


@pytest.mark.parametrize("make", [
    lambda: nn.Linear(128, 256),  # weight (256, 128): tall
    lambda: nn.Linear(64, 64),
    lambda: nn.Conv2d(8, 96, 3),  # weight (96, 72): tall
], ids=["linear_tall", "linear_square", "conv_tall"])
@pytest.mark.parametrize("name", PLAIN)
def test_matches_torch_nn_init(name: str, make: Callable[[], nn.Module]) -> None:
    ours, theirs = make(), make()
    init_model(ours, name, ACT, generator=gen(7))
    with torch.no_grad():
        REFERENCE[name](theirs.weight, gen(7))
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("make, wide", [
    (linear, True), (conv, True), (lambda: nn.Linear(128, 256), False), (lambda: nn.Linear(64, 64), True),
], ids=["linear_wide", "conv_wide", "linear_tall", "linear_square"])
@pytest.mark.parametrize("name", ["orthogonal", "lsuv"])
def test_orthogonal_rows_or_columns(name: str, make: Callable[[], nn.Module], wide: bool) -> None:
    model = make()
    init(model, name)
    w = model.weight.detach().flatten(1).double()  # (out, in * k * k)
    if name == "lsuv":  # LSUV rescales the orthogonal draw by one number per layer
        w = w / (w.pow(2).sum() / min(w.shape)).sqrt()
    gram = w @ w.T if wide else w.T @ w
    torch.testing.assert_close(gram, torch.eye(len(gram), dtype=torch.float64), rtol=0, atol=1e-5)


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("name", sorted(INITS))
def test_same_seed_same_weights(name: str, layer: str) -> None:
    a, b = init(LAYERS[layer](), name, seed=3), init(LAYERS[layer](), name, seed=3)
    assert torch.equal(a.weight, b.weight)


@pytest.mark.parametrize("name", sorted(n for n, s in INITS.items() if s.base != "ones"))
def test_different_seed_different_weights(name: str) -> None:
    a, b = init(linear(), name, seed=3), init(linear(), name, seed=4)
    assert not torch.allclose(a.weight, b.weight)


def test_init_does_not_touch_the_global_rng() -> None:
    layers = {name: conv() for name in INITS}  # building a layer does use it
    state = torch.get_rng_state()
    for name, layer in layers.items():
        init(layer, name)
    assert torch.equal(torch.get_rng_state(), state)


def _two_layer_net() -> nn.Module:
    # the second layer's draw follows the first's in the same stream
    return nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 32))


SAME_BASE = [(a, b) for a, b in combinations(sorted(INITS), 2) if INITS[a].base == INITS[b].base]


def test_there_are_schemes_sharing_a_base() -> None:
    assert {INITS[a].base for a, _ in SAME_BASE} >= {"normal", "uniform", "orthogonal"}


@pytest.mark.parametrize("a, b", SAME_BASE)
def test_same_base_same_seed_gives_scalar_multiples(a: str, b: str) -> None:
    net_a, net_b = init(_two_layer_net(), a, seed=11), init(_two_layer_net(), b, seed=11)
    for la, lb in zip(net_a[0::3], net_b[0::3]):
        wa, wb = la.weight.detach().double(), lb.weight.detach().double()
        if not wa.any() or not wb.any():
            continue  # zeros is 0 x the unit draw: trivially a multiple
        c = float((wa * wb).sum() / (wb * wb).sum())  # least-squares multiplier
        assert c > 0
        torch.testing.assert_close(wa, c * wb, rtol=1e-5, atol=1e-9)


def _layer_outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    handles = [m.register_forward_hook(lambda m, i, o: outs.append(o.detach())) for m in layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return outs


@pytest.mark.parametrize("name", DATA_DEPENDENT)
@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Linear(64, 128), nn.Tanh(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)),
    lambda: nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.Tanh(),
                          nn.Conv2d(16, 4, 1)),
], ids=["mlp", "cnn"])
def test_lsuv_gives_unit_output_variance_per_layer(name: str, make: Callable[[], nn.Module]) -> None:
    model = make()
    sample = sample_for(model)
    before = [float(o.var()) for o in _layer_outputs(init_model(make(), "orthogonal", ACT, generator=gen(0)), sample)]
    assert not all(abs(v - 1) < 0.1 for v in before)  # the sample is not unit variance to begin with
    init(model, name)
    for out in _layer_outputs(model, sample):
        assert float(out.var()) == pytest.approx(1.0, abs=LSUV_TOLERANCE)
    assert not any(h for m in model.modules() for h in m._forward_hooks.values())  # hooks removed


@pytest.mark.parametrize("name", DATA_DEPENDENT)
def test_data_dependent_without_sample(name: str) -> None:
    with pytest.raises(ValueError, match=f"init '{name}' is data-dependent: pass a sample batch"):
        init_model(linear(), name, ACT, generator=gen())


def test_unknown_init_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown init 'he'") as err:
        init_model(linear(), "he", ACT, generator=gen())
    for name in INITS:
        assert name in str(err.value)


def test_model_without_weighted_layers() -> None:
    with pytest.raises(ValueError, match="no Linear or Conv layer"):
        init_model(nn.Sequential(nn.ReLU()), "kaiming", ACT, generator=gen())


def test_unknown_base() -> None:
    with pytest.raises(ValueError, match="unknown base distribution 'cauchy'"):
        unit_draw("cauchy", (2, 2), generator=gen())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", PLAIN)
def test_keeps_the_layer_dtype(name: str) -> None:
    model = nn.Linear(16, 8).double()
    init_model(model, name, ACT, generator=gen())
    assert model.weight.dtype == torch.float64
