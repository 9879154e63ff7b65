"""Model ensembles: the average of K nets' softmax, trained alike from different seeds.

>>> p = [torch.tensor([[0.6, 0.4]]), torch.tensor([[0.2, 0.8]])]
>>> ensemble_curve(p, torch.tensor([0])).accuracy
[1.0, 0.0]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

import torch

from cnnbp.lessons.augment.tta import accuracy

# Fixed before any run: the ensemble "beats" its mean member by half a point (5 of 1,000 test
# images) or more; "does not" where it is no better than the mean member.
ENSEMBLE_MARGIN = 0.005


@dataclass
class EnsembleCurve:
    members: list[float]  # each member's accuracy alone
    accuracy: list[float]  # the average of the first k members, k = 1..K

    @property
    def mean_member(self) -> float:
        return statistics.fmean(self.members)

    @property
    def gain(self) -> float:
        return self.accuracy[-1] - self.mean_member

    @property
    def beats(self) -> bool | None:
        """True: the K-model average beats the mean member by ENSEMBLE_MARGIN; False: it is no
        better; None: in between, or one model only."""
        if len(self.members) < 2:
            return None
        return True if self.gain >= ENSEMBLE_MARGIN else False if self.gain <= 0 else None


def all_beat(curves: Sequence[EnsembleCurve]) -> bool | None:
    """Every ensemble beats its mean member: True; one does not: False; else None."""
    decided = [c.beats for c in curves]
    return True if all(d is True for d in decided) else False if any(d is False for d in decided) else None


def ensemble_curve(probabilities: Sequence[torch.Tensor], y: torch.Tensor) -> EnsembleCurve:
    """``probabilities``: each member's (N, classes) softmax on the same images."""
    stacked = torch.stack(list(probabilities))
    return EnsembleCurve(members=[accuracy(p, y) for p in stacked],
                         accuracy=[accuracy(stacked[:k].mean(0), y) for k in range(1, len(stacked) + 1)])
