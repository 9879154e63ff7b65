"""The projections' shortcuts keep the same maps: UMAP's graph from our exact k-NN is the graph
umap-learn builds from its own all-pairs distances."""

import warnings

import numpy as np

from cnnbp.lessons.visualise import embeddings as emb


def test_exact_neighbours_give_umaps_own_graph():
    import umap

    x = np.random.default_rng(3).normal(size=(200, 12)).astype(np.float32)
    own = umap.UMAP(n_neighbors=10, random_state=0, n_jobs=1, n_epochs=1).fit(x).graph_
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        given = umap.UMAP(n_neighbors=10, random_state=0, n_jobs=1, n_epochs=1,
                          precomputed_knn=emb.exact_neighbours(x, 10)).fit(x).graph_
    assert own.nnz == given.nnz
    assert abs(own - given).max() < 1e-4


def test_exact_neighbours_put_each_point_first_at_zero():
    x = np.random.default_rng(0).normal(size=(50, 5))
    idx, dist = emb.exact_neighbours(x, 6)
    assert (idx[:, 0] == np.arange(50)).all() and (dist[:, 0] == 0).all()
    assert (np.diff(dist, axis=1) >= 0).all()  # nearest first
    brute = np.sort(np.linalg.norm(x[:, None] - x[None], axis=2), axis=1)[:, :6]
    assert np.allclose(dist, brute, atol=1e-5)
