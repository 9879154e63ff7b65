"""The batchnorm lesson's pieces, exactly: folding against hand-worked numbers, the plain
conv -> BN forward and PyTorch's fuse_conv_bn_eval; the running-statistics update rule; the
train/eval checks; the train-mode bug on a copy; the race's predicate on hand-made histories."""

from __future__ import annotations

import copy
import math
import statistics

import pytest
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from cnnbp.data import get_dataset
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.batchnorm.folding import (
    FoldResult,
    calibrated_model,
    compare_folding,
    count_batchnorms,
    fold_conv_bn,
    fold_model,
)
from cnnbp.lessons.batchnorm.modes import data_stats, feature_maps, mode_checks, running_stats
from cnnbp.lessons.batchnorm.training import (
    MIN_SEEDS,
    History,
    Race,
    Run,
    SeededRace,
    TrainModeBug,
    Variant,
    build,
    seeded_races,
    train_mode_bug,
    train_runs,
)
from cnnbp.lessons.batchnorm.verdicts import race_words, seeded_words
from cnnbp.nn import SmallCNN
from cnnbp.train import RunControl


def random_bn(channels: int, g: torch.Generator, *, eps: float = 1e-5) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, eps=eps)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=g))
        bn.running_var.copy_(torch.rand(channels, generator=g) + 0.1)
        bn.weight.copy_(torch.randn(channels, generator=g))
        bn.bias.copy_(torch.randn(channels, generator=g))
    return bn.eval()


# ---- folding ----------------------------------------------------------------------------------

def test_fold_by_hand():
    # y = 4 (2x - 1) / sqrt(3 + 1) + 0.5 = 4x - 1.5: weight 4, bias -1.5
    conv = nn.Conv2d(1, 1, 1, bias=False)
    bn = nn.BatchNorm2d(1, eps=1.0)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        bn.running_mean.fill_(1.0)
        bn.running_var.fill_(3.0)
        bn.weight.fill_(4.0)
        bn.bias.fill_(0.5)
    folded = fold_conv_bn(conv, bn.eval())
    assert folded.weight.item() == 4.0 and folded.bias.item() == -1.5
    x = torch.tensor([[[[0.0, 1.0], [2.5, -3.0]]]])
    assert torch.equal(folded(x), 4 * x - 1.5)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 0, 1), (1, 1, 2)])
def test_fold_equals_conv_then_bn_and_torch(bias, stride, padding, groups):
    g = make_generator(7)
    conv = nn.Conv2d(4, 6, 3, stride=stride, padding=padding, groups=groups, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        if bias:
            conv.bias.copy_(torch.randn(6, generator=g))
    bn = random_bn(6, g)
    x = torch.randn(5, 4, 9, 9, generator=g)
    conv.eval()
    with torch.no_grad():
        ref = bn(conv(x))
        ours = fold_conv_bn(conv, bn)(x)
        theirs = fuse_conv_bn_eval(conv, bn)(x)
    assert (ours - ref).abs().max() < 1e-5 * max(1.0, float(ref.abs().max()))
    assert (ours - theirs).abs().max() < 1e-5 * max(1.0, float(ref.abs().max()))


def test_fold_refuses_a_bn_without_running_stats_or_the_wrong_width():
    with pytest.raises(ValueError, match="running statistics"):
        fold_conv_bn(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    with pytest.raises(ValueError, match="3 channels but the conv makes 2"):
        fold_conv_bn(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(3))


@pytest.mark.parametrize("activation", ["relu", "tanh", "maxout"])
def test_fold_model_keeps_the_outputs_and_leaves_the_original(activation):
    data = get_dataset("digits", seed=0)
    model = calibrated_model(data.x_train[:300], in_channels=1, num_classes=10, depth=3, width=8,
                             activation=activation, image_size=8, seed=0)
    assert all(b.conv.bias is None for b in model.blocks if hasattr(b, "conv"))  # SmallCNN: no bias before a norm
    folded = fold_model(model)
    assert count_batchnorms(model) == 3 and count_batchnorms(folded) == 0
    with torch.no_grad():
        ref, out = model.eval()(data.x_test), folded(data.x_test)
    assert (out - ref).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))
    torch_folded = fold_model(model, fuse=fuse_conv_bn_eval)
    with torch.no_grad():
        assert (torch_folded(data.x_test) - ref).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))


