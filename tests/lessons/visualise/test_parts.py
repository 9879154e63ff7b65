"""The visualise lesson's parts, each against a hand-worked answer or a direct computation:
occlusion on a hand-weighted linear model, batched = one forward per position, receptive fields
against the gradient of a unit, smoothness and roughness against numpy, top images against a
brute-force search, projections above chance on a separable toy set, UMAP's readiness flag."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from cnnbp.lessons.visualise import embeddings as emb
from cnnbp.lessons.visualise.estimate import estimate
from cnnbp.lessons.visualise.features import channel_peaks, dead_channels, feature_maps
from cnnbp.lessons.visualise.filters import Smoothing, neighbour_correlation, smoothing
from cnnbp.lessons.visualise.model import conv_channels, layer_outputs, receptive_field
from cnnbp.lessons.visualise.occlusion import (
    ObjectEffect,
    ObjectTest,
    attribution,
    check_window,
    fill_images,
    mass_inside,
    object_vs_background_drop,
    occlusion,
    occlusion_scores,
    pointing_hits,
)
from cnnbp.lessons.visualise.synthesis import maximise, roughness
from cnnbp.lessons.visualise.top_images import top_images
from cnnbp.nn import SmallCNN
from cnnbp.nn.inits import init_model


def seeded_cnn(in_channels: int, classes: int, *, seed: int = 0, **kw) -> SmallCNN:
    """A SmallCNN whose weights come from a seeded stream, not torch's global RNG (test order
    must not change the numbers)."""
    net = SmallCNN(in_channels, classes, **kw)
    return init_model(net, "kaiming", "relu", generator=torch.Generator().manual_seed(seed))


# ---- occlusion ------------------------------------------------------------------------------

def linear_model(x: torch.Tensor) -> torch.Tensor:
    """Two hand-weighted "classes" on 1x4x4 inputs: class 0 sums the top-left 2x2 quadrant,
    class 1 sums every pixel. (B, 1, 4, 4) -> (B, 2)."""
    w0 = torch.zeros(4, 4)
    w0[:2, :2] = 1.0
    return torch.stack([(x[:, 0] * w0).sum((1, 2)), x[:, 0].sum((1, 2))], dim=1)


def test_occlusion_matches_the_hand_worked_answer_stride_2():
    # Image of ones, grey (0.5) 2x2 windows at stride 2: hiding the top-left quadrant costs class 0
    # 4 x 0.5 = 2; any window costs class 1 2. Each pixel is covered by exactly one window.
    x = torch.ones(1, 1, 4, 4)
    a0 = occlusion(linear_model, x, target=torch.tensor([0]), window=2, stride=2, fill="grey")
    expected0 = torch.zeros(1, 1, 4, 4)
    expected0[0, 0, :2, :2] = 2.0
    assert torch.equal(a0, expected0)
    a1 = occlusion(linear_model, x, target=torch.tensor([1]), window=2, stride=2, fill="grey")
    assert torch.equal(a1, torch.full((1, 1, 4, 4), 2.0))


def test_occlusion_matches_the_hand_worked_answer_stride_1():
    # 3x3 positions. Class 0 drops 0.5 per hidden top-left pixel: position (0,0) 2.0, (0,1) and
    # (1,0) 1.0, (1,1) 0.5, the rest 0. A pixel averages the windows covering it:
    # (0,0): 2.0 | (0,1): (2 + 1) / 2 | (1,1): (2 + 1 + 1 + 0.5) / 4 | (3,3): 0.
    x = torch.ones(1, 1, 4, 4)
    result = occlusion_scores(linear_model, x, window=2, stride=1, fill="grey")
    drops = (result.base[0, 0] - result.scores[0, :, 0]).view(3, 3)
    assert torch.allclose(drops, torch.tensor([[2.0, 1.0, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 0.0]]))
    a = attribution(result, torch.tensor([0]), channels=1)[0, 0]
    assert a[0, 0] == 2.0 and a[0, 1] == 1.5 and a[1, 1] == 1.125 and a[3, 3] == 0.0
    assert a.shape == x.shape[2:]


def test_explainer_returns_the_input_shape_for_rgb():
    x = torch.rand(3, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    forward = lambda t: t.mean(dim=(2, 3))  # noqa: E731  3 "classes": the channel means
    a = occlusion(forward, x, target=torch.tensor([0, 1, 2]), window=3, stride=1, fill="mean")
    assert a.shape == x.shape
    assert torch.equal(a[:, 0], a[:, 1]) and torch.equal(a[:, 1], a[:, 2])  # the window spans all channels


@pytest.mark.parametrize("fill", ["grey", "mean", "blur"])
def test_batched_equals_one_forward_per_position(fill):
    net = seeded_cnn(3, 4, depth=2, width=4, image_size=16).eval()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    forward = lambda t: torch.softmax(net(t), dim=1)  # noqa: E731
    with torch.no_grad():
        batched = occlusion_scores(forward, x, window=4, stride=2, fill=fill, batch_size=1024)
        naive = occlusion_scores(forward, x, window=4, stride=2, fill=fill, batch_size=1)
    assert batched.scores.shape == (2, 49, 4)
    assert torch.allclose(batched.scores, naive.scores, atol=1e-6)


def test_fills():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(fill_images(x, "grey"), torch.full_like(x, 0.5))
    assert torch.allclose(fill_images(x, "mean")[:, :, 3, 5], x.mean(dim=(2, 3)))
    blurred = fill_images(x, "blur")
    assert blurred.shape == x.shape and torch.allclose(blurred.mean(), x.mean(), atol=0.02)
    assert float(blurred.std()) < float(x.std())  # smoother
    flat = torch.full((1, 1, 8, 8), 0.3)
    assert torch.allclose(fill_images(flat, "blur"), flat)


@pytest.mark.parametrize("window, stride, fragment", [(0, 1, "window (0)"), (9, 1, "window (9)"),
                                                      (3, 4, "stride (4)"), (3, 0, "stride (0)"),
                                                      (2.5, 1, "window (2.5)")])
def test_bad_window_or_stride_names_the_value(window, stride, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        check_window((8, 8), window=window, stride=stride)
    with pytest.raises(ValueError, match="window|stride"):
        occlusion(linear_model, torch.ones(1, 1, 8, 8), target=torch.tensor([0]), window=window, stride=stride)


def test_mass_inside_pointing_and_object_vs_background():
    attr = torch.tensor([[[3.0, -1.0], [1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[[True, True], [False, False]], [[True, False], [False, False]]])
    mass = mass_inside(attr, mask)
    assert mass[0] == 0.75 and torch.isnan(mass[1])
    assert pointing_hits(attr, mask).tolist() == [True, True]  # image 2: argmax of zeros is pixel 0
    # windows: the 4 single pixels of a 2x2 image; object = the top row
    windows = torch.eye(4, dtype=torch.bool).view(4, 2, 2)
    drop = torch.tensor([[0.4, 0.2, 0.1, 0.0]])
    obj, bg, n_obj, n_bg = object_vs_background_drop(drop, windows, mask[:1])
    assert (obj, n_obj, n_bg) == (pytest.approx(0.3), 2, 2) and bg == pytest.approx(0.05)


# ---- the lines: 95% intervals over repeats ---------------------------------------------------

def test_estimate_is_the_t_interval_and_decides_only_beyond_it():
    values = [0.076, 0.031, 0.081, 0.046, 0.026]  # the digits filters' change at seeds 0-4
    e = estimate(values)
    low, high = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (e.low, e.high, e.n) == (pytest.approx(low), pytest.approx(high), 5) and e.positive is True
    assert estimate([-v for v in values]).positive is False
    assert estimate([0.05, -0.04, 0.01]).positive is None  # holds 0
    one = estimate([0.3])
    assert one.positive is None and one.half_width is None and one.said() == "+0.300"
    assert estimate([0.2, 0.2]).positive is True  # no spread: the interval is the point
    with pytest.raises(ValueError, match="at least one"):
        estimate([])


def test_smoothing_is_decided_over_the_models_changes():
    init, trained = [-0.136, -0.062, -0.086, -0.232, -0.091], [-0.060, -0.031, -0.005, -0.186, -0.065]  # seeds 0-4
    s = Smoothing(init, trained)
    changes = [t - i for i, t in zip(init, trained)]
    assert s.change == estimate(changes) and s.smoother is True
    assert Smoothing(init[:3], trained[:3]).smoother is None  # 3 models: the interval (t, 2 df) still holds 0
    assert Smoothing(init=[-0.1], trained=[0.5]).smoother is None  # one model cannot tell
    smooth = torch.nn.functional.avg_pool2d(torch.randn(8, 1, 5, 5, generator=torch.Generator().manual_seed(8)),
                                            3, stride=1)
    noise = torch.randn(8, 1, 3, 3, generator=torch.Generator().manual_seed(9))
    pairs = smoothing([(noise, smooth), (noise, smooth)])
    assert pairs.init == [neighbour_correlation(noise)] * 2 and pairs.trained == [neighbour_correlation(smooth)] * 2


def object_result(object_drop, background_drop, n_obj=10, n_bg=10) -> ObjectTest:
    return ObjectTest(images=4, object_drop=object_drop, background_drop=background_drop, object_windows=n_obj,
                      background_windows=n_bg, mass_inside=None, object_area=0.3, pointing=0.5)


def test_the_object_effect_is_decided_over_models_and_skips_those_with_nothing_to_compare():
    tests = [object_result(0.20, 0.10), object_result(0.25, 0.12), object_result(0.18, 0.10),
             object_result(None, None, 0, 0)]
    o = ObjectEffect(tests)
    assert o.extra_drops == pytest.approx([0.10, 0.13, 0.08]) and o.effect.n == 3
    assert o.object_matters_more is True
    assert ObjectEffect([object_result(0.2, 0.3), object_result(0.1, 0.25), object_result(0.15, 0.3)]
                        ).object_matters_more is False
    assert ObjectEffect([object_result(0.2, 0.1)]).object_matters_more is None  # one model
    nothing = ObjectEffect([object_result(None, None, 0, 0)])
    assert nothing.effect is None and nothing.object_matters_more is None


# ---- the model's geometry ----------------------------------------------------------------

@pytest.mark.parametrize("layer", [1, 2, 3, 4])
def test_receptive_field_matches_the_gradient_of_a_unit(layer):
    # Average pooling and positive weights on a positive input: every ReLU is open, so the
    # gradient of a unit is non-zero exactly on the pixels it sees.
    net = seeded_cnn(1, 2, depth=4, width=2, pooling="avg", image_size=32)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.1)
    x = torch.full((1, 1, 32, 32), 0.5, requires_grad=True)
    out = layer_outputs(net, x)[layer - 1]
    i = j = out.shape[2] // 2
    (grad,) = torch.autograd.grad(out[0, 0, i, j], x)
    rows = grad[0, 0].abs().sum(1).nonzero().flatten()
    cols = grad[0, 0].abs().sum(0).nonzero().flatten()
    box = receptive_field(net, layer).box(i, j, (32, 32))
    assert (int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())) == box
    assert box[2] - box[0] + 1 == receptive_field(net, layer).size


def test_receptive_field_sizes_by_hand():
    net = seeded_cnn(1, 2, depth=4, width=2, image_size=32)
    # conv3: 3; conv3: 5; pool: 6 (jump 2); conv3: 10; conv3: 14
    assert [receptive_field(net, l).size for l in (1, 2, 3, 4)] == [3, 5, 10, 14]
    with pytest.raises(ValueError, match="layer \\(5\\)"):
        receptive_field(net, 5)


@pytest.mark.parametrize("dataset, size, channels", [("digits", 8, 1), ("shapes", 16, 3)])
@pytest.mark.parametrize("layer", [1, 2, 3, 4, 5, 6])
def test_layer_channels_agree_with_the_model(dataset, size, channels, layer):
    net = seeded_cnn(channels, 4, depth=6, width=4, image_size=size)
    assert layer_outputs(net, torch.zeros(1, channels, size, size))[layer - 1].shape[1] == conv_channels(
        dataset, 4, layer)


def test_feature_maps_and_dead_channels_against_direct_computation():
    net = seeded_cnn(1, 3, depth=2, width=4, image_size=8).eval()
    with torch.no_grad():
        net.blocks[0].conv.bias[1] = -100.0  # channel 1 of conv1 can never open on [0, 1] inputs
    x = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    maps = feature_maps(net, x[0])
    with torch.no_grad():
        direct = net.blocks[0](x[:1])[0]
    assert torch.equal(maps[0], direct) and len(maps) == 2
    peaks = channel_peaks(net, x, batch_size=7)
    assert torch.equal(peaks[0], layer_outputs(net, x)[0].amax(dim=(2, 3)).detach())
    assert 1 in dead_channels(peaks)[0]


# ---- filters, synthesis, top images ------------------------------------------------------

def test_neighbour_correlation_against_numpy_and_noise():
    w = torch.randn(64, 3, 5, 5, generator=torch.Generator().manual_seed(4))
    c = neighbour_correlation(w)
    assert abs(c) < 0.1  # independent weights: about 0 (slightly below from the mean removal)
    centred = (w.double() - w.double().mean(dim=(2, 3), keepdim=True)).numpy()
    a = np.concatenate([centred[..., :, :-1].ravel(), centred[..., :-1, :].ravel()])
    b = np.concatenate([centred[..., :, 1:].ravel(), centred[..., 1:, :].ravel()])
    assert c == pytest.approx(float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())), rel=1e-9)
    smooth = torch.nn.functional.avg_pool2d(torch.randn(16, 1, 9, 9, generator=torch.Generator().manual_seed(5)),
                                            3, stride=1)
    assert neighbour_correlation(smooth) > 0.4
    with pytest.raises(ValueError, match="k >= 2"):
        neighbour_correlation(torch.zeros(2, 1, 1, 1))


def test_roughness_noise_vs_smooth():
    noise = torch.rand(1, 64, 64, generator=torch.Generator().manual_seed(6))
    assert roughness(noise) == pytest.approx(1.0, abs=0.05)
    assert roughness(torch.linspace(0, 1, 64).repeat(64, 1).unsqueeze(0)) < 0.01


def test_top_images_against_brute_force():
    net = seeded_cnn(1, 3, depth=3, width=4, image_size=8).eval()
    x = torch.rand(30, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    top = top_images(net, x, layer=3, channel=2, k=5, batch_size=8)
    with torch.no_grad():
        maps = layer_outputs(net, x)[2][:, 2]  # (N, 4, 4)
    best = maps.flatten(1).max(1).values
    assert [t.index for t in top] == torch.argsort(best, descending=True)[:5].tolist()
    for t in top:
        assert maps[t.index, t.unit[0], t.unit[1]] == best[t.index] == t.activation
        assert t.box == receptive_field(net, 3).box(*t.unit, (8, 8))
    with pytest.raises(ValueError, match="channel \\(9\\)"):
        top_images(net, x, layer=1, channel=9, k=1)


def test_synthesis_raises_the_activation_and_repeats():
    net = seeded_cnn(1, 3, depth=2, width=4, image_size=8).eval().requires_grad_(False)
    before = [p.clone() for p in net.parameters()]
    kw = dict(shape=(1, 8, 8), layer=2, channel=1, steps=30, seed=0)
    plain = maximise(net, **kw)
    prior = maximise(net, **kw, jitter=1, blur_every=3, l2=0.01)
    assert plain.activation[-1] > plain.activation[0]
    assert prior.image.shape == (1, 8, 8) and 0 <= float(prior.image.min()) and float(prior.image.max()) <= 1
    assert torch.equal(maximise(net, **kw, jitter=1, blur_every=3, l2=0.01).image, prior.image)  # seeded
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # the model is untouched


# ---- embeddings --------------------------------------------------------------------------

def blobs(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), n // 3)
    centres = rng.normal(0, 5, (3, 10))
    return centres[labels] + rng.normal(0, 0.5, (n, 10)), labels


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_projections_separate_a_separable_toy_set(method):
    x, labels = blobs()
    p = emb.embed(x, labels, features="toy", method=method, seed=0)
    assert p.points.shape == (60, 2) and np.isfinite(p.points).all()
    assert p.knn_accuracy > emb.chance_accuracy(labels) + 0.3 and p.knn_accuracy >= 0.95
    assert 0.0 <= p.trustworthiness <= 1.0
    assert np.array_equal(emb.project(x, method=method, seed=0), p.points)  # seeded
    assert emb.UMAP_READY.is_set() or method != "umap"


def test_knn_correct_and_trustworthiness_against_sklearn():
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    x, labels = blobs()
    points = x[:, :2]
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    expected = cross_val_predict(KNeighborsClassifier(n_neighbors=5), points, labels, cv=cv) == labels
    assert np.array_equal(emb.knn_correct(points, labels, seed=3), expected)
    assert emb.trustworthiness(x, points) == pytest.approx(trustworthiness(x, points, n_neighbors=5))
    shuffled = np.random.default_rng(1).permutation(labels)
    assert emb.knn_correct(points, shuffled, seed=0).mean() < 0.6  # no structure: near chance


def test_knn_counts_a_class_with_one_point_as_a_miss():
    """The first 50 digits test images of seed 2 hold one image of some class: that is a valid
    setting, so the k-NN accuracy must come out (2 folds, sklearn's numbers), not raise."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    x, labels = blobs()
    labels = labels.copy()
    labels[0] = 7  # a class with a single point (and labels 3-6 absent)
    points = x[:, :2]
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    with pytest.warns(UserWarning):
        expected = cross_val_predict(KNeighborsClassifier(n_neighbors=5), points, labels, cv=cv) == labels
    correct = emb.knn_correct(points, labels, seed=0)
    assert np.array_equal(correct, expected) and not correct[0]
    with pytest.raises(ValueError, match="at least 2 points"):
        emb.knn_correct(points[:3], np.array([0, 1, 2]), seed=0)


def projection(features: str, method: str, correct: list[bool]) -> emb.Projection:
    n = len(correct)
    return emb.Projection(features, method, np.zeros((n, 2)), np.array(correct), trustworthiness=1.0, seconds=0.0)


def comparison(per_method: dict[str, tuple[list[bool], list[bool]]]) -> emb.Comparison:
    projections = [projection(kind, m, c) for m, pair in per_method.items() for kind, c in zip(("cnn", "pixels"), pair)]
    n = len(next(iter(per_method.values()))[0])
    return emb.Comparison(projections, np.zeros(n, dtype=int), {"cnn": 16, "pixels": 64})


def test_the_cnn_map_is_better_only_beyond_the_interval_of_the_paired_difference():
    right, wrong = [True] * 90 + [False] * 10, [True] * 60 + [False] * 40
    clear = comparison({"pca": (right, wrong), "tsne": (right, wrong)})
    gain = clear.gain("pca")
    diffs = np.array(right, float) - np.array(wrong, float)
    assert gain.mean == pytest.approx(0.3) and gain.half_width == pytest.approx(
        stats.t.ppf(0.975, 99) * diffs.std(ddof=1) / 10)
    assert clear.cnn_separates_better is True
    close = [True] * 61 + [False] * 39  # one point better in 100: inside the interval
    assert comparison({"pca": (right, wrong), "tsne": (close, wrong)}).cnn_separates_better is None
    assert comparison({"pca": (right, wrong), "tsne": (wrong, right)}).cnn_separates_better is False


def test_bad_projection_input():
    with pytest.raises(ValueError, match="unknown projection 'lda'"):
        emb.project(np.zeros((5, 2)), method="lda", seed=0)
    with pytest.raises(ValueError, match="N >= 3"):
        emb.project(np.zeros((2, 2)), method="pca", seed=0)
