"""The dropout lesson's parts: seeded masks against torch's own dropout, the two conventions,
the expectation and its predicted sampling error, the training subset, the nets, MC dropout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.data import get_dataset
from cnnbp.data.subsets import balanced_quotas, balanced_subset
from cnnbp.lessons.dropout.masks import SeededDropout, apply_mask, draw_mask, dropout, eval_scale
from cnnbp.lessons.dropout.mc import mc_average
from cnnbp.lessons.dropout.mechanics import checkpoints, expectation, keep_fractions, lecture_net, mask_demo
from cnnbp.lessons.dropout.training import (
    DropoutNet,
    GapHistory,
    GapNarrowing,
    dropout_net_macs,
    gap_narrowing,
    train_gap,
)
from cnnbp.train import RunControl, evaluate


def torch_dropout(x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
    """torch's F.dropout with the global RNG seeded, restored afterwards (tests only)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return F.dropout(x, p, training=True)


# ---- masks against torch ----------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_masks_and_outputs_are_torchs_own_bit_for_bit(p):
    x = torch.randn(64, 300, generator=torch.Generator().manual_seed(1))
    ref = torch_dropout(x, p, seed=7)
    ours = dropout(x, p=p, generator=torch.Generator().manual_seed(7))
    assert torch.equal(ours, ref)
    assert torch.equal(draw_mask(x, p=p, generator=torch.Generator().manual_seed(7)).bool(), ref != 0)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.7])
def test_statistics_match_nn_dropout(p):
    x = torch.ones(200_000)
    theirs = nn.Dropout(p).train()
    with torch.random.fork_rng():
        torch.manual_seed(3)
        t = theirs(x)
    ours = SeededDropout(p, generator=torch.Generator().manual_seed(11))(x)  # another stream: statistics only
    se = math.sqrt(p * (1 - p) / len(x))
    for y in (t, ours):
        assert abs(float((y != 0).float().mean()) - (1 - p)) < 4 * se
        assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / (1 - p)))  # kept units scaled by 1/q
        assert abs(float(y.mean()) - 1.0) < 4 * se / (1 - p)  # the mean kept: inverted dropout
    assert theirs.eval()(x).equal(x) and SeededDropout(p, generator=torch.Generator()).eval()(x).equal(x)


def test_the_global_rng_is_never_touched():
    state = torch.get_rng_state()
    layer = SeededDropout(0.5, generator=torch.Generator().manual_seed(0))
    layer(torch.ones(1000))
    keep_fractions([0.3], units=64, passes=10, seed=0)
    assert torch.equal(torch.get_rng_state(), state)


def test_same_seed_same_masks_and_every_pass_a_new_one():
    x = torch.ones(4, 64)
    a = SeededDropout(0.5, generator=torch.Generator().manual_seed(5))
    b = SeededDropout(0.5, generator=torch.Generator().manual_seed(5))
    first, second = a(x), a(x)
    assert torch.equal(first, b(x)) and not torch.equal(first, second)


def test_the_lecture_convention_by_hand():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    assert apply_mask(x, mask, p=0.75).tolist() == [[4.0, 0.0, 12.0, 0.0]]  # kept / (1 - p)
    assert apply_mask(x, mask, p=0.75, convention="lecture").tolist() == [[1.0, 0.0, 3.0, 0.0]]
    g = torch.Generator()
    assert dropout(x, p=0.75, generator=g, training=False, convention="lecture").tolist() == [[0.25, 0.5, 0.75, 1.0]]
    assert eval_scale(0.75) == 1.0 and eval_scale(0.75, convention="lecture") == 0.25
    assert dropout(x, p=0.0, generator=g).equal(x)


@pytest.mark.parametrize("p", [1.0, -0.1, float("nan")])
def test_bad_p_is_refused(p):
    with pytest.raises(ValueError, match="drop probability"):
        SeededDropout(p, generator=torch.Generator())


def test_unknown_convention_is_refused():
    with pytest.raises(ValueError, match="unknown dropout convention 'keep'"):
        apply_mask(torch.ones(2), torch.ones(2), p=0.5, convention="keep")