def test_bn_after_the_activation_cannot_be_folded():
    model = SmallCNN(1, 10, depth=2, width=4, norm="batch", norm_position="after_act", image_size=8)
    with pytest.raises(ValueError, match="blocks.0: BatchNorm after the activation cannot be folded"):
        fold_model(model)


def test_compare_folding_measures_what_it_says():
    data = get_dataset("digits", seed=0)
    model = calibrated_model(data.x_train[:200], in_channels=1, num_classes=10, depth=2, width=8,
                             activation="relu", image_size=8, seed=1)
    f = compare_folding(model, data.x_test[:50], repeats=3)
    with torch.no_grad():
        ref = model(data.x_test[:50])
        assert f.max_abs_diff == float((fold_model(model)(data.x_test[:50]) - ref).abs().max())
    assert f.max_abs_logit == float(ref.abs().max())
    assert f.max_abs_diff <= 1e-5 and f.argmax_agree == 1.0 and f.batchnorms_after == 0
    assert all(len(t) == 3 for t in f.times.values())
    ratios = [u / t for u, t in zip(f.times["unfolded"], f.times["folded"])]
    assert f.speedup == statistics.median(ratios)  # never asserted > 1 here
    assert f.speedup_interval is None and f.faster is None  # 3 repeats: too few to call


def _timed(ratios: list[float], *, diff: float = 0.0) -> FoldResult:
    """A FoldResult whose unfolded / folded time in each repeat is ``ratios``."""
    ones = [1.0] * len(ratios)
    return FoldResult(batch=1, batchnorms_before=1, batchnorms_after=0, max_abs_diff=diff, max_abs_diff_torch=0.0,
                      max_abs_diff_ours_vs_torch=0.0, max_abs_logit=1.0, argmax_agree=1.0,
                      times={"unfolded": list(ratios), "folded": ones, "torch fused": ones})


@pytest.mark.parametrize("ratios, faster", [
    ([1.1, 1.2, 1.05, 1.3, 1.1, 1.15, 1.2, 1.1, 1.1, 1.2], True),
    ([0.9, 0.8, 0.95, 0.7, 0.9, 0.85, 0.8, 0.9, 0.9, 0.8], False),
    ([1.1, 0.9, 1.2, 0.8, 1.05, 0.95, 1.1, 0.9, 1.3, 0.7], None),  # the interval covers 1: too close to call
    ([1.1, 1.2, 1.3, 1.2, 1.1], None),  # 5 repeats: no 95% interval, too few to call
])
def test_the_timing_decides_only_when_its_interval_clears_one(ratios, faster):
    f = _timed(ratios)
    assert f.faster is faster and f.exact_and_faster is faster
    assert _timed(ratios, diff=1.0).exact_and_faster is False  # outputs that differ fail whatever the speed


def test_calibration_sets_the_running_stats_to_the_data_mean_of_batch_stats():
    data = get_dataset("digits", seed=0)
    x = data.x_train[:512]
    model = calibrated_model(x, in_channels=1, num_classes=10, depth=1, width=4, activation="relu",
                             image_size=8, seed=0, batch_size=256)
    bn = model.blocks[0].norm
    with torch.no_grad():
        z = model.blocks[0].conv(x)  # (512, 4, 8, 8): the first BN sees the conv output directly
    halves = [z[:256].mean(dim=(0, 2, 3)), z[256:].mean(dim=(0, 2, 3))]
    assert torch.allclose(bn.running_mean, (halves[0] + halves[1]) / 2, atol=1e-6)
    assert not torch.allclose(bn.weight, torch.ones(4))  # gamma drawn away from 1


