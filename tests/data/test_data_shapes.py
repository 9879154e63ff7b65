"""Procedural shapes: determinism, masks, domains, class counts, bounds, separability."""

from __future__ import annotations

import pytest
import torch

from cnnbp.data import DOMAINS, SHAPE_NAMES, get_dataset, make_shapes, shapes


def test_deterministic_per_seed() -> None:
    a, b, c = (make_shapes(300, num_classes=5, seed=s) for s in (5, 5, 6))
    for ta, tb in zip(a, b):
        assert torch.equal(ta, tb)
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[2], c[2])


def test_output_types_and_shapes() -> None:
    x, y, mask = make_shapes(50, num_classes=3, size=20, seed=0)
    assert x.shape == (50, 3, 20, 20) and x.dtype == torch.float32
    assert y.shape == (50,) and y.dtype == torch.int64 and set(y.tolist()) == {0, 1, 2}
    assert mask.shape == (50, 20, 20) and mask.dtype == torch.bool
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_flat_masks_are_objects_in_one_colour_on_another() -> None:
    x, _, mask = make_shapes(500, num_classes=len(SHAPE_NAMES), seed=1)
    area = mask.flatten(1).sum(1)
    assert (area > 0).all() and (area < 32 * 32 / 2).all()
    m = mask.unsqueeze(1).float()  # (N, 1, H, W)
    inside = (x * m).sum((2, 3)) / m.sum((2, 3))  # (N, 3) mean colour of the object
    outside = (x * (1 - m)).sum((2, 3)) / (1 - m).sum((2, 3))
    # flat: the object is one colour, the background another, every channel >= 0.3 apart
    assert torch.allclose(x * m, inside[:, :, None, None] * m)
    assert torch.allclose(x * (1 - m), outside[:, :, None, None] * (1 - m))
    assert ((inside - outside).abs() >= 0.3 - 1e-6).all()


@pytest.mark.parametrize("domain", [d for d in DOMAINS if d != "flat"])
def test_every_domain_keeps_objects_but_changes_pixels(domain: str) -> None:
    xf, yf, mf = make_shapes(100, seed=2)
    x, y, m = make_shapes(100, seed=2, domain=domain)
    assert torch.equal(y, yf) and torch.equal(m, mf)  # same objects: a controlled shift
    assert x.shape == xf.shape and 0.0 <= x.min() and x.max() <= 1.0
    assert (x - xf).abs().mean() > 0.02
    if domain == "inverted":
        assert torch.equal(x, 1.0 - xf)
    if domain == "outline":
        # the outline is a subset of the object: outside it, the flat background stays
        changed = (x != xf).any(dim=1)  # (N, H, W)
        assert not (changed & ~mf).any()
        assert changed.sum() > 0 and ((x == xf).all(dim=1) & mf).sum() > 0


def test_unknown_domain_lists_choices() -> None:
    choices = "flat, noisy, textured, outline, inverted"
    with pytest.raises(ValueError, match=f"unknown domain 'foggy'; choose from {choices}"):
        make_shapes(10, domain="foggy")


def test_class_ratio_is_exact() -> None:
    _, y, _ = make_shapes(1000, class_ratio=(1, 0.1, 0.1, 0.01), seed=0)
    assert torch.bincount(y).tolist() == [826, 83, 83, 8]
    _, y, _ = make_shapes(None, num_classes=3, class_counts=(7, 0 + 2, 11), seed=0)
    assert torch.bincount(y).tolist() == [7, 2, 11]
    assert len(y) == 20 and not torch.equal(y, y.sort().values)  # shuffled, not grouped


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 10, "class_ratio": (1, 0.01, 1, 1)}, "class 1 .'square'. gets 0"),
    ({"n": None, "class_counts": (3, 0, 1, 1)}, "class 1 .'square'. gets 0"),
    ({"n": 10, "class_ratio": (1, 1)}, "class_ratio has 2 entries but num_classes=4"),
    ({"n": 10, "class_counts": (5, 5, 0, 0), "class_ratio": (1, 1, 1, 1)}, "not both"),
    ({"n": 11, "class_counts": (5, 5, 1, 1)}, "sum to 12"),
    ({"n": 10, "class_ratio": (1, -1, 1, 1)}, "weights"),
    ({"n": 0}, "n must be an integer"),
    ({"n": 200_001}, "n must be an integer in .1, 200000."),
    ({"n": 10, "num_classes": 1}, "num_classes must be an integer in .2, 9."),
    ({"n": 10, "num_classes": len(SHAPE_NAMES) + 1}, "num_classes"),
    ({"n": 10, "size": 7}, "size must be an integer in .8, 128."),
    ({"n": 10, "size": 129}, "size"),
    ({"n": 100_000, "size": 128}, "budget"),
])
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_shapes(**kwargs)


