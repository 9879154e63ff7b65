"""Stop reaches the right run: per (session, tab), and a run still waiting in the queue."""

from cnnbp.ui.runner import SessionControls, without_paths


def test_stop_reaches_only_its_own_tab():
    controls = SessionControls()
    init = controls.start("s", "init")
    norms = controls.start("s", "norms")  # the same page, another tab
    assert controls.stop("s", "init") == "running"
    assert init.stop_reason() == "stopped by the user" and norms.stop_reason() is None
    assert controls.stop("other session", "norms") == "none" and norms.stop_reason() is None


def test_a_stop_while_the_run_waits_stops_it_as_it_starts():
    controls = SessionControls()
    controls.requested("s", "init")  # the click; the run waits in the queue
    assert controls.stop("s", "init") == "waiting"
    assert controls.start("s", "init").stop_reason() == "stopped by the user"
    # that Stop is spent: the next run goes on
    controls.requested("s", "init")
    assert controls.start("s", "init").stop_reason() is None


def test_no_click_waiting_means_nothing_to_stop():
    controls = SessionControls()
    control = controls.start("s", "init")  # an API call: no click counted before it
    controls.finish("s", "init", control)
    assert controls.stop("s", "init") == "none"
    assert controls.start("s", "init").stop_reason() is None  # a later run is not stopped
    # a click whose queue-free count lands after its run started does not arm a Stop either
    controls.requested("s", "init")
    assert controls.stop("s", "init") == "running"


def test_a_second_run_in_the_same_tab_replaces_the_first():
    controls = SessionControls()
    first = controls.start("s", "init")
    second = controls.start("s", "init")
    assert first.stop_reason() and second.stop_reason() is None
    controls.finish("s", "init", first)  # the first's end does not forget the second
    assert controls.stop("s", "init") == "running" and second.stop_reason()


def test_messages_never_show_a_server_path():
    msg = without_paths("No such file: /root/.cache/torch/hub/checkpoints/resnet18.pth; ratio 3/4/5")
    assert msg == "No such file: resnet18.pth; ratio 3/4/5"


def test_the_evidence_run_stops_between_claims_and_keeps_its_rows():
    from cnnbp.train import RunControl
    from cnnbp.ui import evidence_tab

    control = RunControl()
    rows = evidence_tab.measure_rows(control)
    first_line, table = next(rows)
    assert first_line.startswith("measuring ")
    evidence_tab.MEASURED[table.loc[0, "claim"]] = {"verdict": "holds", "measured": "x", "seconds": 0.0}
    try:
        control.cancel()  # Stop while the first claim is measured: it ends before the second
        line, table = next(rows)
        assert line.startswith("stopped by the user after 1 of ") and table.loc[0, "verdict"] == "holds"
        assert next(rows, None) is None
    finally:
        evidence_tab.MEASURED.clear()


def test_the_numbers_go_with_the_last_frame_only():
    """A mid-run frame with verdicts sends its verdicts, not the numbers so far (they can be ~180 KiB);
    the done frame and a stopped one (also ``done``) send them."""
    import gradio as gr

    from cnnbp.lessons.base import Frame, Lesson, LessonConfig, Verdict
    from cnnbp.ui.runner import frame_outputs

    lesson = Lesson(name="numberstest", title="", summary="", config=LessonConfig, figures=())
    numbers = {"a": list(range(10))}
    mid = frame_outputs(Frame(0.5, "half", verdicts=[Verdict("x", "y")], numbers=numbers), lesson)
    assert mid[1] != gr.skip() and mid[-1] == gr.skip()
    for last in (Frame(1.0, "done in 1.0 s", numbers=numbers, done=True),
                 Frame(0.5, "stopped by the user after 50% of the run", numbers=numbers, done=True)):
        assert frame_outputs(last, lesson)[-1] == numbers


def _frames(gate, control, *, fail: bool = False):
    from cnnbp.lessons.base import Frame

    yield Frame(0.0, "first")
    while not (gate.wait(0.001) or control.stop_reason()):  # a part computing between two frames
        pass
    if fail:
        raise ValueError("broken run")
    yield Frame(1.0, "done in 1.0 s" if gate.is_set() else "stopped", done=True)


