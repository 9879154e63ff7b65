"""Each lesson's quick run, computed once per test session and shared by the protocol tests and
the lesson's own tests (the frames are read, never changed)."""

from __future__ import annotations

import functools

from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import Frame


@functools.cache
def quick_frames(name: str) -> tuple[Frame, ...]:
    return tuple(run_lesson(name, get_lesson(name).quick))
