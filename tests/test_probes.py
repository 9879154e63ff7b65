"""ActivationProbe and weight_grad_stats: statistics equal to those computed by hand on the
same forward pass, and hooks that always go away."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnbp.nn import ACTIVATIONS, SmallCNN
from cnnbp.nn.activations import peak_grad
from cnnbp.probes import HIST_BINS, ActivationProbe, ForwardHooks, LayerStats, histogram, summarize, weight_grad_stats


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def _dead_channel_net() -> nn.Sequential:
    """1x1 conv + ReLU with 3 channels: 0 always -1 (dead), 1 always +2, 2 copies input 0."""
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]).view(3, 2, 1, 1))
        net[0].bias.copy_(torch.tensor([-1.0, 2.0, 0.0]))
    return net


def test_hand_built_dead_channel() -> None:
    net, x = _dead_channel_net(), _x(4, 2, 3, 3)
    with ActivationProbe(net, activation="relu") as probe:
        h = net(x).detach()
    z = net[0](x).detach()
    s = probe.stats["1"]
    assert list(probe.stats) == ["1"] and s.layer == "1"
    assert s.mean == pytest.approx(float(h.mean()))
    assert s.std == pytest.approx(float(h.std()))
    assert s.min == 0.0 and s.max == pytest.approx(max(2.0, float(x[:, 0].max())))
    # channel 0 is all zeros, channel 1 never, channel 2 where x[:, 0] <= 0
    assert s.frac_zero == pytest.approx((36 + int((x[:, 0] <= 0).sum())) / 108)
    assert s.frac_saturated == pytest.approx(float((z <= 0).float().mean()))
    assert s.frac_saturated == s.frac_zero
    assert s.frac_dead_units == pytest.approx(1 / 3)
    assert s.mean_local_grad == pytest.approx(float((z > 0).float().mean()))
    assert sum(s.hist_counts) == h.numel() == 108
    assert len(s.hist_counts) == HIST_BINS and len(s.hist_edges) == HIST_BINS + 1
    assert s.hist_edges[0] == s.min and s.hist_edges[-1] == pytest.approx(s.max)
    assert s.grad_norm is None and s.grad_std is None


def test_hand_built_tanh_features_are_units() -> None:
    # (N, features): features 2 and 3 have |z| > 1.82 (f' < 0.1) on both samples
    z = torch.tensor([[0.0, 1.0, 3.0, -5.0], [0.5, -1.0, 4.0, 6.0]])
    net = nn.Sequential(nn.Tanh())
    with ActivationProbe(net, activation="tanh") as probe:
        net(z)
    s = probe.stats["0"]
    assert s.frac_saturated == 0.5 and s.frac_dead_units == 0.5
    assert s.frac_zero == pytest.approx(1 / 8)  # tanh(0)
    assert s.mean_local_grad == pytest.approx(float((1 - torch.tanh(z) ** 2).mean()))
    assert s.min == pytest.approx(math.tanh(-5)) and s.max == pytest.approx(math.tanh(6))


def test_one_saturated_position_does_not_make_a_unit_dead() -> None:
    z = torch.tensor([[5.0, 5.0], [5.0, 0.0]])  # unit 1 is saturated on sample 0 only
    s = summarize("t", torch.tanh(z), 1 - torch.tanh(z) ** 2)
    assert s.frac_saturated == 0.75 and s.frac_dead_units == 0.5


def _reference_outputs(net: nn.Module, x: torch.Tensor, types: tuple[type, ...]) -> dict[str, tuple]:
    """(input, output) of every activation module, captured by our own hooks."""
    seen: dict[str, tuple] = {}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, (i[0], o)))
               for n, m in net.named_modules() if isinstance(m, types)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return seen


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_stats_equal_direct_statistics_on_a_small_cnn(activation: str) -> None:
    torch.manual_seed(0)
    net = SmallCNN(1, 3, depth=3, width=4, activation=activation, image_size=8)
    x = _x(6, 1, 8, 8) * 2
    act_type = type(net.blocks[0].act)
    with ActivationProbe(net, activation=activation) as probe:
        with torch.no_grad():
            net(x)
    ref = _reference_outputs(net, x, (act_type,))
    assert sorted(probe.stats) == sorted(ref) == ["blocks.0.act", "blocks.1.act", "blocks.3.act"]
    for name, (z, h) in ref.items():
        s = probe.stats[name]
        assert s.mean == pytest.approx(float(h.mean()), abs=1e-6)
        assert s.std == pytest.approx(float(h.std()), rel=1e-5)
        assert (s.min, s.max) == (float(h.min()), float(h.max()))
        assert s.frac_zero == pytest.approx(float((h == 0).float().mean()))
        assert sum(s.hist_counts) == h.numel()
        if ACTIVATIONS[activation].elementwise:
            act = net.get_submodule(name)
            zz = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(act(zz).sum(), zz)  # f'(z) by autograd, not local_grad
            ratio = g.abs() / peak_grad(activation)
            assert s.frac_saturated == pytest.approx(float((ratio < 0.1).float().mean()))
            assert s.mean_local_grad == pytest.approx(float(ratio.mean()), rel=1e-5)
            dead = (ratio < 0.1).transpose(0, 1).flatten(1).all(1)
            assert s.frac_dead_units == pytest.approx(float(dead.float().mean()))
        else:  # maxout passes its winner's gradient: never saturated
            assert (s.frac_saturated, s.frac_dead_units, s.mean_local_grad) == (0.0, 0.0, 1.0)


def test_probe_does_not_change_the_output() -> None:
    torch.manual_seed(0)
    net, x = SmallCNN(1, 3, depth=2, width=4, activation="prelu", image_size=8), _x(4, 1, 8, 8)
    plain = net(x)
    with ActivationProbe(net, activation="prelu", track_grads=True):
        probed = net(x)
    assert torch.equal(plain, probed)


def test_only_the_latest_forward_is_kept() -> None:
    net = nn.Sequential(nn.ReLU())
    with ActivationProbe(net, activation="relu") as probe:
        net(torch.tensor([[1.0], [2.0]]))  # (N, units)
        net(torch.tensor([[-1.0], [5.0]]))
    assert (probe.stats["0"].mean, probe.stats["0"].frac_zero) == (2.5, 0.5)


def test_hooks_are_removed_on_exit() -> None:
    net = SmallCNN(1, 3, depth=2, width=4, image_size=8)
    with ActivationProbe(net, activation="relu"):
        assert sum(len(m._forward_hooks) for m in net.modules()) == 2
    assert _no_hooks(net)


def test_hooks_are_removed_when_the_body_raises() -> None:
    net = SmallCNN(1, 3, depth=2, width=4, image_size=8)
    with pytest.raises(RuntimeError, match="boom"):
        with ActivationProbe(net, activation="relu"):
            net(torch.zeros(2, 1, 8, 8))
            raise RuntimeError("boom")
    assert _no_hooks(net)


def test_hooks_are_removed_when_the_forward_raises() -> None:
    net = SmallCNN(1, 3, depth=2, width=4, image_size=8)
    with pytest.raises(RuntimeError):
        with ActivationProbe(net, activation="relu"):
            net(torch.zeros(2, 5, 8, 8))  # wrong channel count
    assert _no_hooks(net)


def test_other_hooks_are_left_alone() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    mine = net[1].register_forward_hook(lambda m, i, o: None)
    with ActivationProbe(net, activation="relu"):
        pass
    assert list(net[1]._forward_hooks) == [mine.id]


def test_no_activation_module() -> None:
    net = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no activation module"):
        with ActivationProbe(net, activation="relu"):
            pass
    assert _no_hooks(net)


def test_track_grads_records_the_gradient_at_each_activation() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 2))
    kept: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module, inputs, output):
            output.retain_grad()
            kept[name] = output
        return hook

    mine = [net[i].register_forward_hook(keep(str(i))) for i in (1, 3)]
    with ActivationProbe(net, activation="tanh", track_grads=True) as probe:
        loss = net(_x(8, 4)).pow(2).sum()
        loss.backward()
    for h in mine:
        h.remove()
    for name in ("1", "3"):
        grad = kept[name].grad
        assert probe.stats[name].grad_norm == pytest.approx(float(grad.norm()), rel=1e-6)
        assert probe.stats[name].grad_std == pytest.approx(float(grad.std()), rel=1e-6)
    assert _no_hooks(net)


def test_track_grads_without_backward_or_without_grad() -> None:
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh())
    with ActivationProbe(net, activation="tanh", track_grads=True) as probe:
        with torch.no_grad():
            net(_x(3, 4))
    assert probe.stats["1"].grad_norm is None


def test_weight_grad_stats_matches_param_grad() -> None:
    torch.manual_seed(0)
    net = SmallCNN(1, 3, depth=2, width=4, image_size=8)
    net.blocks[0].conv.weight.requires_grad_(False)  # a frozen layer has no gradient
    assert weight_grad_stats(net) == {}  # before any backward
    nn.functional.cross_entropy(net(_x(4, 1, 8, 8)), torch.tensor([0, 1, 2, 0])).backward()
    stats = weight_grad_stats(net)
    assert sorted(stats) == ["blocks.1.conv", "head"]
    for name, row in stats.items():
        g = net.get_submodule(name).weight.grad
        assert row == {"grad_norm": float(g.norm()), "grad_std": float(g.std())}


def test_histogram_counts_and_edges() -> None:
    v = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0, 1.0])
    counts, edges = histogram(v, bins=2)
    assert counts == [2, 4] and edges == [0.0, 0.5, 1.0]


def test_histogram_value_range_clamps_into_the_end_bins() -> None:
    v = torch.tensor([-5.0, -0.75, 0.75, 7.0])
    counts, edges = histogram(v, bins=4, value_range=(-1.0, 1.0))
    assert counts == [2, 0, 0, 2] and edges == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_histogram_of_a_constant_layer() -> None:
    counts, edges = histogram(torch.zeros(10))
    assert sum(counts) == 10 and sum(c > 0 for c in counts) == 1
    assert (edges[0], edges[-1]) == (-0.5, 0.5)


def test_probe_value_range_fixes_the_edges() -> None:
    net = nn.Sequential(nn.Tanh())
    with ActivationProbe(net, activation="tanh", value_range=(-1.0, 1.0)) as probe:
        net(_x(5, 7) * 3)
    s = probe.stats["0"]
    assert s.hist_edges[0] == -1.0 and s.hist_edges[-1] == 1.0 and sum(s.hist_counts) == 35


def test_as_row_is_plain_numbers_without_the_histogram() -> None:
    s = summarize("x", torch.tensor([[1.0, -1.0]]), torch.ones(1, 2))
    row = s.as_row()
    assert set(row) == {f for f in LayerStats.__dataclass_fields__} - {"hist_counts", "hist_edges"}
    assert all(v is None or isinstance(v, (str, float)) for v in row.values())
    assert s.std == pytest.approx(math.sqrt(2))
    assert summarize("one", torch.tensor([[3.0]]), torch.ones(1, 1)).std == 0.0


class _ShapeProbe(ForwardHooks):
    """The smallest probe of one's own: which modules, what to keep."""

    looked_for = "Linear"

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.shapes: dict[str, tuple] = {}

    def wants(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Linear)

    def on_forward(self, name, module, inputs, output) -> None:
        self.shapes[name] = tuple(output.shape)


def test_a_probe_of_its_own_says_only_which_modules_and_what_to_keep() -> None:
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))
    with _ShapeProbe(net) as probe:
        assert sum(len(m._forward_hooks) for m in net.modules()) == 2
        net(_x(5, 2))
    assert probe.shapes == {"0": (5, 3), "2": (5, 4)} and _no_hooks(net)
    with pytest.raises(ValueError, match="_ShapeProbe found no Linear module in the model"):
        with _ShapeProbe(nn.Sequential(nn.ReLU())):
            pass
