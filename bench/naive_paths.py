"""The lessons' old paths, for a bench to measure the new ones against in the same process.

Old: every streaming figure redrawn at every frame (``redraw.SHARE = 1``) and every variant
stepped alone (``lockstep(..., stack=False)`` in the modules named). New: the lessons as they
are. :func:`old_vs_new` runs a lesson both ways, interleaved, and prints the wall seconds and
this process's CPU seconds (all its threads): on a shared machine the wall time inflates with the
load, the CPU time much less, so the ratio of CPU seconds is the steadier figure.
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import time
from types import ModuleType
from typing import Iterator

from bench.common import lesson_seconds
from cnnbp.lessons import redraw


def _alone(lockstep, *args, **kwargs):
    return lockstep(*args, **{**kwargs, "stack": False})


@contextlib.contextmanager
def old_paths(*modules: ModuleType) -> Iterator[None]:
    """Inside: figures redrawn at every frame, and ``modules``' ``lockstep`` without stacking."""
    saved = redraw.SHARE, [m.lockstep for m in modules]
    redraw.SHARE = 1.0
    for module in modules:
        module.lockstep = functools.partial(_alone, module.lockstep)
    try:
        yield
    finally:
        redraw.SHARE = saved[0]
        for module, lockstep in zip(modules, saved[1]):
            module.lockstep = lockstep


def _run(name: str, values: dict | None) -> tuple[float, float]:
    cpu = time.process_time()
    wall = lesson_seconds(name, values)
    return wall, time.process_time() - cpu


def old_vs_new(name: str, *modules: ModuleType, values: dict | None = None, repeats: int = 3) -> float:
    """Run lesson ``name`` (``values`` on its defaults) the old way and the new way, interleaved,
    ``repeats`` times each after a warm-up of each; print both and return the ratio of the median
    CPU seconds (old / new)."""
    with old_paths(*modules):
        _run(name, values)
    _run(name, values)
    old, new = [], []
    for _ in range(repeats):
        with old_paths(*modules):
            old.append(_run(name, values))
        new.append(_run(name, values))
    label = f"{name} lesson{' ' + str(values) if values else ', default settings'}"
    print(f"{label}, start to final frame, median of {repeats} (load {os.getloadavg()[0]:.1f}):")
    for what, runs in (("old: figures at every frame, variants alone", old),
                       ("new: redraw within a fifth, variants stacked", new)):
        wall, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
        print(f"  {what}: {wall:.2f} s wall, {cpu:.2f} s CPU  {[round(r[0], 1) for r in runs]}")
    ratio = statistics.median(r[1] for r in old) / statistics.median(r[1] for r in new)
    wall_ratio = statistics.median(r[0] for r in old) / statistics.median(r[0] for r in new)
    print(f"  speed-up: {ratio:.2f}x in CPU seconds, {wall_ratio:.2f}x wall (same settings, same seeds)")
    return ratio
