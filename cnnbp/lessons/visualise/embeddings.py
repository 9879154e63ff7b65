"""2-D maps of the penultimate features (the lecture's "CNN code") and of the raw pixels.

PCA (scikit-learn), t-SNE (scikit-learn) and UMAP (umap-learn), each with a measured quality:
the 5-nearest-neighbour accuracy in the 2-D map (cross-validated: does the map keep classes
apart?) and scikit-learn's trustworthiness (are 2-D neighbours also neighbours in the input?).

t-SNE and UMAP see the input's top :data:`PCA_DIMS` principal components when it is wider
(:func:`reduced`). UMAP gets its exact k-nearest neighbours from scikit-learn (:func:`exact_neighbours`)
and runs :data:`UMAP_EPOCHS` epochs; t-SNE runs Barnes-Hut at :data:`TSNE_ANGLE` for
:data:`TSNE_ITERATIONS` iterations, the first :data:`TSNE_EXAGGERATED` exaggerated. UMAP compiles its
numba kernels the first time it runs (about 15 s on 2 cores, on top of a slow import). :func:`warm_umap`
pays that once on a tiny array; the app runs it in its start-up warm-up thread and :data:`UMAP_READY`
tells a run whether it still has to wait.

>>> import numpy as np
>>> x = np.concatenate([np.zeros((20, 3)), np.ones((20, 3))]) + np.random.default_rng(0).normal(0, 0.1, (40, 3))
>>> y = np.repeat([0, 1], 20)
>>> p = project(x, method="pca", seed=0)
>>> p.shape, bool(knn_correct(p, y, seed=0).all())
((40, 2), True)
"""

from __future__ import annotations

import functools
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cnnbp.lessons.visualise.estimate import Estimate, estimate
from cnnbp.numba_cache import import_umap

Method = Literal["pca", "tsne", "umap"]
METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
NEIGHBOURS = 5  # k of the k-NN accuracy and of trustworthiness (scikit-learn's default)
# Barnes-Hut's accuracy knob (scikit-learn's default 0.5; it documents 0.2-0.8 as the sound range):
# 0.8 measured 1.5x faster on 2,000 points with the digits map's k-NN accuracy, silhouette and
# trustworthiness unchanged (bench/visualise.py prints them before and after).
TSNE_ANGLE = 0.8
# t-SNE's schedule: scikit-learn's is 250 exaggerated iterations, then the rest. On 2,000 shapes images'
# pixels the exaggerated phase's error has stopped falling by iteration 100 (75.891; 75.878 at 250); 100 + 150
# iterations on the top principal components end at KL 1.64 against 1.58 for 250 + 250 on all pixels, in half
# the time, the maps' 5-NN accuracy and trustworthiness within 0.002 of before on digits and shapes
# (bench/visualise.py --projections-only prints them before and after). 250 is scikit-learn's least max_iter.
TSNE_EXAGGERATED = 100
TSNE_ITERATIONS = 250
UMAP_NEIGHBOURS = 15  # umap-learn's default
# umap-learn runs 500 epochs under 10,000 points and 200 above; 200 here too: half the time, the digits
# map's 5-NN accuracy and trustworthiness unchanged (bench/visualise.py prints them before and after).
UMAP_EPOCHS = 200
# t-SNE and UMAP on a wider input see its top 50 principal components (the usual first step: less noise
# in the neighbours, and a cheaper neighbour search on 768-d pixels).
PCA_DIMS = 50
FOLDS = 5
UMAP_READY = threading.Event()  # set once numba has compiled UMAP's kernels in this process
_UMAP_LOCK = threading.Lock()


