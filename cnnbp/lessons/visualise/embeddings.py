"""2-D maps of the penultimate features (the lecture's "CNN code") and of the raw pixels.

PCA (scikit-learn), t-SNE (scikit-learn) and UMAP (umap-learn), each with a measured quality:
the 5-nearest-neighbour accuracy in the 2-D map (cross-validated: does the map keep classes
apart?) and scikit-learn's trustworthiness (are 2-D neighbours also neighbours in the input?).

The fits themselves are ``cnnbp/projections.py`` (no torch). In the app a t-SNE or UMAP fit goes to
the embedding worker, a child process (``cnnbp/embed_worker.py``), and the run keeps yielding while
it waits (:func:`embedding`); where none is ready (the CLI, tests, start-up, a dead worker) it runs in
this process. :func:`umap_ready` tells a run whether UMAP's kernels still have to load first.

>>> import numpy as np
>>> x = np.concatenate([np.zeros((20, 3)), np.ones((20, 3))]) + np.random.default_rng(0).normal(0, 0.1, (40, 3))
>>> y = np.repeat([0, 1], 20)
>>> p = project(x, method="pca", seed=0)
>>> p.shape, bool(knn_correct(p, y, seed=0).all())
((40, 2), True)
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from cnnbp import embed_worker
from cnnbp.lessons.base import result_of
from cnnbp.lessons.visualise.estimate import Estimate, estimate
from cnnbp.projections import (  # noqa: F401  (the lesson's names for the fits and their settings)
    METHODS,
    PCA_DIMS,
    TSNE_ANGLE,
    TSNE_EXAGGERATED,
    TSNE_ITERATIONS,
    UMAP_EPOCHS,
    UMAP_NEIGHBOURS,
    UMAP_READY,
    Method,
    _tsne_class,
    exact_neighbours,
    load_libraries,
    project,
    reduced,
    warm_umap,
)

NEIGHBOURS = 5  # k of the k-NN accuracy and of trustworthiness (scikit-learn's default)
FOLDS = 5


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


def umap_ready() -> bool:
    """Whether a UMAP fit can start now: the embedding worker has loaded UMAP, or this process has."""
    return embed_worker.ready() or UMAP_READY.is_set()


def fits_yield() -> bool:
    """Whether a t-SNE or UMAP fit will yield while it runs (the embedding worker fits it) rather than
    hold this process for its whole time."""
    return embed_worker.ready()


def until_umap_ready() -> Generator[float, None, None]:
    """Wait for UMAP where the fits will run: the embedding worker loading it (yielding while it does),
    else this process (its kernels loaded here: ~10 s that cannot yield)."""
    worker = embed_worker.current()
    if worker is not None and (yield from worker.until_ready()):
        return
    warm_umap()


def projected(x: np.ndarray, *, method: Method, seed: int) -> Generator[float, None, np.ndarray]:
    """:func:`project`, by the embedding worker where one is ready (yielding while it fits: the same
    points), else in this process."""
    if method != "pca":  # PCA takes milliseconds: not worth a round trip
        points = yield from embed_worker.fitted(x, method=method, seed=seed)
        if points is not None:
            return points
    return project(x, method=method, seed=seed)


def embedding(x: np.ndarray, labels: np.ndarray, *, features: str, method: Method,
              seed: int) -> Generator[float, None, Projection]:
    """Project ``x`` (yielding while the worker fits) and measure the map (the seconds exclude the
    quality figures)."""
    start = time.perf_counter()
    points = yield from projected(x, method=method, seed=seed)
    seconds = time.perf_counter() - start
    return Projection(features=features, method=method, points=points, correct=knn_correct(points, labels, seed=seed),
                      trustworthiness=trustworthiness(x, points), seconds=seconds)


def embed(x: np.ndarray, labels: np.ndarray, *, features: str, method: Method, seed: int) -> Projection:
    """:func:`embedding` run to its end."""
    return result_of(embedding(x, labels, features=features, method=method, seed=seed))


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