# ---- one BN layer -----------------------------------------------------------------------------

def test_running_stats_follow_the_update_rule():
    r = running_stats(batch_size=32, steps=3, momentum=0.25, channels=3, seed=0)
    f = feature_maps(get_dataset("digits", seed=0).x_train, channels=3, seed=0)
    order = torch.randperm(len(f), generator=make_generator(derive_seed(0, "bn-order")))
    rm, rv = torch.zeros(3), torch.ones(3)
    for step in range(3):
        batch = f[order[step * 32:(step + 1) * 32]]
        rm = 0.75 * rm + 0.25 * batch.mean(dim=(0, 2, 3))
        rv = 0.75 * rv + 0.25 * batch.var(dim=(0, 2, 3), unbiased=True)  # PyTorch keeps the unbiased one
        assert torch.allclose(torch.tensor(r.running_mean[step + 1]), rm, atol=1e-5)
        assert torch.allclose(torch.tensor(r.running_var[step + 1]), rv, rtol=1e-5)
    mu, var = data_stats(f)
    assert r.data_mean == mu.tolist() and r.data_var == var.tolist()
    assert r.running_mean[0] == [0.0] * 3 and r.running_var[0] == [1.0] * 3 and r.steps == [0, 1, 2, 3]


def test_running_stats_converge_and_a_smaller_momentum_is_slower():
    fast = running_stats(batch_size=64, steps=150, momentum=0.1, channels=4, seed=0)
    slow = running_stats(batch_size=64, steps=150, momentum=0.02, channels=4, seed=0)
    assert fast.converged_at(0.1) is not None
    assert slow.converged_at(0.1) is None or slow.converged_at(0.1) > fast.converged_at(0.1)
    assert fast.expected_mean_error[10] == pytest.approx(fast.mean_error[0] * 0.9**10)


def test_convergence_is_judged_against_the_update_rule():
    r = running_stats(batch_size=64, steps=20, momentum=0.1, channels=4, seed=0)
    start = max(r.mean_error[0], r.var_error[0])
    assert r.rule_steps == math.ceil(math.log(0.1 / start) / math.log(0.9)) > 20
    assert r.converged_step is None and r.converges is None  # 20 steps: too few to tell
    assert running_stats(batch_size=64, steps=100, momentum=0.1, channels=4, seed=0).converges is True
    r.mean_error[0], r.var_error[0] = 1.0, 0.5  # a start the rule brings within 0.1 in 22 steps
    assert r.rule_steps == 22 and r.converges is None  # 20 < 1.5 x 22
    r.mean_error[0], r.var_error[0] = 0.3, 0.3  # 11 steps: 20 >= 1.5 x 11, and still not within 0.1
    assert r.rule_steps == 11 and r.converges is False


def test_converged_at_needs_both_errors_to_stay_below():
    r = running_stats(batch_size=8, steps=5, momentum=0.5, channels=1, seed=0)
    r.mean_error, r.var_error = [1, 0.05, 0.2, 0.05, 0.05, 0.01], [1, 0.05, 0.05, 0.3, 0.05, 0.05]
    assert r.converged_at(0.1) == 4
    r.var_error[-1] = 0.5
    assert r.converged_at(0.1) is None


def test_mode_checks_against_the_formulas():
    stats = running_stats(batch_size=64, steps=60, momentum=0.1, channels=4, seed=0)
    c = mode_checks(stats, batch_size=64, channels=4, seed=0)
    scale = max(1.0, c.output_scale)
    assert c.eval_vs_formula <= 1e-5 * scale  # eval = gamma (x - running_mean) / sqrt(running_var + eps) + beta
    assert c.train_vs_formula <= 1e-4 * scale
    assert c.identity <= 1e-4 * max(1.0, c.input_scale)
    assert c.train_vs_eval > 1e-3 * scale and c.same_image_other_batch > 1e-3
    assert c.same_image_other_batch_eval == 0.0  # eval mode: each image on its own
    assert len(c.sample_eval) == len(c.sample_train) == 400