def test_the_heartbeat_fills_a_long_wait_and_keeps_every_frame():
    import threading

    from cnnbp.train import RunControl
    from cnnbp.ui.runner import with_heartbeat

    gate, control = threading.Event(), RunControl()
    stream = with_heartbeat(_frames(gate, control), control, interval=0.01)
    assert next(stream).message == "first"
    assert next(stream) is None  # the run is still inside its part: a heartbeat, not a frame
    gate.set()
    rest = [f.message for f in stream if f is not None]
    assert rest == ["done in 1.0 s"] and control.stop_reason() is None  # a finished run is not cancelled


def test_the_heartbeat_raises_the_runs_error_and_stops_a_run_the_page_left():
    import threading

    import pytest

    from cnnbp.train import RunControl
    from cnnbp.ui.runner import with_heartbeat

    gate, control = threading.Event(), RunControl()
    gate.set()
    with pytest.raises(ValueError, match="broken run"):
        list(with_heartbeat(_frames(gate, control, fail=True), control, interval=0.01))
    gate, control = threading.Event(), RunControl()
    stream = with_heartbeat(_frames(gate, control), control, interval=0.01)
    next(stream)
    stream.close()  # the page went away: the run is cancelled, and its worker has stopped
    assert control.stop_reason() is not None
    assert not [t for t in threading.enumerate() if t.name == "cnnbp-run"]


def test_the_pacer_sends_one_figure_at_a_time_and_loses_none():
    """Figures wait for their turn (one per FIGURE_GAP_S, each at most every FIGURE_EVERY_S), the
    latest version of each; the end of a run sends every one still waiting."""
    from cnnbp.ui.pacing import FIGURE_EVERY_S, FIGURE_GAP_S, FigurePacer

    now = [0.0]
    pacer = FigurePacer(clock=lambda: now[0])
    pacer.add({"a": 1, "b": 1, "c": 1})
    assert pacer.take() == {"a": 1}
    assert pacer.take() == {}  # within the gap
    now[0] += FIGURE_GAP_S
    pacer.add({"a": 2, "b": 2})  # b's newer version replaces the waiting one, in its place in line
    assert pacer.take() == {"b": 2}
    now[0] += FIGURE_GAP_S
    assert pacer.take() == {"c": 1} and len(pacer) == 1  # a's second version waits its own pace
    now[0] = max(now[0] + FIGURE_GAP_S, FIGURE_EVERY_S)
    assert pacer.take() == {"a": 2} and len(pacer) == 0
    pacer.add({"a": 3, "b": 3})
    sent = {}
    while len(pacer):
        wait, figure = pacer.take_next()
        assert 0.0 <= wait <= FIGURE_GAP_S
        now[0] += wait  # drain() sleeps it
        sent.update(figure)
    assert sent == {"a": 3, "b": 3}


def test_a_run_sends_at_most_one_figure_per_message_and_ends_with_every_figure():
    """Through the tab's own handler: a frame that changes three figures reaches the page one figure
    per message, and the last version of every figure arrives before the last frame."""
    import gradio as gr

    from cnnbp.lessons.base import Lesson, LessonConfig, Part, Update
    from cnnbp.train import RunControl
    from cnnbp.ui.runner import run_live

    def draw(state):
        for step in range(3):
            yield Update((step + 1) / 3, f"step {step}", figures={n: f"{n}{step}" for n in "abc"})

    lesson = Lesson(name="pacetest", title="", summary="", config=LessonConfig,
                    figures=(("a", ""), ("b", ""), ("c", "")), parts=(Part("draw", 1.0, draw),))
    messages = list(run_live(lesson, LessonConfig(), RunControl(), lambda *a, **k: None))
    last = {}
    for message in messages:
        figures = [v for v in message[2:5] if v != gr.skip()]
        assert len(figures) <= 1, message
        last.update({n: v for n, v in zip("abc", message[2:5]) if v != gr.skip()})
    assert last == {"a": "a2", "b": "b2", "c": "c2"}
    assert "done in" in messages[-1][0]
