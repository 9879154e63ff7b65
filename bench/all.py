"""Bench: every registered lesson and the speed issue's figures, in one process, as README rows.

    python bench/all.py                      # everything (CPU_CORES=2 for the 2-core figures)
    python bench/all.py --lessons norms,init --no-memory
    python bench/all.py --device cuda        # the same on a GPU (bench/gpu.py adds the claims ledger)

1. Warm-up: the app's start-up warm-up (imports, numba's UMAP compile), then before each lesson's
   row its Quick settings once (its imports, first allocations), so no row pays a one-time cost.
2. Every lesson in LESSONS (so new lessons join by registering) on its defaults, click to final
   frame: wall seconds, the first frame, the longest wait between two frames (and the CPU seconds of
   this thread in it: near the wall figure on an idle machine), the run's CPU seconds (the process's:
   on one torch thread near the idle wall time, whatever the load), the largest update (the largest
   message the tab sends, as ui/runner.run_live sends them: one changed figure per message as plotly
   JSON, changed tables, the verdict lines, the numbers JSON on the last frame; beside it a whole
   frame in one message, as before ui/pacing), and the server's own estimate (``cost_seconds``).
3. Naive baselines measured here, next to what the lessons do (``bench/baselines.py``): the norms
   comparison against the notebook loop, occlusion against one forward per position, ... ; each a ratio.
4. Embeddings of 2,000 points once warm (PCA, UMAP, t-SNE) and UMAP cold (its first call in a fresh
   process: what the warm-up pays); occlusion of a 28 x 28 input over 169 positions.
5. Resident memory of the process (the app's UI built, results kept in its cache as the app keeps
   them, free pages handed back after each run as the app does) after every lesson ran once and after
   a second round, the embedding worker's beside it; round 2 is called flat within the larger of 25 MB
   and 2% of round 1 (a leak or the allocator's growth shows as more).

Every figure is printed with the 1-minute load average when it was taken: on a shared machine the
absolute times inflate, the ratios (taken in this process, one after the other) much less.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

TARGETS = {"run_s": 10.0, "first_frame_s": 0.5, "gap_s": 0.5, "update_kib": 100.0, "rss_mb": 2048.0}


def load() -> str:
    """The 1-minute load average, printed beside every figure."""
    return f"load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "load ?"


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, not current: macOS


def update_bytes(frame, lesson) -> dict[str, int]:
    """Bytes of what the tab sends for ``frame``, by component: the runner's own mapping of a Frame
    onto its components, each value serialised as Gradio does (a plotly figure as its JSON; a value
    after a ``gr.skip()`` goes whole, not as a diff)."""
    import pandas as pd

    from cnnbp.ui.runner import frame_outputs

    names = ["status", "verdicts", *(n for n, _ in lesson.figures), *(n for n, _ in lesson.tables), "numbers"]
    sizes = {}
    for name, value in zip(names, frame_outputs(frame, lesson)):
        if hasattr(value, "to_json") and not isinstance(value, pd.DataFrame):  # a plotly figure
            sizes[name] = len(value.to_json())
        elif isinstance(value, pd.DataFrame):
            sizes[name] = len(value.to_json(orient="split", default_handler=str))
        elif isinstance(value, (dict, list)):
            sizes[name] = len(json.dumps(value, default=str))
        elif isinstance(value, str):
            sizes[name] = len(value)
    return sizes


def message_sizes(frame, lesson) -> list[dict[str, int]]:
    """The page's messages for ``frame``, by component, as ``ui/runner.run_live`` sends them: a frame's
    figures go one per message (``ui/pacing``), the largest at most beside its tables and verdicts
    mid-run; at the last frame every figure alone (drained first), then the numbers with the verdicts."""
    sizes = update_bytes(frame, lesson)
    figures = {n: sizes.pop(n) for n, _ in lesson.figures if n in sizes}
    if frame.done:
        return [*({"status": sizes.get("status", 0), n: b} for n, b in figures.items()), sizes]
    largest = max(figures, key=figures.get, default=None)
    return [{**sizes, **({largest: figures[largest]} if largest else {})}]


@dataclass
class LessonTiming:
    name: str
    seconds: float = 0.0
    cpu_s: float = 0.0  # the process's CPU seconds in the run (the bench's own measuring left out)
    first_frame_s: float = 0.0
    longest_gap_s: float = 0.0
    longest_gap_cpu_s: float = 0.0  # this thread's CPU seconds in that wait: on a busy machine, the idle figure
    largest_update_kib: float = 0.0  # the largest message the page gets (ui/pacing: one figure per message)
    largest_component: str = ""
    largest_without_numbers_kib: float = 0.0  # the same without the numbers JSON
    largest_frame_kib: float = 0.0  # a whole frame's changed figures, tables, verdicts and numbers together
    frames: int = 0
    estimate_s: float = 0.0
    load: str = ""
    message: str = ""
    gaps: list[float] = field(default_factory=list)
    gaps_cpu: list[float] = field(default_factory=list)


def time_lesson(name: str, values: dict | None = None, *, measure_updates: bool = True) -> LessonTiming:
    """One run of ``name`` from the click to its final frame, frame by frame."""
    from cnnbp.lessons.base import get_lesson, validate_config
    from cnnbp.train import RunControl

    lesson = get_lesson(name)
    out = LessonTiming(name)
    start = time.perf_counter()
    cfg = validate_config(lesson.config, values)
    out.estimate_s = cfg.cost_seconds()
    last, frame = start, None
    last_cpu, cpu_start = time.thread_time(), time.process_time()
    for frame in lesson.run(cfg, RunControl(budget_s=float("inf"))):
        now, now_cpu, now_process = time.perf_counter(), time.thread_time(), time.process_time()
        if out.frames == 0:
            out.first_frame_s = now - start
        else:
            out.gaps.append(now - last)
            out.gaps_cpu.append(now_cpu - last_cpu)
        out.frames += 1
        if measure_updates:
            sizes = update_bytes(frame, lesson)  # the whole frame in one message, as before ui/pacing
            out.largest_frame_kib = max(out.largest_frame_kib, sum(sizes.values()) / 1024)
            for sizes in message_sizes(frame, lesson):
                if sum(sizes.values()) / 1024 > out.largest_update_kib:
                    out.largest_update_kib = sum(sizes.values()) / 1024
                    out.largest_component = max(sizes, key=sizes.get)
                shown = sum(v for k, v in sizes.items() if k != "numbers") / 1024
                out.largest_without_numbers_kib = max(out.largest_without_numbers_kib, shown)
        last, last_cpu = time.perf_counter(), time.thread_time()  # measuring the update is the bench's cost
        start += last - now
        cpu_start += time.process_time() - now_process
    out.seconds = last - start
    out.cpu_s = time.process_time() - cpu_start
    out.longest_gap_s = max(out.gaps, default=0.0)
    out.longest_gap_cpu_s = max(out.gaps_cpu, default=0.0)
    out.message, out.load = frame.message, load()
    if not (frame.done and frame.message.startswith("done in")):
        raise RuntimeError(f"{name} did not finish: {frame.message}")
    return out


def warm_up(names: list[str]) -> float:
    """The app's start-up warm-up (imports, UMAP's compile), and the Quick settings of ``names``."""
    from cnnbp.ui.warmup import warm_umap
    from cnnbp.ui.warmup import warm_up as warm_imports

    start = time.perf_counter()
    warm_imports()
    warm_umap()
    for name in names:
        warm_lesson(name)
    return time.perf_counter() - start


def warm_lesson(name: str) -> float:
    """A lesson's Quick settings once: its imports and first allocations."""
    from cnnbp.lessons.base import get_lesson

    return time_lesson(name, dict(get_lesson(name).quick), measure_updates=False).seconds


