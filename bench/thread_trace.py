"""Where a server's threads spend the first minute: ``python bench/thread_trace.py OUT.jsonl app.py``
runs app.py (as ``python app.py`` would) with its log on stdout, timestamped, and a sampler thread
that every SAMPLE_S writes one JSON line to OUT: the wall time, each thread's CPU seconds so far
(/proc/self/task, Linux) and what each Python thread is doing (its innermost frames of our code,
gradio or an import). ``summarise`` reads it back for bench/load_test.py --trace.

A sampler needs the GIL to read the stacks, as any in-process profiler does; at 10 samples a second
it costs ~1% of a core (its own CPU is in the file, as "sampler"). py-spy is not installed here.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import sys
import threading
import time
from collections import Counter, defaultdict

SAMPLE_S = 0.1
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_cpu() -> dict[int, float]:
    """{native thread id: CPU seconds} of every thread of this process (native ones included)."""
    cpu = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK
        except OSError:  # ended meanwhile
            pass
    return cpu


def doing(frame) -> str:
    """A thread's stack in a few words: 'import <module>' while it imports (the lock others wait on),
    else its innermost frame in cnnbp or app.py, else in gradio/starlette/uvicorn/anyio, else the top."""
    ours = lib = None
    importing = None
    innermost = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}"
    while frame is not None:
        code = frame.f_code
        path = code.co_filename
        if code.co_name == "_find_and_load" and "importlib" in path:
            importing = frame.f_locals.get("name", "?")  # the outermost import wins
        if ours is None and ("/cnnbp/" in path or path.endswith("app.py")) and "thread_trace" not in path:
            ours = f"{path.rsplit('/cnnbp/', 1)[-1]}:{code.co_name}"
        if lib is None and any(f"/{p}/" in path for p in ("gradio", "starlette", "uvicorn", "anyio", "fastapi")):
            lib = f"{path.rsplit('site-packages/', 1)[-1]}:{code.co_name}"
        frame = frame.f_back
    if importing:
        return f"import {importing}"
    where = ours or lib or "other"
    return where if where.endswith(innermost) else f"{where} > {innermost}"


def sample_forever(path: str) -> None:
    names = {}
    with open(path, "w") as out:
        while True:
            frames = sys._current_frames()
            for t in threading.enumerate():
                names[t.native_id] = t.name
            by_ident = {t.ident: t.name for t in threading.enumerate()}
            states = {by_ident.get(ident, str(ident)): doing(f) for ident, f in frames.items()
                      if by_ident.get(ident) != "sampler"}
            cpu = {names.get(tid, f"native-{tid}"): s for tid, s in thread_cpu().items()}
            out.write(json.dumps({"t": time.time(), "cpu": cpu, "doing": states}) + "\n")
            out.flush()
            time.sleep(SAMPLE_S)


def summarise(path: str, start: float, end: float) -> list[str]:
    """Lines for a window of wall time [start, end]: CPU per thread group, and what the groups did."""
    rows = [json.loads(line) for line in open(path)]
    inside = [r for r in rows if start <= r["t"] <= end]
    if len(inside) < 2:
        return ["   (no samples in the window)"]
    first = {k: v for r in rows if r["t"] <= start for k, v in r["cpu"].items()}
    last = {k: v for r in inside for k, v in r["cpu"].items()}  # a thread that ended keeps its last figure
    group = defaultdict(float)
    for name, cpu in last.items():
        group[kind(name)] += cpu - first.get(name, 0.0)
    lines = [f"   server CPU by thread over {end - start:.1f} s: " + ", ".join(
        f"{k} {v:.1f} s" for k, v in sorted(group.items(), key=lambda kv: -kv[1]) if v >= 0.05)]
    seen = defaultdict(Counter)
    for r in inside:
        for name, what in r["doing"].items():
            seen[kind(name)][what] += 1
    for k in ("warm-up", "flight", "event loop", "handlers"):
        if seen[k]:
            total = sum(seen[k].values())
            top = ", ".join(f"{w} {n / total:.0%}" for w, n in seen[k].most_common(5))
            lines.append(f"   {k} ({total} samples): {top}")
    return lines


def kind(name: str) -> str:
    """A thread name -> its group (Gradio's handler threads are anyio's workers)."""
    for prefix, group in (("cnnbp-warmup", "warm-up"), ("cnnbp-flight", "flight"), ("AnyIO", "handlers"),
                          ("MainThread", "main"), ("sampler", "sampler"), ("native", "native (torch, ...)"),
                          ("cnnbp-embed", "embed reader")):
        if name.startswith(prefix):
            return group
    return "event loop" if name.startswith("Thread-") else "other"


if __name__ == "__main__":
    out_path, script = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(created).3f %(name)s %(message)s")
    logging.getLogger("cnnbp").setLevel(logging.INFO)
    threading.Thread(target=sample_forever, args=(out_path,), name="sampler", daemon=True).start()
    sys.argv = sys.argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python app.py` has it
    runpy.run_path(script, run_name="__main__")
