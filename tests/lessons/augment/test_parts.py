"""Test-time views (count = forward passes, the crops by hand), ensembles by hand, flipped
labels on a hand-made model, the nets and their pairing, the gallery's rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnbp.data import get_dataset
from cnnbp.lessons.augment.ensemble import ensemble_curve
from cnnbp.lessons.augment.flips import flipped_names
from cnnbp.lessons.augment.gallery import gallery, label_note, source_images
from cnnbp.lessons.augment.training import (
    ArmHistory,
    Augmented,
    AugNet,
    aug_net_macs,
    gains,
    make_trainers,
    splits,
)
from cnnbp.lessons.augment.tta import TTAResult, predict_views, tta_views


class Counting(nn.Module):
    """Counts the images that pass through; predicts from the mean of the left and right halves."""

    def __init__(self):
        super().__init__()
        self.images = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += len(x)
        w = x.shape[-1] // 2
        return torch.stack([x[..., :w].mean((1, 2, 3)), x[..., w:].mean((1, 2, 3))], 1) * 10


def test_view_count_is_the_forward_passes_counted():
    views = tta_views([1.0, 0.9, 0.8], flips=True)
    assert len(views) == (1 + 5 + 5) * 2  # the whole image, 5 crops per smaller scale, each mirrored
    model, x = Counting(), torch.rand(7, 1, 8, 8)
    pred = predict_views(model, x, views, batch_size=3)
    assert model.images == pred.forward_passes == len(views) * 7
    assert pred.probabilities.shape == (len(views), 7, 2)


def test_the_whole_view_is_the_plain_prediction_and_a_mirror_swaps_halves():
    x = torch.zeros(1, 1, 4, 4)
    x[..., :2] = 1.0  # bright left half: class 0
    pred = predict_views(Counting(), x, tta_views([1.0], flips=True))
    assert pred.views == ["whole", "whole flipped"]
    whole, flipped = pred.probabilities[:, 0]
    assert whole.argmax() == 0 and flipped.argmax() == 1
    assert torch.allclose(pred.average, (whole + flipped)[None] / 2)


class Seen(nn.Module):
    """Keeps what it was shown; predicts two classes from nothing."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        return torch.zeros(len(x), 2)


def test_a_corner_crop_shows_that_corner():
    x = torch.zeros(1, 1, 10, 10)
    x[..., :5, :5] = 1.0  # only the top-left quarter is bright
    views = {v.name: v for v in tta_views([1.0, 0.5], flips=False)}
    model = Seen()
    predict_views(model, x, [views["0.5 top-left"], views["0.5 bottom-right"], views["0.5 centre"]])
    top_left, bottom_right, centre = model.seen
    # the outer rows and columns blend in the pixel beyond the box (test_augmentations: the crop box)
    assert torch.allclose(top_left[..., :9, :9], torch.ones(1, 1, 9, 9))
    assert torch.allclose(bottom_right[..., 1:, 1:], torch.zeros(1, 1, 9, 9))
    # the centre crop, upsampled 2x: the bright quarter's corner in its middle, blurred over 2 pixels
    assert float(centre[..., :4, :4].mean()) == pytest.approx(1.0)
    assert float(centre[..., 6:, :].abs().sum()) == 0.0 and float(centre[..., :, 6:].abs().sum()) == 0.0


def test_tta_outcome_and_the_claim_by_hand():
    r = lambda single, tta: TTAResult([0, 1, 2], single, tta, 11, 11_000)  # noqa: E731
    assert r([0.9] * 3, [0.91, 0.92, 0.905]).outcome == "raises"
    assert r([0.9] * 3, [0.901, 0.9, 0.899]).outcome == "ties"
    assert r([0.9] * 3, [0.91, 0.9, 0.9]).outcome == "raises or ties"
    assert r([0.9] * 3, [0.89, 0.88, 0.895]).raises_or_ties is False
    assert r([0.9] * 3, [0.91, 0.88, 0.9]).raises_or_ties is None
    assert r([0.2, 0.2, 0.2], [0.195, 0.195, 0.195]).outcome == "lowers"  # -0.5 points exactly: lowers
    assert TTAResult([0], [0.9], [0.95], 6, 6).raises_or_ties is None  # one seed cannot tell


def test_ensemble_average_by_hand():
    y = torch.tensor([0, 1, 1])
    p1 = torch.tensor([[0.6, 0.4], [0.6, 0.4], [0.3, 0.7]])  # right, wrong, right
    p2 = torch.tensor([[0.4, 0.6], [0.1, 0.9], [0.45, 0.55]])  # wrong, right, right
    curve = ensemble_curve([p1, p2], y)
    # average: [0.5, 0.5] (argmax picks class 0: right), [0.35, 0.65] right, [0.375, 0.625] right
    assert curve.members == pytest.approx([2 / 3, 2 / 3])
    assert curve.accuracy == pytest.approx([2 / 3, 1.0])
    assert curve.mean_member == pytest.approx(2 / 3) and curve.gain == pytest.approx(1 / 3)
    assert curve.beats is True
    assert ensemble_curve([p1], y).beats is None


