"""The preprocessing transforms against direct numpy / scikit-learn computations; statistics are
fitted on train only and applied unchanged to test; the cloud and the pooled pixel vectors."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from cnnbp.lessons.preprocessing.analysis import make_cloud
from cnnbp.lessons.preprocessing.transforms import (
    IMAGE_TRANSFORMS,
    VECTOR_TRANSFORMS,
    fit_image_transform,
    fit_vector_transform,
    pixel_vectors,
)


@pytest.fixture
def split():
    """Correlated 4-D data far from the origin, and a test split drawn elsewhere."""
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(4, 4))
    train = rng.normal(size=(300, 4)) @ mix + np.array([5.0, -3.0, 10.0, 1.0])
    test = rng.normal(size=(100, 4)) @ mix + np.array([6.0, -3.0, 9.0, 1.0])
    return train, test


def cov(x):
    return np.cov(x, rowvar=False, bias=True)


def test_centered_subtracts_the_training_mean(split):
    train, test = split
    t = fit_vector_transform("centered", train)
    np.testing.assert_allclose(t(train).mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(t(test), test - train.mean(0))  # the train mean, not the test's


def test_standardized_matches_sklearn(split):
    train, test = split
    t, ref = fit_vector_transform("standardized", train), StandardScaler().fit(train)
    np.testing.assert_allclose(t(train), ref.transform(train), atol=1e-7)
    np.testing.assert_allclose(t(test), ref.transform(test), atol=1e-7)


def test_decorrelated_covariance_is_diagonal_with_the_pca_variances(split):
    train, test = split
    z = fit_vector_transform("decorrelated", train)(train)
    c = cov(z)
    np.testing.assert_allclose(c - np.diag(np.diag(c)), 0, atol=1e-9)
    n = len(train)
    np.testing.assert_allclose(np.diag(c), PCA().fit(train).explained_variance_ * (n - 1) / n, rtol=1e-9)
    assert list(np.diag(c)) == sorted(np.diag(c), reverse=True)
    ref = PCA().fit(train).transform(train)  # the same components up to each one's sign
    np.testing.assert_allclose(np.abs(z), np.abs(ref), atol=1e-8)


def test_whitened_covariance_is_the_identity_on_train_only(split):
    train, test = split
    t = fit_vector_transform("whitened", train)
    np.testing.assert_allclose(cov(t(train)), np.eye(4), atol=1e-9)
    assert not np.allclose(cov(t(test)), np.eye(4), atol=1e-3)  # fitted on train, applied unchanged
    n = len(train)
    ref = PCA(whiten=True).fit(train).transform(test) * np.sqrt(n / (n - 1))  # sklearn's variance: / (n - 1)
    np.testing.assert_allclose(np.abs(t(test)), np.abs(ref), atol=1e-8)


@pytest.mark.parametrize("name", list(VECTOR_TRANSFORMS))
def test_every_vector_transform_is_affine_row_by_row(split, name):
    train, test = split
    t = fit_vector_transform(name, train)
    np.testing.assert_allclose(t(test[:1]), t(test)[:1])  # no statistics of the split it is applied to
    np.testing.assert_allclose(t(test), (test - t.mean) @ t.matrix)
    again = fit_vector_transform(name, train)
    np.testing.assert_array_equal(t.matrix, again.matrix)  # deterministic, eigenvector signs fixed


def test_whitening_a_degenerate_feature_keeps_it_at_zero():
    x = np.c_[np.random.default_rng(1).normal(size=(50, 2)), np.full(50, 3.0)]  # a constant pixel
    z = fit_vector_transform("whitened", x)(x)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(np.diag(cov(z)), [1, 1, 0], atol=1e-9)


def test_mean_image_is_the_pixelwise_training_mean(images):
    train, test = images
    t = fit_image_transform("mean_image", train)
    assert t.mean.shape == (3, 6, 6)
    torch.testing.assert_close(t.mean, train.double().mean(0))
    torch.testing.assert_close(t(test), (test.double() - train.double().mean(0)).float())


def test_channel_mean_and_std_match_a_direct_computation(images):
    train, test = images
    mean, std = train.double().mean((0, 2, 3)), train.double().std((0, 2, 3), correction=0)
    t = fit_image_transform("channel_mean", train)
    torch.testing.assert_close(t.mean.flatten(), mean)
    torch.testing.assert_close(t(train).mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    s = fit_image_transform("channel_std", train)
    torch.testing.assert_close(s.std.flatten(), std)
    out = s(train)
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std((0, 2, 3), correction=0), torch.ones(3), atol=1e-5, rtol=0)
    expected = (test.double() - mean[:, None, None]) / std[:, None, None]
    torch.testing.assert_close(s(test), expected.float())  # train statistics on the test split


@pytest.mark.parametrize("name", list(IMAGE_TRANSFORMS))
def test_every_image_transform_inverts_and_keeps_dtype_and_shape(images, name):
    train, test = images
    t = fit_image_transform(name, train)
    out = t(test)
    assert out.shape == test.shape and out.dtype == test.dtype
    torch.testing.assert_close(t.inverse(out), test, atol=1e-5, rtol=0)


@pytest.mark.parametrize("call, fragment", [
    (lambda: fit_vector_transform("zca", np.zeros((3, 2))), "unknown transform 'zca'; choose from original"),
    (lambda: fit_image_transform("imagenet", torch.zeros(3, 1, 2, 2)), "unknown image transform 'imagenet'"),
    (lambda: fit_vector_transform("centered", np.zeros((1, 2))), "N >= 2"),
    (lambda: fit_image_transform("raw", torch.zeros(3, 2, 2)), "expected images"),
    (lambda: make_cloud(5, correlation=1.0, offset=0.0, scale=1.0, seed=0), "correlation must be in (-1, 1)"),
])
def test_bad_inputs_name_the_problem(call, fragment):
    with pytest.raises(ValueError) as err:
        call()
    assert fragment in str(err.value)


def test_cloud_has_the_asked_statistics():
    x = make_cloud(20000, correlation=-0.6, offset=7.0, scale=3.0, seed=0)
    np.testing.assert_allclose(x.mean(0), [7, 7], atol=0.05)
    np.testing.assert_allclose(x.std(0), [3, 1], rtol=0.02)
    assert np.corrcoef(x.T)[0, 1] == pytest.approx(-0.6, abs=0.01)
    np.testing.assert_array_equal(x, make_cloud(20000, correlation=-0.6, offset=7.0, scale=3.0, seed=0))


@pytest.mark.parametrize("shape, grid", [((5, 1, 8, 8), 8), ((5, 3, 32, 32), 4), ((5, 3, 6, 6), 3)])
def test_pixel_vectors_are_average_pooled(shape, grid):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    v, g = pixel_vectors(x)
    assert g == grid and v.shape == (shape[0], shape[1] * grid * grid)
    block = shape[2] // grid
    manual = x.double().reshape(shape[0], shape[1], grid, block, grid, block).mean((3, 5)).reshape(shape[0], -1)
    np.testing.assert_allclose(v, manual.numpy(), atol=1e-12)
