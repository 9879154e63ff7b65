"""Bench: seconds from `python app.py` to a served page, and from a lesson call to its first
frame and to its first figures, against a plain `import torch` (the floor of any start-up).

    python bench/startup.py [--repeats N]

The load average is printed beside each figure (the machine is shared: compare runs at like loads).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_to_serve(*, first_frame: bool = False) -> tuple[float, float | None]:
    """(seconds until the page is served, seconds from a click to its first streamed frame)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        served = time.perf_counter() - start
                        return served, (click_to_first_frame(port) if first_frame else None)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the app did not serve within 120 s")
    finally:
        proc.terminate()
        proc.wait(10)


def click_to_first_frame(port: int) -> float:
    """Through the real server: a non-default run (no cache hit) until its first frame arrives."""
    from gradio_client import Client

    from cnnbp.lessons.base import validate_config
    from cnnbp.lessons.init.config import InitConfig
    from cnnbp.ui.widgets import field_order

    cfg = validate_config(InitConfig, {"seed": 31337}).model_dump()
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    start = time.perf_counter()
    job = client.submit(*[cfg[n] for n in field_order(InitConfig)], api_name="/init")
    while not job.outputs():
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    job.cancel()
    return elapsed


def seconds_to_import_torch() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - start


def first_frames() -> tuple[float, float]:
    from cnnbp.lessons import run_lesson

    start = time.perf_counter()
    frames = run_lesson("init", {})
    next(frames)
    t_first = time.perf_counter() - start
    while not next(frames).figures:
        pass
    return t_first, time.perf_counter() - start


def load() -> str:
    return "load " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="start the app this many times")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    t_torch = seconds_to_import_torch()
    print(f"python -c 'import torch':         {t_torch:.2f} s ({load()})", flush=True)
    for _ in range(args.repeats):
        t_serve, t_click = seconds_to_serve(first_frame=True)
        print(f"python app.py serving its page:   {t_serve:.2f} s ({t_serve / t_torch:.1f}x import torch); "
              f"click -> first streamed frame through the server: {t_click * 1000:.0f} ms ({load()})", flush=True)
    t_first, t_figures = first_frames()
    print(f"init lesson, default settings: first frame {t_first * 1000:.0f} ms, "
          f"first figures (classic 6 x 4096) {t_figures:.2f} s ({load()})")


if __name__ == "__main__":
    main()
