"""Start-up warm-up in a background thread: pay one-time costs before the first click.

torch imports its compiler stack the first time an optimiser is built (~1.5 s here), plotly
its subplot machinery, scikit-learn its digits. None of that should fall on a student's click,
and none of it may block the first page load, hence a daemon thread.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("cnnbp.warmup")
READY = threading.Event()  # set once the warm-up has finished (or failed: it is only an optimisation)


def warm_up() -> float:
    """Run the one-time work; returns the seconds it took."""
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
    return time.perf_counter() - start


def start_warmup_thread() -> threading.Thread:
    thread = threading.Thread(target=warm_up, name="cnnbp-warmup", daemon=True)
    thread.start()
    return thread
