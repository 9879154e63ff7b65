"""Bench: a class at once. Starts `python app.py` on loopback, then
  phase 0: 30 concurrent page loads (the page, its theme and the files its HTML names);
  phase 1: 30 concurrent clients press Run on the default settings of the init lesson, then 30 new
           ones again (served from the cache: what a visitor costs beyond the run);
  phase 2: 10 concurrent clients on distinct settings (small runs, different seeds);
  phase 3: the same 10 again (memory must stay flat; identical runs come from the cache);
  phase 4: a queue of 4 (CNNBP_QUEUE_MAX_SIZE) under 12 clients: the surplus is refused clearly.
Reports answered / refused / errors, p50 / p95 latency and the server's peak memory. Bounded:
every client has a timeout and the server is stopped at the end.

    python bench/load_test.py [--clients 30] [--distinct 10] [--phases 0,1,2,3,4] [--no-baseline] [--clients-nice 10]
                              [--as-page] [--gradio-client]

A client is a raw HTTP client of Gradio's queue (config, queue/join, the queue/data event stream read to
its last message), as cheap as a student's request is to the server's cores; --gradio-client uses
gradio_client instead (each Client parses the app's config in this process, GIL-bound: 30 of them
took seconds of the shared cores). Each phase prints this process's own CPU per client.

Phase 1 also prints the run's own time (its "done in" line, measured in the server) and the p95
over it: the target is p95 <= the run's own time + 2 s (the start-up warm-up must not take the
cores from the first run). Each phase prints the server's CPU seconds per client and the load average.

Baseline: phases 0 and 1 first run against the naive app, Gradio's own per-visitor work (every page
and config built afresh, every new session computing every block's config; see NAIVE_APP), started
fresh the same way, then against the app; the ratios are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from cnnbp.lessons.base import validate_config  # noqa: E402
from cnnbp.lessons.init.config import InitConfig  # noqa: E402
from cnnbp.ui.widgets import field_order  # noqa: E402

CLIENT_TIMEOUT_S = 600
START_TIMEOUT_S = 600  # python app.py on a machine shared by several test runs took 190 s to serve
PAGE_TIMEOUT_S = 120
# app.py without the per-visitor caches (cnnbp/ui/config_cache.py, session_defaults.py): the baseline
NAIVE_APP = ("import runpy, cnnbp.ui as ui; options = ui.launch_options; "
             "ui.launch_options = lambda: {k: v for k, v in options().items() if k != 'app_kwargs'}; "
             "ui.share_session_defaults = lambda demo: None; runpy.run_path('app.py', run_name='__main__')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, queue_size: int | None = None, naive: bool = False, trace: str | None = None):
        self.port = free_port()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_ANALYTICS_ENABLED": "False"}
        if queue_size:
            env["CNNBP_QUEUE_MAX_SIZE"] = str(queue_size)
        self.log = tempfile.TemporaryFile(mode="w+")  # the app's output, shown if it fails to start
        command = ["-c", NAIVE_APP] if naive else ["app.py"]
        self.trace = trace
        if trace:  # its threads sampled and its log timestamped (bench/thread_trace.py)
            self.log = open(trace + ".log", "w+")
            command = ["bench/thread_trace.py", trace + ".jsonl", "app.py"]
        self.proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env,
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
        self.listening_at = time.time()
        threading.Thread(target=self._watch_memory, daemon=True).start()

    def cpu_s(self) -> float:
        """The server's CPU seconds so far (user + system, all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self, pid: int | None = None) -> float:
        try:
            with open(f"/proc/{pid or self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:  # ended meanwhile
            pass
        return 0.0

    def children_rss_mb(self) -> float:
        """The resident memory of the server's child processes (its embedding worker), Linux."""
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # ended meanwhile
                continue
            if parent == self.proc.pid:
                total += self.rss_mb(int(stat.parent.name))
        return total

    def memory(self) -> str:
        return f"RSS {self.rss_mb():.0f} MB + its embedding worker {self.children_rss_mb():.0f} MB"

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


GRADIO_CLIENT = False  # --gradio-client: each client a gradio_client Client (0.2-0.3 CPU s of config parsing)
AS_PAGE = False  # --as-page: the requests say x-gradio-user: app, as the page's do (figures paced for drawing)
ENDPOINT = -1  # the fn_index of /init (init_endpoint), set once the server is up
MOMENTS: list[dict[str, float]] = []  # per raw client: seconds from its start to each stage
_TLS: list = []  # one TLS context for every raw client (none is used on http://, but httpx builds one per Client)


def tls_context():
    """httpx.Client() loads the system's certificates each time (~50 ms of CPU here): 30 clients paid 1.6 CPU s
    of this process, GIL-bound, on the server's cores and inside their own latency; a class's machines each
    pay their own, elsewhere. Made once here."""
    if not _TLS:
        _TLS.append(httpx.create_ssl_context())
    return _TLS[0]


def init_endpoint(url: str) -> int:
    """The fn_index of the init lesson's Run (/init), read once from the app's config."""
    config = httpx.get(urllib.parse.urljoin(url, "config"), timeout=PAGE_TIMEOUT_S).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "init")