# ---- mechanics ------------------------------------------------------------------------------

def test_keep_fractions_count_the_mask():
    keeps = {k.p: k for k in keep_fractions([0.0, 0.5, 0.9], units=256, passes=200, seed=0)}
    assert keeps[0.0].kept == 1.0 and keeps[0.0].z == 0.0
    for k in keeps.values():
        assert k.draws == 256 * 200 and abs(k.z) < 4
    assert keeps[0.5].std_error == pytest.approx(math.sqrt(0.25 / (256 * 200)))


def test_mask_demo_shows_the_mask_it_applied():
    net = lecture_net(inputs=64, hidden=32, outputs=10, seed=0)
    image = get_dataset("digits").x_test[0].flatten()
    demo = mask_demo(net, image, p=0.5, passes=3, seed=0)
    h = net.hidden(image[None])[0]
    assert torch.tensor(demo.eval_hidden).flatten().equal(h)
    for mask, dropped, keep in zip(demo.masks, demo.dropped_hidden, demo.keep_fraction):
        m = torch.tensor(mask).flatten()
        assert torch.allclose(torch.tensor(dropped).flatten(), h * m * 2.0)
        assert keep == float(m.mean()) and len(mask) == 2 and len(mask[0]) == 16
    assert demo.eval_is_identity and demo.eval_draws == 0


def test_checkpoints_run_from_one_to_all():
    assert checkpoints(1) == [1]
    ks = checkpoints(1000)
    assert ks[0] == 1 and ks[-1] == 1000 and ks == sorted(set(ks))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_expectation_keeps_the_mean_within_its_sampling_error(p):
    net = lecture_net(inputs=64, hidden=64, outputs=10, seed=0)
    x = get_dataset("digits").x_test[:16].flatten(1)
    e = expectation(net, x, p=p, passes=400, seed=0)
    assert e.ks == checkpoints(400)
    for name in ("inverted hidden", "inverted"):
        assert 0.8 < e.final[name] / e.predicted[name][-1] < 1.2
        assert e.errors[name][-1] < e.errors[name][0]
    assert e.predicted["inverted hidden"][-1] == pytest.approx(math.sqrt(p / ((1 - p) * 400)))
    assert e.final["lecture"] == pytest.approx(e.final["inverted"], rel=1e-4)  # the same net
    assert max(e.max_abs_diff.values()) < 1e-5
    assert e.final["lecture, no test scaling"] > 5 * e.final["lecture"]  # the scaling is needed
    if p == 0.5:  # drop = keep probability: the slide's two readings coincide
        assert e.final["lecture, scaled by drop p"] == e.final["lecture"]
    else:
        assert e.final["lecture, scaled by drop p"] > 5 * e.final["lecture"]


def test_expectation_hidden_mean_is_exact_for_every_mask_enumerated():
    """One image, two hidden units, p = 0.5: the four masks are equally likely; the mean of the
    inverted outputs over them is the eval output, by hand."""
    h = torch.tensor([2.0, 3.0])
    masks = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert apply_mask(h, masks, p=0.5).mean(0).tolist() == [2.0, 3.0]


# ---- training ---------------------------------------------------------------------------------

def test_balanced_subset_is_balanced_and_seeded():
    y = get_dataset("digits").y_train
    idx = balanced_subset(y, 53, num_classes=10, seed=0)
    counts = torch.bincount(y[idx], minlength=10).tolist()
    assert sum(counts) == 53 and max(counts) - min(counts) <= 1 and len(set(idx.tolist())) == 53
    assert torch.equal(idx, balanced_subset(y, 53, num_classes=10, seed=0))
    assert not torch.equal(idx, balanced_subset(y, 53, num_classes=10, seed=1))
    with pytest.raises(ValueError, match="class 0 has only"):
        balanced_subset(y[:30], 100, num_classes=10, seed=0)


