"""Where the page's main-thread time goes while a tab's run streams: a CDP CPU profile of one streaming
run of the quick settings in headless Chromium at 1024 x 768 (issue 17's stalls).

The profile's samples are cut into busy stretches (samples with no idle between them: about one task
each); for every stretch over ``--over`` ms it prints its length and the functions it spent the most
time in (inclusive, each counted once per sample), so a stall is named by its parts: a figure's
``react`` (plotly's draw), ``resize`` (plotly's redraw 100 ms after Gradio's ``Plots.resize``), Gradio's
per-message work (``update_loading_stati_state``, ``get_data``), the browser's layout under
``getBoundingClientRect``, and so on. Then the whole run's totals of the same functions.

    python bench/profile_page.py [--tabs activations] [--seed 13] [--over 100]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("CPU_CORES", "1")

SAMPLING_US = 500


def stretches(profile: dict) -> list[tuple[float, list[int]]]:
    """(ms, sample node ids) of each run of non-idle samples."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    out, cur, ms = [], [], 0.0
    for node, dt in zip(profile["samples"], profile["timeDeltas"]):
        name = nodes[node]["callFrame"]["functionName"]
        if name in ("(idle)", "(program)") and cur:
            if name == "(idle)":
                out.append((ms, cur))
                cur, ms = [], 0.0
            continue
        if name == "(idle)":
            continue
        cur.append(node)
        ms += dt / 1000
    if cur:
        out.append((ms, cur))
    return out


def inclusive(profile: dict, samples: list[int], ms_per_sample: float) -> list[tuple[str, float]]:
    """Functions by the time spent in them (and below them), each counted once per sample."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    total = collections.Counter()
    for node in samples:
        seen = set()
        while node in nodes:
            f = nodes[node]["callFrame"]
            name = f["functionName"] or "(anonymous)"
            key = f"{name} {Path(f['url']).name.split('-')[0]}:{f['lineNumber'] + 1}" if f["url"] else name
            if key not in seen and name not in ("(root)", "(anonymous)"):
                seen.add(key)
                total[key] += ms_per_sample
            node = parent.get(node)
    return total.most_common(14)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", default="activations")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--over", type=float, default=100.0, help="print the stretches longer than this (ms)")
    parser.add_argument("--dump", help="write each profile to DUMP-<tab>.cpuprofile (DevTools opens it)")
    args = parser.parse_args()

    from bench.page_figures import app_page, run_tab

    with app_page() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": SAMPLING_US})
        for name in args.tabs.split(","):
            cdp.send("Profiler.start")
            _, tasks = run_tab(page, name, args.seed, fresh=False, against="fresh")
            profile = cdp.send("Profiler.stop")["profile"]
            if args.dump:
                Path(f"{args.dump}-{name}.cpuprofile").write_text(json.dumps(profile))
            ms_per_sample = (profile["endTime"] - profile["startTime"]) / 1000 / max(1, len(profile["samples"]))
            found = stretches(profile)
            busy = sum(ms for ms, _ in found)
            print(f"\n{name}: longest task {max(tasks, default=0):.0f} ms; {len(found)} busy stretches, "
                  f"{busy:.0f} ms busy; "
                  f"over {args.over:.0f} ms: {sum(ms > args.over for ms, _ in found)}; load {os.getloadavg()[0]:.1f}")
            for ms, samples in sorted(found, key=lambda s: -s[0])[:12]:
                if ms <= args.over:
                    break
                parts = ", ".join(f"{k} {v:.0f}" for k, v in inclusive(profile, samples, ms_per_sample)[:9])
                print(f"  {ms:6.0f} ms: {parts}")
            print("  whole run: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                              inclusive(profile, [n for _, s in found for n in s], ms_per_sample)))


if __name__ == "__main__":
    main()
