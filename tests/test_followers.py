"""A class pressing Run on the same settings: one computation followed live by everyone who asked
(cnnbp.ui.followers), each student's Stop their own, and a cached run sent to an API client at once."""

import threading
import time
from types import SimpleNamespace

import gradio as gr
import pytest

from cnnbp.lessons.base import Frame, Lesson, LessonConfig
from cnnbp.train import RunControl
from cnnbp.ui import runner
from cnnbp.ui.cache import RESULTS
from cnnbp.ui.followers import FLIGHTS
from cnnbp.ui.slots import Slots

DEADLINE_S = 20


class Gated(Lesson):
    """A lesson whose run draws figure a, computes until ``gate`` opens (or a Stop), then draws b."""

    def run(self, cfg, control):
        self.runs.append(control)
        yield Frame(0.1, "started", figures={"a": "a1"}, numbers={"first": 1})
        while not (self.gate.wait(0.005) or control.stop_reason()):
            pass
        if self.fail:
            raise ValueError("broken run")
        if control.stop_reason():
            yield Frame(0.5, f"{control.stop_reason()} after 50% of the run", numbers={"first": 1}, done=True)
            return
        yield Frame(1.0, "done in 0.1 s", figures={"b": "b1", "c": "c1"}, numbers={"first": 1, "last": 2}, done=True)


def gated(name: str, fail: bool = False) -> Gated:
    lesson = Gated(name=name, title="", summary="", config=LessonConfig, figures=(("a", ""), ("b", ""), ("c", "")))
    object.__setattr__(lesson, "gate", threading.Event())
    object.__setattr__(lesson, "runs", [])
    object.__setattr__(lesson, "fail", fail)
    return lesson


@pytest.fixture(autouse=True)
def own_slots(monkeypatch):
    monkeypatch.setattr(runner, "SLOTS", Slots({"short": 1, "long": 1}))


class Page:
    """One student's request, streamed in a thread: its messages (or the error it ended with)."""

    def __init__(self, lesson: Lesson, pacer=None):
        self.control, self.messages, self.error = RunControl(), [], None
        self.stream = runner.run_live(lesson, LessonConfig(), self.control, lambda *a, **k: None, pacer)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for message in self.stream:
                self.messages.append(message)
        except Exception as err:  # noqa: BLE001  (the test looks at it)
            self.error = err

    def wait_for(self, condition) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert time.monotonic() < deadline, self.messages
            time.sleep(0.01)

    def end(self) -> list:
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()
        return self.messages

    def figures(self) -> dict:
        """The last value each figure got (status, verdicts, then figures a, b, c)."""
        last = {}
        for message in self.messages:
            last.update({n: v for n, v in zip("abc", message[2:5]) if v != gr.skip()})
        return last


def test_a_second_student_follows_the_run_in_flight_live():
    """The second request for a run in flight gets the figures so far at once, then the run's own frames,
    and ends with the run: one computation, the same numbers (before: it waited for the slot while the
    run went on, then replayed it from the cache)."""
    lesson = gated("follow1")
    first = Page(lesson)
    first.wait_for(lambda: first.figures())
    second = Page(lesson)
    second.wait_for(lambda: second.figures())  # caught up while the run still computes
    assert second.figures() == {"a": "a1"} and not lesson.gate.is_set()
    lesson.gate.set()
    a, b = first.end(), second.end()
    assert len(lesson.runs) == 1
    assert "done in" in b[-1][0] and "cache" not in b[-1][0]
    assert a[-1][-1] == b[-1][-1] == {"first": 1, "last": 2}  # the same numbers
    assert first.figures() == second.figures() == {"a": "a1", "b": "b1", "c": "c1"}
    assert RESULTS.get(lesson.name, LessonConfig()) is not None and FLIGHTS.flying() == 0


def test_a_students_stop_stops_only_their_own_following():
    """The first student stops: they get what was measured so far, marked stopped for their page; the
    run goes on for the second, who gets it done, and it is cached (computed once)."""
    lesson = gated("follow2")
    first = Page(lesson)
    first.wait_for(lambda: first.figures())
    second = Page(lesson)
    second.wait_for(lambda: second.figures())
    first.control.cancel()  # the first student's Stop
    a = first.end()
    assert "stopped by the user" in a[-1][0] and "1 other" in a[-1][0] and a[-1][-1] == {"first": 1}
    assert not lesson.runs[0].cancelled.is_set()  # the run itself goes on
    lesson.gate.set()
    b = second.end()
    assert "done in" in b[-1][0] and b[-1][-1] == {"first": 1, "last": 2}
    assert len(lesson.runs) == 1 and RESULTS.get(lesson.name, LessonConfig()) is not None


def test_the_last_followers_stop_stops_the_run_and_a_new_request_starts_afresh():
    lesson = gated("follow3")
    only = Page(lesson)
    only.wait_for(lambda: only.figures())
    only.control.cancel()
    messages = only.end()
    assert "stopped by the user after 50%" in messages[-1][0]  # the run's own stopped frame
    assert RESULTS.get(lesson.name, LessonConfig()) is None and FLIGHTS.flying() == 0
    lesson.gate.set()
    again = Page(lesson)
    assert "done in" in again.end()[-1][0] and len(lesson.runs) == 2


