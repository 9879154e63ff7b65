"""The embedding worker: t-SNE and UMAP fits in one long-lived child process, off the server's GIL.

Why: loading UMAP's numba kernels takes ~10 s of GIL-bound Python even from numba's disk cache, and
one t-SNE fit ~0.5 s that scikit-learn cannot interrupt. In the server's interpreter the first held
every run's threads back at start-up (a class's first run 11.7-14.6 s instead of 8.3 s), the second
left the visualising tab without a frame. In a child, the server's threads keep the GIL and a run
waiting on a fit keeps sending frames (:func:`fitted` yields while it waits).

The app's start-up warm-up starts it (:func:`start`): a fresh interpreter (``python -m
cnnbp.embed_worker``, as multiprocessing's "spawn" starts one, without re-running ``app.py``; never a
fork of the threaded server) that loads umap and its kernels in a thread at nice 19, says it is ready,
then fits one request at a time, each at the nice value of the thread that asked (a user's run at 0, as
it would run in-process; the warm-up's cached default runs at 19). It imports ``cnnbp.projections``
only (no torch) and fits on one thread, as the lesson does: the same code on the same input, so the
same numbers (tests/test_embed_worker.py).

Where no worker runs (the CLI, tests, a platform that cannot start one), before it is ready, or once
it has died or failed a fit (:data:`FIT_TIMEOUT_S`), :func:`fitted` returns None and the caller fits
in its own process, as before: one log line, never an error of the run.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

log = logging.getLogger("cnnbp.embed_worker")

WORKER_NICE = 19  # loading umap: the lowest CPU priority, so a run gets the cores first
FIT_TIMEOUT_S = 120.0  # from sending a fit to its answer (queued behind other runs' fits included)
POLL_S = 0.1  # how often a waiting run yields: the frame rule then sends a frame every ~0.4 s
# BLAS/OpenMP threads of a fit, limited around it as the lesson does in its own process (visualise/model.py
# one_thread): the same numbers. Not by OMP_NUM_THREADS at start: t-SNE then ends elsewhere (measured).
THREADS = 1


def thread_nice() -> int:
    """The calling thread's nice value (Linux: per thread); 0 where it cannot be read."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return 0


def _lower_this_thread(nice: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):  # not permitted, or not Linux: it only runs sooner
        pass