def test_mode_checks_leave_a_huge_batch_two_disjoint_halves():
    stats = running_stats(batch_size=8, steps=5, momentum=0.1, channels=2, seed=0)
    assert mode_checks(stats, batch_size=512, channels=2, seed=0).batch == 180  # 360 test images / 2


# ---- training and the train-mode bug ----------------------------------------------------------

def test_bn_and_plain_nets_share_their_unit_draws():
    data = get_dataset("digits", seed=0)
    opts = dict(depth=2, width=4, activation="relu", bn_momentum=0.3, seed=0)
    plain = build(data, Variant("s", "none", "kaiming", 0.1), **opts)
    bn = build(data, Variant("s", "batch", "kaiming", 0.1), **opts)
    small = build(data, Variant("s", "batch", "normal_0.01", 0.1), **opts)
    assert torch.equal(plain.blocks[0].conv.weight, bn.blocks[0].conv.weight)
    assert plain.blocks[0].conv.bias is not None and bn.blocks[0].conv.bias is None
    ratio = small.blocks[0].conv.weight / bn.blocks[0].conv.weight  # same draw, another scale
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio))
    assert all(m.momentum == 0.3 for m in bn.modules() if isinstance(m, nn.BatchNorm2d))


def test_train_mode_bug_rows_are_what_they_say_and_the_model_is_untouched():
    data = get_dataset("digits", seed=0)
    model = calibrated_model(data.x_train[:300], in_channels=1, num_classes=10, depth=2, width=8,
                             activation="relu", image_size=8, seed=0)
    before = copy.deepcopy(model.state_dict())
    rows = train_mode_bug(model, data, small_batch=8, seed=0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # copies only
    assert not model.training
    by = {r["evaluation"]: r["accuracy"] for r in rows}
    with torch.no_grad():
        eval_acc = float((model(data.x_test).argmax(1) == data.y_test).float().mean())
        whole = float((copy.deepcopy(model).train()(data.x_test).argmax(1) == data.y_test).float().mean())
        correct = 0
        for c in range(10):
            x = data.x_test[data.y_test == c]
            correct += int((copy.deepcopy(model).train()(x).argmax(1) == c).sum())
    assert by["eval mode (running statistics)"] == pytest.approx(eval_acc)
    assert by["train mode, the whole test set as one batch (360)"] == pytest.approx(whole)
    assert by["train mode, one class per batch"] == pytest.approx(correct / 360)
    assert [r["mode"] for r in rows] == ["eval", "train", "train", "train", "train", "eval"]


@pytest.mark.parametrize("position", ["before_act", "after_act"])
def test_batches_of_one_image_in_one_forward_are_one_forward_per_image(position):
    """The bug's "batches of 1" row: each image normalised by its own statistics in one forward
    gives the logits of a train-mode forward of that image alone (float rounding apart)."""
    from cnnbp.lessons.batchnorm.training import _accuracy_in_batches_of_one, _accuracy_in_train_mode, _own_statistics

    data = get_dataset("digits", seed=0)
    model = build(data, Variant("s", "batch", "kaiming", 0.1, position), depth=3, width=8, activation="relu",
                  bn_momentum=0.1, seed=0)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):  # gamma, beta away from 1, 0
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.normal_(bn.bias, 0.0, 0.5)
    x, y = data.x_test[:64], data.y_test[:64]
    with torch.no_grad():
        alone = torch.cat([copy.deepcopy(model).train()(x[i:i + 1]) for i in range(len(x))])
        together = _own_statistics(model)(x)
    assert torch.allclose(together, alone, rtol=1e-5, atol=1e-5) and not torch.equal(together, model.eval()(x))
    one = _accuracy_in_batches_of_one(model, x, y)
    assert one == _accuracy_in_train_mode(model, [(x[i:i + 1], y[i:i + 1]) for i in range(len(x))])
    assert one == float((alone.argmax(1) == y).float().mean())


