"""The projections' shortcuts keep the same maps: UMAP's graph from our exact k-NN is the graph
umap-learn builds from its own all-pairs distances; t-SNE's shorter exaggerated phase really runs
(scikit-learn has no parameter for it); a wide input is projected from its top principal components."""

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


def test_tsne_exaggerates_for_the_lessons_iterations_not_scikit_learns(capsys):
    """The override is a class attribute of scikit-learn's TSNE: were it renamed, t-SNE would
    silently go back to 250 exaggerated iterations (and the time the bench measured)."""
    x = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    model = emb._tsne_class()(perplexity=5.0, init="pca", random_state=0, max_iter=emb.TSNE_ITERATIONS, verbose=1)
    model.fit_transform(x)
    said = capsys.readouterr().out
    assert f"KL divergence after {emb.TSNE_EXAGGERATED} iterations with early exaggeration" in said
    assert f"KL divergence after {emb.TSNE_ITERATIONS} iterations:" in said


def test_a_wide_input_is_reduced_to_its_top_principal_components_and_a_narrow_one_kept():
    rng = np.random.default_rng(1)
    wide, narrow, few = rng.normal(size=(80, 70)), rng.normal(size=(80, 30)), rng.normal(size=(40, 70))
    assert emb.reduced(wide, seed=0).shape == (80, emb.PCA_DIMS)
    assert emb.reduced(narrow, seed=0) is narrow and emb.reduced(few, seed=0) is few
    # the top components keep the neighbours of points that lie near a 3-d subspace
    near = rng.normal(size=(80, 3)) @ rng.normal(size=(3, 70)) + 0.01 * rng.normal(size=(80, 70))
    assert (emb.exact_neighbours(emb.reduced(near, seed=0), 5)[0] == emb.exact_neighbours(near, 5)[0]).all()
