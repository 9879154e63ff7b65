"""Bench: what one new visitor costs the server, Gradio's way against the app's, in one process.

Launches the app in this process (no warm-up thread) and measures the process's CPU time of:
  GET /, GET /config, GET /gradio_api/info: Gradio computing the answer (a query string never seen
      before makes a new cache key) against the replayed answer (cnnbp/ui/config_cache.py);
  a new session's state: Gradio's SessionState against the copy of the first session's
      (cnnbp/ui/session_defaults.py), made the way Gradio makes it on a visitor's first event.
Interleaved, medians of --repeats; CPU seconds, so the load (printed) inflates them little.

    python bench/visitor_cost.py [--repeats 7]
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import bench_args  # noqa: E402


def cpu_ms(fn) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


def main() -> None:
    repeats = bench_args(__doc__, repeats=7)[0].repeats
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import app
    from cnnbp.ui import launch_options, session_defaults

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    **launch_options())
    url = f"http://127.0.0.1:{port}/"
    http = httpx.Client(timeout=120)
    try:
        rows = []
        for path in ("", "config", "gradio_api/info"):
            size = len(http.get(url + path).content)  # the first answer: kept from now on
            fresh, replayed = [], []
            for _ in range(repeats):
                fresh.append(cpu_ms(lambda: http.get(url + path, params={"fresh": uuid.uuid4().hex})))
                replayed.append(cpu_ms(lambda: http.get(url + path)))
            rows.append((f"GET /{path} ({size / 1024:.0f} KiB)", fresh, replayed))
        holder = app.demo.state_holder
        gradios, ours = [], []
        for _ in range(repeats):
            gradios.append(cpu_ms(lambda: session_defaults.GradioSessionState(app.demo)))
            ours.append(cpu_ms(lambda: holder[uuid.uuid4().hex]))
        rows.append((f"new session ({len(app.demo.blocks)} blocks)", gradios, ours))
    finally:
        http.close()
        app.demo.close()
    print(f"CPU ms per visitor, medians of {repeats} (load {os.getloadavg()[0]:.1f}):")
    print(f"{'':34s} {'Gradio':>8s} {'app':>8s} {'ratio':>7s}")
    for name, naive, new in rows:
        a, b = statistics.median(naive), statistics.median(new)
        print(f"{name:34s} {a:8.1f} {b:8.1f} {a / max(b, 1e-9):6.1f}x")


if __name__ == "__main__":
    main()
