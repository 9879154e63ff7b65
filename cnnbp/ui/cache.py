"""Finished runs kept in memory: identical requests (same lesson, same validated Config, seed
included) are computed once and then served at once.

Only complete runs are kept: a stopped, budget-cut or failed run is never cached.
"""

from __future__ import annotations

from cnnbp.cache import BoundedCache
from cnnbp.lessons.base import Frame, LessonConfig

MAX_ENTRIES = 32  # ~1 MB of figure JSON per run: a few tens of MB at most


class ResultCache(BoundedCache[Frame]):
    def __init__(self, max_entries: int = MAX_ENTRIES):
        super().__init__(max_entries)

    @staticmethod
    def key(lesson: str, cfg: LessonConfig) -> tuple[str, str]:
        return lesson, cfg.model_dump_json()  # validated and normalised: "1024" and 1024 agree

    def get(self, lesson: str, cfg: LessonConfig) -> Frame | None:  # type: ignore[override]
        return super().get(self.key(lesson, cfg))

    def discard(self, lesson: str, cfg: LessonConfig) -> None:  # type: ignore[override]
        super().discard(self.key(lesson, cfg))

    def put(self, lesson: str, cfg: LessonConfig, frame: Frame) -> None:  # type: ignore[override]
        if frame.done:
            super().put(self.key(lesson, cfg), frame)


RESULTS = ResultCache()
