"""A bounded in-memory cache of finished runs: identical requests (same lesson, same
validated Config, seed included) are computed once and then served at once.

Only complete runs are kept: a stopped, budget-cut or failed run is never cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cnnbp.lessons.base import Frame, LessonConfig

MAX_ENTRIES = 32  # ~1 MB of figure JSON per run: a few tens of MB at most


class ResultCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], Frame] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(lesson: str, cfg: LessonConfig) -> tuple[str, str]:
        return lesson, cfg.model_dump_json()  # validated and normalised: "1024" and 1024 agree

    def get(self, lesson: str, cfg: LessonConfig) -> Frame | None:
        key = self.key(lesson, cfg)
        with self._lock:
            frame = self._entries.get(key)
            if frame is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return frame

    def put(self, lesson: str, cfg: LessonConfig, frame: Frame) -> None:
        if not frame.done:
            return
        with self._lock:
            self._entries[self.key(lesson, cfg)] = frame
            self._entries.move_to_end(self.key(lesson, cfg))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


RESULTS = ResultCache()