def _history(accs: list[float], *, last_step: int, diverged_at: int | None = None, norm: str = "none",
             seed: int = 0) -> History:
    """Evaluated every 5 steps: accs at steps 0, 5, 10, ...; trained to ``last_step``."""
    return History(variant=Variant("s", norm, "kaiming", 0.1), seed=seed, eval_steps=[5 * i for i in range(len(accs))],
                   test_accuracy=accs, steps=list(range(1, last_step + 1)), diverged_at=diverged_at)


TOTAL = 10  # the runs' length in steps; evaluations at 0, 5, 10


@pytest.mark.parametrize("plain, bn, expected", [
    (([0.1, 0.5, 0.9], 10), ([0.1, 0.9, 0.9], 10), True),  # plain 10 steps vs BN 5: 2x, "much slower"
    (([0.1, 0.9, 0.9], 10), ([0.1, 0.9, 0.9], 10), False),  # the same speed
    (([0.1, 0.2, 0.3], 10), ([0.1, 0.9, 0.9], 10), True),  # plain never gets there
    (([0.1, 0.2, 0.3], 10), ([0.1, 0.2, 0.9], 10), True),  # nor does it in a run as long as BN's steps
    (([0.1, 0.2, 0.3], 10), ([0.1, 0.2, 0.3], 10), False),  # neither does BN
    (([0.1, 0.2, 0.3], 10), ([0.1, 0.2], 7), None),  # BN stopped early: undecided
    (([0.1], 3), ([0.1, 0.9, 0.9], 10), None),  # plain cut short before 2x BN's steps
])
def test_race(plain, bn, expected):
    race = Race(_history(plain[0], last_step=plain[1]), _history(bn[0], last_step=bn[1], norm="batch"), 0.8, TOTAL)
    words = race_words(race)
    assert race.bn_wins is expected and "no BN" in words and "with BN" in words


def test_a_plain_net_stopped_at_twice_bns_steps_has_lost():
    plain = _history([0.1, 0.2, 0.3], last_step=10)  # a further seed's net, stopped at step 10 of 20
    bn = _history([0.1, 0.9], last_step=5, norm="batch")  # stopped where it reached the target
    assert Race(plain, bn, 0.8, 20).bn_wins is True
    assert Race(_history([0.1, 0.2], last_step=5), bn, 0.8, 20).bn_wins is None  # cut short before step 10


def test_a_diverged_plain_net_never_gets_there():
    plain = _history([0.1], last_step=3, diverged_at=3)
    assert Race(plain, _history([0.1, 0.2, 0.9], last_step=10, norm="batch"), 0.8, TOTAL).bn_wins is True


def _seeded(outcomes: list[str], *, control_reaches: bool = True) -> SeededRace:
    """A race per outcome ("win": plain never vs BN at 5; "lose": both at 5; "open": BN cut short)."""
    shapes = {"win": (([0.1, 0.2, 0.3], 10), ([0.1, 0.9, 0.9], 10)),
              "lose": (([0.1, 0.9, 0.9], 10), ([0.1, 0.9, 0.9], 10)),
              "open": (([0.1, 0.2, 0.3], 10), ([0.1, 0.2], 7))}
    races = [Race(_history(p[0], last_step=p[1], seed=s), _history(b[0], last_step=b[1], norm="batch", seed=s), 0.8,
                  TOTAL) for s, (p, b) in enumerate(shapes[o] for o in outcomes)]
    ref = [0.1, 0.9, 0.9] if control_reaches else [0.1, 0.2, 0.3]
    control = Race(_history([0.1, 0.5, 0.9], last_step=10), _history(ref, last_step=10, norm="batch"), 0.8, TOTAL)
    return SeededRace(races, list(range(len(outcomes))), control)