def one_request(url: str, args: list) -> tuple[str, float, str]:
    start = time.perf_counter()
    try:
        if GRADIO_CLIENT:
            status = str(Client(url, verbose=False).predict(*args, api_name="/init")[0])
        else:
            status = raw_request(url, args)
        kind = "answered" if ("done in" in status or "cache" in status) else "other"
        return kind, time.perf_counter() - start, status[:80]
    except Exception as err:  # noqa: BLE001  (classify every outcome; none may be lost)
        text = str(err)
        kind = "refused" if ("queue" in text.lower() and "full" in text.lower()) else "error"
        return kind, time.perf_counter() - start, text[:120]


def raw_request(url: str, args: list) -> str:
    """One student's Run as the page's client makes it, costing this process next to nothing: the
    app's config fetched (not parsed: the page's copy is parsed on the student's machine), the event
    joined (POST queue/join) and its stream read (GET queue/data, server-sent events) to the last
    message; returns the status line the run ended with."""
    session, start = uuid.uuid4().hex, time.perf_counter()
    headers = {"x-gradio-user": "app" if AS_PAGE else "api"}
    moments = {}
    with httpx.Client(base_url=url, headers=headers, timeout=CLIENT_TIMEOUT_S, verify=tls_context()) as http:
        http.get("config").raise_for_status()
        moments["config"] = time.perf_counter() - start
        joined = http.post("gradio_api/queue/join", json={"data": args, "fn_index": ENDPOINT, "session_hash": session,
                                                           "event_data": None, "trigger_id": None})
        if joined.status_code == 503:
            raise RuntimeError(f"queue full: {joined.text[:80]}")
        joined.raise_for_status()
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            moments["joined"] = time.perf_counter() - start
            for line in stream.iter_lines():
                if '"msg":"process_starts"' in line[:40]:
                    moments["handler started"] = time.perf_counter() - start
                if not line.startswith("data:") or '"msg":"process_completed"' not in line:
                    continue  # only the last message is read whole: the figures are for a page to draw
                message = json.loads(line[5:])
                if not message.get("success", True):
                    raise RuntimeError(str(message.get("output", {}).get("error")))
                moments["done"] = time.perf_counter() - start
                MOMENTS.append(moments)
                return str(message["output"]["data"][0])
    raise RuntimeError("the stream ended without a last message")


class PageFiles(HTMLParser):
    """The files a page's HTML names (scripts, style sheets, icons): what a browser fetches with it."""

    def __init__(self):
        super().__init__()
        self.paths: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs).get("src" if tag == "script" else "href" if tag == "link" else "")
        if found and not found.startswith(("http:", "https:", "data:")):
            self.paths.append(found)


def page_paths(url: str) -> list[str]:
    parser = PageFiles()
    parser.feed(urllib.request.urlopen(url, timeout=PAGE_TIMEOUT_S).read().decode())
    return ["", "theme.css", *parser.paths]


def one_page_load(url: str, paths: list[str]) -> tuple[str, float, str]:
    start = time.perf_counter()
    try:
        size = sum(len(urllib.request.urlopen(urllib.parse.urljoin(url, p), timeout=PAGE_TIMEOUT_S).read())
                   for p in paths)
        return "answered", time.perf_counter() - start, f"{size} bytes"
    except Exception as err:  # noqa: BLE001  (classify every outcome; none may be lost)
        return "error", time.perf_counter() - start, str(err)[:120]


def page_phase(server: "Server", clients: int) -> tuple[float, float]:
    """Phase 0: ``clients`` page loads at once; returns (p95 s, server CPU s per page load)."""
    paths = page_paths(server.url)
    cpu = server.cpu_s()
    results = run_all(lambda _: one_page_load(server.url, paths), range(clients))
    per_client = (server.cpu_s() - cpu) / clients
    p95 = report(f"phase 0, {clients} page loads of {len(paths)} files", results, per_client)
    return p95, per_client, answered(results)


