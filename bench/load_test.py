"""Bench: a class at once. Starts `python app.py` on loopback, then
  phase 1: 30 concurrent clients press Run on the default settings of the init lesson;
  phase 2: 10 concurrent clients on distinct settings (small runs, different seeds);
  phase 3: the same 10 again (memory must stay flat; identical runs come from the cache);
  phase 4: a queue of 4 (CNNBP_QUEUE_MAX_SIZE) under 12 clients: the surplus is refused clearly.
Reports answered / refused / errors, p50 / p95 latency and the server's peak memory. Bounded:
every client has a timeout and the server is stopped at the end.

    python bench/load_test.py [--clients 30] [--distinct 10] [--phases 1,2,3,4]

Phase 1 also prints the run's own time (its "done in" line, measured in the server) and the p95
over it: the target is p95 <= the run's own time + 2 s (the start-up warm-up must not take the
cores from the first run). The load average is printed beside each phase.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client  # noqa: E402

from cnnbp.lessons.base import validate_config  # noqa: E402
from cnnbp.lessons.init.config import InitConfig  # noqa: E402
from cnnbp.ui.widgets import field_order  # noqa: E402

CLIENT_TIMEOUT_S = 600
START_TIMEOUT_S = 600  # python app.py on a machine shared by several test runs took 190 s to serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, queue_size: int | None = None):
        self.port = free_port()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_ANALYTICS_ENABLED": "False"}
        if queue_size:
            env["CNNBP_QUEUE_MAX_SIZE"] = str(queue_size)
        self.log = tempfile.TemporaryFile(mode="w+")  # the app's output, shown if it fails to start
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        start = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=1)
                break
            except OSError:
                if time.perf_counter() - start > START_TIMEOUT_S or self.proc.poll() is not None:
                    self.proc.kill()
                    self.log.seek(0)
                    raise RuntimeError("the app did not start:\n" + self.log.read()[-3000:])
                time.sleep(0.2)
        self.started_in = time.perf_counter() - start
        threading.Thread(target=self._watch_memory, daemon=True).start()

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _watch_memory(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(15)


def values(**overrides) -> list:
    cfg = validate_config(InitConfig, overrides).model_dump()
    return [cfg[name] for name in field_order(InitConfig)]


def one_request(url: str, args: list) -> tuple[str, float, str]:
    start = time.perf_counter()
    try:
        out = Client(url, verbose=False).predict(*args, api_name="/init")
        status = str(out[0])
        kind = "answered" if ("done in" in status or "cache" in status) else "other"
        return kind, time.perf_counter() - start, status[:80]
    except Exception as err:  # noqa: BLE001  (classify every outcome; none may be lost)
        text = str(err)
        kind = "refused" if ("queue" in text.lower() and "full" in text.lower()) else "error"
        return kind, time.perf_counter() - start, text[:120]


def phase(name: str, url: str, argsets: list[list]) -> list[tuple[str, float, str]]:
    with ThreadPoolExecutor(max_workers=len(argsets)) as pool:
        results = list(pool.map(lambda a: one_request(url, a), argsets, timeout=CLIENT_TIMEOUT_S))
    counts = {k: sum(r[0] == k for r in results) for k in ("answered", "refused", "error", "other")}
    answered = sorted(r[1] for r in results if r[0] == "answered") or [0.0]
    p95 = answered[min(len(answered) - 1, int(round(0.95 * (len(answered) - 1))))]
    print(f"{name}: {len(results)} requests -> {counts}; latency p50 {statistics.median(answered):.1f} s, "
          f"p95 {p95:.1f} s, max {max(answered):.1f} s (load {os.getloadavg()[0]:.1f})")
    own = [float(m.group(1)) for r in results if (m := re.search(r"done in ([0-9.]+) s", r[2]))]
    if own:
        print(f"   the run's own time in the server: {min(own):.1f} s; p95 - own time = {p95 - min(own):.1f} s "
              f"(target <= 2 s)")
    for r in results:
        if r[0] in ("error", "other"):
            print(f"   {r[0]}: {r[2]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--distinct", type=int, default=10)
    parser.add_argument("--phases", default="1,2,3,4", help="which phases to run, e.g. 1")
    args = parser.parse_args()
    phases = {int(p) for p in args.phases.split(",")}
    server = Server()
    print(f"server up in {server.started_in:.1f} s; RSS {server.rss_mb():.0f} MB")
    try:
        phase(f"phase 1, {args.clients} clients on the defaults", server.url, [values()] * args.clients)
        if phases == {1}:
            return
        rss1 = server.rss_mb()
        small = dict(width=1024, depth=6, epochs=1, symmetry_steps=10, inits=["xavier", "kaiming"])
        distinct = [values(**small, seed=100 + i) for i in range(args.distinct)]
        phase(f"phase 2, {args.distinct} clients on distinct settings", server.url, distinct)
        rss2 = server.rss_mb()
        phase("phase 3, the same distinct settings again", server.url, distinct)
        rss3 = server.rss_mb()
        print(f"server RSS after phases 1/2/3: {rss1:.0f} / {rss2:.0f} / {rss3:.0f} MB; "
              f"peak {server.peak_rss_mb:.0f} MB")
    finally:
        server.close()
    if 4 not in phases:
        return
    small_queue = Server(queue_size=4)
    try:
        quick = [values(width=512, depth=4, epochs=2, seed=500 + i) for i in range(12)]
        phase("phase 4, 12 clients against a queue of 4", small_queue.url, quick)
    finally:
        small_queue.close()


if __name__ == "__main__":
    main()
