"""Where the suite's time goes, robust to a loaded machine: each test's wall seconds next to the CPU
seconds it cost (this process, plus subprocesses it waited for), setup and teardown included.

Opt-in: ``python -m pytest -p tests.cputime ...`` appends one JSON line per test to
$CNNBP_CPUTIME (default cputime.jsonl); ``python -m tests.cputime FILE...`` prints the top tests and
the totals per file. Lessons train on one torch thread, so a test's CPU seconds are close to its
wall time on an idle machine, whatever the load was (a browser's own CPU is not counted).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict

import pytest


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, wall, cpu, children = time.time(), time.perf_counter(), time.process_time(), _children_cpu()
    yield
    row = {"test": item.nodeid, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
           "children": _children_cpu() - children, "load": os.getloadavg()[0],
           "start": start, "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}  # an xdist run's timeline
    with open(os.environ.get("CNNBP_CPUTIME", "cputime.jsonl"), "a") as out:
        out.write(json.dumps(row) + "\n")


def main(paths: list[str], top: int = 40) -> None:
    rows = [json.loads(line) for path in paths for line in open(path)]
    cost = lambda r: r["cpu"] + r["children"]  # noqa: E731
    print(f"{len(rows)} tests: wall {sum(r['wall'] for r in rows):.0f} s, cpu {sum(map(cost, rows)):.0f} s")
    for r in sorted(rows, key=cost, reverse=True)[:top]:
        print(f"{cost(r):7.1f} cpu {r['wall']:7.1f} wall  load {r['load']:4.1f}  {r['test']}")
    files = defaultdict(float)
    for r in rows:
        files[r["test"].split("::")[0]] += cost(r)
    print("\nper file (cpu s):")
    for name, seconds in sorted(files.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        print(f"{seconds:7.1f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
