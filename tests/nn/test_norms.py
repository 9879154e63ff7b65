"""The normalisation registry: every norm builds as create_norm(name, C), and normalises
over the axes it claims, checked against reference formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.nn.norms import DEFAULT_GROUPS, NORMS, _groups_for, create_norm

EPS = 1e-5  # torch's default for every norm in the registry


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * 3 + 1  # not already normalised


@pytest.mark.parametrize("name", sorted(NORMS))
@pytest.mark.parametrize("channels", [1, 6, 16])
def test_every_norm_builds_from_channels_and_keeps_the_shape(name: str, channels: int) -> None:
    norm = create_norm(name, channels)
    x = _x(4, channels, 5, 3)
    assert norm(x).shape == (4, channels, 5, 3)


@pytest.mark.parametrize("name", sorted(set(NORMS) - {"none"}))
def test_every_norm_has_a_per_channel_affine(name: str) -> None:
    norm = create_norm(name, 6)
    assert norm.weight.shape == (6,) and norm.bias.shape == (6,)
    assert torch.equal(norm.weight, torch.ones(6)) and torch.equal(norm.bias, torch.zeros(6))


def test_none_is_the_identity() -> None:
    x = _x(2, 3, 4, 4)
    assert torch.equal(create_norm("none", 3)(x), x)


def _normalise(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """(x - mean) / sqrt(biased var + eps) over ``dims``: the definition shared by all norms."""
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + EPS)


def test_batch_norm_in_training_averages_over_n_h_w() -> None:
    x = _x(8, 4, 3, 3)
    torch.testing.assert_close(create_norm("batch", 4).train()(x), _normalise(x, (0, 2, 3)),
                               rtol=1e-5, atol=1e-5)


def test_layer_norm_equals_f_layer_norm_over_c_h_w() -> None:
    x = _x(3, 6, 4, 5)
    got = create_norm("layer", 6)(x)
    assert isinstance(create_norm("layer", 6), nn.GroupNorm)
    assert (got - F.layer_norm(x, (6, 4, 5), eps=EPS)).abs().max() < 1e-5
    assert (got - _normalise(x, (1, 2, 3))).abs().max() < 1e-5


def test_instance_norm_averages_over_h_w() -> None:
    x = _x(3, 6, 4, 5)
    assert (create_norm("instance", 6)(x) - _normalise(x, (2, 3))).abs().max() < 1e-5


@pytest.mark.parametrize("channels, groups", [(16, 8), (12, 4), (6, 6), (6, 1)])
def test_group_norm_equals_hand_written_group_normalisation(channels: int, groups: int) -> None:
    x = _x(3, channels, 4, 4, seed=channels)
    norm = create_norm("group", channels, groups=groups)
    with torch.no_grad():  # a non-trivial affine, applied per channel after normalising
        norm.weight.copy_(torch.linspace(0.5, 2.0, channels))
        norm.bias.copy_(torch.linspace(-1.0, 1.0, channels))
    # (N, C, H, W) -> (N, G, C/G * H * W): normalise each group of consecutive channels
    grouped = x.reshape(3, groups, -1)
    expected = _normalise(grouped, (2,)).reshape_as(x)
    expected = expected * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)
    assert norm.num_groups == groups
    assert (norm(x) - expected).abs().max() < 1e-5


def test_group_default_groups() -> None:
    assert create_norm("group", 32).num_groups == DEFAULT_GROUPS == 8
    assert create_norm("group", 4).num_groups == 4  # fewer channels than groups: one per group


@pytest.mark.parametrize("channels, groups, expected", [
    (12, 8, 6), (12, 5, 4), (16, 8, 8), (7, 8, 7), (7, 6, 1), (1, 8, 1), (30, 32, 30),
])
def test_groups_round_down_to_a_divisor(channels: int, groups: int, expected: int) -> None:
    assert _groups_for(channels, groups) == expected
    assert create_norm("group", channels, groups=groups).num_groups == expected
    assert channels % expected == 0


def test_unknown_norm_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown norm 'weight'") as err:
        create_norm("weight", 8)
    for name in NORMS:
        assert name in str(err.value)


@pytest.mark.parametrize("name", sorted(set(NORMS) - {"group"}))
def test_options_on_a_norm_without_options(name: str) -> None:
    with pytest.raises(ValueError, match=rf"norm '{name}' takes no options, got \['groups'\]"):
        create_norm(name, 8, groups=2)


@pytest.mark.parametrize("channels", [0, -3])
def test_no_channels(channels: int) -> None:
    with pytest.raises(ValueError, match=f"at least one channel, got {channels}"):
        create_norm("batch", channels)


def test_unknown_group_norm_option() -> None:
    # a ValueError naming the one option, not group_norm()'s TypeError
    with pytest.raises(ValueError, match=r"only the option groups, got \['foo'\]"):
        create_norm("group", 8, foo=2)


@pytest.mark.parametrize("groups", [0, -2])
def test_group_count_below_one(groups: int) -> None:
    # not silently clamped to one group
    with pytest.raises(ValueError, match=f"groups={groups}"):
        create_norm("group", 8, groups=groups)
