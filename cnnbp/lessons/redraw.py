"""Redraw a streaming figure only as often as drawing it leaves the run most of its time.

``run_parts`` draws a figure given as a function each time it sends a frame (every
``FRAME_INTERVAL_S``). A plotly figure of a dozen curves or a grid of small panels takes 0.1 to
0.6 s to build on these CPUs, so a part that streams its training spent up to half its run
redrawing curves the class saw a moment before (measured: bench/activations.py). A
:class:`Redraw` hands a part's streaming figures on only once the time since the last drawing
ended is at least ``(1 - share) / share`` times what that drawing took: drawing takes at most
``share`` of the run, and figures that draw fast still go out with every frame. What is measured
is untouched: the numbers stream with every update and the part's last update draws everything.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

# Drawing the streaming figures may take this share of a run; 1.0 draws at every frame (as before).
SHARE = 0.2
_clock = time.perf_counter  # a test replaces it


class Redraw:
    """``redraw(figures)``: ``figures`` (name -> a function drawing it) when it is time to redraw,
    each timed as it is drawn; else ``{}`` (the frame goes out with the message and the numbers)."""

    def __init__(self, share: float | None = None):
        self.share = SHARE if share is None else share
        if not 0.0 < self.share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {self.share}")
        self._next = -math.inf  # the first update draws at once

    def __call__(self, figures: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
        if _clock() < self._next:
            return {}
        return {name: self._timed(draw) for name, draw in figures.items()}

    def _timed(self, draw: Callable[[], Any]) -> Callable[[], Any]:
        def timed() -> Any:
            start = _clock()
            figure = draw()
            end = _clock()
            took = end - start
            # the figures of one frame add up: a drawing within the wait of another lengthens it
            self._next = (self._next + took if self._next > start else end) + took * (1.0 - self.share) / self.share
            return figure

        return timed
