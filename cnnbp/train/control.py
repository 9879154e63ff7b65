"""When a run must stop: the user pressed Stop, or its wall-clock budget is spent.

Checked between training steps, so a run stops within one step of either.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

WALL_BUDGET_ENV = "CNNBP_WALL_BUDGET_S"
DEFAULT_WALL_BUDGET_S = 120.0  # a lesson that takes longer than this has lost the class


def default_wall_budget() -> float:
    return float(os.environ.get(WALL_BUDGET_ENV, DEFAULT_WALL_BUDGET_S))


@dataclass
class RunControl:
    """Shared by a run and whoever may stop it (the UI's Stop button, a CLI Ctrl-C)."""

    budget_s: float = field(default_factory=default_wall_budget)
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.perf_counter)

    def cancel(self) -> None:
        self.cancelled.set()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def stop_reason(self) -> str | None:
        """None while the run may go on; else why it must stop, in words."""
        if self.cancelled.is_set():
            return "stopped by the user"
        if self.elapsed() > self.budget_s:
            return f"stopped: the wall-clock budget of {self.budget_s:.0f} s was spent"
        return None
