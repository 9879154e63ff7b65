"""The batch augmentations against transforms.v2's functional ops on single images, counts by
hand, and the seeded streams (same seed, same batch; every image its own draw)."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from cnnbp.lessons.augment.augmentations import (
    AUGMENTATIONS,
    Mix,
    augment,
    blend,
    crop_box,
    displace,
    elastic_displacement,
    erase_masks,
    grey,
    mix,
    rotation,
    warp,
)

BILINEAR = InterpolationMode.BILINEAR


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_a_flip_of_a_known_tensor_is_exact():
    x = torch.arange(6.0).view(1, 1, 2, 3)  # [[0, 1, 2], [3, 4, 5]]
    flip = torch.eye(3, dtype=torch.float64)[None].clone()
    flip[0, 0, 0] = -1
    assert warp(x, flip).flatten().tolist() == pytest.approx([2, 1, 0, 5, 4, 3], abs=1e-5)
    assert torch.allclose(warp(x, flip), TF.horizontal_flip(x), atol=1e-5)


def test_rotation_by_90_degrees_is_rot90_and_v2s_rotate():
    x = torch.rand(2, 3, 6, 6)
    turned = warp(x, rotation(torch.tensor([90.0, 90.0])))
    assert torch.allclose(turned, torch.rot90(x, 1, (-2, -1)), atol=1e-5)
    assert torch.allclose(turned, TF.rotate(x, 90.0, interpolation=BILINEAR), atol=1e-5)


@pytest.mark.parametrize("angle", [-25.0, 7.0, 17.0])
def test_rotation_matches_v2_rotate_at_any_angle(angle):
    x = torch.rand(1, 1, 28, 28)
    ours = warp(x, rotation(torch.tensor([angle])))
    assert torch.allclose(ours, TF.rotate(x, angle, interpolation=BILINEAR), atol=1e-4)


def test_every_image_in_the_batch_gets_its_own_rotation():
    x = torch.rand(1, 1, 12, 12).expand(3, 1, 12, 12)
    ours = warp(x, rotation(torch.tensor([0.0, 90.0, 180.0])))
    assert torch.allclose(ours[0], x[0], atol=1e-5)
    assert torch.allclose(ours[1], torch.rot90(x[1], 1, (-2, -1)), atol=1e-5)
    assert torch.allclose(ours[2], torch.rot90(x[2], 2, (-2, -1)), atol=1e-5)


def test_a_crop_box_of_the_top_left_quarter_upsamples_it():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    half = torch.tensor([0.5], dtype=torch.float64)
    ours = warp(x, crop_box(half, half, -half, -half), padding="border")
    expected = TF.resized_crop(x, 0, 0, 2, 2, [4, 4], interpolation=BILINEAR, antialias=False)
    # the same where the samples fall inside the box; past its last pixel centre ours blends in the
    # image's next pixel (it is there), resized_crop repeats the box's edge
    assert torch.allclose(ours[..., :3, :3], expected[..., :3, :3], atol=1e-5)
    assert ours[0, 0, 0].tolist() == [0.0, 0.25, 0.75, 1.25]  # by hand: 1 -> 1.25 takes a quarter of pixel 2


def test_elastic_matches_v2_elastic_with_the_same_displacement():
    x = torch.rand(2, 1, 16, 16)
    d = elastic_displacement(2, (16, 16), 0.8, gen())
    ours = displace(x, d)
    for i in range(2):
        assert torch.allclose(ours[i], TF.elastic(x[i:i + 1], d[i:i + 1])[0], atol=1e-5)


@pytest.mark.parametrize("factor", [0.3, 1.0, 1.7])
def test_brightness_contrast_saturation_blend_as_v2(factor):
    x = torch.rand(1, 3, 8, 8)
    f = torch.tensor([factor])
    assert torch.allclose(blend(x, torch.zeros_like(x), f), TF.adjust_brightness(x, factor), atol=1e-6)
    mean = grey(x).mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(blend(x, mean, f), TF.adjust_contrast(x, factor), atol=1e-5)
    assert torch.allclose(blend(x, grey(x), f), TF.adjust_saturation(x, factor), atol=1e-5)


def test_erase_masks_are_boxes_on_about_half_the_images():
    masks = erase_masks(400, (10, 12), 1.0, gen())
    erased = masks.flatten(1).sum(1)
    assert 150 < int((erased > 0).sum()) < 250  # p = 0.5
    for m in masks[erased > 0][:20, 0]:  # a filled rectangle: its area = rows x cols it spans
        rows, cols = m.any(1).sum(), m.any(0).sum()
        assert int(m.sum()) == int(rows * cols)


def test_mixup_by_hand_and_its_loss_is_the_soft_label_cross_entropy():
    x = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    out, m = mix("mixup", x, 0.5, gen(3))
    assert torch.allclose(out[0], torch.full((1, 2, 2), 1 - m.lam))  # 0 mixed with the last image (1)
    assert torch.allclose(out[1], torch.full((1, 2, 2), m.lam))
    logits, y = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    soft = torch.tensor([[m.lam, 1 - m.lam], [1 - m.lam, m.lam]])
    by_hand = -(soft * logits.log_softmax(1)).sum(1).mean()
    assert float(m.loss(logits, y)) == pytest.approx(float(by_hand), rel=1e-6)


def test_cutmix_lam_is_the_share_of_pixels_kept():
    x = torch.stack([torch.zeros(1, 10, 10), torch.ones(1, 10, 10)])
    for seed in range(10):
        out, m = mix("cutmix", x, 1.0, gen(seed))
        assert 1 - float(out[0].mean()) == pytest.approx(m.lam)  # image 0's pasted box holds 1s


def test_the_same_seed_gives_the_same_batch_and_each_image_its_own_draw():
    x = torch.rand(1, 1, 28, 28).expand(6, 1, 28, 28).contiguous()
    for name, aug in AUGMENTATIONS.items():
        if aug.rgb_only or aug.kind == "mix":
            continue
        a = augment(x, [name], strength=0.7, generator=gen(1))
        assert torch.equal(a, augment(x, [name], strength=0.7, generator=gen(1))), name
        assert len({a[i].numpy().tobytes() for i in range(6)}) >= 2, f"{name}: one draw for the whole batch"


def test_consecutive_geometric_augmentations_are_one_warp():
    x = torch.rand(4, 1, 16, 16)
    g1, g2 = gen(5), gen(5)
    fused = augment(x, ["rotate", "translate"], strength=0.5, generator=g1)
    from cnnbp.lessons.augment.augmentations import GEOMETRIC
    r, t = GEOMETRIC["rotate"](4, 0.5, g2), GEOMETRIC["translate"](4, 0.5, g2)
    assert torch.allclose(fused, warp(x, r @ t), atol=1e-6)


def test_policies_apply_v2s_own_operations():
    from torchvision.transforms import v2

    from cnnbp.lessons.augment.augmentations import _apply_ops
    x = torch.rand(3, 1, 12, 12)
    policy = v2.RandAugment(interpolation="bilinear")
    out = _apply_ops(x, ["Rotate", "Identity", "Rotate"], torch.tensor([30.0, 0.0, -10.0]), policy)
    assert torch.allclose(out[0], TF.rotate(x[:1], 30.0, interpolation=BILINEAR)[0], atol=1e-6)
    assert torch.equal(out[1], x[1])
    assert torch.allclose(out[2], TF.rotate(x[2:], -10.0, interpolation=BILINEAR)[0], atol=1e-6)


def test_saturation_refuses_a_grey_batch_in_one_line():
    with pytest.raises(ValueError, match="saturation needs RGB images"):
        augment(torch.rand(2, 1, 8, 8), ["saturation"], strength=0.5, generator=gen())


def test_strength_zero_leaves_the_geometric_and_colour_ones_idle():
    x = torch.rand(4, 1, 12, 12)
    for name in ("crop", "translate", "rotate", "shear", "brightness", "contrast", "noise"):
        assert torch.allclose(augment(x, [name], strength=0.0, generator=gen()), x, atol=1e-5), name


def test_mix_loss_without_mixing_is_cross_entropy():
    logits, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    assert float(Mix(1.0).loss(logits, y)) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)))
    assert math.isfinite(float(Mix(0.3).loss(logits, y)))