@pytest.mark.parametrize("size", [8, 13, 64])
def test_size_option(size: int) -> None:
    x, _, mask = make_shapes(60, num_classes=len(SHAPE_NAMES), size=size, seed=4)
    assert x.shape == (60, 3, size, size) and mask.shape == (60, size, size)
    assert mask.flatten(1).any(1).all()  # even the thin bar at 8x8 has a pixel


def _radial_profile(mask: torch.Tensor, bins: int = 12) -> torch.Tensor:
    """Histogram of object-pixel distances from the object centroid / their RMS: (N, bins).

    Invariant to position, rotation and scale, so only the shape class is left in it.
    """
    n, h, w = mask.shape
    m = mask.float()
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    area = m.sum((1, 2))
    cy, cx = (m * yy).sum((1, 2)) / area, (m * xx).sum((1, 2)) / area
    dist = ((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2).sqrt()  # (N, H, W)
    rms = ((dist**2 * m).sum((1, 2)) / area).sqrt()
    b = (dist / rms[:, None, None] / 2.4 * bins).long().clamp(max=bins - 1)
    hist = torch.zeros(n, bins).scatter_add_(1, b.flatten(1), m.flatten(1))
    return hist / area[:, None]


def test_classes_are_distinguishable_from_masks() -> None:
    k = len(SHAPE_NAMES)
    _, y_tr, m_tr = make_shapes(100 * k, num_classes=k, seed=0)
    _, y_te, m_te = make_shapes(100 * k, num_classes=k, seed=1)
    f_tr, f_te = _radial_profile(m_tr), _radial_profile(m_te)
    centroids = torch.stack([f_tr[y_tr == c].mean(0) for c in range(k)])  # (K, bins)
    pred = torch.cdist(f_te, centroids).argmin(1)
    assert (pred == y_te).float().mean() > 0.8  # chance: 1/9
    recall = torch.stack([(pred[y_te == c] == c).float().mean() for c in range(k)])
    assert (recall > 0.5).all(), dict(zip(SHAPE_NAMES, recall.tolist()))


def test_ten_thousand_images_build() -> None:
    x, y, mask = make_shapes(10_000, num_classes=8, seed=9)
    assert x.shape == (10_000, 3, 32, 32) and torch.bincount(y).tolist() == [1250] * 8
    assert mask.flatten(1).any(1).all()


def test_dataset_factory() -> None:
    ds = shapes(n_train=100, n_test=40, num_classes=4, class_ratio=(4, 3, 2, 1), seed=0)
    assert torch.bincount(ds.y_train).tolist() == [40, 30, 20, 10]
    assert torch.bincount(ds.y_test).tolist() == [10, 10, 10, 10]  # balanced by default
    assert ds.classes == SHAPE_NAMES[:4] and ds.in_channels == 3 and ds.image_size == (32, 32)
    assert ds.mask_train.shape == (100, 32, 32) and ds.mask_test.shape == (40, 32, 32)
    # train and test come from different streams: no shared image
    assert not torch.equal(ds.x_train[:40], ds.x_test)
    assert "with object masks" in ds.describe()
    again = get_dataset("shapes", seed=0, n_train=100, n_test=40, class_ratio=(4, 3, 2, 1))
    assert torch.equal(again.x_train, ds.x_train) and torch.equal(again.x_test, ds.x_test)


def test_dataset_factory_imbalanced_test_and_domain_shift() -> None:
    ds = shapes(n_test=30, class_counts=(5, 5, 5, 2), test_class_ratio=(1, 1, 1, 3),
                domain="flat", test_domain="inverted", seed=1)
    assert torch.bincount(ds.y_train).tolist() == [5, 5, 5, 2]
    assert torch.bincount(ds.y_test).tolist() == [5, 5, 5, 15]
    flat_test = shapes(n_test=30, class_counts=(5, 5, 5, 2), test_class_ratio=(1, 1, 1, 3), seed=1)
    assert torch.equal(ds.x_test, 1.0 - flat_test.x_test) and torch.equal(ds.x_train, flat_test.x_train)
    with pytest.raises(ValueError, match="unknown test_domain"):
        shapes(n_train=10, n_test=10, test_domain="sepia")


def test_threads_do_not_disturb_each_other() -> None:
    # the app serves users from threads: results must depend on the seed alone
    from concurrent.futures import ThreadPoolExecutor

    seeds = [0, 1, 2, 3, 0, 1, 2, 3]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda s: make_shapes(200, domain="noisy", seed=s), seeds))
    for s, (x, y, _) in zip(seeds, results):
        x_ref, y_ref, _ = make_shapes(200, domain="noisy", seed=s)
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