def lesson_rows(names: list[str]) -> list[LessonTiming]:
    print("\n| lesson | default run (CPU) | first frame | longest wait between frames | largest update (its biggest "
          "part) | largest without the numbers JSON | a whole frame | server's estimate | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in names:
        warm_lesson(name)
        t = time_lesson(name)
        rows.append(t)
        flag = "" if t.seconds < TARGETS["run_s"] else " (over 10 s)"
        kib = f"{t.largest_update_kib:.0f} KiB ({t.largest_component})"
        gap = f"{t.longest_gap_s:.2f} s ({t.longest_gap_cpu_s:.2f} s CPU)"
        print(f"| {name} | {t.seconds:.1f} s{flag} ({t.cpu_s:.1f} s CPU) | {t.first_frame_s * 1000:.0f} ms | {gap} | "
              f"{kib}{'' if t.largest_update_kib < TARGETS['update_kib'] else ' (over 100)'} | "
              f"{t.largest_without_numbers_kib:.0f} KiB | {t.largest_frame_kib:.0f} KiB | "
              f"{t.estimate_s:.1f} s ({t.seconds / max(t.estimate_s, 1e-9):.1f}x) | {t.load} |", flush=True)
    return rows


# Round 2 counts as flat when it adds at most this much to round 1 (fixed before it was first measured):
# the larger of 25 MB and 2% of round 1.
FLAT_MB, FLAT_FRACTION = 25.0, 0.02


def is_flat(round1_mb: float, round2_mb: float) -> bool:
    return round2_mb - round1_mb <= max(FLAT_MB, FLAT_FRACTION * round1_mb)


def memory_rows(names: list[str], rounds: int = 2) -> None:
    """RSS with the UI built, after each round of every lesson's defaults kept in the result cache, the
    allocator's free pages handed back after each run as the app does when its last run ends
    (``ui/free_memory.py``); then whether round 2 is flat, and the embedding worker's RSS beside it."""
    import app  # noqa: F401  (builds the Blocks as the server does, without launching)
    from cnnbp import embed_worker
    from cnnbp.lessons.base import get_lesson, merge_frames, validate_config
    from cnnbp.train import RunControl
    from cnnbp.ui.cache import RESULTS
    from cnnbp.ui.free_memory import release_free_memory

    after = [rss_mb()]
    figures = [f"UI built: {after[0]:.0f} MB"]
    for r in range(rounds):
        for name in names:
            lesson = get_lesson(name)
            cfg = validate_config(lesson.config)
            RESULTS.put(name, cfg, merge_frames(lesson.run(cfg, RunControl(budget_s=float("inf")))))
            release_free_memory()
        after.append(rss_mb())
        figures.append(f"after round {r + 1}: {after[-1]:.0f} MB ({load()})")
    worker = embed_worker.current()
    worker_mb = worker.rss_mb() if worker is not None else 0.0
    beside = f"the embedding worker {worker_mb:.0f} MB" if worker is not None else "no embedding worker (fits here)"
    print(f"\nresident memory, every lesson's defaults run and kept as the app keeps them: {'; '.join(figures)}; "
          f"{beside}, {(max(after) + worker_mb) / 1024:.2f} GB in all "
          f"(target under {TARGETS['rss_mb'] / 1024:.0f} GB, flat over the second round)")
    if rounds >= 2:
        grew = after[2] - after[1]
        verdict = "flat" if is_flat(after[1], after[2]) else "NOT flat"
        print(f"round 2 {grew:+.0f} MB over round 1: {verdict} (tolerance: the larger of {FLAT_MB:.0f} MB and "
              f"{FLAT_FRACTION:.0%} of round 1, {max(FLAT_MB, FLAT_FRACTION * after[1]):.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", default="", help="comma-separated lesson names (default: every registered one)")
    parser.add_argument("--device", default="", help="cpu, cuda, ...: sets CNNBP_DEVICE for this run")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-embeddings", action="store_true")
    args = parser.parse_args()
    if args.device:
        os.environ["CNNBP_DEVICE"] = args.device
    from cnnbp.device import pick_device, set_threads_once
    from cnnbp.lessons import LESSONS

    threads = set_threads_once()
    names = [n.strip() for n in args.lessons.split(",") if n.strip()] or list(LESSONS)
    print(f"device {pick_device()}, torch threads {threads}, {os.cpu_count()} CPUs; {load()} at the start")
    print(f"warm-up (the app's start-up warm-up, UMAP's compile included): {warm_up([]):.1f} s ({load()})")
    lesson_rows(names)
    if not args.no_baselines:
        from bench import baselines

        baselines.print_rows(names)
    if not args.no_embeddings:
        from bench import baselines

        baselines.embedding_rows()
    if not args.no_memory:
        memory_rows(names)
    print(f"\n{load()} at the end")


if __name__ == "__main__":
    main()
