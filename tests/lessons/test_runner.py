"""The part runner (lessons/base.py run_parts) on toy parts: what every lesson's stream relies on."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

import pytest
from pydantic import Field

from cnnbp.lessons import base
from cnnbp.lessons.base import Frame, Lesson, LessonConfig, Part, Update, Verdict, merge_frames
from cnnbp.train import RunControl


class ToyConfig(LessonConfig):
    parts: list[Literal["a", "b"]] = Field(["a", "b"])
    updates: int = 3


def part_a(state):
    for i in range(state.cfg.updates):
        yield Update((i + 1) / state.cfg.updates, f"a {i}", figures={f"fig{i}": i}, numbers={"a": i})
    state.handed_on = "from a"
    yield Update(1.0, "a done", verdicts=[Verdict("a", "a measured", passed=True, claim="toy.a")])


def part_b(state):
    yield Update(0.5, "b half", tables={"t": "table"})
    yield Update(1.0, "b done", numbers={"b": state.handed_on}, verdicts=[Verdict("b", "b measured")])


def toy(**kw) -> Lesson:
    return Lesson(name="toy", title="Toy", summary="", config=ToyConfig, figures=(), parts=(
        Part("a", 3.0, part_a), Part("b", 1.0, part_b)), **kw)


def run(cfg=None, control=None, **kw) -> list[Frame]:
    return list(toy(**kw).run(cfg or ToyConfig(), control or RunControl()))


def test_parts_run_in_order_progress_weighted_and_state_handed_on(monkeypatch):
    monkeypatch.setattr(base, "FRAME_INTERVAL_S", 0.0)  # every update is a frame
    frames = run()
    assert frames[0].progress == 0.0 and frames[0].message == "starting: a, b" and not frames[0].figures
    assert [f.progress for f in frames[1:4]] == pytest.approx([0.25, 0.5, 0.75])  # a is 3/4 of the work
    assert frames[-1].done and frames[-1].progress == 1.0 and frames[-1].message.startswith("done in")
    final = merge_frames(frames)
    assert final.numbers == {"a": 2, "b": "from a"}
    assert [v.label for v in final.verdicts] == ["a", "b"] and final.verdicts[0].claim == "toy.a"
    assert set(final.figures) == {"fig0", "fig1", "fig2"} and final.tables == {"t": "table"}


def test_throttled_updates_lose_nothing(monkeypatch):
    monkeypatch.setattr(base, "FRAME_INTERVAL_S", 3600.0)  # nothing is sent early
    frames = run(ToyConfig(updates=5))
    # a's first update goes out at once (a part says it has started); the rest below progress 1
    # fold into its last one: every figure still arrives
    assert frames[1].message == "a 0" and set(frames[1].figures) == {"fig0"}
    assert set(frames[2].figures) == {"fig1", "fig2", "fig3", "fig4"}
    assert set(merge_frames(frames).figures) == {f"fig{i}" for i in range(5)}
    assert len(frames) < 8


def test_verdicts_are_sent_only_when_they_change(monkeypatch):
    monkeypatch.setattr(base, "FRAME_INTERVAL_S", 0.0)
    frames = run()
    with_verdicts = [f for f in frames if f.verdicts]
    assert [len(f.verdicts) for f in with_verdicts] == [1, 2, 2]  # a's, b's, the final frame


def test_only_the_chosen_parts_run_and_the_shares_renormalise(monkeypatch):
    monkeypatch.setattr(base, "FRAME_INTERVAL_S", 0.0)
    stream = toy().run(ToyConfig(parts=["b"]), RunControl())
    first, second = next(stream), next(stream)
    assert first.message == "starting: b"
    assert second.progress == pytest.approx(0.5) and second.tables == {"t": "table"}
    with pytest.raises(AttributeError):  # b reads what a leaves: a lesson validates such needs in its Config
        next(stream)


def test_a_stop_between_parts_ends_the_run_with_what_was_measured():
    control = RunControl()

    def stopping_a(state):
        yield from part_a(state)
        control.cancel()

    lesson = Lesson(name="toy", title="Toy", summary="", config=ToyConfig, figures=(),
                    parts=(Part("a", 1.0, stopping_a), Part("b", 1.0, part_b)))
    frames = list(lesson.run(ToyConfig(), control))
    last = frames[-1]
    assert last.done and last.message == "stopped by the user after 50% of the run"
    assert last.numbers == {"a": 2} and [v.label for v in last.verdicts] == ["a"]


def test_a_spent_budget_stops_like_the_user():
    frames = run(control=RunControl(budget_s=0.0))
    assert frames[-1].done and "wall-clock budget" in frames[-1].message and len(frames) == 2


def test_the_start_message_is_the_lessons():
    frames = run(start=lambda cfg, parts: f"{len(parts)} parts, {cfg.updates} updates")
    assert frames[0].message == "2 parts, 3 updates"


def test_a_parts_heartbeats_before_its_first_message_name_the_part(monkeypatch):
    """The status line's clock shows the last frame's message: a part that beats before it says anything
    (training, then its first curves) showed "25%: · 1.8 s"; its frames say which part runs."""
    monkeypatch.setattr(base, "FRAME_INTERVAL_S", 0.0)  # every heartbeat is a frame

    def beats_first(state):
        yield base.heartbeat(0.5)
        yield Update(1.0, "measured")

    lesson = Lesson(name="toy", title="Toy", summary="", config=LessonConfig, figures=(),
                    parts=(Part("warm_up", 1.0, beats_first), Part("zero_centred", 1.0, beats_first)))
    frames = list(lesson.run(LessonConfig(), RunControl()))
    assert [(f.progress, f.message) for f in frames[1:-1]] == [
        (0.25, "warm up (part 1 of 2)"), (0.5, "measured"), (0.75, "zero centred (part 2 of 2)"), (1.0, "measured")]


def test_a_figure_given_as_a_function_is_drawn_only_when_sent(monkeypatch):
    monkeypatch.setattr(base, "FRAME_INTERVAL_S", 3600.0)
    drawn = []

    def training(state):
        for step in range(5):
            yield Update(step / 5, figures={"curve": lambda step=step: drawn.append(step) or f"curve at {step}"})
        yield Update(1.0, figures={"curve": lambda: drawn.append("final") or "final curve"})

    lesson = Lesson(name="toy", title="Toy", summary="", config=LessonConfig, figures=(),
                    parts=(Part("train", 1.0, training),))
    final = merge_frames(lesson.run(LessonConfig(), RunControl()))
    assert drawn == [0, "final"] and final.figures == {"curve": "final curve"}  # the first and the last


def _waits_on_a_fake_clock(monkeypatch, parts) -> list[float]:
    """Seconds between the frames of a lesson of ``parts`` on a clock that only the parts move."""
    clock = [0.0]
    monkeypatch.setattr(base, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    lesson = Lesson(name="timed", title="Timed", summary="", config=LessonConfig, figures=(),
                    parts=tuple(Part(f"p{k}", 1.0, part(clock)) for k, part in enumerate(parts)))
    out = [clock[0] for _ in lesson.run(LessonConfig(), RunControl())]
    return [b - a for a, b in zip(out, out[1:])]


def test_a_frame_goes_out_before_waiting_for_the_next_update_would_pass_the_interval(monkeypatch):
    """A clock that only the part and its drawings move: 0.15 s per update, 0.1 s to draw a figure.
    Waiting for the update after the one due would take the page past FRAME_INTERVAL_S: the frame goes out
    one update early (the last stretch of work and the last drawing stand for the next); a frame whose
    drawing would take the wait past it says how far the part is first. The first update draws (its
    drawing time is unknown before)."""
    def steady(clock):
        def draw():
            clock[0] += 0.1
            return "figure"

        def run(state):
            for i in range(40):
                clock[0] += 0.15
                progress = (i + 1) / 40
                yield Update(progress, "drawn", figures={"f": draw}) if i % 4 == 0 else base.heartbeat(progress)
        return run

    waits = _waits_on_a_fake_clock(monkeypatch, [steady])
    assert max(waits) <= base.FRAME_INTERVAL_S + 1e-9, waits
    assert len(waits) + 1 < 30, "updates still fold into frames"


def test_a_stretch_longer_than_the_last_still_lands_within_the_interval(monkeypatch):
    """Stretches of work vary (0.15, 0.15, 0.25 s, over and over): the frame rule predicts the next stretch
    from the last one, so it keeps a margin for a longer one (aimed at the interval itself, the page would
    wait 0.55 s after two short stretches and a long one)."""
    def varying(clock):
        def run(state):
            for i in range(30):
                clock[0] += (0.15, 0.15, 0.25)[i % 3]
                yield base.heartbeat((i + 1) / 30)
        return run

    waits = _waits_on_a_fake_clock(monkeypatch, [varying])
    assert max(waits) <= base.FRAME_INTERVAL_S + 1e-9, waits
    # heartbeats still fold: a frame spans more than one stretch (the run's last update and its end aside)
    assert min(waits[:-2]) >= base.FRAME_INTERVAL_S / 2 - 1e-9, waits


def test_a_parts_first_drawing_is_predicted_from_the_part_before(monkeypatch):
    """Each figure takes 0.35 s to draw. The second part's first figure comes after 0.3 s of work: drawn at
    once, the page would wait 0.65 s; predicted from the first part's drawings, a frame saying how far the
    run is goes out first."""
    def drawing_part(clock, first_work):
        def draw():
            clock[0] += 0.35
            return "figure"

        def run(state):
            for i in range(3):
                clock[0] += first_work if i == 0 else 0.3
                yield Update((i + 1) / 3, "drawn", figures={"f": draw})
        return run

    waits = _waits_on_a_fake_clock(monkeypatch, [lambda c: drawing_part(c, 0.0), lambda c: drawing_part(c, 0.3)])
    assert max(waits) <= base.FRAME_INTERVAL_S + 1e-9, waits


def test_a_part_that_says_long_work_comes_next_gets_a_frame_first(monkeypatch):
    """Short stretches (0.03 s), then a figure of many panels built in 0.45 s that cannot yield: the frame
    rule, predicting 0.03 s, would hold the frame back and leave the page 0.7 s without one; the part's
    ``long_work_next`` heartbeat sends it before the long stretch."""
    def part(clock):
        def run(state):
            for i in range(10):
                clock[0] += 0.03
                yield base.heartbeat(0.05 * (i + 1))
            yield base.heartbeat(0.5, long_work_next=True)
            clock[0] += 0.45
            yield Update(1.0, "built", figures={"f": "figure"})
        return run

    waits = _waits_on_a_fake_clock(monkeypatch, [part])
    assert max(waits) <= base.FRAME_INTERVAL_S + 1e-9, waits


def test_a_stop_at_a_heartbeat_lets_the_part_say_what_it_measured_then_closes_one_that_goes_on():
    """After a Stop, a part gets one more step at its heartbeat: a training loop that sees the Stop ends
    and the part yields its can't-tell verdict, which the stopped frame keeps. A part that beats again
    (still working, deaf to the Stop) is closed there: nothing after that heartbeat runs."""
    ran_on = []

    def race(state):
        for step in range(100):
            if state.control.stop_reason():  # the training loop sees the Stop
                break
            if step == 3:
                state.control.cancel()
            yield base.heartbeat(step / 100)
        yield Update(0.5, "cut short", verdicts=[Verdict("race", "cut short: decides nothing")])

    def deaf(state):
        for step in range(100):
            if step == 3:
                state.control.cancel()
            ran_on.append(step)
            yield base.heartbeat(step / 100)

    for part in (race, deaf):
        control = RunControl()
        lesson = Lesson(name="stopped", title="Stopped", summary="", config=LessonConfig, figures=(),
                        parts=(Part("p", 1.0, part),))
        last = list(lesson.run(LessonConfig(), control))[-1]
        assert last.done and last.message.startswith("stopped by the user after")
        if part is race:
            assert [(v.label, v.passed) for v in last.verdicts] == [("race", None)]
        else:
            assert ran_on == [0, 1, 2, 3, 4], "the deaf part ran past its second heartbeat after the Stop"
