"""Each lesson's quick run, computed once per test session and shared by the protocol tests,
the recorded-numbers test and the lesson's own tests (the frames are read, never changed).

The runs use a fixed number of torch threads: a reduction split over another number of threads
rounds differently, a training run carries the difference on (a diverging one multiplies it),
and the recording would then depend on what an earlier test, or $CPU_CORES, set.
"""

from __future__ import annotations

import functools

from cnnbp.device import torch_threads
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import Frame

QUICK_THREADS = 1  # what the recordings in tests/lessons/recorded/ were made with (and 1 thread is
# not slowed down many times by another process on the other core, as 2 threads are)


@functools.cache
def quick_frames(name: str) -> tuple[Frame, ...]:
    with torch_threads(QUICK_THREADS):
        return tuple(run_lesson(name, get_lesson(name).quick))