class LeftOrRight(nn.Module):
    """Class 0 when the left half is brighter, else class 1."""

    def forward(self, x):
        w = x.shape[-1] // 2
        return torch.stack([x[..., :w].sum((1, 2, 3)), x[..., w:].sum((1, 2, 3))], 1)


def test_flipped_names_by_hand():
    x = torch.zeros(4, 1, 4, 4)
    x[:2, ..., :2] = 1.0  # bright left: class 0
    x[2:, ..., 2:] = 1.0  # bright right: class 1
    r = flipped_names(LeftOrRight(), x, torch.tensor([0, 0, 1, 1]), ["left", "right"])
    assert r.other_name == {"none": 0.0, "horizontal": 1.0, "vertical": 0.0, "both (180 deg)": 1.0}
    assert r.read_as["horizontal"] == ["right", "left"] and r.read_as["none"] == ["left", "right"]


def test_augnet_macs_and_shapes_for_every_dataset():
    for c, size, k in ((1, 28, 10), (1, 8, 10), (3, 32, 4)):
        net = AugNet(c, k, (size, size))
        assert net(torch.zeros(2, c, size, size)).shape == (2, k)
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        by_hand = (9 * c * convs[0].out_channels * size * size
                   + 9 * convs[0].out_channels * convs[1].out_channels * (size // 2) ** 2
                   + net.head.in_features * k)
        assert aug_net_macs(c, (size, size), k) == by_hand


def test_both_arms_start_alike_and_augmentation_acts_only_in_training():
    data = get_dataset("digits", seed=0)
    split = splits(data, train_images=50, test_images=100, seed=0)
    trainers, histories = make_trainers(data, split, [0, 1], ["rotate"], strength=0.5, epochs=1, batch_size=10,
                                        lr=0.01)
    assert [h.name for h in histories] == ["plain, seed 0", "augmented, seed 0", "plain, seed 1", "augmented, seed 1"]
    plain, augmented = trainers[0].model, trainers[1].model
    for a, b in zip(plain.net.parameters(), augmented.net.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(next(trainers[2].model.parameters()), next(plain.parameters()))
    x = split.test[0][:5]
    augmented.eval()
    assert torch.equal(augmented(x), augmented.net(x))
    augmented.train()
    assert not torch.equal(augmented(x), augmented.net(x))
    assert torch.bincount(split.train[1]).tolist() == [5] * 10  # balanced


def test_gains_pair_each_seed_and_leave_out_a_diverged_one():
    h = lambda arm, seed, acc, div=None: ArmHistory(arm=arm, seed=seed, test_accuracy=[acc], diverged_at=div)  # noqa
    r = gains([h("plain", 0, 0.90), h("augmented", 0, 0.93), h("plain", 1, 0.9), h("augmented", 1, 0.5, 3),
               h("plain", 2, 0.88), h("augmented", 2, 0.90), h("plain", 3, 0.8), h("augmented", 3, 0.82)])
    assert r.seeds == [0, 2, 3] and r.gains == pytest.approx([0.03, 0.02, 0.02])
    assert r.raises is True


def test_the_mixed_loss_is_used_in_training():
    net = Augmented(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), ["mixup"], strength=1.0,
                    generator=torch.Generator().manual_seed(0))
    logits = net(torch.rand(4, 1, 4, 4))
    y = torch.tensor([0, 1, 0, 1])
    assert net.last_mix is not None
    assert float(net.loss(logits, y).detach()) == pytest.approx(float(net.last_mix.loss(logits, y).detach()))


def test_gallery_rows_say_what_happens_to_the_label():
    data = get_dataset("digits", seed=0)
    images, source, dataset = source_images(data, dataset="digits", image_index=3, photo="none", image=None, count=4)
    assert torch.equal(images[0], data.x_test[3]) and dataset == "digits" and "test image 3" in source
    rows = gallery(images, ["hflip", "saturation", "mixup", "rotate"], dataset="digits", strength=0.5, seed=0)
    assert [r.name for r in rows] == ["hflip", "saturation", "mixup", "rotate"]
    assert rows[0].label.startswith("changes it") and rows[0].images.shape == (4, 8, 8, 3)
    assert rows[1].images is None and "RGB only" in rows[1].label
    assert rows[2].mix is not None and 0 <= rows[2].mix <= 1
    assert label_note("hflip", "fashion_mnist", 15).startswith("keeps it")
    assert "9" in label_note("rotate", "mnist", 90)
