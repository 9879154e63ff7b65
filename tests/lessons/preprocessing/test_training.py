"""Reading "standardised inputs train faster" from evaluations EVAL_EVERY steps apart: each run's
crossing lies between two evaluations, and the claim passes or fails only when every reading of
those bounds agrees, over at least MIN_RUNS runs."""

import math

import pytest

from cnnbp.lessons.preprocessing.training import EVAL_EVERY, RunHistory, TrainingResult

TOTAL = 69
EVALS = [*range(0, TOTAL, EVAL_EVERY), TOTAL]
TARGET = 0.5


def history(transform: str, run: int, reached_at: int | None, diverged: bool = False) -> RunHistory:
    """A run whose training loss falls to the target at evaluation ``reached_at`` (None: never)."""
    loss = [1.0 if reached_at is None or s < reached_at else 0.4 for s in EVALS]
    return RunHistory(transform=transform, run=run, eval_steps=list(EVALS), train_loss=loss,
                      diverged_at=3 if diverged else None)


def result(fast: list, slow: list) -> TrainingResult:
    histories = [history("channel_std", i, s) for i, s in enumerate(fast)]
    histories += [history("raw", i, s) for i, s in enumerate(slow)]
    return TrainingResult(histories, {}, {}, TOTAL, TARGET)


def test_a_crossing_lies_between_two_evaluations():
    assert history("raw", 0, 15).crossing_bounds(TARGET) == (11.0, 15.0)
    assert history("raw", 0, 0).crossing_bounds(TARGET) == (0.0, 0.0)
    assert history("raw", 0, None).crossing_bounds(TARGET) == (TOTAL + 1.0, math.inf)
    assert history("raw", 0, None, diverged=True).crossing_bounds(TARGET) == (math.inf, math.inf)


@pytest.mark.parametrize("fast, slow, at_least, at_most, holds", [
    ([15, 20, 15], [None, None, None], 70 / 15, math.inf, True),  # raw never: at least 4.7x
    ([20, 20, 20], [25, 25, 30], 21 / 20, 25 / 16, None),  # 1.05x to 1.56x: too close to call
    ([20, 20, 20], [20, 25, 20], 16 / 20, 20 / 16, False),  # at most 1.25x
    ([15, 15], [None, None], 70 / 15, math.inf, None),  # two runs are too few
    ([None, None, None], [None, None, None], 0.0, math.inf, None),  # neither reaches it: no bound
])
def test_the_claim_is_decided_only_when_the_bounds_agree(fast, slow, at_least, at_most, holds):
    sp = result(fast, slow).speedup()
    assert sp.at_least == pytest.approx(at_least) and sp.at_most == pytest.approx(at_most)
    assert sp.holds is holds
    assert sp.neither_reached is (fast[0] is None)
