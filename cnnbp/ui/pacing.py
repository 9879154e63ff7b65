"""How a run's figures reach the page: one figure per message, spaced, each at most every half second.

Gradio's Plot draws a changed figure from scratch, and every figure that arrives in one message is
drawn in one main-thread task of the browser: a frame with five changed figures froze the page for
seconds on a loaded machine (issue 17). The status line keeps streaming at its own pace; the figures
wait here, the latest version of each, and go out one per message, FIGURE_GAP_S apart, the one waiting
longest first; a figure is sent again at most every FIGURE_EVERY_S. Nothing is lost: every figure's
last version is sent before the run's last frame, so the page and the API end with the same figures.
"""

from __future__ import annotations

import time
from typing import Any

FIGURE_GAP_S = 0.25  # between two messages that carry a figure: each is drawn in its own task
FIGURE_EVERY_S = 0.5  # a figure that changes faster shows its latest version at this pace


class FigurePacer:
    """The figures waiting to be sent (the latest version of each) and when each was last sent."""

    paced = True

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._waiting: dict[str, Any] = {}  # in the order they began to wait
        self._sent_at: dict[str, float] = {}
        self._last_sent = -float("inf")

    def add(self, figures: dict[str, Any]) -> None:
        """A frame's changed figures: each replaces its waiting version (keeping its place in line)."""
        self._waiting.update(figures)

    def __len__(self) -> int:
        return len(self._waiting)

    def take(self) -> dict[str, Any]:
        """The one figure due now (``{}`` when none is): FIGURE_GAP_S after the last one sent, and
        FIGURE_EVERY_S after this figure's own last send."""
        now = self._clock()
        name = self._due(now)
        return {} if name is None else self._send(name, now)

    def due(self) -> bool:
        """Whether ``take`` would give a figure now."""
        return self._due(self._clock()) is not None

    def _due(self, now: float) -> str | None:
        if now - self._last_sent < FIGURE_GAP_S:
            return None
        return next((name for name in self._waiting
                     if now - self._sent_at.get(name, -float("inf")) >= FIGURE_EVERY_S), None)

    def take_next(self) -> tuple[float, dict[str, Any]]:
        """At the end of a run: the next waiting figure, whatever its own pace, and how long to wait
        before sending it (the gap after the last one)."""
        now = self._clock()
        wait = max(0.0, FIGURE_GAP_S - (now - self._last_sent))
        return wait, self._send(next(iter(self._waiting)), now + wait)

    def _send(self, name: str, now: float) -> dict[str, Any]:
        self._sent_at[name] = self._last_sent = now
        return {name: self._waiting.pop(name)}


class AllAtOnce(FigurePacer):
    """No pacing, for an API client (gradio_client, an MCP call): nothing draws its messages, and it
    waits for the last one, so every waiting figure goes in the next message."""

    paced = False

    def take(self) -> dict[str, Any]:
        figures, self._waiting = self._waiting, {}
        return figures

    def due(self) -> bool:
        return bool(self._waiting)

    def take_next(self) -> tuple[float, dict[str, Any]]:
        return 0.0, self.take()