def test_a_page_that_leaves_stops_the_run_only_when_nobody_else_follows():
    lesson = gated("follow4")
    first = Page(lesson)
    first.wait_for(lambda: first.figures())
    second = Page(lesson)
    second.wait_for(lambda: second.figures())
    leaving = runner.run_live(lesson, LessonConfig(), RunControl(), lambda *a, **k: None)
    next(leaving)
    leaving.close()  # a third page closed mid-run
    first.control.cancel()
    first.end()
    assert not lesson.runs[0].cancelled.is_set()
    lesson.gate.set()
    assert "done in" in second.end()[-1][0]
    lone = gated("follow5")
    page = runner.run_live(lone, LessonConfig(), RunControl(), lambda *a, **k: None)
    next(page)
    page.close()  # the only follower went away: the run stops between two steps
    assert lone.runs[0].cancelled.is_set() and FLIGHTS.flying() == 0


def test_a_runs_error_reaches_every_follower_in_one_line():
    lesson = gated("follow6", fail=True)
    first = Page(lesson)
    first.wait_for(lambda: first.figures())
    second = Page(lesson)
    second.wait_for(lambda: second.figures())
    lesson.gate.set()
    first.end(), second.end()
    for page in (first, second):
        assert isinstance(page.error, gr.Error) and "broken run" in str(page.error)
    assert len(lesson.runs) == 1 and RESULTS.get(lesson.name, LessonConfig()) is None


def test_a_cached_run_reaches_an_api_client_in_one_message_and_a_page_paced():
    lesson = gated("follow7")
    lesson.gate.set()
    Page(lesson).end()  # computed and cached
    api = runner.pacer_for(SimpleNamespace(headers={"x-gradio-user": "api"}))
    messages = Page(lesson, api).end()
    assert len(messages) == 1
    assert "served from the cache" in messages[0][0] and messages[0][-1] == {"first": 1, "last": 2}
    assert [v for v in messages[0][2:5]] == ["a1", "b1", "c1"]
    page = runner.pacer_for(SimpleNamespace(headers={"x-gradio-user": "app"}))
    paced = Page(lesson, page).end()
    assert len(paced) == 4 and all(sum(v != gr.skip() for v in m[2:5]) <= 1 for m in paced)


def test_an_api_client_gets_the_runs_frames_without_the_pages_clock():
    """The heartbeat that keeps a page's clock ticking is no use to an API client, and every message
    costs the server Gradio's work per output (30 followers: thousands of messages)."""
    lesson = gated("follow8")
    api = Page(lesson, runner.pacer_for(SimpleNamespace(headers={"x-gradio-user": "api"})))
    api.wait_for(lambda: api.figures())
    time.sleep(3 * runner.HEARTBEAT_S)  # the run computes: a page would get its clock meanwhile
    assert len(api.messages) == 1
    lesson.gate.set()
    messages = api.end()
    assert len(messages) == 2 and "done in" in messages[-1][0]


class Stepped(Gated):
    """Figure a, then (once ``gate`` opens) three frames at once that redraw a and b, then the last."""

    def run(self, cfg, control):
        yield Frame(0.1, "started", figures={"a": "a1"})
        self.gate.wait(DEADLINE_S)
        for step in range(2, 5):
            yield Frame(step / 5, f"step {step}", figures={"a": f"a{step}", "b": f"b{step}"}, numbers={"n": step})
        yield Frame(1.0, "done in 0.1 s", figures={"c": "c1"}, numbers={"n": 5}, done=True)


def stepped(name: str) -> Stepped:
    lesson = Stepped(name=name, title="", summary="", config=LessonConfig, figures=(("a", ""), ("b", ""), ("c", "")))
    object.__setattr__(lesson, "gate", threading.Event())
    return lesson


def test_pages_following_one_run_share_its_message_budget(monkeypatch):
    """Every message costs Gradio work per output on its event loop, per follower: the pages that follow
    a run share RUN_MESSAGES_PER_S, so a class gets merged frames (every figure's last version, the
    numbers), not a message per frame each."""
    monkeypatch.setattr(runner, "RUN_MESSAGES_PER_S", 1e-6)  # here: a message a week between two frames
    lesson = stepped("follow10")
    pages = [Page(lesson)]
    pages[0].wait_for(lambda: pages[0].messages)
    pages.append(Page(lesson))
    pages[1].wait_for(lambda: pages[1].messages)
    lesson.gate.set()
    for page in pages:
        messages = page.end()
        assert not [m for m in messages if "step 2" in m[0] or "step 3" in m[0]]  # merged into step 4's
        assert messages[-1][-1] == {"n": 5} and page.figures() == {"a": "a4", "b": "b4", "c": "c1"}
        assert all(sum(v != gr.skip() for v in m[2:5]) <= 1 for m in messages)  # still one figure per message


def test_an_api_client_gets_frames_merged_and_loses_none(monkeypatch):
    """Frames closer than API_EVERY_S reach an API client merged into the next one sent: the first at
    once, the last whole (every figure's last version, the numbers)."""
    monkeypatch.setattr(runner, "API_EVERY_S", 3600.0)
    lesson = stepped("follow9")
    api = Page(lesson, runner.pacer_for(SimpleNamespace(headers={"x-gradio-user": "api"})))
    api.wait_for(lambda: api.messages)
    lesson.gate.set()
    messages = api.end()
    assert len(messages) == 2 and api.figures() == {"a": "a4", "b": "b4", "c": "c1"}
    assert "step" not in str(messages) and messages[-1][-1] == {"n": 5}
