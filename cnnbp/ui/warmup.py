"""Start-up warm-up in a background thread: pay one-time costs before the first click.

torch imports its compiler stack the first time an optimiser is built (~1.5 s here), plotly
its subplot machinery, scikit-learn its digits. None of that should fall on a student's click:
``python app.py`` pays it (``warm_up``) before the server listens. In a thread at the lowest CPU
priority it had run beside a class arriving at start-up, and a niced thread holding the GIL (or an
import lock the class's first run needs) stalls the whole server when the cores are busy.
Then a daemon thread at the lowest priority runs every lesson's default settings into the result
cache, so a class pressing Run on the defaults is served at once; it starts only after QUIET_S
seconds without a visitor's request or run (not beside a class arriving), and a real request cancels
it (between two steps) and takes the cores.

umap-learn's numba kernels (~10 s of GIL-bound Python even from numba's disk cache, see
``cnnbp/numba_cache.py``) load in the embedding worker, a child process started first
(``cnnbp/embed_worker.py``): in this thread they held the GIL beside a class's first run (11.7-14.6 s
instead of 8.3 s). Only where no worker can start are they loaded here, between users' runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from cnnbp import embed_worker
from cnnbp.train import RunControl
from cnnbp.ui.free_memory import release_free_memory

log = logging.getLogger("cnnbp.warmup")
READY = threading.Event()  # set once the one-time imports are done (or failed: it is only an optimisation)
DEFAULTS_CONTROL = RunControl()  # the default-settings runs; cancelled by the first real request


WARMUP_NICE = 19  # the warm-up thread's nice value: the scheduler runs a user's threads first
QUIET_POLL_S = 0.2
QUIET_S = 10.0  # the defaults start caching only after this long without a request (a class arriving)


def lower_this_threads_priority() -> bool:
    """Give the calling thread the lowest CPU priority (Linux: a thread has its own nice value);
    False where the platform does not allow it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARMUP_NICE)
        return True
    except (AttributeError, OSError):  # no setpriority (Windows), or not permitted
        return False


def wait_while_users_run(active=None, *, poll_s: float = QUIET_POLL_S) -> None:
    """Block while any user's run is going (``active()``: the runner's count of live runs)."""
    if active is None:
        from cnnbp.ui.runner import CONTROLS

        active = CONTROLS.active
    while active():
        time.sleep(poll_s)


def wait_for_quiet(last_request=None, active=None, *, quiet_s: float = QUIET_S,
                   poll_s: float = QUIET_POLL_S) -> None:
    """Block until no user's run is going and no request has come for ``quiet_s`` seconds
    (``last_request()``: time.monotonic() of the server's latest HTTP request, cnnbp.ui.config_cache)."""
    if last_request is None:
        from cnnbp.ui.config_cache import last_request
    while True:
        wait_while_users_run(active, poll_s=poll_s)
        idle = time.monotonic() - last_request()
        if idle >= quiet_s:
            return
        time.sleep(min(quiet_s - idle, 1.0) + poll_s)


def yield_to_user() -> None:
    """A user's run is starting: stop warming the cache so it gets both cores."""
    DEFAULTS_CONTROL.cancel()


def warm_defaults() -> int:
    """Run each lesson on its defaults into the result cache; returns how many were cached."""
    from cnnbp.lessons import LESSONS
    from cnnbp.lessons.base import merge_frames, validate_config
    from cnnbp.ui.cache import RESULTS

    cached = 0
    for lesson in LESSONS.values():
        if DEFAULTS_CONTROL.stop_reason():
            break
        cfg = validate_config(lesson.config)
        if RESULTS.get(lesson.name, cfg) is not None:
            continue
        final = merge_frames(lesson.run(cfg, DEFAULTS_CONTROL))
        if not DEFAULTS_CONTROL.stop_reason():
            RESULTS.put(lesson.name, cfg, final)
            cached += 1
        release_free_memory()  # as after a user's run (ui/followers.py): the RSS stays flat
    return cached


def warm_up() -> float:
    """Run the one-time work (imports, the first optimiser step, the digits); returns the seconds it
    took. Once per process: app.py calls it before the server listens; a second call returns 0."""
    if READY.is_set():
        return 0.0
    start = time.perf_counter()
    try:
        import torch
        from plotly.subplots import make_subplots

        from cnnbp.data import get_dataset
        from cnnbp.nn import SmallCNN
        from cnnbp.train import make_optimizer

        model = SmallCNN(1, 10, depth=2, width=4)
        optimizer = make_optimizer(model, lr=0.01)
        model(torch.zeros(2, 1, 8, 8)).sum().backward()
        optimizer.step()
        make_subplots(rows=1, cols=2)
        get_dataset("digits")
    except Exception:  # never let a warm-up failure take the app down
        log.exception("warm-up failed")
    finally:
        READY.set()
    seconds = time.perf_counter() - start
    log.info("the one-time imports and first steps took %.1f s", seconds)
    return seconds


READY_TIMEOUT_S = 600.0  # a worker still loading umap after this is stuck: stopped, UMAP loaded here instead


def start_embed_worker() -> None:
    """Start the embedding worker, which loads umap in the background. From a thread at the server's own
    priority: a child inherits its parent thread's nice value, and a user's fit runs at 0 there."""
    try:
        embed_worker.start()
    except Exception:  # only an optimisation: the fits run in the server's process
        log.exception("the embedding worker did not start")


def warm_umap() -> float | None:
    """UMAP ready for the visualise lesson's embeddings, off a click: the embedding worker started (if it
    is not) and waited for, or where none runs, umap and its kernels loaded in this process once no
    user's run is going (~10 s here that cannot yield). Seconds taken, None if it failed; a run that
    arrives first waits for it and says so (``embeddings.umap_ready``)."""
    start = time.perf_counter()
    try:
        start_embed_worker()
        worker = embed_worker.current()
        if worker is not None:
            if worker.wait_ready(READY_TIMEOUT_S):
                log.info("the embedding worker loaded umap in %.1f s (%.0f MB)", worker.ready_s, worker.rss_mb())
                return time.perf_counter() - start
            if not worker.dead.is_set():
                log.warning("the embedding worker did not load umap within %.0f s: stopped", READY_TIMEOUT_S)
                worker.stop()
        from cnnbp.lessons.visualise.embeddings import warm_umap as load_umap_here

        wait_while_users_run()  # loading cannot be interrupted: only between runs
        load_umap_here()
        return time.perf_counter() - start
    except Exception:  # only an optimisation: the run loads it itself
        log.exception("UMAP warm-up failed")
        return None


def _warm_all(defaults: bool) -> None:
    start_embed_worker()  # before this thread lowers its priority: the child would inherit it
    lower_this_threads_priority()
    warm_up()  # done already where app.py called it before listening
    warm_umap()
    if defaults:
        try:
            wait_for_quiet()
            log.info("caching every lesson's defaults (a user's request stops it)")
            log.info("cached the defaults of %d lesson(s)", warm_defaults())
        except Exception:
            log.exception("warming the defaults failed")


def start_warmup_thread(*, defaults: bool = True) -> threading.Thread:
    thread = threading.Thread(target=_warm_all, args=(defaults,), name="cnnbp-warmup", daemon=True)
    thread.start()
    return thread
