"""SmallCNN and DeepMLP: every activation x norm builds, shapes are as documented."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnbp.nn import ACTIVATIONS, NORMS, DeepMLP, SmallCNN
from cnnbp.nn.models import ConvBlock


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("size", [8, 32])
@pytest.mark.parametrize("norm", sorted(NORMS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_small_cnn_every_activation_and_norm(activation: str, norm: str, size: int) -> None:
    net = SmallCNN(3, 5, depth=4, width=4, activation=activation, norm=norm, image_size=size)
    x = _x(2, 3, size, size)
    logits = net(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    # pooling after blocks 1 and 3 doubles the width twice; the last block has 4 * 2 channels
    assert net.feature_dim == 8
    assert net.features(x).shape == (2, 8)


@pytest.mark.parametrize("position", ["before_act", "after_act"])
@pytest.mark.parametrize("norm", sorted(set(NORMS) - {"none"}))
def test_maxout_norm_sees_the_right_channel_count(norm: str, position: str) -> None:
    block = ConvBlock(3, 4, kernel=3, activation="maxout", norm=norm, norm_position=position)
    assert block.conv.out_channels == 8  # two pieces per output channel
    norm_channels = 8 if position == "before_act" else 4
    assert block.norm.weight.shape == (norm_channels,)
    assert block(_x(2, 3, 6, 6)).shape == (2, 4, 6, 6)


@pytest.mark.parametrize("position", ["before_act", "after_act"])
def test_conv_block_order(position: str) -> None:
    block = ConvBlock(2, 3, kernel=3, activation="relu", norm="layer", norm_position=position)
    x = _x(2, 2, 5, 5)
    z = block.conv(x)
    expected = block.act(block.norm(z)) if position == "before_act" else block.norm(block.act(z))
    assert torch.equal(block(x), expected)
    if position == "after_act":  # normalised after the ReLU: negative values come back
        assert (block(x) < 0).any()
    else:
        assert (block(x) >= 0).all()


@pytest.mark.parametrize("norm, has_bias", [("none", True), ("batch", False), ("group", False)])
def test_conv_bias_only_without_norm(norm: str, has_bias: bool) -> None:
    block = ConvBlock(2, 3, kernel=3, activation="relu", norm=norm)
    assert (block.conv.bias is not None) == has_bias  # a norm's shift makes a bias redundant


@pytest.mark.parametrize("depth, size, feature_dim, pools", [
    # the width doubles for the blocks *after* a pooling
    (1, 32, 4, 0), (2, 32, 4, 1), (3, 32, 8, 1), (4, 32, 8, 2), (5, 32, 16, 2), (6, 32, 16, 3),
    (6, 8, 16, 2),  # 8 -> 4 -> 2: the third pooling is skipped below 4 px
    (2, 2, 4, 0),
])
def test_small_cnn_pooling_and_width(depth: int, size: int, feature_dim: int, pools: int) -> None:
    net = SmallCNN(1, 3, depth=depth, width=4, image_size=size)
    assert net.feature_dim == feature_dim
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.blocks) == pools
    x = _x(2, 1, size, size)
    assert net.blocks(x).shape == (2, feature_dim, size >> pools, size >> pools)
    assert net.features(x).shape == (2, feature_dim)
    assert net(x).shape == (2, 3)


def test_features_are_the_global_average_of_the_blocks() -> None:
    net = SmallCNN(1, 3, depth=2, width=4, image_size=8)
    x = _x(2, 1, 8, 8)
    torch.testing.assert_close(net.features(x), net.blocks(x).mean(dim=(2, 3)))
    torch.testing.assert_close(net(x), net.head(net.features(x)))


def test_avg_pooling_and_kernel_5() -> None:
    net = SmallCNN(1, 3, depth=2, width=4, kernel=5, pooling="avg", image_size=8)
    assert isinstance(net.blocks[2], nn.AvgPool2d) and net.blocks[0].conv.kernel_size == (5, 5)
    assert net(_x(2, 1, 8, 8)).shape == (2, 3)


def test_act_options_reach_every_block() -> None:
    net = SmallCNN(1, 3, depth=3, width=4, activation="leaky_relu", act_options={"slope": 0.2})
    slopes = [m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2, 0.2, 0.2]


def test_dropout_is_off_in_eval() -> None:
    net = SmallCNN(1, 3, depth=2, width=4, dropout=0.5, image_size=8).eval()
    x = _x(4, 1, 8, 8)
    assert torch.equal(net(x), net(x))


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": 0}, "depth must be >= 1, got 0"),
    ({"depth": -1}, "depth must be >= 1, got -1"),
    ({"kernel": 4}, "kernel must be odd"),
    ({"kernel": 2}, "got 2"),
    ({"activation": "softsign"}, "unknown activation"),
    ({"norm": "weight"}, "unknown norm"),
])
def test_small_cnn_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SmallCNN(1, 3, **kwargs)


def test_small_cnn_unknown_pooling() -> None:
    with pytest.raises(ValueError, match="unknown pooling 'median'; choose from max, avg"):
        SmallCNN(1, 3, pooling="median")  # type: ignore[arg-type]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("depth", [1, 3])
def test_deep_mlp_shapes(activation: str, depth: int) -> None:
    pieces = ACTIVATIONS[activation].width_factor
    net = DeepMLP(10, width=6, depth=depth, activation=activation)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == \
        [(10, 6 * pieces)] + [(6, 6 * pieces)] * (depth - 1)
    assert all(m.bias is None for m in linears)
    assert net.head is None
    assert net(_x(5, 10)).shape == (5, 6)


def test_deep_mlp_with_head() -> None:
    net = DeepMLP(10, width=6, depth=2, activation="maxout", num_outputs=3)
    x = _x(5, 10)
    assert net(x).shape == (5, 3)
    torch.testing.assert_close(net(x), net.head(net.hidden(x)))


def test_deep_mlp_is_layers_then_acts() -> None:
    net = DeepMLP(4, width=3, depth=2, activation="tanh")
    with torch.no_grad():
        for m in net.hidden:
            if isinstance(m, nn.Linear):
                m.weight.fill_(0.5)
    x = torch.tensor([[1.0, -1.0, 2.0, 0.0]])
    h1 = torch.tanh(torch.full((1, 3), 0.5 * 2.0))  # 0.5 * (1 - 1 + 2 + 0)
    torch.testing.assert_close(net(x), torch.tanh(0.5 * h1.sum(1, keepdim=True)).expand(1, 3))


@pytest.mark.parametrize("depth, width", [(0, 4), (-1, 4), (2, 0)])
def test_deep_mlp_bad_depth_or_width(depth: int, width: int) -> None:
    # depth 0 would return the input itself, (N, in_features), not (N, width)
    with pytest.raises(ValueError, match=f"depth={depth}, width={width}"):
        DeepMLP(8, width=width, depth=depth, num_outputs=3)
