"""The Sender's decisions (cnnbp/ui/runner.py) on a fake clock: a frame now or merged into the next
message, the status line's clock between frames, a waiting figure on a tick."""

from types import SimpleNamespace

import gradio as gr

from cnnbp.lessons.base import Frame, Lesson, LessonConfig
from cnnbp.train import RunControl
from cnnbp.ui import runner
from cnnbp.ui.pacing import FIGURE_GAP_S, AllAtOnce, FigurePacer
from cnnbp.ui.runner import CLOCK, HOLD, QUIET, SEND, Sender

LESSON = Lesson(name="sendertest", title="", summary="", config=LessonConfig, figures=(("a", ""), ("b", "")))


class Follower:
    """One Sender on a clock that only the test moves; its messages are [status, verdicts, a, b, numbers]."""

    def __init__(self, pacer=FigurePacer, audience: int = 1):
        self.now = 0.0
        flight = SimpleNamespace(audience=audience, control=RunControl())
        self.sender = Sender(LESSON, pacer(clock=lambda: self.now), flight, clock=lambda: self.now)

    def after(self, seconds: float, item=None) -> list:
        """The messages for ``item`` (None: a tick) ``seconds`` after the last event."""
        self.now += seconds
        return list(self.sender.messages(item))


def figures(message: list) -> dict:
    return {n: v for n, v in zip("ab", message[2:4]) if v != gr.skip()}


def test_a_page_sharing_the_runs_budget_gets_frames_within_its_gap_merged_and_no_clock_before_it():
    """5 pages follow the run: each gets a message at most every 5 / RUN_MESSAGES_PER_S = 0.5 s. The first
    frame goes at once; the next, 0.1 s later, waits, and goes out (merged) on the tick once the gap has
    passed; the clock, due after HEARTBEAT_S = 0.4 s alone, waits for the gap too."""
    page = Follower(audience=5)
    gap = page.sender.gap()
    assert gap == 5 / runner.RUN_MESSAGES_PER_S > runner.HEARTBEAT_S
    (first,) = page.after(0.0, Frame(0.1, "one", numbers={"n": 1}))
    assert first[0] == "**10%**: one"
    assert page.after(0.1, Frame(0.2, "two", numbers={"n": 2})) == []  # HOLD
    assert page.after(gap - 0.15) == [] and page.sender.decide(None) == QUIET  # past the clock's pace, within the gap
    (merged,) = page.after(0.1)  # the gap has passed: the held frame, not a clock line
    assert merged[0] == "**20%**: two" and page.sender.held == []
    assert page.after(0.1, Frame(0.3, "three")) == [] and page.sender.held


def test_a_last_frame_goes_at_once_with_the_held_ones_merged_into_it():
    """An API client (one message every API_EVERY_S): the frames after the first are held, and the last
    (done) goes out at once with every held figure and the run's numbers."""
    api = Follower(AllAtOnce)
    api.after(0.0, Frame(0.1, "one", figures={"a": "a1"}))
    assert api.after(0.1, Frame(0.5, "two", figures={"a": "a2", "b": "b2"}, numbers={"n": 2})) == []
    assert api.sender.decide(Frame(0.6, "three")) == HOLD
    (last,) = api.after(0.1, Frame(1.0, "done in 0.2 s", numbers={"n": 3}, done=True))
    assert last[0] == "**100%**: done in 0.2 s" and figures(last) == {"a": "a2", "b": "b2"} and last[-1] == {"n": 3}


def test_a_pages_clock_ticks_every_heartbeat_except_while_the_run_waits_for_its_slot():
    page = Follower()
    assert page.after(runner.HEARTBEAT_S - 0.05) == []
    (clock,) = page.after(0.05)  # before the first frame: the clock on "starting"
    assert clock[0].startswith("**0%**: starting · ") and clock[0].endswith(" s")
    (line,) = page.after(0.0, "waiting for the short-run slot (1 waiting)")
    assert line[0] == "waiting for the short-run slot (1 waiting)"
    assert page.after(10 * runner.HEARTBEAT_S) == []  # the waiting line stays on the status line
    page.after(0.0, Frame(0.1, "training"))
    assert page.sender.decide(None) == QUIET
    page.now += runner.HEARTBEAT_S
    assert page.sender.decide(None) == CLOCK
    (clock,) = page.after(0.0)
    assert clock[0].startswith("**10%**: training · ") and figures(clock) == {}


def test_an_api_client_gets_no_clock():
    api = Follower(AllAtOnce)
    api.after(0.0, Frame(0.1, "training"))
    assert api.after(100 * runner.API_EVERY_S) == [] and api.sender.decide(None) == QUIET


def test_a_pages_waiting_figure_goes_out_on_a_tick_when_due_under_the_clock_line():
    """A frame with two changed figures: the frame carries one, the other goes on the first tick that
    finds it due (FIGURE_GAP_S later), under the clock line, before the clock's own pace."""
    page = Follower()
    (frame,) = page.after(0.0, Frame(0.1, "drawn", figures={"a": "a1", "b": "b1"}))
    assert figures(frame) == {"a": "a1"}
    assert page.after(FIGURE_GAP_S - 0.1) == []  # the page's gap has passed, the figure is not due yet
    assert page.sender.decide(Frame(0.2, "x")) == SEND  # (a frame would go: the page's gap is 0.1 s)
    (tick,) = page.after(0.1)
    assert FIGURE_GAP_S < runner.HEARTBEAT_S and figures(tick) == {"b": "b1"}
    assert tick[0].startswith("**10%**: drawn · ")
