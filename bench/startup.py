"""Bench: seconds from `python app.py` to a served page, and from a lesson call to its first
frame and to its first figures, against a plain `import torch` (the floor of any start-up).

    python bench/startup.py
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


def seconds_to_serve() -> float:
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
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the app did not serve within 120 s")
    finally:
        proc.terminate()
        proc.wait(10)


def seconds_to_import_torch() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - start


def first_frames() -> tuple[float, float]:
    sys.path.insert(0, str(ROOT))
    from cnnbp.lessons import run_lesson

    start = time.perf_counter()
    frames = run_lesson("init", {})
    first = next(frames)
    t_first = time.perf_counter() - start
    while not next(frames).figures:
        pass
    return t_first, time.perf_counter() - start


def main() -> None:
    t_torch = seconds_to_import_torch()
    t_serve = seconds_to_serve()
    t_first, t_figures = first_frames()
    print(f"python -c 'import torch':         {t_torch:.2f} s")
    print(f"python app.py serving its page:   {t_serve:.2f} s ({t_serve / t_torch:.1f}x import torch)")
    print(f"init lesson, default settings: first frame {t_first * 1000:.0f} ms, "
          f"first figures (classic 6 x 4096) {t_figures:.2f} s")


if __name__ == "__main__":
    main()
