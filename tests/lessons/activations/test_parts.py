"""The activations lesson's pieces, against autograd, hand-worked formulas and direct computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import cnnbp.lessons.activations  # noqa: F401  (registers the lesson)
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.activations.config import ActivationsConfig
from cnnbp.lessons.activations.figures import race_table
from cnnbp.lessons.activations.functions import (
    GRID_POINTS,
    MAXOUT_PIECES,
    ScalarMaxout,
    activation_curves,
    peak_grad_with,
    point_table,
    saturated_intervals,
    scalar_act,
)
from cnnbp.lessons.activations.outcome import (
    DEAD_MARGIN,
    FAIL_SPEEDUP,
    LECTURE_SPEEDUP,
    PASS_SPEEDUP,
    DeadGap,
    Race,
    Speedup,
)
from cnnbp.lessons.activations.race import DEAD_GRAD_RATIO, DeadUnitProbe, RaceHistory, matched_init
from cnnbp.lessons.activations.selu import PAIRS, deep_profiles
from cnnbp.lessons.activations.verdicts import race_verdict
from cnnbp.lessons.activations.zero_centred import (
    W_STAR,
    W_START,
    loss_grid,
    neuron_inputs,
    neuron_weight_grads,
    same_sign,
    same_sign_fractions,
    zigzag,
    zigzag_inputs,
)
from cnnbp.nn import DeepMLP, init_model
from cnnbp.nn.activations import ACTIVATIONS

SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772
# Points away from every kink, in float64.
Z = torch.tensor([-10.0, -4.0, -1.5, -0.3, 0.2, 0.7, 2.5, 6.0, 10.0], dtype=torch.float64)


def _sig(z):
    return 1 / (1 + torch.exp(-z))


def _step(z, pos, neg):
    return torch.where(z > 0, torch.as_tensor(pos, dtype=z.dtype), torch.as_tensor(neg, dtype=z.dtype))


# (f, f') worked out by hand, with the lesson's non-default options where the act has one.
OPTIONS = {"leaky_relu": {"slope": 0.1}, "elu": {"alpha": 2.0}, "swish": {"beta": 1.5}}
FORMULAS = {
    "sigmoid": (_sig, lambda z: _sig(z) * (1 - _sig(z))),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "relu": (lambda z: z.clamp(min=0), lambda z: _step(z, 1.0, 0.0)),
    "leaky_relu": (lambda z: torch.maximum(0.1 * z, z), lambda z: _step(z, 1.0, 0.1)),
    "prelu": (lambda z: torch.maximum(0.25 * z, z), lambda z: _step(z, 1.0, 0.25)),
    "elu": (lambda z: torch.where(z > 0, z, 2.0 * (torch.exp(z) - 1)), lambda z: _step(z, 1.0, 2.0 * torch.exp(z))),
    "selu": (lambda z: SELU_SCALE * torch.where(z > 0, z, SELU_ALPHA * (torch.exp(z) - 1)),
             lambda z: SELU_SCALE * _step(z, 1.0, SELU_ALPHA * torch.exp(z))),
    "maxout": (lambda z: torch.maximum(z, -0.5 * z - 1), lambda z: torch.where(z > -2 / 3, 1.0, -0.5).to(z.dtype)),
    "swish": (lambda z: z * _sig(1.5 * z), lambda z: _sig(1.5 * z) + 1.5 * z * _sig(1.5 * z) * (1 - _sig(1.5 * z))),
    "silu": (lambda z: z * _sig(z), lambda z: _sig(z) + z * _sig(z) * (1 - _sig(z))),
    "gelu": (lambda z: 0.5 * z * (1 + torch.erf(z / math.sqrt(2))),
             lambda z: 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
}


def test_every_registry_activation_has_a_formula():
    assert set(FORMULAS) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_curves_match_the_formulas_and_a_per_point_autograd(name):
    (curve,) = activation_curves([name], x_range=10.0, options=OPTIONS, threshold=0.1)
    x = torch.linspace(-10.0, 10.0, GRID_POINTS, dtype=torch.float64)  # the grid, before rounding for display
    assert curve.x == pytest.approx(x.tolist(), abs=1e-9)
    f, df = FORMULAS[name]
    keep = (x - 0).abs() > 1e-6  # away from the kinks at 0 (and maxout's at -2/3)
    keep &= (x + 2 / 3).abs() > 1e-6
    value, grad = (torch.tensor(v, dtype=torch.float64) for v in (curve.value, curve.grad))
    assert torch.allclose(value[keep], f(x)[keep], rtol=1e-9, atol=1e-12)
    assert torch.allclose(grad[keep], df(x)[keep], rtol=1e-9, atol=1e-12)
    act = scalar_act(name, OPTIONS.get(name, {}))
    for i in range(0, GRID_POINTS, 97):  # the naive way: one autograd call per point
        xi = x[i : i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(act(xi).sum(), xi)
        assert float(g) == pytest.approx(curve.grad[i], rel=1e-12, abs=1e-15)


def test_question_points_table():
    rows = {(r["activation"], r["x"]): r for r in point_table(["sigmoid", "tanh", "relu", "leaky_relu", "elu"],
                                                               options={}, threshold=0.1)}
    s10 = 1 / (1 + math.exp(10))
    assert rows[("sigmoid", -10.0)]["value"] == pytest.approx(s10, rel=1e-12)
    assert rows[("sigmoid", -10.0)]["grad"] == pytest.approx(s10 * (1 - s10), rel=1e-12)
    assert rows[("sigmoid", 0.0)]["value"] == 0.5 and rows[("sigmoid", 0.0)]["grad"] == 0.25
    assert rows[("sigmoid", 10.0)]["grad_over_peak"] == pytest.approx(4 * s10 * (1 - s10), rel=1e-9)
    assert rows[("tanh", 10.0)]["grad"] == pytest.approx(1 - math.tanh(10) ** 2, rel=1e-6)  # 8.2e-9, not 0
    assert rows[("tanh", 0.0)]["grad"] == 1.0
    assert (rows[("relu", -10.0)]["value"], rows[("relu", -10.0)]["grad"]) == (0.0, 0.0)
    assert rows[("relu", 0.0)]["grad"] == 0.0  # PyTorch's choice at the kink
    assert (rows[("relu", 10.0)]["value"], rows[("relu", 10.0)]["grad"]) == (10.0, 1.0)
    assert rows[("leaky_relu", -10.0)]["grad"] == pytest.approx(0.01)
    assert rows[("elu", -10.0)]["grad"] == pytest.approx(math.exp(-10), rel=1e-9)
    assert [rows[("sigmoid", x)]["saturated"] for x in (-10.0, 0.0, 10.0)] == [True, False, True]


def test_peaks_follow_the_options():
    assert peak_grad_with("sigmoid", {}) == pytest.approx(0.25)
    assert peak_grad_with("tanh", {}) == pytest.approx(1.0)
    assert peak_grad_with("elu", {"alpha": 2.0}) == pytest.approx(2.0, rel=1e-3)  # alpha e^x just below 0
    assert peak_grad_with("selu", {}) == pytest.approx(SELU_SCALE * SELU_ALPHA, rel=1e-3)
    assert peak_grad_with("maxout", {}) == 1.0


def test_saturated_intervals_and_shares():
    assert saturated_intervals([0, 1, 2, 3], [False, True, True, False]) == [(1, 2)]
    assert saturated_intervals([0, 1, 2], [True, True, True]) == [(0, 2)]
    assert saturated_intervals([0, 1], [False, False]) == []
    relu, maxout = activation_curves(["relu", "maxout"], x_range=12.0, options={}, threshold=0.1)
    assert relu.zero_grad and relu.saturated == [(-12.0, 0.0)]  # x <= 0: PyTorch's f'(0) = 0
    assert relu.frac_saturated == pytest.approx(0.5, abs=1 / GRID_POINTS)
    assert maxout.saturated == [] and not maxout.zero_grad


def test_scalar_maxout_is_the_max_of_its_pieces():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    expected = torch.stack([w * x + b for w, b in MAXOUT_PIECES]).max(dim=0).values
    assert torch.equal(ScalarMaxout().double()(x), expected)


def test_per_sample_gradients_match_autograd():
    g = make_generator(0)
    x, w, up = torch.rand(5, 4, generator=g, dtype=torch.float64), torch.randn(4, dtype=torch.float64), \
        torch.randn(5, dtype=torch.float64)
    grads = neuron_weight_grads(x, w, up)
    for i in range(5):
        wi = w.clone().requires_grad_(True)
        (gi,) = torch.autograd.grad(torch.sigmoid(x[i] @ wi) * up[i], wi)  # L = upstream * f
        assert torch.allclose(grads[i], gi)


def test_same_sign_counts_by_hand():
    grads = torch.tensor([[1.0, 2.0], [-1.0, -0.5], [1.0, -1.0], [0.0, 3.0], [0.0, 0.0]])
    assert same_sign(grads).tolist() == [True, True, False, True, False]


def test_same_sign_fractions_against_a_direct_count():
    fan_in, samples = 8, 256
    results = {r.kind: r for r in same_sign_fractions(fan_in=fan_in, samples=samples, seed=3)}
    assert results["sigmoid"].per_sample == 1.0  # all-positive inputs: exactly every sample
    g = make_generator(derive_seed(3, "same-sign"))
    z = torch.randn(samples, fan_in, generator=g, dtype=torch.float64)
    # ReLU outputs: one-signed unless every input is 0 (then the gradient is all zeros: not counted)
    assert results["relu"].per_sample == pytest.approx(float((z > 0).any(dim=1).double().mean()))
    w = torch.randn(fan_in, generator=g, dtype=torch.float64) / math.sqrt(fan_in)
    up = torch.randn(samples, generator=g, dtype=torch.float64)
    for kind in ("tanh", "centred"):
        x = neuron_inputs(kind, z)
        count = 0
        for i in range(samples):
            gi = up[i] * torch.sigmoid(x[i] @ w) * (1 - torch.sigmoid(x[i] @ w)) * x[i]
            count += bool((gi > 0).all() or (gi < 0).all())
        assert results[kind].per_sample == pytest.approx(count / samples)
    assert abs(results["centred"].input_mean) < 1e-12


def test_zigzag_positive_inputs_only_move_both_weights_together():
    pos, zero = zigzag(steps=40, lr=0.1, seed=0)
    assert (pos.w1[0], pos.w2[0]) == W_START == (zero.w1[0], zero.w2[0])
    assert pos.same_sign_updates == 1.0
    for a1, a2, b1, b2 in zip(pos.w1, pos.w2, pos.w1[1:], pos.w2[1:]):
        assert (b1 - a1) * (b2 - a2) >= 0  # every update in the first or third quadrant
    assert zero.same_sign_updates < 1.0
    assert len(pos.w1) == 41


def test_zigzag_loss_grid_is_the_mean_squared_error():
    u = torch.rand(10, 2, generator=make_generator(1), dtype=torch.float64)
    x = zigzag_inputs("positive", u)
    y = x @ torch.tensor(W_STAR, dtype=torch.float64)
    path = torch.zeros(2, 2, dtype=torch.float64)
    a, b, loss = loss_grid(x, y, path)
    i, j = 5, 7
    w = torch.tensor([a[j], b[i]], dtype=torch.float64)
    assert loss[i][j] == pytest.approx(float(0.5 * ((x @ w - y) ** 2).mean()))


def test_deep_profiles_against_a_plain_forward():
    profiles = deep_profiles(depth=4, width=32, batch=16, seed=5)
    assert [(p.activation, p.init) for p in profiles] == list(PAIRS)
    x = torch.randn(16, 32, generator=make_generator(derive_seed(5, "selu-inputs")))
    model = DeepMLP(32, width=32, depth=4, activation="selu")
    init_model(model, "xavier", "selu", generator=make_generator(derive_seed(5, "selu-weights")))
    with torch.no_grad():
        h = model(x)
    assert profiles[0].std[-1] == pytest.approx(float(h.std()))
    assert profiles[0].mean[-1] == pytest.approx(float(h.mean()))


def test_dead_unit_probe_on_a_hand_weighted_net():
    # channel 0 sees +x (alive on positive images), channel 1 sees -x (never fires on them)
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight[:] = torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
    model = nn.Sequential(conv, nn.ReLU())
    with DeadUnitProbe(model, activation="relu", peak=1.0) as probe:
        model(torch.rand(4, 1, 3, 3) + 0.1)
    assert probe.dead == {"1": 0.5}
    assert not model[1]._forward_hooks  # removed on exit
    leaky = nn.Sequential(conv, nn.LeakyReLU(0.01))
    with DeadUnitProbe(leaky, activation="leaky_relu", peak=1.0) as probe:
        leaky(torch.rand(4, 1, 3, 3) + 0.1)
    assert probe.dead == {"1": 0.0}  # slope 0.01 > DEAD_GRAD_RATIO: it never dies
    assert DEAD_GRAD_RATIO < 0.01


def test_matched_init_and_steps_to_target():
    assert [matched_init(a) for a in ("sigmoid", "tanh", "selu", "relu", "elu")] == \
        ["xavier", "xavier", "xavier", "kaiming", "kaiming"]
    h = RaceHistory("relu", 0.1, "kaiming", eval_steps=[0, 3, 6, 9], test_accuracy=[0.1, 0.5, 0.85, 0.8])
    assert h.steps_to(0.8) == 6 and h.steps_to(0.9) is None
    assert RaceHistory("relu", 0.1, "kaiming", dead=[[1.0, 1.0], [0.5, 0.25]]).final_dead == 0.375
    assert RaceHistory("relu", 0.1, "kaiming").final_dead is None  # never probed


def _history(activation: str, lr: float, reached_at: int | None, *, seed: int = 0, trained: int = 30,
             dead: float | None = 0.0, diverged_at: int | None = None) -> RaceHistory:
    steps = list(range(1, trained + 1))
    evals = list(range(0, trained + 1, 3))
    acc = [0.9 if reached_at is not None and s >= reached_at else 0.1 for s in evals]
    return RaceHistory(activation, lr, "kaiming", seed, steps=steps, eval_steps=evals, test_accuracy=acc,
                       layer_names=[] if dead is None else ["0"], dead=[] if dead is None else [[dead]],
                       diverged_at=diverged_at)


def _race(*histories: RaceHistory, total: int = 30) -> Race:
    return Race(list(histories), target=0.8, total_steps=total, lr=0.1, seed=0, racers=("relu", "sigmoid", "tanh"),
                dead_activations=("relu",), dead_lr=1.0)


def _pairs(sigmoid_at: list[int | None], relu_at: int = 6, **kw) -> list[RaceHistory]:
    """ReLU and sigmoid at seeds 0, 1, ...: ReLU reaches the target at ``relu_at``."""
    return [h for seed, s in enumerate(sigmoid_at)
            for h in (_history("relu", 0.1, relu_at, seed=seed), _history("sigmoid", 0.1, s, seed=seed, **kw))]


def test_ratios_to_relu_and_lower_bounds_of_the_nets_drawn():
    race = _race(_history("relu", 0.1, 6), _history("tanh", 0.1, 12), _history("sigmoid", 0.1, None),
                 _history("tanh", 0.1, 3, seed=1))
    ratios = race.ratio_to_relu()
    assert set(ratios) == {"relu, lr 0.1", "tanh, lr 0.1", "sigmoid, lr 0.1"}  # seed 0's: the ones drawn
    assert ratios["tanh, lr 0.1"] == {"steps_to_target": 12, "ratio_to_relu": 2.0, "ratio_is_lower_bound": False}
    # sigmoid trained all 30 steps without reaching it: at least 30 / 6
    assert ratios["sigmoid, lr 0.1"] == {"steps_to_target": None, "ratio_to_relu": 5.0, "ratio_is_lower_bound": True}
    cut_short = _race(_history("relu", 0.1, 6), _history("sigmoid", 0.1, None, trained=9))
    assert cut_short.ratio_to_relu()["sigmoid, lr 0.1"]["ratio_to_relu"] is None


@pytest.mark.parametrize("sigmoid_at, relu_at, low, high, side", [
    (24, 6, 4.0, 4.0, "holds"),  # both reached it: exact
    (12, 6, 2.0, 2.0, "between"),  # faster, but short of half the lecture's 6x
    (6, 6, 1.0, 1.0, "fails"),  # below a quarter of it
    (None, 6, 5.0, None, "holds"),  # sigmoid never did in 30 steps: at least 30 / 6
    (None, 12, 2.5, None, "between"),  # at least 2.5x: the run cannot say whether 3x
    (15, None, None, 0.5, "fails"),  # ReLU never did in 30 steps: at most 15 / 30
    (None, None, None, None, "between"),
])
def test_the_speedup_interval_and_its_side_of_the_lines(sigmoid_at, relu_at, low, high, side):
    s = Speedup.of(_history("relu", 0.1, relu_at), _history("sigmoid", 0.1, sigmoid_at), 0.8)
    assert (s.low, s.high, s.side) == (pytest.approx(low) if low else low, pytest.approx(high) if high else high,
                                      side)
    assert (PASS_SPEEDUP, FAIL_SPEEDUP) == (LECTURE_SPEEDUP / 2, LECTURE_SPEEDUP / 4)


def test_a_diverged_or_stopped_sigmoid():
    assert Speedup.of(_history("relu", 0.1, 6), _history("sigmoid", 0.1, None, diverged_at=5), 0.8).side == "between"
    stopped = Speedup.of(_history("relu", 0.1, 6), _history("sigmoid", 0.1, None, trained=9), 0.8)
    assert stopped.low == pytest.approx(1.5) and stopped.side == "between"  # not there by step 9: >= 9 / 6


def test_the_race_verdict_is_decided_over_seeds():
    assert _race(*_pairs([None, None, 24])).relu_faster_than_sigmoid() is True
    assert _race(*_pairs([6, 6, 3])).relu_faster_than_sigmoid() is False  # 1x, 1x, 0.5x
    assert _race(*_pairs([None, 12, 24])).relu_faster_than_sigmoid() is None  # one seed between
    assert _race(*_pairs([None, 6, 24])).relu_faster_than_sigmoid() is None  # the seeds disagree
    assert _race(*_pairs([None, None])).relu_faster_than_sigmoid() is None  # two seeds decide nothing
    assert [s.seed for s in _race(*_pairs([None, None, None])).speedups()] == [0, 1, 2]
    no_sigmoid = Race(_pairs([None] * 3), target=0.8, total_steps=30, lr=0.1, seed=0, racers=("relu",))
    assert no_sigmoid.speedups() == [] and no_sigmoid.relu_faster_than_sigmoid() is None


def test_the_verdict_says_how_long_a_run_would_tell():
    race = _race(*_pairs([None, None, None], relu_at=12))  # at least 30 / 12 = 2.5x at every seed
    verdict = race_verdict(race, ActivationsConfig(epochs=1, batch_size=48))  # 30 steps an epoch
    assert verdict.passed is None
    assert "at least 2.5x (sigmoid had not reached it), at least 2.5x" in verdict.text
    assert "telling needs 36 steps (2 epochs)" in verdict.text  # 3 x 12
    one_seed = race_verdict(_race(*_pairs([None], relu_at=3)), ActivationsConfig(epochs=1, batch_size=48))
    assert one_seed.passed is None and "One seed decides nothing: cannot tell" in one_seed.text


def test_the_race_table_lists_every_net_with_its_seed():
    relu = _history("relu", 0.1, 6, seed=1)
    relu.eval_steps, relu.test_accuracy = relu.eval_steps[:3], relu.test_accuracy[:3]  # evaluated until step 6
    table = race_table(_race(_history("relu", 0.1, 6), _history("sigmoid", 0.1, None, seed=1, dead=None), relu))
    assert list(table["seed"]) == [0, 1, 1] and list(table["steps_to_target"].fillna(-1)) == [6, -1, 6]
    assert list(table["last_evaluated_step"]) == [30, 30, 6] and list(table["steps"]) == [30, 30, 30]
    assert table["0 dead"].isna().tolist() == [False, True, False]  # the sigmoid at seed 1 was never probed


def test_the_dead_gap_and_its_side_of_the_line():
    assert DeadGap(0, 0.05, 0.85).side == "holds" and DeadGap(0, 0.05, 0.85).difference == pytest.approx(0.8)
    assert DeadGap(0, 0.05, 0.05 + DEAD_MARGIN).side == "holds"
    assert DeadGap(0, 0.05, 0.2).side == "between" and DeadGap(0, 0.3, 0.3).side == "fails"
    assert DeadGap(0, 0.05, None).side == "between"  # no final probe (diverged first)


def test_the_dead_verdict_is_decided_over_seeds_from_the_dead_activations_only():
    pairs = lambda lows, highs: [h for seed, (lo, hi) in enumerate(zip(lows, highs))  # noqa: E731
                                 for h in (_history("relu", 0.1, 6, seed=seed, dead=lo),
                                           _history("relu", 1.0, None, seed=seed, dead=hi))]
    race = _race(*pairs([0.1, 0.0, 0.2], [0.9, 0.8, 0.7]))
    assert [h.seed for h in race.dead] == [0, 0] and race.high_lr_kills_relus() is True
    assert [g.seed for g in race.dead_gaps()] == [0, 1, 2]
    assert _race(*pairs([0.5, 0.5, 0.5], [0.5, 0.4, 0.2])).high_lr_kills_relus() is False
    assert _race(*pairs([0.1, 0.1, 0.1], [0.9, 0.9, 0.2])).high_lr_kills_relus() is None
    assert _race(*pairs([0.1], [0.9])).high_lr_kills_relus() is None  # one seed
    not_dead = Race(pairs([0.1] * 3, [0.9] * 3), target=0.8, total_steps=30, lr=0.1, seed=0, racers=("relu",))
    assert not_dead.dead_gaps() == [] and not_dead.high_lr_kills_relus() is None


def test_the_question_points_and_the_same_sign_predicates():
    rows = point_table(["sigmoid", "tanh", "relu", "leaky_relu"], options={}, threshold=0.1)
    assert rows.killed_at_10("sigmoid") and rows.killed_at_10("tanh")
    assert not rows.killed_at_10("relu")  # both sides: f'(10) = 1
    assert rows.row("leaky_relu", -10.0)["grad_over_peak"] == pytest.approx(0.01)
    signs = same_sign_fractions(fan_in=8, samples=256, seed=0)
    assert signs.holds and signs.kind("sigmoid").per_sample == 1.0
    signs.kind("centred").per_sample = 0.5
    assert not signs.holds


def test_dead_unit_probe_needs_its_activation():
    with pytest.raises(ValueError, match="DeadUnitProbe found no relu module in the model"):
        with DeadUnitProbe(nn.Sequential(nn.Tanh()), activation="relu", peak=1.0):
            pass