class Worker:
    """The server's handle on the child: its process, the socket to it, and a reader thread that
    hands each answer to the run waiting for it."""

    def __init__(self, *, umap: bool = True, command: list[str] | None = None):
        """``umap``: load umap before saying ready (the app); without it, scikit-learn only (a test's
        t-SNE worker, ready in a second). ``command``: what to run instead (tests of a broken child)."""
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[1])  # so ``-m cnnbp.embed_worker`` finds this package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        try:
            argv = [*(command or [sys.executable, "-m", "cnnbp.embed_worker"]), str(theirs.fileno()),
                    "umap" if umap else "sklearn"]
            self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.ready, self.dead = threading.Event(), threading.Event()
        self.ready_s: float | None = None  # the child's seconds to load umap
        self._answers: dict[int, tuple[str, object]] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()  # guards _answers and _waiting
        self._send_lock = threading.Lock()  # one request on the socket at a time
        self._ids = itertools.count()
        threading.Thread(target=self._read, name="cnnbp-embed-reader", daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                message = self.conn.recv()
                if message[0] == "ready":
                    self.ready_s = message[1]
                    self.ready.set()
                    continue
                ident, status, payload = message
                with self._lock:
                    if ident in self._waiting:  # else its run stopped waiting: dropped
                        self._answers[ident] = (status, payload)
                        self._waiting[ident].set()
        except (EOFError, OSError) as err:
            if not self.dead.is_set():
                log.warning("the embedding worker ended (%s): fits run in the server's process", type(err).__name__)
            self._die()
            self.conn.close()

    def _die(self) -> None:
        self.dead.set()
        with self._lock:
            for waiting in self._waiting.values():
                waiting.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the child has loaded umap (True), died or ``timeout`` passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = self.until_ready()
        try:
            while True:
                next(waiting)
                if deadline is not None and time.monotonic() > deadline:
                    return False
        except StopIteration as end:
            return end.value

    def until_ready(self) -> Generator[float, None, bool]:
        """Wait until the child has loaded umap (True) or died (False), yielding every POLL_S (a run's
        heartbeats) meanwhile."""
        while not self.ready.wait(POLL_S):
            if self.dead.is_set() or self.proc.poll() is not None:
                break
            yield 0.0
        return self.ready.is_set() and not self.dead.is_set()

    def fit(self, x: np.ndarray, *, method: str, seed: int) -> Generator[float, None, np.ndarray | None]:
        """Send one fit and yield every POLL_S until its points come back; None on any failure."""
        done = threading.Event()
        with self._lock:
            ident = next(self._ids)
            self._waiting[ident] = done
        # sent from a thread of its own: a large input blocks on the socket while the child fits another
        # run's request, and this run keeps beating meanwhile (FIT_TIMEOUT_S covers a child that never reads)
        threading.Thread(target=self._send, args=((ident, method, seed, thread_nice(), x),), daemon=True).start()
        deadline = time.monotonic() + FIT_TIMEOUT_S
        try:
            while not done.wait(POLL_S):
                if self.dead.is_set():  # stopped after another run's failure, or died: the reader said so
                    break
                if time.monotonic() > deadline:
                    return self._failed(f"gave no {method} fit within {FIT_TIMEOUT_S:.0f} s")
                yield 0.0  # how far the fit is: unknown
            with self._lock:
                answer = self._answers.pop(ident, None)
        finally:
            with self._lock:
                self._waiting.pop(ident, None)
                self._answers.pop(ident, None)
        if answer is None:
            return None  # it died: the reader said so
        status, payload = answer
        if status != "ok":
            return self._failed(f"failed a {method} fit ({payload})", stop=status == "unreachable")
        return payload

    def _send(self, request: tuple) -> None:
        try:
            with self._send_lock:
                self.conn.send(request)
        except (OSError, ValueError) as err:  # closed, or died mid-send
            with self._lock:
                if request[0] in self._waiting:
                    self._answers[request[0]] = ("unreachable", type(err).__name__)
                    self._waiting[request[0]].set()

    def _failed(self, why: str, *, stop: bool = True) -> None:
        log.warning("the embedding worker %s: this fit runs in the server's process%s", why,
                    " and so will the next" if stop else "")
        if stop:
            self.stop()
        return None

    def stop(self) -> None:
        """End the child; its reader thread sees the socket close and wakes every waiting run."""
        self.dead.set()
        self.proc.kill()
        self.proc.wait()

    def rss_mb(self) -> float:
        """The child's resident memory (Linux), 0 where it cannot be read."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return 0.0


_WORKER: Worker | None = None
_START_LOCK = threading.Lock()


def start() -> Worker | None:
    """Start the app's worker once (it loads umap in the background); None where it cannot start."""
    global _WORKER
    with _START_LOCK:
        if _WORKER is None or _WORKER.dead.is_set():
            try:
                _WORKER = Worker()
            except OSError as err:
                log.warning("no embedding worker (%s): fits run in the server's process", err)
                _WORKER = None
        return _WORKER


def current() -> Worker | None:
    """The app's worker while it is alive (starting or ready), else None."""
    worker = _WORKER
    return worker if worker is not None and not worker.dead.is_set() else None


def ready() -> bool:
    worker = current()
    return worker is not None and worker.ready.is_set()


def fitted(x: np.ndarray, *, method: str, seed: int) -> Generator[float, None, np.ndarray | None]:
    """``projections.project(x, method=method, seed=seed)`` fitted by the ready worker, yielding while it
    waits; None (and nothing yielded) where no worker is ready: the caller fits in its own process."""
    worker = current()
    if worker is None or not worker.ready.is_set():
        return None
    return (yield from worker.fit(np.ascontiguousarray(x, dtype=np.float32), method=method, seed=seed))


# ---- the child --------------------------------------------------------------------------------

def _load(umap: bool, seconds: list[float]) -> None:
    _lower_this_thread(WORKER_NICE)
    from cnnbp import projections

    start = time.perf_counter()
    projections.load_libraries()  # before any fit limits threads, as the lesson does
    seconds.append(projections.warm_umap() if umap else time.perf_counter() - start)


def _fit(request: tuple, answer: list) -> None:
    from threadpoolctl import threadpool_limits

    from cnnbp import projections

    ident, method, seed, nice, x = request
    _lower_this_thread(nice)
    try:
        with threadpool_limits(limits=THREADS):
            answer.append((ident, "ok", projections.project(x, method=method, seed=seed)))
    except Exception as err:  # noqa: BLE001  (any failure goes back to the run, which fits itself)
        answer.append((ident, "error", f"{type(err).__name__}: {err}"))


def serve(conn: Connection, *, umap: bool = True) -> None:
    """The child's loop: load umap, say so, then answer fits until the server goes away. Each step runs in
    a thread of its own: a thread's nice value can be raised but never lowered again without privileges,
    and a user's fit must not run at the loading's 19."""
    seconds: list[float] = []
    _in_thread(_load, umap, seconds)
    try:
        conn.send(("ready", seconds[0]))
        while True:
            request = conn.recv()
            answer: list = []
            _in_thread(_fit, request, answer)
            conn.send(answer[0])
    except (EOFError, OSError):  # the server ended
        return


def _in_thread(work, *args) -> None:
    thread = threading.Thread(target=work, args=args)
    thread.start()
    thread.join()


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), umap=sys.argv[2] == "umap")
