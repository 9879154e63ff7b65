"""LoRA wrappers: identical at init, merged == unmerged, counts, rank limits, only A/B train."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnbp.lessons.transfer.lora import LoRAConv2d, LoRALinear, apply_lora, max_rank, merge_lora
from cnnbp.lessons.transfer.models import build_cnn, count_params


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _train_b(layer) -> None:
    with torch.no_grad():  # as if training had moved B away from zero
        layer.lora_b.copy_(torch.randn(layer.lora_b.shape, generator=gen(1)))


def test_conv_wrapper_equals_the_conv_at_init_and_its_merge_after():
    conv = nn.Conv2d(3, 8, 3, padding=1, stride=2)
    lora = LoRAConv2d(conv, rank=4, generator=gen())
    x = torch.rand(2, 3, 9, 9, generator=gen(2))
    assert torch.equal(lora(x), conv(x))
    _train_b(lora)
    assert not torch.allclose(lora(x), conv(x))
    merged = lora.merged()
    torch.testing.assert_close(merged(x), lora(x), rtol=1e-5, atol=1e-6)
    # the update has the rank asked for
    assert int(torch.linalg.matrix_rank(lora.delta().flatten(1))) == 4


def test_linear_wrapper_equals_the_layer_and_its_merge():
    lin = nn.Linear(10, 6)
    lora = LoRALinear(lin, rank=3, alpha=6.0, generator=gen())
    x = torch.rand(4, 10, generator=gen(2))
    assert torch.equal(lora(x), lin(x))
    _train_b(lora)
    torch.testing.assert_close(lora.merged()(x), lora(x))
    # by hand: W + (alpha / r) B A
    expected = x @ (lin.weight + 2.0 * lora.lora_b @ lora.lora_a).T + lin.bias
    torch.testing.assert_close(lora(x), expected)


def test_rank_larger_than_the_layer_is_refused():
    conv = nn.Conv2d(1, 16, 3)  # fan-in 9
    assert max_rank(conv) == 9
    with pytest.raises(ValueError, match=r"rank must be in \[1, 9\]"):
        LoRAConv2d(conv, rank=10, generator=gen())
    net = build_cnn(channels=1, num_classes=5, size=8, seed=0)
    before = [p.clone() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"LoRA rank 10 is larger than layer blocks.0.conv allows \(at most 9\)"):
        apply_lora(net, rank=10, generator=gen())
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # nothing was changed


def test_apply_lora_trains_only_a_b_and_the_head_and_merges_back():
    net = build_cnn(channels=1, num_classes=5, size=8, seed=0)
    x = torch.rand(3, 1, 8, 8, generator=gen(3))
    reference = net(x)
    wrapped = apply_lora(net, rank=2, generator=gen())
    assert wrapped == ["blocks.0.conv", "blocks.1.conv", "blocks.3.conv", "blocks.4.conv"]
    assert torch.equal(net(x), reference)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == {f"{w}.lora_{ab}" for w in wrapped for ab in "ab"} | {"head.weight", "head.bias"}
    # counts by hand: rank 2 x (fan-in + fan-out) per conv, plus the 32 x 5 + 5 head
    expected = 2 * ((9 + 16) + (144 + 16) + (144 + 32) + (288 + 32)) + 32 * 5 + 5
    assert count_params(net)[0] == expected
    for m in net.modules():
        if isinstance(m, LoRAConv2d):
            _train_b(m)
    out = net(x)
    merge_lora(net)
    assert not any(isinstance(m, LoRAConv2d) for m in net.modules())
    torch.testing.assert_close(net(x), out, rtol=1e-5, atol=1e-5)