@pytest.mark.parametrize("outcomes, control_reaches, expected", [
    (["win"] * MIN_SEEDS, True, True),
    (["lose"] * MIN_SEEDS, True, False),
    (["win"] * (MIN_SEEDS - 1) + ["lose"], True, None),  # the seeds disagree: cannot tell
    (["win"] * (MIN_SEEDS - 1) + ["open"], True, None),  # one cut short
    (["win"] * (MIN_SEEDS - 1), True, None),  # too few seeds
    (["win"] * MIN_SEEDS, False, None),  # the control does not reach the target: the run says nothing
])
def test_a_seeded_race_needs_every_seed_and_its_control(outcomes, control_reaches, expected):
    race = _seeded(outcomes, control_reaches=control_reaches)
    assert race.bn_wins is expected
    words = seeded_words(race)
    assert [f"seed {s}:" in words for s in race.seeds] == [True] * len(outcomes)
    assert ("annot tell" in words) == (expected is None)


def test_further_seeds_train_only_until_their_race_is_decided():
    data = {s: get_dataset("digits", seed=s) for s in (0, 1)}
    plain, bn = Variant("s", "none", "normal_0.01", 0.05), Variant("s", "batch", "normal_0.01", 0.05)
    runs = [Run(plain, 0), Run(bn, 0), Run(plain, 1, until=0.3, twin=bn), Run(bn, 1, until=0.3)]
    histories = []
    for _, histories, _ in train_runs(runs, data, depth=2, width=8, activation="relu", epochs=6, batch_size=64,
                                      bn_momentum=0.1, control=RunControl()):
        pass
    total = 6 * -(-len(data[0].x_train) // 64)
    assert histories[0].steps[-1] == histories[1].steps[-1] == total  # the drawn seed: every step
    b = histories[3].steps_to(0.3)
    assert b is not None and histories[3].steps[-1] == b  # the BN net stopped where it reached 30%
    assert histories[2].steps_to(0.3) is None  # std 0.01 without BN: stuck
    # the plain net stopped at its first evaluation 2x BN's steps in: the race was decided there
    assert 2 * b < total and histories[2].steps[-1] == min(s for s in histories[2].eval_steps if s >= 2 * b)
    race = seeded_races(histories, {"reference": (plain, bn), "bad": (plain, bn)}, target=0.3, total_steps=total)
    assert race["bad"].seeds == [0, 1] and race["bad"].wins[1] is True


def test_the_races_on_two_cores_stop_where_they_stop_on_one():
    """lockstep's lanes evaluate the nets side by side; a run's race is decided after the round, reading its
    twin as the one-by-one order left it: every net steps and stops as on one core, to the float."""
    data = {s: get_dataset("digits", seed=s) for s in (0, 1)}
    plain, bn = Variant("s", "none", "normal_0.01", 0.05), Variant("s", "batch", "normal_0.01", 0.05)
    runs = [Run(plain, 0), Run(bn, 0), Run(plain, 1, until=0.3, twin=bn), Run(bn, 1, until=0.3)]
    out = {}
    for workers in (1, 2):
        for _, histories, _ in train_runs(runs, data, depth=2, width=8, activation="relu", epochs=6, batch_size=64,
                                          bn_momentum=0.1, control=RunControl(), workers=workers):
            pass
        out[workers] = [vars(h) for h in histories]
    assert out[2] == out[1]
    assert out[1][2]["steps"][-1] < out[1][0]["steps"][-1]  # the plain net's race at seed 1 was decided early


def test_the_bug_needs_a_trained_net():
    rows = [{"evaluation": "eval", "mode": "eval", "accuracy": 0.5},
            {"evaluation": "train, batches of 1", "mode": "train", "accuracy": 0.1}]
    assert TrainModeBug("m", rows, target=0.8).shows is None  # 50%: not trained enough to tell
    assert TrainModeBug("m", rows, target=0.4).shows is True
    rows[1]["accuracy"] = 0.45
    assert TrainModeBug("m", rows, target=0.4).shows is False