def test_balanced_subset_takes_up_to_every_training_digit():
    # train_images allows up to 1437 (every digit), but class 8 has only 139: beyond 1390 the
    # smaller classes give all they have and the others share the rest (this used to raise)
    y = get_dataset("digits").y_train
    sizes = torch.bincount(y, minlength=10).tolist()
    for n in (1391, 1420, 1437):
        idx = balanced_subset(y, n, num_classes=10, seed=0)
        counts = torch.bincount(y[idx], minlength=10).tolist()
        assert sum(counts) == n == len(set(idx.tolist()))
        assert all(c == s or c >= max(counts) - 1 for c, s in zip(counts, sizes))
    assert torch.equal(balanced_subset(y, 1437, num_classes=10, seed=0), torch.arange(1437))
    # where the even split fits, the subset is the one it always was
    assert balanced_quotas(53, sizes) == [6, 6, 6, 5, 5, 5, 5, 5, 5, 5]


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_nets_share_their_start_and_differ_only_in_p(arch):
    a = DropoutNet((1, 8, 8), 10, arch=arch, width=32, depth=2, p=0.0, seed=0)
    b = DropoutNet((1, 8, 8), 10, arch=arch, width=32, depth=2, p=0.5, seed=0)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert [m.p for m in b.dropouts()] == [0.5, 0.5]
    x = torch.rand(4, 1, 8, 8)
    a.eval(), b.eval()
    assert torch.equal(a(x), b(x))  # inverted dropout: eval is the same net
    b.train()
    assert not torch.equal(a(x), b(x))


TINY_NETS = dict(arch="mlp", width=32, depth=1, train_images=40, epochs=3, batch_size=10, lr=0.05)


def test_training_is_reproducible_and_streams():
    data = {0: get_dataset("digits", seed=0)}
    runs = [list(train_gap(data, [0.0, 0.5], **TINY_NETS, control=RunControl())) for _ in range(2)]
    (first, *_), last = runs[0][0], runs[0][-1]
    assert first == 0.0 and last[0] == 1.0
    h0, h1 = [vars(h) for h in runs[0][-1][1][0]], [vars(h) for h in runs[1][-1][1][0]]
    assert h0 == h1
    assert h0[0]["steps"] == list(range(1, 13)) and h0[0]["eval_steps"][0] == 0
    trainer = runs[0][-1][2][0][0]
    assert h0[0]["test_accuracy"][-1] == evaluate(trainer.model, trainer.test_split)[1]
    assert h0[0]["loss"] != h0[1]["loss"]  # the masks change the batches' losses


def test_a_seeds_nets_are_the_same_whichever_seeds_train_beside_them():
    digits = {s: get_dataset("digits", seed=s) for s in (3, 4)}
    *_, (_, together, _) = train_gap(digits, [0.0, 0.5], **TINY_NETS, control=RunControl())
    *_, (_, alone, _) = train_gap({4: digits[4]}, [0.0, 0.5], **TINY_NETS, control=RunControl())
    assert [vars(h) for h in together[4]] == [vars(h) for h in alone[4]]
    assert [vars(h) for h in together[3]] != [vars(h) for h in alone[4]]  # another seed: another subset, init, order


@pytest.mark.parametrize("narrowing, narrows", [
    ([0.012, 0.03, 0.01], True),  # at least GAP_MARGIN (1 point) on every seed
    ([0.0, -0.02, -0.001], False),  # narrower on no seed
    ([0.02, 0.005, 0.03], None),  # one seed narrows by less than the margin: cannot tell
    ([0.05, -0.01, 0.02], None),  # the seeds disagree
    ([0.05, 0.05], None),  # two seeds are too few to tell
])
def test_the_gap_is_decided_over_seeds(narrowing, narrows):
    assert GapNarrowing(p=0.5, seeds=list(range(len(narrowing))), narrowing=narrowing).narrows is narrows


