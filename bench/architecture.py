"""Bench: the architecture lesson's default run, its live calculator, and counting without weights.

    python bench/architecture.py [--repeats 3]     # CPU_CORES=2 for the 2-core figure

1. Default run, trained stacks cleared first (the imports and the first FlopCounterMode are paid
   before, as the app's start-up warm-up pays them): the time a class waits after pressing Run.
2. A live change (another layer spec, input, model shown and unit) re-runs the whole lesson
   from what it kept, no training: the calculator's answer time; ratio against 1.
3. The calculator part alone (parse, recurrence, torch's count on the meta device, figure and table).
4. Counting VGG-16 at 224 x 224 on the meta device against the naive way: real weights (138M
   parameters drawn) and a real forward under FlopCounterMode on the CPU (15.5 G multiply-adds);
   then all four architectures both ways: the naive default run is the default run with the
   models part counted the naive way.
5. A yardstick for a shared machine: the preprocessing lesson's defaults, which README gives as
   1.6-1.9 s on the idle 2-core machine, timed here between the runs above; their ratio scales
   the seconds above to an idle machine (an estimate, printed as one).

Everything is measured in this process, one after the other, medians of ``--repeats``; the
load average is printed (the machine is shared: compare the ratios, not the seconds).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import torch  # noqa: E402
import torchvision  # noqa: E402

import cnnbp.lessons  # noqa: E402,F401  (registers the lessons: this one, and the yardstick)
from bench.common import bench_args, lesson_seconds, timed  # noqa: E402
from cnnbp.lessons.architecture import parts  # noqa: E402
from cnnbp.lessons.architecture.config import ArchitectureConfig  # noqa: E402
from cnnbp.lessons.architecture.counting import count  # noqa: E402
from cnnbp.lessons.base import RunState, validate_config  # noqa: E402
from cnnbp.train import RunControl  # noqa: E402

PREPROCESSING_IDLE_S = 1.75  # README's speed table: 1.6-1.9 s on the idle 2-core machine
LIVE_CHANGES = [
    {"layers": "conv 16 k3 p1, pool 2, conv 32 k3 p1, pool 2, fc 10", "height": 32, "width": 32, "channels": 3},
    {"layers": "conv 64 k7 s2 p3, pool 3 s2, conv 64 k3 p1, conv 64 k3 p1", "height": 224, "width": 224,
     "channels": 3, "model": "resnet18"},
    {"layers": parts.ARCHITECTURES["vgg16"].spec, "height": 224, "width": 224, "channels": 3, "unit_row": 0},
    {"layers": "conv 5 k3 s2 p1, conv 5 k5 d2", "unit_layer": 2, "unit_col": 7, "model": "efficientnet_lite0"},
]


def default_run() -> float:
    parts.RUNS.clear()
    return lesson_seconds("architecture")


def live_run(change: dict) -> float:
    start = time.perf_counter()
    frames = list(cnnbp.lessons.run_lesson("architecture", change))
    assert frames[-1].done and not any("training" in f.message for f in frames)
    return time.perf_counter() - start


def calculator_only(change: dict) -> float:
    state = RunState(cfg=validate_config(ArchitectureConfig, change), control=RunControl())
    return timed(lambda: list(parts.calculator(state)))


def counted(build, input_shape: tuple[int, int, int], device: str) -> float:
    """Seconds to count one architecture on ``device``: meta (no weights, no arithmetic) or the CPU."""
    def run() -> None:
        with torch.device(device):
            model = build()
        if device == "meta":
            count(model, input_shape)
        else:
            from torch.utils.flop_counter import FlopCounterMode

            with FlopCounterMode(display=False), torch.no_grad():
                model(torch.zeros(1, *input_shape))
    return timed(run)


def vgg_counted(device: str) -> float:
    return counted(lambda: torchvision.models.vgg16(weights=None), (3, 224, 224), device)


def all_counted(device: str) -> float:
    return sum(counted(a.build, a.input_shape, device) for a in parts.ARCHITECTURES.values())


def main() -> None:
    args, threads = bench_args(__doc__)
    print(f"torch threads {threads}, load average {os.getloadavg()[0]:.1f}")
    lesson_seconds("architecture", {"parts": ["calculator", "models"]})  # imports, first FlopCounterMode
    full_runs, yardstick = [], []
    for _ in range(args.repeats):  # interleaved: both see the same load
        full_runs.append(default_run())
        yardstick.append(lesson_seconds("preprocessing"))
    full, factor = statistics.median(full_runs), statistics.median(yardstick) / PREPROCESSING_IDLE_S
    live = [live_run(c) for c in LIVE_CHANGES for _ in range(args.repeats)]
    calc = [calculator_only(c) for c in LIVE_CHANGES for _ in range(args.repeats)]
    meta = statistics.median(vgg_counted("meta") for _ in range(args.repeats))
    real = statistics.median(vgg_counted("cpu") for _ in range(max(1, args.repeats // 2)))
    all_meta, all_real = all_counted("meta"), all_counted("cpu")
    print(f"1. default run (stacks trained afresh): {full:.2f} s")
    print(f"2. live change, whole lesson re-run:    median {statistics.median(live) * 1e3:.0f} ms, "
          f"max {max(live) * 1e3:.0f} ms over {len(live)}; default run / live = {full / statistics.median(live):.0f}x")
    print(f"3. calculator part alone:               median {statistics.median(calc) * 1e3:.1f} ms, "
          f"max {max(calc) * 1e3:.1f} ms")
    print(f"4. VGG-16 counted: meta device {meta * 1e3:.0f} ms, real weights + CPU forward {real:.2f} s: "
          f"{real / meta:.0f}x; all four: {all_meta:.2f} s vs {all_real:.2f} s; the default run counting them "
          f"the naive way: {full - all_meta + all_real:.1f} s vs {full:.1f} s")
    print(f"5. yardstick: preprocessing's defaults {statistics.median(yardstick):.2f} s here, {PREPROCESSING_IDLE_S} s "
          f"idle: this machine is {factor:.1f}x slower now; so on an idle one about: "
          f"default run {full / factor:.1f} s, "
          f"live change {statistics.median(live) / factor * 1e3:.0f} ms (max {max(live) / factor * 1e3:.0f} ms), "
          f"calculator {statistics.median(calc) / factor * 1e3:.0f} ms")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