def bench_cpu_s() -> float:
    """This process's CPU seconds so far: what the clients themselves cost the shared cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def answered(results: list[tuple[str, float, str]]) -> int:
    return sum(r[0] == "answered" for r in results)


CLIENT_NICE = 0  # --clients-nice: how much lower the client threads run than the server


def lower_this_thread() -> None:
    """Run this client thread at CLIENT_NICE (Linux: niceness is per thread; raising it needs no rights)."""
    if CLIENT_NICE:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CLIENT_NICE)


def run_all(task, items) -> list[tuple[str, float, str]]:
    items = list(items)
    with ThreadPoolExecutor(max_workers=len(items), initializer=lower_this_thread) as pool:
        return list(pool.map(task, items, timeout=CLIENT_TIMEOUT_S))


def report(name: str, results: list[tuple[str, float, str]], cpu_per_client: float) -> float:
    """Print a phase's outcome; returns the p95 latency of the answered."""
    counts = {k: sum(r[0] == k for r in results) for k in ("answered", "refused", "error", "other")}
    answered = sorted(r[1] for r in results if r[0] == "answered") or [0.0]
    p95 = answered[min(len(answered) - 1, int(round(0.95 * (len(answered) - 1))))]
    print(f"{name}: {len(results)} requests -> {counts}; latency p50 {statistics.median(answered):.1f} s, "
          f"p95 {p95:.1f} s, max {max(answered):.1f} s; server CPU {cpu_per_client:.2f} s per client "
          f"(load {os.getloadavg()[0]:.1f})")
    failed = sorted(r for r in results if r[0] in ("error", "other"))
    for kind, text in sorted({(r[0], r[2]) for r in failed}):
        times = [r[1] for r in failed if (r[0], r[2]) == (kind, text)]
        print(f"   {len(times)} x {kind} after {min(times):.1f}-{max(times):.1f} s: {text}")
    return p95


def phase(name: str, server: "Server", argsets: list[list], *, own_time: bool = True) -> tuple[float, float, int]:
    """Clients pressing Run at once; returns (p95 s, server CPU s per client, how many were answered)."""
    cpu, own_cpu, began = server.cpu_s(), bench_cpu_s(), time.time()
    results = run_all(lambda a: one_request(server.url, a), argsets)
    per_client = (server.cpu_s() - cpu) / len(argsets)
    p95 = report(name, results, per_client)
    print(f"   this bench's own CPU per client: {(bench_cpu_s() - own_cpu) / len(argsets):.3f} s")
    if MOMENTS:  # where a client's time went: before the handler started (Gradio's queue) or after
        stages = {k: sorted(m[k] for m in MOMENTS if k in m) for k in MOMENTS[0]}
        print("   seconds after a client's start, p50 / max: " + "; ".join(
            f"{k} {statistics.median(v):.1f} / {v[-1]:.1f}" for k, v in stages.items() if v))
        served = sorted(m["done"] - m["handler started"] for m in MOMENTS if "handler started" in m)
        if served:  # the server's side: from the handler's start (Gradio's queue behind) to the last message
            print(f"   from the handler's start to the last message: p50 {statistics.median(served):.1f} s, "
                  f"p95 {served[min(len(served) - 1, round(0.95 * (len(served) - 1)))]:.1f} s")
        MOMENTS.clear()
    own = [float(m.group(1)) for r in results if (m := re.search(r"done in ([0-9.]+) s", r[2]))]
    if own and own_time:
        print(f"   the run's own time in the server: {min(own):.1f} s; p95 - own time = {p95 - min(own):.1f} s "
              f"(target <= 2 s)")
    if server.trace and own_time:
        show_trace(server, began, time.time())
    return p95, per_client, answered(results)


def show_trace(server: "Server", began: float, ended: float) -> None:
    """--trace: the server's log lines of the phase and its threads' CPU, from the moment it listened."""
    from bench.thread_trace import summarise

    server.log.flush()
    server.log.seek(0)
    for line in server.log:
        stamp, _, rest = line.partition(" ")
        try:
            at = float(stamp)
        except ValueError:
            continue
        if at <= ended:
            print(f"   server log {at - server.listening_at:+6.1f} s: {rest.strip()[:110]}")
    print(f"   the phase began {began - server.listening_at:.1f} s after the server listened")
    for name, start, end in (("first 10 s", server.listening_at, server.listening_at + 10),
                             ("the whole phase", server.listening_at, ended)):
        print(f"   {name} after it listened:")
        for line in summarise(server.trace + ".jsonl", start, end):
            print("   " + line)


