"""One training run's curves as plain numbers (JSON-able), the shape every lesson records.

Lessons subclass :class:`History` with what names their variant (an init, a drop probability,
a method) and the curves only they measure (``test_accuracy``, ``rare_recall``); the step
record, the divergence mark and "when did it first reach x" live here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cnnbp.train.engine import TrainEvent


@dataclass(kw_only=True)
class History:
    steps: list[int] = field(default_factory=list)  # every training step
    loss: list[float | None] = field(default_factory=list)  # its batch loss; None where not finite
    eval_steps: list[int] = field(default_factory=list)  # steps at which the curves below were measured
    diverged_at: int | None = None  # first step whose loss was not finite

    def record(self, event: TrainEvent) -> None:
        """Append one step. A non-finite loss is stored as None: JSON has no NaN, a plot draws a gap."""
        self.steps.append(event.step)
        self.loss.append(event.loss if math.isfinite(event.loss) else None)
        if event.kind == "diverged":
            self.diverged_at = event.step

    def first_step_at(self, curve: list[float], target: float) -> int | None:
        """The first evaluated step at which ``curve`` reached ``target`` (None: never).

        >>> h = History(eval_steps=[0, 10, 20])
        >>> h.first_step_at([0.1, 0.5, 0.9], 0.5), h.first_step_at([0.1, 0.5, 0.9], 0.95)
        (10, None)
        """
        return next((s for s, v in zip(self.eval_steps, curve) if v is not None and v >= target), None)
