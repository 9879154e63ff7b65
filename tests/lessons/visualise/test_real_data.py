"""The visualise lesson on the shipped MNIST / Fashion-MNIST (28x28, 5x5 kernels possible), the
accuracy of the model it explains, and each occlusion example marked right or wrong."""

from __future__ import annotations

import pytest

from cnnbp.claims import CLAIMS
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
from cnnbp.lessons.visualise.config import VisualiseConfig
from cnnbp.lessons.visualise.model import conv_blocks
from cnnbp.plots.common import unwrap
from tests.lessons.test_headlines import assert_headlines

LESSON = get_lesson("visualise")


def test_occlusion_examples_say_right_or_wrong_and_the_accuracy_is_shown(final):
    rows = final.numbers["occlusion"]["maps"]
    accuracy = final.numbers["model"]["test_accuracy"]
    assert all(r["right"] == (r["true"] == r["pred"]) for r in rows)
    fig = final.figures["occlusion"]
    titles = [a.text for a in fig.layout.annotations]
    for r in rows:
        mark = "RIGHT" if r["right"] else "WRONG"
        assert f"true {r['true']}, predicted {r['pred']} {mark}" in titles
    title = unwrap(fig.layout.title.text)
    assert f"{accuracy:.1%} test accuracy" in title
    assert f"{sum(r['right'] for r in rows)} of {len(rows)} examples here right" in title
    note = next(v for v in final.verdicts if v.label == "the model explained")
    assert note.passed is None and f"{accuracy:.1%}" in note.text
    assert list(final.tables["occlusion"]["right"]) == [r["right"] for r in rows]


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_the_shipped_28x28_sets_train_and_explain(dataset):
    settings = {"dataset": dataset, "epochs": 1, "models": 1, "kernel": 5, "parts": ["weights", "occlusion"],
                "window": 7, "stride": 7, "occlusion_images": 2}
    final = merge_frames(list(run_lesson("visualise", settings)))
    assert final.message.startswith("done"), final.message
    assert final.numbers["model"]["layer_shapes"][0][-1] == 28
    assert_headlines(final.verdicts)
    weights = final.numbers["filters"]["weights"]
    assert len(weights[0][0]) == 5 and len(weights[0][0][0]) == 5  # (F, 1, 5, 5)
    assert final.numbers["model"]["test_accuracy"] > 0.5  # one epoch of 8,000-10,000 images, 10 classes
    assert len(final.numbers["occlusion"]["maps"][0]["p_true"]) == 4  # (28 - 7) // 7 + 1


def test_kernel_setting():
    cfg = VisualiseConfig(dataset="mnist", kernel=5)
    assert cfg.train_settings().kernel == 5 and cfg.forward_flops() > VisualiseConfig(dataset="mnist").forward_flops()
    with pytest.raises(ConfigError, match="kernel"):
        validate_config(VisualiseConfig, {"kernel": 4})
    from cnnbp.lessons.visualise.model import build_model, load_data

    model = build_model(load_data("digits", seed=0), cfg.train_settings())
    assert conv_blocks(model)[0].conv.kernel_size == (5, 5)


def test_real_data_claims_are_registered_beside_the_toy_ones():
    for toy, real in (("visualise.filters_smoother", "visualise.filters_smoother_mnist"),
                      ("visualise.occlusion_on_object", "visualise.occlusion_on_object_mnist")):
        assert toy in CLAIMS and real in CLAIMS and CLAIMS[real].lesson == "visualise"


def test_imagenet_features_projected_beside_the_small_cnns():
    from cnnbp.nn import imagenet

    if imagenet.unavailable_reason():
        pytest.skip(imagenet.unavailable_reason())
    final = merge_frames(list(run_lesson("visualise", {"dataset": "digits", "epochs": 1, "models": 1,
                                                      "parts": ["embeddings"], "methods": ["pca"],
                                                      "embed_points": 60, "imagenet_features": True})))
    entries = final.numbers["embeddings"]["projections"]
    assert [e["features"] for e in entries] == ["cnn", "pixels", "imagenet"]
    titles = [a.text for a in final.figures["embeddings"].layout.annotations]
    assert any(t.startswith("imagenet, pca: k-NN") for t in titles)
    note = next(v for v in final.verdicts if v.label == "ImageNet features in 2-D")
    assert f"ImageNet {entries[2]['knn_accuracy']:.1%}" in note.text and note.passed is None