def after_start_up(label: str, args, phases: set[int], naive: bool) -> dict[int, tuple]:
    """Phases 0 and 1 on a freshly started server (then 2 and 3 on the app): {phase: figures}."""
    global ENDPOINT
    trace = None
    if args.trace:
        Path(args.trace).mkdir(parents=True, exist_ok=True)
        trace = str(Path(args.trace) / ("naive" if naive else "app"))
    server = Server(naive=naive, trace=None if naive else trace)
    print(f"{label}: server up in {server.started_in:.1f} s; {server.memory()}; load {os.getloadavg()[0]:.1f}")
    ENDPOINT = init_endpoint(server.url)
    tls_context()  # before the clock of any client starts
    figures: dict[int, tuple] = {}
    try:
        if 0 in phases:
            figures[0] = page_phase(server, args.clients)
        if 1 in phases:
            figures[1] = phase(f"phase 1, {args.clients} clients on the defaults", server, [values()] * args.clients)
            print(f"   after phase 1: {server.memory()}")
            if args.no_repeat:
                return figures
            # the same again, served from the cache: what a visitor costs the server beyond the run
            figures[-1] = phase(f"phase 1 again, {args.clients} new clients on the cached defaults", server,
                                [values()] * args.clients, own_time=False)
        if naive or not phases & {2, 3}:
            return figures
        rss1 = server.rss_mb()
        small = dict(width=1024, depth=6, epochs=1, symmetry_steps=10, inits=["xavier", "kaiming"])
        distinct = [values(**small, seed=100 + i) for i in range(args.distinct)]
        phase(f"phase 2, {args.distinct} clients on distinct settings", server, distinct)
        rss2 = server.rss_mb()
        phase("phase 3, the same distinct settings again", server, distinct)
        rss3 = server.rss_mb()
        print(f"server RSS after phases 1/2/3: {rss1:.0f} / {rss2:.0f} / {rss3:.0f} MB; "
              f"peak {server.peak_rss_mb:.0f} MB; its embedding worker {server.children_rss_mb():.0f} MB")
    finally:
        server.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--distinct", type=int, default=10)
    parser.add_argument("--phases", default="0,1,2,3,4", help="which phases to run, e.g. 0,1")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive app (phases 0 and 1)")
    parser.add_argument("--clients-nice", type=int, default=0, metavar="N",
                        help="run the clients N nice levels below the server: a class's browsers and clients run "
                             "on their own machines, here they share the server's cores (each gradio_client "
                             "Client parses the app's config: 0.2-0.3 CPU s)")
    parser.add_argument("--gradio-client", action="store_true",
                        help="each client a gradio_client Client, as before (it parses the app's 976 KiB config "
                             "in this process: 0.2-0.3 CPU s each, on the server's cores)")
    parser.add_argument("--as-page", action="store_true",
                        help="the raw clients' requests say they come from the page (x-gradio-user: app): the "
                             "figures come paced for drawing, as a browser gets them")
    parser.add_argument("--no-repeat", action="store_true", help="phase 1 without its cached repeat")
    parser.add_argument("--trace", metavar="DIR", help="the app's threads sampled (bench/thread_trace.py): its "
                        "log and each thread's CPU over phase 1, written to DIR and summarised")
    args = parser.parse_args()
    global CLIENT_NICE, GRADIO_CLIENT, AS_PAGE
    CLIENT_NICE, GRADIO_CLIENT, AS_PAGE = args.clients_nice, args.gradio_client, args.as_page
    print(f"clients: {'gradio_client' if GRADIO_CLIENT else 'raw HTTP, as the ' + ('page' if AS_PAGE else 'API')}; "
          f"load {os.getloadavg()[0]:.1f}")
    if CLIENT_NICE:
        print(f"clients run {CLIENT_NICE} nice levels below the server")
    phases = {int(p) for p in args.phases.split(",")}
    baseline = not args.no_baseline and bool(phases & {0, 1})
    naive = after_start_up("naive app (Gradio's per-visitor work)", args, phases, naive=True) if baseline else {}
    ours = after_start_up("app", args, phases, naive=False)
    for number, name in ((0, "page loads"), (1, "clients on the defaults"), (-1, "again, cached")):
        if number in naive and number in ours:
            (p95_naive, cpu_naive, n_naive), (p95_ours, cpu_ours, n_ours) = naive[number], ours[number]
            p95_ratio = f"({p95_naive / p95_ours:.1f}x)" if n_naive and n_ours else "(p95 of the answered only)"
            print(f"phase {abs(number)}, {name}, naive / app: answered {n_naive} / {n_ours} of {args.clients}, "
                  f"p95 {p95_naive:.1f} / {p95_ours:.1f} s {p95_ratio}, server CPU per client "
                  f"{cpu_naive:.2f} / {cpu_ours:.2f} s (load {os.getloadavg()[0]:.1f})")
    if 4 not in phases:
        return
    small_queue = Server(queue_size=4)
    try:
        quick = [values(width=512, depth=4, epochs=2, seed=500 + i) for i in range(12)]
        phase("phase 4, 12 clients against a queue of 4", small_queue, quick)
    finally:
        small_queue.close()


if __name__ == "__main__":
    main()
