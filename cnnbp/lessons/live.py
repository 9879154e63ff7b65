"""A figure redrawn while a run trains, at a cost the run can afford.

Building a plotly figure in the app's style takes 0.1-0.5 s (``plots.common.apply_layout``
validates every property), and a training part would otherwise redraw its curves at every frame
(``FRAME_INTERVAL_S``): on the dropout, imbalance and batchnorm lessons that was a third of the
run. :class:`LiveFigure` hands a part the figure to send only once the time since its last
drawing is ``(1 - SHARE) / SHARE`` times what that drawing took, so redrawing takes at most
``SHARE`` of the run; the frames in between still go out (progress, numbers). A part's last
update draws its figure in full, whatever this says.

>>> live = LiveFigure("curves", lambda n: n)
>>> live.update(1)["curves"]()
1
>>> live.update(2)  # right after a drawing (however short): its share of the run is spent
{}
"""

from __future__ import annotations

import time
from typing import Any, Callable

SHARE = 0.2  # at most a fifth of a run's time goes into redrawing its live figure


class LiveFigure:
    def __init__(self, name: str, draw: Callable[..., Any], *, share: float = SHARE):
        self.name, self._draw, self._share = name, draw, share
        self._next = 0.0  # perf_counter time before which no new drawing is offered

    def update(self, *args: Any) -> dict[str, Callable[[], Any]]:
        """``{name: draw}`` (drawn when the runner sends it) when the figure may be redrawn, else {}."""
        if time.perf_counter() < self._next:
            return {}
        return {self.name: lambda: self._timed(*args)}

    def _timed(self, *args: Any) -> Any:
        start = time.perf_counter()
        figure = self._draw(*args)
        spent = time.perf_counter() - start
        self._next = time.perf_counter() + max(spent, 1e-3) * (1 - self._share) / self._share
        return figure
