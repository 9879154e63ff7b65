"""The 2-D fits themselves (PCA, t-SNE, UMAP), without torch: the visualise lesson runs them in its
own process, or sends them to the embedding worker (``cnnbp/embed_worker.py``), which imports only
this module. One code path for a fit wherever it runs; the same input and seed give the same numbers.

t-SNE and UMAP see the input's top :data:`PCA_DIMS` principal components when it is wider
(:func:`reduced`). UMAP gets its exact k-nearest neighbours from scikit-learn (:func:`exact_neighbours`)
and runs :data:`UMAP_EPOCHS` epochs; t-SNE runs Barnes-Hut at :data:`TSNE_ANGLE` for
:data:`TSNE_ITERATIONS` iterations, the first :data:`TSNE_EXAGGERATED` exaggerated. UMAP needs its
numba kernels the first time it runs in a process (compiled once per machine, then loaded from
numba's disk cache: ~10 s of one core, GIL-bound, see ``cnnbp/numba_cache.py``): :func:`warm_umap`
pays that on a tiny array and sets :data:`UMAP_READY`.
"""

from __future__ import annotations

import functools
import threading
import time
import warnings
from typing import Literal

import numpy as np

from cnnbp.numba_cache import import_umap

Method = Literal["pca", "tsne", "umap"]
METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
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
UMAP_READY = threading.Event()  # set once UMAP's kernels are loaded (or compiled) in this process
_UMAP_LOCK = threading.Lock()


def load_libraries() -> None:
    """Import scikit-learn's fits (and its OpenMP runtime) now. Call before limiting threads around a fit:
    threadpoolctl limits only the libraries already loaded, so a process's first t-SNE fit otherwise ran
    on 2 OpenMP threads and ended elsewhere than every later one (360 points: another map, measured)."""
    import sklearn.decomposition  # noqa: F401
    import sklearn.manifold  # noqa: F401
    import sklearn.neighbors  # noqa: F401


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
