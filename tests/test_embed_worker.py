"""cnnbp.embed_worker: fits in a child process give the lesson's own numbers, a run keeps beating
while it waits, and a worker that dies, hangs or fails leaves the fit to the server's process."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from cnnbp import embed_worker
from cnnbp.lessons.base import result_of
from cnnbp.lessons.visualise import embeddings as emb
from cnnbp.lessons.visualise.model import one_thread


def points(n: int = 360, d: int = 64) -> np.ndarray:
    """As many points as the lesson's default (360 test images): enough for BLAS and OpenMP to matter."""
    rng = np.random.default_rng(0)
    return (rng.normal(0, 4, (4, d))[np.arange(n) % 4] + rng.normal(size=(n, d))).astype(np.float32)


def in_process(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    with one_thread():  # as the lesson's embeddings part fits
        return result_of(emb.projected(x, method=method, seed=seed))


@pytest.fixture
def worker(request, monkeypatch):
    """The app's worker, started as the warm-up does (``umap``: also loading UMAP, ~10 s)."""
    w = embed_worker.Worker(umap=getattr(request, "param", False))
    monkeypatch.setattr(embed_worker, "_WORKER", w)
    assert w.wait_ready(300), "the worker did not start"
    yield w
    w.stop()


def run_child(code: str) -> list[str]:
    """A child that speaks the worker's protocol as ``code`` says (its socket is ``c``)."""
    return [sys.executable, "-c", "import sys; from multiprocessing.connection import Connection; "
            "c = Connection(int(sys.argv[1])); " + code]


def test_without_a_worker_the_fit_runs_here_and_yields_nothing():
    assert embed_worker.current() is None
    gen = emb.projected(points(60), method="tsne", seed=0)
    with pytest.raises(StopIteration):
        next(gen)


def test_the_workers_t_sne_is_the_lessons_own(worker):
    x = points()
    here = in_process(x, "tsne", seed=3)
    yielded = []
    gen = embed_worker.fitted(x, method="tsne", seed=3)
    while True:
        try:
            yielded.append(next(gen))
        except StopIteration as finished:
            there = finished.value
            break
    assert there is not None, "the worker did not fit"
    assert there.dtype == here.dtype and np.array_equal(there, here)  # bit for bit
    assert not embed_worker.current().dead.is_set()


@pytest.mark.parametrize("worker", [True], indirect=True)
def test_the_workers_umap_is_the_lessons_own(worker):
    x = points()
    there = result_of(embed_worker.fitted(x, method="umap", seed=1))
    assert there is not None and np.array_equal(there, in_process(x, "umap", seed=1))
    assert emb.umap_ready()


def test_a_run_keeps_beating_while_the_worker_fits(monkeypatch):
    slow = embed_worker.Worker(command=run_child(
        "import time; from cnnbp.projections import project; c.send(('ready', 0.0)); "
        "i, m, s, nice, x = c.recv(); time.sleep(1.0); c.send((i, 'ok', project(x, method=m, seed=s)))"))
    monkeypatch.setattr(embed_worker, "_WORKER", slow)
    try:
        assert slow.wait_ready(60)
        x = points(60, 8)
        work = emb.embedding(x, np.arange(60) % 4, features="cnn", method="tsne", seed=0)
        beats = 0
        while True:
            try:
                next(work)
                beats += 1
            except StopIteration as finished:
                projection = finished.value
                break
        assert beats >= 3  # one every POLL_S (0.1 s) of the 1 s fit: a frame can go out every 0.4 s
        assert np.array_equal(projection.points, in_process(x, "tsne", seed=0))
    finally:
        slow.stop()


@pytest.mark.parametrize("child, why", [
    ("c.send(('ready', 0.0)); c.recv(); sys.exit(1)", "ended"),  # crashes on its first fit
    ("import time; c.send(('ready', 0.0)); c.recv(); time.sleep(60)", "within"),  # hangs
    ("c.send(('ready', 0.0)); i, *_ = c.recv(); c.send((i, 'error', 'MemoryError: ')); c.recv()", "failed"),
])
def test_a_failing_worker_leaves_the_fit_to_this_process(child, why, monkeypatch, caplog):
    monkeypatch.setattr(embed_worker, "FIT_TIMEOUT_S", 1.0)
    broken = embed_worker.Worker(command=run_child(child))
    monkeypatch.setattr(embed_worker, "_WORKER", broken)
    try:
        assert broken.wait_ready(60) and embed_worker.ready()
        x = points(60, 8)
        with caplog.at_level(logging.WARNING, logger="cnnbp.embed_worker"):
            got = in_process(x, "tsne", seed=0)
        embed_worker._WORKER = None
        assert np.array_equal(got, in_process(x, "tsne", seed=0))  # the same points, fitted here
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1 and why in said[0] and "server's process" in said[0], said
        assert broken.dead.is_set() == (why != "failed")  # a fit's own error keeps the worker
    finally:
        broken.stop()


def test_a_worker_that_cannot_load_is_never_ready_and_the_warm_up_loads_umap_here(monkeypatch):
    import threading

    from cnnbp.ui import warmup

    monkeypatch.setattr(embed_worker, "start", lambda: embed_worker._WORKER)
    monkeypatch.setattr(embed_worker, "_WORKER", embed_worker.Worker(command=run_child("sys.exit(3)")))
    assert not embed_worker._WORKER.wait_ready(60) and not embed_worker.ready()
    fresh = threading.Event()
    monkeypatch.setattr(emb, "UMAP_READY", fresh)
    monkeypatch.setattr(emb, "warm_umap", fresh.set)  # what loading it here does
    assert not emb.umap_ready()
    assert warmup.warm_umap() is not None and fresh.is_set() and emb.umap_ready()
