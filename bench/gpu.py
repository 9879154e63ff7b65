"""Bench: every lesson's defaults and the whole claims ledger on the GPU, with the CPU's verdicts beside.

    python bench/gpu.py                  # CNNBP_DEVICE=cuda unless set; needs nothing else
    python bench/gpu.py --no-cpu         # skip the CPU ledger (the verdicts are then not compared)
    python bench/gpu.py --device cpu     # the same script on the CPU (what the tests can run)

1. The device, its name and torch's view of it.
2. Every registered lesson on its defaults (after one Quick run of each: CUDA's context, cuDNN's
   kernel choice and the imports are one-time costs), click to final frame, as ``bench/all.py``.
3. The 15-variant comparison (norms: 5 norms x 3 seeds, seeds stacked), target under 2 s on an H200.
4. The paths that once pinned the CPU ("tiny convs: one CPU thread beats a GPU launch"): each timed on
   the CPU and on CUDA in this process (``PINNED``); a lesson may pin the CPU only where this shows
   the CPU faster (only the CPU's column without CUDA: ``--pinned --device cpu``).
5. The whole claims ledger at seed 0 (``cnnbp.claims``), each claim's verdict and seconds, the total
   (target under 60 s on an H200); then the same ledger on the CPU in a subprocess
   (``CNNBP_DEVICE=cpu``), and every claim whose verdict differs between the two.

Prints the load average beside every figure, like bench/all.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere, no install

LEDGER_CODE = ("import json, cnnbp.lessons; from cnnbp.claims import run_claims; "
               "print(json.dumps({r.claim.id: r.verdict for r in run_claims()}))")


def ledger(device_label: str) -> dict[str, str]:
    """Every claim's verdict at seed 0, printed with its time."""
    from bench.all import load
    from cnnbp.claims import run_claims

    verdicts, start = {}, time.perf_counter()
    print(f"\n| claim ({device_label}) | verdict | seconds | load |\n|---|---|---|---|")
    for r in run_claims():
        verdicts[r.claim.id] = r.verdict
        print(f"| `{r.claim.id}` | {r.verdict} | {r.seconds:.2f} | {load()} |", flush=True)
    print(f"whole claims ledger on {device_label}: {time.perf_counter() - start:.1f} s for {len(verdicts)} claims "
          f"(target under 60 s on an H200; {load()})")
    return verdicts


def cpu_ledger() -> dict[str, str]:
    env = {**os.environ, "CNNBP_DEVICE": "cpu"}
    out = subprocess.run([sys.executable, "-c", LEDGER_CODE], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fifteen_variants() -> float:
    from bench.norms import compare_seconds

    compare_seconds(stack=True)  # kernels chosen, memory pooled
    seconds, _ = compare_seconds(stack=True)
    return seconds


@contextlib.contextmanager
def on_device(name: str):
    """Every ``pick_device()`` inside the block answers ``name`` (the choice is cached once per process)."""
    from cnnbp.device import DEVICE_ENV, pick_device

    before = os.environ.get(DEVICE_ENV)
    os.environ[DEVICE_ENV] = name
    pick_device.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DEVICE_ENV, None)
        else:
            os.environ[DEVICE_ENV] = before
        pick_device.cache_clear()


def transfer_strategies() -> None:
    """transfer/strategies.py ``train_runs``: the compare and forgetting parts on the defaults."""
    from cnnbp.lessons import run_lesson

    for _ in run_lesson("transfer", {"parts": ["compare", "forgetting"]}):
        pass


def transfer_source() -> None:
    """transfer/sources.py ``pretrain``: the default source's recipe, start to end."""
    from cnnbp.lessons.transfer.config import TransferConfig
    from cnnbp.lessons.transfer.sources import SOURCES, pretrain

    pretrain(SOURCES[TransferConfig().source])


def visualise_training() -> None:
    """visualise/model.py ``train`` on the defaults (not the model cache); the model ends on the CPU."""
    from cnnbp.lessons.visualise.config import VisualiseConfig
    from cnnbp.lessons.visualise.model import load_data, train
    from cnnbp.train import RunControl

    s = VisualiseConfig().train_settings()
    for _ in train(load_data(s.dataset, seed=s.seed), s, RunControl(budget_s=float("inf"))):
        pass


PINNED = {"transfer/strategies.py train_runs (compare + forgetting parts)": transfer_strategies,
          "transfer/sources.py pretrain (the default source)": transfer_source,
          "visualise/model.py train (the defaults)": visualise_training}


def pinned_rows(devices: list[str]) -> None:
    """Each once-pinned path on each device: one warm-up call, then the median of two."""
    from bench.all import load
    from bench.baselines import median_time

    print(f"\n| once-pinned path | {' | '.join(devices)} | faster | load |\n|---|{'---|' * len(devices)}---|---|")
    for what, fn in PINNED.items():
        times = {}
        for name in devices:
            with on_device(name):
                fn()
                times[name] = median_time(fn, repeats=2)
        best = min(times, key=times.get)
        print(f"| {what} | {' | '.join(f'{times[d]:.2f} s' for d in devices)} | {best} | {load()} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=os.environ.get("CNNBP_DEVICE", "cuda"))
    parser.add_argument("--no-cpu", action="store_true", help="do not run the CPU ledger to compare verdicts")
    parser.add_argument("--no-lessons", action="store_true")
    parser.add_argument("--pinned", action="store_true", help="only the once-pinned paths, CPU vs CUDA")
    args = parser.parse_args()
    os.environ["CNNBP_DEVICE"] = args.device
    import torch

    from bench.all import lesson_rows, load, warm_up
    from cnnbp.device import pick_device, set_threads_once
    from cnnbp.lessons import LESSONS

    device = pick_device()  # raises with one line if CUDA was asked for and is not here
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, torch threads {set_threads_once()}; {load()}")
    if args.pinned or not args.no_lessons:  # with the lessons' rows, or alone with --pinned
        pinned_rows(["cpu", "cuda"] if torch.cuda.is_available() and device.type != "cpu" else ["cpu"])
    if args.pinned:
        return
    if not args.no_lessons:
        print(f"warm-up (imports, UMAP's compile; each lesson's Quick run before its row): {warm_up([]):.1f} s")
        lesson_rows(list(LESSONS))
    print(f"\nnorms, 15 variants (5 norms x 3 seeds, 2 epochs, seeds stacked): {fifteen_variants():.2f} s "
          f"(target under 2 s on an H200; {load()})")
    here = ledger(str(device))
    if args.no_cpu or device.type == "cpu":
        return
    cpu = cpu_ledger()
    differ = {c: (here[c], cpu.get(c)) for c in here if here[c] != cpu.get(c)}
    print(f"\nverdicts on {device} vs the CPU: {len(here) - len(differ)} of {len(here)} the same"
          + "".join(f"\n  {c}: {d} on {device}, {v} on the CPU" for c, (d, v) in differ.items()))


if __name__ == "__main__":
    main()
