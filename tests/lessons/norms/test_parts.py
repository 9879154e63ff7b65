"""The norms lesson's pieces against PyTorch's own norms and hand-worked examples."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnbp.lessons.norms  # noqa: F401  (registers the lesson)
from cnnbp.data import ImageDataset
from cnnbp.device import make_generator
from cnnbp.lessons.norms import axes
from cnnbp.lessons.norms.batch_one import batch_one
from cnnbp.lessons.norms.contrast import contrast_invariance, first_layer
from cnnbp.lessons.norms.equivalences import equivalences
from cnnbp.lessons.norms.sync import (
    SimulatedDevicesBN2d,
    local_statistics,
    pooled_statistics,
    split_devices,
    statistics_noise,
)
from cnnbp.lessons.norms.training import RunSpec, build_model, set_groups, train_final
from cnnbp.nn import SmallCNN
from cnnbp.train import RunControl

SHAPES = [(4, 6, 3, 3), (2, 8, 1, 5), (1, 4, 2, 2)]


def _x(shape, seed=0, dtype=torch.float64):
    return torch.randn(shape, generator=make_generator(seed), dtype=dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", axes.KINDS)
def test_lit_cells_are_the_cells_torch_reads(kind, shape):
    """For every chosen cell, the set sharing its statistic = the inputs torch's norm reads there."""
    x = _x(shape)
    groups = 2
    if kind == "batch" and shape[0] * shape[2] * shape[3] == 1:
        pytest.skip("one value per channel: torch refuses batch statistics")
    n, c, h, w = shape
    for cell in [(0, 0, 0, 0), (n - 1, c - 1, h - 1, w - 1), (n // 2, c // 2, 0, w - 1)]:
        mine = axes.shared_with(kind, shape, cell, groups=groups)
        assert torch.equal(mine, axes.torch_dependence(x, kind, cell, groups=groups)), (kind, cell)


@pytest.mark.parametrize("kind", axes.KINDS)
def test_normalise_on_the_same_axes_matches_torch(kind):
    x = _x((3, 6, 4, 5), seed=1)
    assert torch.allclose(axes.normalise(x, kind, groups=3), axes.torch_norm(x, kind, groups=3), atol=1e-12)


def test_statistic_counts_by_hand():
    shape = (4, 6, 3, 3)  # 4 books, 6 pages, 9 words
    counts = {k: int(axes.statistic_index(k, shape, groups=3).unique().numel()) for k in axes.KINDS}
    assert counts == {"batch": 6, "layer": 4, "instance": 24, "group": 12}
    sizes = {k: int(axes.shared_with(k, shape, (1, 2, 0, 0), groups=3).sum()) for k in axes.KINDS}
    assert sizes == {"batch": 4 * 9, "layer": 6 * 9, "instance": 9, "group": 2 * 9}
    chapter = axes.shared_with("group", shape, (1, 2, 0, 0), groups=3)  # pages 2 and 3 of book 1
    assert chapter[1, 2:4].all() and chapter.sum() == chapter[1, 2:4].sum()


def test_groups_that_do_not_divide_name_both_numbers():
    with pytest.raises(ValueError, match=r"^groups \(3\) must divide the channels \(16\)$"):
        axes.check_groups(16, 3)
    with pytest.raises(ValueError, match="groups"):
        axes.statistic_index("group", (1, 6, 1, 1), groups=4)
    with pytest.raises(ValueError, match="unknown norm 'bogus'"):
        axes.statistic_index("bogus", (1, 6, 1, 1))


def test_equivalences_are_equal_to_rounding():
    result = equivalences(shape=(4, 8, 5, 5), seed=3)
    rows = result.rows
    assert len(rows) == 4 and result.equal
    x = torch.randn(4, 8, 5, 5, generator=make_generator(0))
    # the measurement itself: one pair recomputed directly
    with torch.no_grad():
        assert float((nn.GroupNorm(8, 8)(x) - F.instance_norm(x)).abs().max()) < 1e-5
    assert max(r["max_abs_diff"] for r in rows if r["dtype"] == "float64") < 1e-12


def test_contrast_instance_norm_is_invariant_batch_norm_is_not():
    g = make_generator(5)
    train, probe = torch.rand(64, 1, 8, 8, generator=g), torch.rand(8, 1, 8, 8, generator=g)
    r = contrast_invariance(train, probe, scale=0.5, shift=0.2, seed=0)
    assert r.change["instance"] < 1e-3 and r.instance_without_eps < 1e-5
    # BatchNorm in eval by hand: (f - mean) / sqrt(var + eps) with the fitted training statistics
    conv = first_layer(1, seed=0)
    with torch.no_grad():
        f_train, f0, f1 = conv(train), conv(probe), conv(0.5 * probe + 0.2)
    mean, var = f_train.mean((0, 2, 3), keepdim=True), f_train.var((0, 2, 3), keepdim=True)  # unbiased
    by_hand = lambda f: (f - mean) / torch.sqrt(var + 1e-5)  # noqa: E731
    assert r.change["batch"] == pytest.approx(float((by_hand(f1) - by_hand(f0)).abs().max()), rel=1e-4)
    assert r.change["batch"] > 0.1
    assert r.image_changed[0][0] == pytest.approx(0.5 * r.image[0][0] + 0.2)


def test_batch_one_is_refused_and_degenerate():
    r = batch_one(seed=0)
    assert r.refused and "Expected more than 1 value per channel" in r.error
    assert (r.centred_max, r.variance_max, r.output_spread, r.input_grad_max) == (0.0, 0.0, 0.0, 0.0)
    assert r.conv_accepted and r.conv_vs_instance < 1e-6


@pytest.mark.parametrize("n, devices", [(32, 8), (30, 7), (5, 8), (12, 1)])
def test_synchronised_simulation_is_whole_batch_batchnorm(n, devices):
    x = torch.randn(n, 4, 3, 3, generator=make_generator(n)).requires_grad_(True)
    sim, ref = SimulatedDevicesBN2d(4, devices=devices, sync=True), nn.BatchNorm2d(4)
    up = torch.randn(x.shape, generator=make_generator(1))
    a, b = sim(x), ref(x)
    (ga,) = torch.autograd.grad((a * up).sum(), x)
    (gb,) = torch.autograd.grad((b * up).sum(), x)
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(ga, gb, atol=1e-5)
    assert torch.allclose(sim.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(sim.running_var, ref.running_var, atol=1e-6)
    sim.eval(), ref.eval()
    assert torch.allclose(sim(x), ref(x), atol=1e-5)


def test_per_device_statistics_are_each_chunks_own():
    x = torch.randn(8, 3, 2, 2, generator=make_generator(2))
    sim = SimulatedDevicesBN2d(3, devices=4, sync=False)
    out = sim(x)
    for i in range(4):
        chunk = x[2 * i : 2 * i + 2]
        assert torch.allclose(out[2 * i : 2 * i + 2], F.batch_norm(chunk, None, None, training=True), atol=1e-5)
    first = x[:2]  # running statistics: device 0's (DDP broadcasts rank 0's buffers)
    assert torch.allclose(sim.running_mean, 0.1 * first.mean((0, 2, 3)), atol=1e-6)
    assert torch.allclose(sim.running_var, 0.9 + 0.1 * first.var((0, 2, 3)), atol=1e-6)


def test_pooled_statistics_and_noise_by_hand():
    x = torch.randn(6, 2, 2, 2, generator=make_generator(3), dtype=torch.float64)
    total, mean, var = pooled_statistics([local_statistics(c) for c in split_devices(x, 3)])
    assert total == 24 and torch.allclose(mean, x.mean((0, 2, 3)))
    assert torch.allclose(var, x.var((0, 2, 3), unbiased=False))
    assert [c.shape[0] for c in split_devices(x, 4)] == [2, 2, 1, 1] and len(split_devices(x[:2], 4)) == 2
    noise = statistics_noise(x, devices=3)
    m, s = x.mean((0, 2, 3)), x.std((0, 2, 3), unbiased=False)
    errs = torch.stack([(c.mean((0, 2, 3)) - m) / s for c in x.split(2)])
    assert noise["mean_error"] == pytest.approx(float(errs.pow(2).mean().sqrt()))
    assert statistics_noise(x, devices=1)["mean_error"] == 0.0 and noise["per_device_batch"] == 2


def test_set_groups_and_the_same_init_for_every_norm():
    data = ImageDataset("tiny", torch.rand(16, 1, 8, 8), torch.arange(16) % 2, torch.rand(4, 1, 8, 8),
                        torch.arange(4) % 2, classes=("a", "b"))
    gn = build_model(data, "group", depth=2, width=8, groups=2, seed=0)
    assert [m.num_groups for m in gn.modules() if isinstance(m, nn.GroupNorm)] == [2, 2]
    ln = set_groups(SmallCNN(1, 2, depth=2, width=8, norm="layer", image_size=8), 4)
    assert [m.num_groups for m in ln.modules() if isinstance(m, nn.GroupNorm)] == [1, 1]  # LayerNorm kept
    bn = build_model(data, "batch", depth=2, width=8, groups=2, seed=0)
    assert torch.equal(gn.blocks[0].conv.weight, bn.blocks[0].conv.weight)  # the norm does not change the draws
    # 11 channels: the registry's default GroupNorm has one group there; the chosen 11 groups must replace it
    prime = build_model(data, "group", depth=2, width=11, groups=11, seed=0)
    assert [m.num_groups for m in prime.modules() if isinstance(m, nn.GroupNorm)] == [11, 11]
    layer = build_model(data, "layer", depth=2, width=11, groups=11, seed=0)
    assert [m.num_groups for m in layer.modules() if isinstance(m, nn.GroupNorm)] == [1, 1]


def test_train_final_is_deterministic_and_stops():
    data = ImageDataset("tiny", torch.rand(32, 1, 8, 8, generator=make_generator(0)), torch.arange(32) % 2,
                        torch.rand(8, 1, 8, 8, generator=make_generator(1)), torch.arange(8) % 2, classes=("a", "b"))
    specs = [RunSpec("batch", 0, 4, 0.05), RunSpec("group", 0, 4, 0.05, devices=0)]
    def go(control):
        return list(train_final(data, specs, depth=2, width=4, groups=2, epochs=1, control=control))

    first, second = go(RunControl())[-1][1], go(RunControl())[-1][1]
    assert [r.as_dict() | {"seconds_per_epoch": 0} for r in first] == \
        [r.as_dict() | {"seconds_per_epoch": 0} for r in second]
    assert [len(r.steps) for r in first] == [8, 8] and all(r.final_accuracy is not None for r in first)
    assert go(RunControl(budget_s=0.0)) == []


@pytest.mark.parametrize("sync", [True, False])
def test_the_all_devices_at_once_path_equals_device_by_device(sync):
    x = torch.randn(16, 3, 2, 2, generator=make_generator(4)).requires_grad_(True)
    fast, slow = (SimulatedDevicesBN2d(3, devices=4, sync=sync) for _ in range(2))
    a, b = fast(x), slow._forward_chunks(x)
    (ga,) = torch.autograd.grad(a.square().sum(), x)
    (gb,) = torch.autograd.grad(b.square().sum(), x)
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(ga, gb, atol=1e-4)
    assert torch.allclose(fast.running_mean, slow.running_mean) and torch.allclose(fast.running_var, slow.running_var)