def warm_umap() -> float:
    """Import umap-learn and compile its kernels on a tiny array (once per process); seconds taken."""
    start = time.perf_counter()
    with _UMAP_LOCK:
        if not UMAP_READY.is_set():
            umap = import_umap()

            x = np.random.default_rng(0).random((40, 4)).astype(np.float32)
            with warnings.catch_warnings():  # the path project() takes: a given k-NN
                warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
                umap.UMAP(n_neighbors=5, n_epochs=10, random_state=0, n_jobs=1,
                          precomputed_knn=exact_neighbours(x, 5)).fit_transform(x)
            UMAP_READY.set()
    return time.perf_counter() - start


def project(x: np.ndarray, *, method: Method, seed: int) -> np.ndarray:
    """(N, D) -> (N, 2) float64 by ``method``, seeded."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"need (N, D) points with N >= 3, got shape {x.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float64)
    if method == "tsne":
        perplexity = min(30.0, (len(x) - 1) / 3)  # sklearn requires perplexity < N
        return _tsne_class()(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                             max_iter=TSNE_ITERATIONS, n_jobs=1, angle=TSNE_ANGLE,
                             ).fit_transform(reduced(x, seed=seed)).astype(np.float64)
    if method == "umap":
        warm_umap()  # no-op once warm
        umap = import_umap()

        k = min(UMAP_NEIGHBOURS, len(x) - 1)
        x = reduced(x, seed=seed)
        with warnings.catch_warnings():  # it warns that a given k-NN has no search index (for new points)
            warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
            return umap.UMAP(n_neighbors=k, random_state=seed, n_jobs=1, n_epochs=UMAP_EPOCHS,
                             precomputed_knn=exact_neighbours(x, k)).fit_transform(x).astype(np.float64)
    raise ValueError(f"unknown projection {method!r}; choose from {', '.join(METHODS)}")


def reduced(x: np.ndarray, *, seed: int) -> np.ndarray:
    """``x`` on its top :data:`PCA_DIMS` principal components (float32) when it has more columns and
    more points than that; ``x`` itself otherwise (N points span at most N - 1 dimensions anyway)."""
    if x.shape[1] <= PCA_DIMS or len(x) <= PCA_DIMS:
        return x
    from sklearn.decomposition import PCA

    return PCA(n_components=PCA_DIMS, random_state=seed).fit_transform(x).astype(np.float32)


@functools.cache
def _tsne_class() -> type:
    """scikit-learn's TSNE with :data:`TSNE_EXAGGERATED` early-exaggeration iterations: it fixes them
    at 250 in a class attribute and offers no parameter (tests check the attribute is still there)."""
    from sklearn.manifold import TSNE

    return type("ShortTSNE", (TSNE,), {"_EXPLORATION_MAX_ITER": TSNE_EXAGGERATED})


def exact_neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's k nearest (itself first, at distance 0, as umap-learn counts them): indices
    (N, k) int32 and euclidean distances (N, k) float32, exact.

    Why: under 4,096 points umap-learn computes all N^2 distances through a Python callback per
    pair (7 of its 9 s on 2,000 points); scikit-learn's BLAS search gives the same neighbours
    (same graph to 1e-5) in 0.2 s. Self goes in by hand: BLAS rounding leaves it a small nonzero
    distance, which UMAP would take as the nearest neighbour's (rho).

    >>> i, d = exact_neighbours(np.array([[0.0], [1.0], [3.0]]), 2)
    >>> i.tolist(), d.tolist()
    ([[0, 1], [1, 0], [2, 1]], [[0.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    """
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k - 1).fit(np.asarray(x, dtype=np.float64)).kneighbors()
    own = np.arange(len(x))[:, None]
    return (np.hstack([own, idx]).astype(np.int32),
            np.hstack([np.zeros_like(own, dtype=np.float64), dist]).astype(np.float32))