def test_a_seed_where_either_net_diverged_is_left_out():
    def net(p, test, diverged_at=None):
        return GapHistory(p=p, train_accuracy=[1.0], test_accuracy=[test], diverged_at=diverged_at)

    (n,) = gap_narrowing({0: [net(0, 0.8), net(0.5, 0.9)], 1: [net(0, 0.8, diverged_at=3), net(0.5, 0.9)],
                          2: [net(0, 0.8), net(0.5, 0.9, diverged_at=5)], 3: [net(0, 0.8), net(0.5, 0.8)]})
    assert n.seeds == [0, 3] and n.narrowing == pytest.approx([0.1, 0.0])
    assert gap_narrowing({0: [net(0.5, 0.9)]}) == []  # no p = 0: nothing to compare against


# ---- MC dropout ---------------------------------------------------------------------------------

def test_mc_without_dropout_is_the_eval_pass_exactly():
    net = DropoutNet((1, 8, 8), 10, arch="mlp", width=16, depth=2, p=0.0, seed=0)
    data = get_dataset("digits")
    r = mc_average(net, data.x_test[:50], data.y_test[:50], passes=5, seed=0)
    assert max(r.distance) < 1e-6 and r.accuracy == [r.eval_accuracy] * len(r.ks)  # float rounding of the mean
    assert r.eval_accuracy == evaluate(net, (data.x_test[:50], data.y_test[:50]))[1]


def test_mc_average_gets_closer_and_restores_the_model():
    net = DropoutNet((1, 8, 8), 10, arch="mlp", width=64, depth=1, p=0.5, seed=0)
    net.train()
    saved = [m.generator for m in net.dropouts()]
    state = saved[0].get_state()
    data = get_dataset("digits")
    r = mc_average(net, data.x_test[:100], data.y_test[:100], passes=64, seed=0)
    assert r.distance[-1] < r.distance[0] / 3 and r.ks[-1] == 64
    assert net.training and [m.generator for m in net.dropouts()] == saved
    assert torch.equal(saved[0].get_state(), state)  # training's mask stream is untouched
    again = mc_average(net, data.x_test[:100], data.y_test[:100], passes=64, seed=0)
    assert again.distance == r.distance and again.accuracy == r.accuracy


def test_mc_needs_dropout_layers():
    with pytest.raises(ValueError, match="SeededDropout"):
        mc_average(nn.Linear(2, 2), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), passes=2, seed=0)


def test_gap_bars_show_a_negative_gap_and_the_seeds_range():
    # drop_probs 0.8 on 20 digits for 5 epochs (seed 0) settles at a gap of -3.3%: the y range
    # started at 0 and hid that bar
    from cnnbp.lessons.dropout import figures as dplots

    fig = dplots.gap_bar_chart([0.0, 0.8], {"train accuracy": [[0.5], [0.4]], "test accuracy": [[0.45], [0.433]],
                                            "gap": [[0.05], [-0.033]]}, title="t")
    low, high = fig.layout.yaxis.range
    assert low < -0.033 and high == 1.12
    assert list(fig.data[2].y) == [0.05, -0.033] and not fig.data[2].error_y.visible
    assert tuple(dplots.gap_bar_chart([0.0], {"gap": [[0.1]]}, title="t").layout.yaxis.range) == (0, 1.12)
    fig = dplots.gap_bar_chart([0.5], {"gap": [[0.1, 0.2, 0.3]]}, title="t")  # three seeds: mean and range
    bar = fig.data[0]
    assert bar.y[0] == pytest.approx(0.2) and bar.error_y.visible
    assert bar.error_y.array[0] == pytest.approx(0.1) and bar.error_y.arrayminus[0] == pytest.approx(0.1)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_the_cost_model_counts_the_built_nets_multiply_adds(arch):
    net = DropoutNet((1, 8, 8), 10, arch=arch, width=32, depth=2, p=0.5, seed=0)
    counted = []

    def count(module, inputs, output):
        if isinstance(module, nn.Linear):
            counted.append(module.in_features * module.out_features)
        elif isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            counted.append(k * module.in_channels * module.out_channels * output.shape[2] * output.shape[3])

    for m in net.modules():
        m.register_forward_hook(count)
    net(torch.zeros(1, 1, 8, 8))
    assert sum(counted) == dropout_net_macs((1, 8, 8), 10, arch=arch, width=32, depth=2)
