"""The images of a shipped set that most excite an EfficientNet-Lite0 channel: the peaks and the
receptive-field box on hand-built convs (worked by hand), then the lesson's part on the real network
against a brute-force recomputation of the chosen channel."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, validate_config
from cnnbp.lessons.visualise import imagenet_top as top
from cnnbp.lessons.visualise.explain import STAGES
from cnnbp.nn import imagenet
from cnnbp.train import RunControl

LESSON = LESSONS["visualise"]
MODEL = "efficientnet_lite0_imagenet"


class TwoConvs(nn.Module):
    """conv1: 3x3, stride 1, no padding, weights 1 (each unit sums its 3x3 patch of channel 0);
    conv2: 3x3, stride 2 on conv1's output: its unit (i, j) sees conv1's rows 2i..2i+2, so input
    rows 2i..2i+4."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 2, 3, bias=False)
        self.conv2 = nn.Conv2d(2, 1, 3, stride=2, bias=False)
        with torch.no_grad():
            self.conv1.weight.zero_()
            self.conv1.weight[:, 0] = 1.0
            self.conv2.weight.fill_(1.0)

    def forward_features(self, x):
        return self.conv2(self.conv1(x))


def test_peaks_and_positions_on_a_hand_built_conv():
    x = torch.zeros(3, 3, 7, 7)
    x[0, 0, 1, 1] = 1.0  # conv1 (5x5 map): 1 at the units whose patch holds (1, 1): rows 0-1, cols 0-1
    x[1, 0, 6, 6] = 2.0  # only unit (4, 4) sees it: 2
    peaks = top.all_stage_peaks(TwoConvs(), x, stages=("conv1",))["conv1"]
    assert peaks.size == (5, 5) and peaks.values.shape == (3, 2)
    assert peaks.values[:, 0].tolist() == [1.0, 2.0, 0.0]
    assert peaks.positions[1, 0] == 4 * 5 + 4  # flat index of (4, 4)
    assert peaks.positions[0, 0] == 0  # the first of the tied units (0, 0), (0, 1), (1, 0), (1, 1)


def test_the_box_is_the_units_receptive_field_where_every_path_is_open():
    net = TwoConvs()
    x = torch.rand(3, 9, 9)
    assert top.gradient_box(net, x, "conv1", 0, (2, 3)) == (2, 3, 4, 5)
    assert top.gradient_box(net, x, "conv2", 0, (1, 0)) == (2, 0, 6, 4)
    assert top.gradient_box(net, x, "conv2", 0, (1, 1)) == (2, 2, 6, 6)


pytestmark_real = pytest.mark.skipif(bool(imagenet.unavailable_reason()), reason=imagenet.unavailable_reason() or "")


@pytest.fixture(scope="module")
def run():
    cfg = validate_config(LESSON.config, {"model": MODEL, "parts": ["top_images"], "photo_stage": "blocks.1",
                                          "photo_channel": 5, "top_k": 6})
    frames = list(LESSON.run(cfg, RunControl()))
    return cfg, frames[-1]


@pytestmark_real
def test_the_stage_channel_counts_are_the_networks():
    x = imagenet.to_network_input(torch.rand(2, 1, 28, 28), size=top.TOP_SIZE)
    peaks = top.all_stage_peaks(imagenet.network(), x)
    assert tuple(top.STAGE_CHANNELS) == STAGES
    assert {s: p.channels for s, p in peaks.items()} == top.STAGE_CHANNELS


@pytestmark_real
def test_the_top_images_are_the_channels_strongest_recomputed_by_hand(run):
    cfg, final = run
    t = final.numbers["top_images"]
    assert (t["set"], t["images"], t["size"], t["stage"], t["channel"]) == ("fashion_mnist", 1000, 48, "blocks.1", 5)
    items = t["items"]
    acts = [it["activation"] for it in items]
    assert len(items) == 6 and acts == sorted(acts, reverse=True)
    # brute force: the channel's output for every image, one forward each for the six and for 50 others
    searched = top.searched_set("fashion_mnist", seed=cfg.seed)
    net, out = imagenet.network(), {}
    hook = dict(net.named_modules())["blocks.1"].register_forward_hook(lambda m, i, o: out.__setitem__("o", o))
    try:
        with torch.no_grad():
            for it in items:
                net.forward_features(top.network_input(searched.images[it["index"]:it["index"] + 1]))
                m = out["o"][0, 5]
                assert float(m.max()) == pytest.approx(it["activation"], rel=1e-4)
                assert float(m[tuple(it["unit"])]) == pytest.approx(it["activation"], rel=1e-4)
            net.forward_features(top.network_input(searched.images[:50]))
            assert float(out["o"][:, 5].flatten(1).max(1).values.max()) <= acts[0] * (1 + 1e-5)
    finally:
        hook.remove()
    # blocks.1 is a 12x12 map of the 48 px input (stride 4): each unit's box holds its own 4x4 cell
    for it in items:
        r, c = it["unit"]
        t0, l0, b0, r0 = it["box"]
        assert t0 <= 4 * r and 4 * r + 3 <= b0 and l0 <= 4 * c and 4 * c + 3 <= r0
        assert 4 <= b0 - t0 + 1 < 48 and 4 <= r0 - l0 + 1 < 48
        assert torch.tensor(it["crop"]).shape == (1, b0 - t0 + 1, r0 - l0 + 1)
    note = next(v for v in final.verdicts if v.label == "images that excite an ImageNet channel")
    assert note.passed is None and note.headline.startswith("blocks.1 ch 5: ") and " of 6 top images " in note.headline


@pytestmark_real
def test_another_channel_reads_the_cache(run):
    cfg, _ = run
    assert top.is_cached("fashion_mnist", seed=cfg.seed)
    other = validate_config(LESSON.config, {"model": MODEL, "parts": ["top_images"], "photo_stage": "bn2",
                                            "photo_channel": 1000, "top_k": 3})
    assert other.photo_top_seconds() == pytest.approx(3 * 0.03)
    final = list(LESSON.run(other, RunControl()))[-1]
    t = final.numbers["top_images"]
    searched = top.searched_set("fashion_mnist", seed=cfg.seed)
    assert [it["index"] for it in t["items"]] == [it.index for it in top.top_images(searched, "bn2", 1000, 3)]
    peaks = searched.peaks["bn2"].values[:, 1000]
    assert t["at_top"] == int((peaks == peaks.max()).sum()) >= 1
    note = next(v for v in final.verdicts if v.label == "images that excite an ImageNet channel")
    assert ("first of them by index" in note.text) == (t["at_top"] > 3)


def test_a_channel_beyond_the_stage_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"^photo_channel: photo_channel \(24\) must be below the 24 channels of "
                                          r"blocks.1 \(got 24\)$"):
        validate_config(LESSON.config, {"model": MODEL, "photo_stage": "blocks.1", "photo_channel": 24})