def knn_correct(points: np.ndarray, labels: np.ndarray, *, seed: int, k: int = NEIGHBOURS) -> np.ndarray:
    """(N,) bool: each point's class predicted right by a k-NN fitted on the other folds
    (stratified, seeded); its mean is the cross-validated k-NN accuracy.

    A class with a single point (the first 50 digits test images of some seeds) still counts:
    with 2 folds its point is tested against neighbours that hold none of its class, a miss."""
    import warnings

    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    counts = np.unique(labels, return_counts=True)[1]  # classes present only: an absent label is no class here
    if counts.max() < 2:
        raise ValueError("some class needs at least 2 points for a cross-validated k-NN accuracy")
    folds = max(2, min(FOLDS, int(counts.min())))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # sklearn warns that a singleton class is in fewer folds than n_splits
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return cross_val_predict(KNeighborsClassifier(n_neighbors=k), points, labels, cv=cv) == labels


def trustworthiness(x: np.ndarray, points: np.ndarray, *, k: int = NEIGHBOURS) -> float:
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    return float(sk_trustworthiness(np.asarray(x, dtype=np.float64), points, n_neighbors=k))


@dataclass
class Projection:
    features: str  # "cnn" or "pixels"
    method: str
    points: np.ndarray  # (N, 2)
    correct: np.ndarray  # (N,) bool: k-NN right in the 2-D map (cross-validated)
    trustworthiness: float
    seconds: float

    @property
    def knn_accuracy(self) -> float:
        return float(self.correct.mean())


def embed(x: np.ndarray, labels: np.ndarray, *, features: str, method: Method, seed: int) -> Projection:
    """Project ``x`` and measure the map (the seconds exclude the quality figures)."""
    start = time.perf_counter()
    points = project(x, method=method, seed=seed)
    seconds = time.perf_counter() - start
    return Projection(features=features, method=method, points=points, correct=knn_correct(points, labels, seed=seed),
                      trustworthiness=trustworthiness(x, points), seconds=seconds)


def chance_accuracy(labels: np.ndarray) -> float:
    """The k-NN accuracy of always guessing the largest class."""
    return float(np.bincount(labels).max() / len(labels))


@dataclass
class Comparison:
    """The same test images projected from the CNN's penultimate features and from raw pixels."""

    projections: list[Projection]  # per method: cnn, then pixels
    labels: np.ndarray
    dims: dict[str, int]  # features -> input dimension

    def projection(self, features: str, method: str) -> Projection:
        return next(p for p in self.projections if (p.features, p.method) == (features, method))

    def accuracy(self, features: str, method: str) -> float:
        return self.projection(features, method).knn_accuracy

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(p.method for p in self.projections))

    def gain(self, method: str) -> Estimate:
        """The CNN map's k-NN accuracy minus the pixel map's, over the same points (paired), with
        its 95% interval: the points are the repeats."""
        cnn, pixels = self.projection("cnn", method).correct, self.projection("pixels", method).correct
        return estimate(cnn.astype(float) - pixels.astype(float))

    @property
    def cnn_separates_better(self) -> bool | None:
        """True when the CNN's map is better beyond the interval in every projection, False when
        it is worse beyond it in one, None otherwise (too close to call)."""
        decided = [self.gain(m).positive for m in self.methods]
        if False in decided:
            return False
        return True if all(decided) else None

    @property
    def chance(self) -> float:
        return chance_accuracy(self.labels)


def comparison(projections: list[Projection], labels: np.ndarray, sources: dict[str, np.ndarray]) -> Comparison:
    """The "cnn" and "pixels" maps among ``projections`` (of ``sources``' points) as a Comparison."""
    kinds = ("cnn", "pixels")
    return Comparison([p for p in projections if p.features in kinds], labels,
                      {kind: sources[kind].shape[1] for kind in kinds})


def compare(cnn: np.ndarray, pixels: np.ndarray, labels: np.ndarray, *, methods: list[str], seed: int) -> Comparison:
    """Project both with every method and measure each map."""
    sources = {"cnn": cnn, "pixels": pixels}
    return comparison([embed(feats, labels, features=kind, method=m, seed=seed)
                       for m in methods for kind, feats in sources.items()], labels, sources)
