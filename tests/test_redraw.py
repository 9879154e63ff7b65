"""lessons/redraw.py: streaming figures drawn only while drawing stays within its share of the run."""

from __future__ import annotations

import pytest

from cnnbp.lessons import redraw as redraw_module
from cnnbp.lessons.redraw import Redraw


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(redraw_module, "_clock", c)
    return c


def drawing(clock: Clock, seconds: float, name: str):
    def draw():
        clock.now += seconds
        return name
    return draw


def test_a_slow_figure_waits_four_times_its_drawing_at_a_fifth(clock):
    redraw = Redraw(0.2)
    first = redraw({"curves": drawing(clock, 0.5, "a")})
    assert first["curves"]() == "a"  # the first update draws at once; drawing took 0.5 s
    clock.now += 1.9
    assert redraw({"curves": drawing(clock, 0.5, "b")}) == {}  # 1.9 s after: under 4 x 0.5 s
    clock.now += 0.1
    assert redraw({"curves": drawing(clock, 0.5, "c")})["curves"]() == "c"


def test_the_figures_of_one_frame_add_up(clock):
    redraw = Redraw(0.5)
    figs = redraw({"a": drawing(clock, 1.0, "a"), "b": drawing(clock, 2.0, "b")})
    assert [f() for f in figs.values()] == ["a", "b"]  # 3 s of drawing: the next 3 s later
    clock.now += 2.9
    assert redraw({"a": drawing(clock, 1.0, "a")}) == {}
    clock.now += 0.1
    assert list(redraw({"a": drawing(clock, 1.0, "a")})) == ["a"]


def test_share_one_draws_every_update_and_a_figure_not_drawn_holds_nothing_back(clock):
    redraw = Redraw(1.0)
    for _ in range(3):
        assert redraw({"a": drawing(clock, 5.0, "a")})["a"]() == "a"
    lazy = Redraw(0.2)
    lazy({"a": drawing(clock, 1.0, "a")})  # handed on, never drawn (the runner folded it away)
    assert list(lazy({"a": drawing(clock, 1.0, "a")})) == ["a"]


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="share"):
        Redraw(share)
