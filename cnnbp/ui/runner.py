"""Run a lesson for one browser session and map its Frames onto the tab's components.

Each session's run has its own RunControl, so Stop cancels that run only, between two
training steps, and the run's last frame says so. ``run_live`` follows the run (``cnnbp.ui.followers``)
and hands each of its events to a :class:`Sender`, which decides what this page or API client is sent
and when: a frame now or merged into the next message, the status line's clock between frames.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import queue
import re
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterator

import gradio as gr
import torch

from cnnbp.lessons.base import ConfigError, Frame, Lesson, Verdict, merge_frames, validate_config
from cnnbp.train import RunControl
from cnnbp.ui.followers import FLIGHTS, Replay
from cnnbp.ui.pacing import AllAtOnce, FigurePacer
from cnnbp.ui.settings_input import SettingsInput
from cnnbp.ui.slots import SLOTS, kind_of
from cnnbp.ui.widgets import upload_fields
from cnnbp.verdict_line import verdict_word, verdicts_html  # noqa: F401  (verdict_word: the tab's word)

log = logging.getLogger("cnnbp.ui")


class SessionControls:
    """The RunControl of each session's current run of each tab, so that tab's Stop reaches it.

    Keyed by (session, tab): one browser page is one session for every tab, and a Stop in one
    tab must not stop (or miss) a run of another. A Run click is counted at once (``requested``,
    a queue-free event) while its run may still wait in the queue for a free slot; a Stop then
    finds no running control but a waiting run, and that run stops as it starts instead of
    running to the end unstoppable.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controls: dict[tuple[str, str], RunControl] = {}
        self._waiting: dict[tuple[str, str], int] = {}  # Run clicks whose run has not started yet
        self._stop_waiting: set[tuple[str, str]] = set()

    def requested(self, session: str, tab: str) -> None:
        """A Run click: its run may wait in the queue before ``start``."""
        with self._lock:
            self._waiting[session, tab] = self._waiting.get((session, tab), 0) + 1

    def start(self, session: str, tab: str) -> RunControl:
        """A run of ``tab`` begins. A second Run in the same tab replaces the first; a Stop pressed
        while this run waited in the queue stops it at once."""
        control = RunControl()
        key = (session, tab)
        with self._lock:
            previous = self._controls.get(key)
            if previous is not None:
                previous.cancel()
            self._controls[key] = control
            # may go below zero for an API call, which has no click: it then never counts as waiting
            self._waiting[key] = self._waiting.get(key, 0) - 1
            if key in self._stop_waiting:
                self._stop_waiting.discard(key)
                control.cancel()
        return control

    def stop(self, session: str, tab: str) -> str:
        """Stop ``tab``'s run in this session: "running", "waiting" (it stops as it starts) or "none"."""
        key = (session, tab)
        with self._lock:
            control = self._controls.get(key)
            if control is not None:
                control.cancel()
                return "running"
            if self._waiting.get(key, 0) > 0:
                self._stop_waiting.add(key)
                return "waiting"
            return "none"

    def active(self) -> int:
        """Runs going now (the start-up warm-up waits for none before its heavy work)."""
        with self._lock:
            return len(self._controls)

    def finish(self, session: str, tab: str, control: RunControl) -> None:
        with self._lock:
            if self._controls.get((session, tab)) is control:
                del self._controls[session, tab]


CONTROLS = SessionControls()


def verdicts_markdown(verdicts: list[Verdict]) -> str:
    """The tab's verdict lines (``cnnbp.verdict_line.verdicts_html``): a coloured word, the headline
    in large type and the lecture's claim; a click unfolds the whole text."""
    return verdicts_html(verdicts)


def frame_outputs(frame: Frame, lesson: Lesson, *, note: str = "") -> list[Any]:
    """Status, verdicts, one value per figure and table (``gr.skip()`` when unchanged), numbers.

    The numbers JSON goes with the last frame only (done or stopped): a frame with verdicts mid-run
    would otherwise resend every number so far (up to ~180 KiB), and nothing reads them before the
    end (the Share panel's reveal reads the finished run). It leaves out what the figures carry whole
    (``shown_numbers``)."""
    status = f"**{frame.progress:.0%}**: {frame.message}" + (f" ({note})" if note else "")
    values: list[Any] = [status, verdicts_markdown(frame.verdicts) if frame.verdicts else gr.skip()]
    values += [frame.figures.get(name, gr.skip()) for name, _ in lesson.figures]
    values += [frame.tables[name] if name in frame.tables else gr.skip() for name, _ in lesson.tables]
    values.append(shown_numbers(frame.numbers, lesson) if frame.done else gr.skip())
    return values


LEFT_OUT = "_left_out"  # the key of shown_numbers' note


def shown_numbers(numbers: dict[str, Any], lesson: Lesson) -> dict[str, Any]:
    """``numbers`` without the lesson's ``drawn_numbers`` (an example image's pixels went out in its
    figure already; preprocessing's numbers were 1.5 MB with them, 30 KiB without), and a note that
    names what was left out and where every number is.

    >>> from cnnbp.lessons.base import LessonConfig
    >>> lesson = Lesson("x", "X", "", LessonConfig, (), drawn_numbers=("a.*.pixels",))
    >>> shown = shown_numbers({"a": {"b": {"pixels": [0, 1], "mean": 0.5}}}, lesson)
    >>> shown["a"], shown["_left_out"].split(":")[0]
    ({'b': {'mean': 0.5}}, 'a.*.pixels')
    >>> shown_numbers({"a": [{"x": [1], "k": 2}]}, replace(lesson, drawn_numbers=("a.*.x",)))["a"]
    [{'k': 2}]
    """
    shown = numbers
    for path in lesson.drawn_numbers:
        shown = _without(shown, path.split("."))
    if shown is numbers:
        return numbers
    return {**shown, LEFT_OUT: f"{', '.join(lesson.drawn_numbers)}: left out of the page (drawn whole in the "
                               f"figures, or per-step series); python -m cnnbp run {lesson.name} --out DIR "
                               f"writes every number"}


def _without(value: Any, keys: list[str]) -> Any:
    """``value`` (nested dicts and lists) without the path ``keys`` ("*": every key, or every item of a
    list); ``value`` itself if it has none."""
    head, rest = keys[0], keys[1:]
    if isinstance(value, list) and head == "*" and rest:
        items = [_without(item, rest) for item in value]
        return value if all(new is old for new, old in zip(items, value)) else items
    if not isinstance(value, dict):
        return value
    out = value
    for key in (list(value) if head == "*" else [head] if head in value else []):
        new = _without(value[key], rest) if rest else None
        if rest and new is value[key]:
            continue
        out = dict(out) if out is value else out
        if rest:
            out[key] = new
        else:
            del out[key]
    return out


def waiting_outputs(lesson: Lesson, line: str, figures: dict[str, Any] | None = None) -> list[Any]:
    """The status line and ``figures`` (by name), every other output unchanged."""
    figures = figures or {}
    return [line, gr.skip(), *[figures.get(name, gr.skip()) for name, _ in lesson.figures],
            *[gr.skip()] * (1 + len(lesson.tables))]


def drain(lesson: Lesson, pacer: FigurePacer, line: Callable[[], str]) -> Iterator[list[Any]]:
    """Every figure still waiting in a paced ``pacer``, one per message and spaced (each is drawn in
    its own task of the page), under the status ``line()``; an API client's go with the next frame."""
    while pacer.paced and len(pacer):
        wait, figures = pacer.take_next()
        time.sleep(wait)
        yield waiting_outputs(lesson, line(), figures)


CACHED = "served from the cache of identical runs"


def cached_outputs(cached: Frame, lesson: Lesson, pacer: FigurePacer) -> Iterator[list[Any]]:
    """A finished run from the cache: its figures paced like a live run's for a page (an API client
    gets them all at once), then its last frame."""
    pacer.add(cached.figures)
    total = len(pacer)
    yield from drain(lesson, pacer, lambda: f"**100%**: {CACHED}: drawing figure {total - len(pacer)} of {total}")
    yield frame_outputs(replace(cached, figures=pacer.take()), lesson, note=CACHED)


API_USERS = ("api", "mcp")  # gradio_client and @gradio/client send x-gradio-user: api; the page sends "app"


def pacer_for(request: Any) -> FigurePacer:
    """Figures paced for a page (``cnnbp.ui.pacing``); all at once for an API client, which draws none."""
    headers = getattr(request, "headers", None) or {}
    return AllAtOnce() if headers.get("x-gradio-user") in API_USERS else FigurePacer()


def uploaded_path(value: Any) -> Any:
    """An upload box's raw value (``preprocess=False``: a FileData dict, or None) -> the file's path.

    Gradio has already refused paths outside its upload folder; anything that is not a FileData
    dict passes through for the Config to refuse by name.
    """
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return value["path"]
    return value


def make_handler(lesson: Lesson, names: list[str], settings: SettingsInput | None = None
                 ) -> Callable[..., Iterator[list[Any]]]:
    """A generator handler whose API parameters are the Config's field names; with ``settings``, the
    page's own: its parameters are ``settings.inputs`` (one list of the plain values, the upload boxes)."""
    uploads = upload_fields(lesson.config)
    params = names if settings is None else settings.params

    def handler(*args: Any) -> Iterator[list[Any]]:
        inputs, request, progress = args[: len(params)], args[len(params)], args[len(params) + 1]
        session = session_of(request)
        # Taken first, whatever follows (a refused setting, a cached result): this run is no
        # longer waiting, and a Stop pressed while it waited has cancelled it already.
        control = CONTROLS.start(session, lesson.name)
        try:
            try:
                values = inputs if settings is None else settings.values(*inputs)
                values = [uploaded_path(v) if n in uploads else v for n, v in zip(names, values)]
                cfg = validate_config(lesson.config, dict(zip(names, values)))
            except ConfigError as err:
                raise gr.Error(without_paths(str(err)), print_exception=False) from None
            yield from run_live(lesson, cfg, control, progress, pacer_for(request))
        finally:
            control.cancel()  # the browser went away or Stop was pressed: this page stops following
            CONTROLS.finish(session, lesson.name, control)

    signature = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in params]
    signature += [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request),
                  inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())]
    handler.__signature__ = inspect.Signature(signature)
    handler.__annotations__ = {"request": gr.Request}
    handler.__name__ = f"run_{lesson.name}" if settings is None else f"run_{lesson.name}_page"
    return maybe_zero_gpu(handler)


# The longest the page waits without an update: a part that computes for seconds between two of its
# frames (a training to its end, a fit) still gets the status line's clock ticking at this pace. Under
# the 0.5 s target by a margin: on a loaded machine the waiting thread wakes late (0.56 s measured at
# 0.5, load 13).
HEARTBEAT_S = 0.4
TICK_S = 0.1  # how often the stream looks for a waiting figure that is due (cnnbp.ui.pacing)
# Gradio builds a component and its config for every output a message skips (~ms each), per follower,
# on its event loop: 30 pages following one run at the clock's pace kept it busy minutes after the run.
# So an API client (it reads the last message) gets the frames between merged, one message per
# API_EVERY_S; a page's messages share RUN_MESSAGES_PER_S among the run's followers (one page alone
# keeps its pace: the clock every HEARTBEAT_S, a figure every FIGURE_GAP_S).
API_EVERY_S = 2.0
RUN_MESSAGES_PER_S = 10.0


def with_heartbeat(frames: Iterator[Frame], control: RunControl, interval: float = HEARTBEAT_S
                   ) -> Iterator[Frame | None]:
    """``frames``, computed in a worker thread, with None whenever ``interval`` passes without one.

    The worker never waits for the page (an unbounded queue of a few frames); if the page goes away
    mid-run the run is cancelled and this waits for the worker to stop between two steps, so the
    run's slot is never freed while it still computes. An exception in the run is raised here."""
    items: queue.Queue = queue.Queue()
    end = object()

    def work() -> None:
        try:
            for frame in frames:
                items.put(frame)
        except BaseException as err:  # handed to the page's thread, which reports it
            items.put(err)
        else:
            items.put(end)

    worker = threading.Thread(target=work, name="cnnbp-run", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            try:
                item = items.get(timeout=interval)
            except queue.Empty:
                yield None
                continue
            finished = item is end or isinstance(item, BaseException)
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if not finished:  # the page went away mid-run: stop it between two steps
            control.cancel()
        worker.join()


def clock_line(last: Frame, control: RunControl) -> str:
    """The status line of the last frame with the run's clock."""
    return f"**{last.progress:.0%}**: {last.message} · {control.elapsed():.1f} s"


SEND, HOLD, CLOCK, QUIET = "send", "hold", "clock", "quiet"  # what a Sender does with a frame or a tick


class Sender:
    """What one follower of a run (a page, or an API client) is sent, and when.

    Every event of the run goes through :meth:`decide`, the one place that chooses:

    - a frame: SEND it now (merged with the frames held before it), or HOLD it to merge into the next
      message. The first frame and the last (``done``) go at once; another is held while the last
      message is younger than :meth:`gap`.
    - a tick (``None``, TICK_S without a frame): SEND the held frames once the gap has passed, or a
      CLOCK message (the status line with the run's clock, and a page's next figure when one is due),
      or stay QUIET. A page's clock ticks every HEARTBEAT_S (or the gap, if longer) unless the run
      waits for its slot (the waiting line stays); an API client gets no clock.

    The gap is API_EVERY_S for an API client; for a page, its share of RUN_MESSAGES_PER_S among the
    run's followers. A message counts as sent when the page asks for the next one.
    """

    def __init__(self, lesson: Lesson, pacer: FigurePacer, flight: Any, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.lesson, self.pacer, self.flight, self._clock = lesson, pacer, flight, clock
        self.last: Frame | None = None  # the run's latest frame, sent or held
        self.held: list[Frame] = []  # frames not sent yet: merged into the next message
        self.sent_a_frame = False
        self.waiting = False  # the run waits for its slot
        self.said = clock()  # when this follower last got a message

    def gap(self) -> float:
        """The least time between two messages to this follower."""
        return self.flight.audience / RUN_MESSAGES_PER_S if self.pacer.paced else API_EVERY_S

    def decide(self, frame: Frame | None) -> str:
        """SEND or HOLD for a frame; SEND (the held frames), CLOCK or QUIET for a tick (None)."""
        quiet_for = self._clock() - self.said
        if frame is not None:
            return SEND if frame.done or not self.sent_a_frame or quiet_for >= self.gap() else HOLD
        if quiet_for < self.gap():
            return QUIET
        if self.held:
            return SEND
        ticking = self.pacer.paced and not self.waiting and quiet_for >= HEARTBEAT_S
        return CLOCK if ticking or self.pacer.due() else QUIET

    def messages(self, item: Frame | str | None) -> Iterator[list[Any]]:
        """The messages for one event of the run: a frame, a line while it waits for its slot, or a tick."""
        if isinstance(item, str):
            self.waiting = True
            yield waiting_outputs(self.lesson, item)
            return
        before = self.last or Frame(0.0, "starting")  # what the status line says until this item goes out
        if item is not None:
            self.waiting, self.last = False, item
            self.held.append(item)
            self.pacer.add(item.figures)
        decision = self.decide(item)
        if decision == CLOCK:
            yield waiting_outputs(self.lesson, clock_line(before, self.flight.control), self.pacer.take())
            self.said = self._clock()
        elif decision == SEND:
            frame = merge_frames(self.held)  # (of one frame: a copy)
            self.held, self.sent_a_frame = [], True
            if frame.done:  # every figure still waiting goes out before the last frame
                yield from drain(self.lesson, self.pacer, lambda: clock_line(before, self.flight.control))
            yield from self._send(frame)

    def end(self) -> Iterator[list[Any]]:
        """The run ended without a last frame of its own: what was held, then every waiting figure."""
        if self.held:
            yield from self._send(merge_frames(self.held))
        if self.last is not None:
            yield from drain(self.lesson, self.pacer, lambda: clock_line(self.last, self.flight.control))

    def _send(self, frame: Frame) -> Iterator[list[Any]]:
        yield frame_outputs(replace(frame, figures=self.pacer.take()), self.lesson)
        self.said = self._clock()


def run_live(lesson: Lesson, cfg: Any, control: RunControl, progress: Any,
             pacer: FigurePacer | None = None) -> Iterator[list[Any]]:
    """Stream the run of ``lesson`` on ``cfg`` to one page (``control``: its Stop): from the cache when
    it ran before, else following the identical run in flight or a new one (``cnnbp.ui.followers``:
    computed once for everyone who asks, in its slot, and cached); what goes out when is the
    :class:`Sender`'s, the figures paced (``cnnbp.ui.pacing``)."""
    pacer = FigurePacer() if pacer is None else pacer  # (an empty pacer is falsy)
    if control.cancelled.is_set():  # Stop pressed while the click waited in Gradio's queue
        yield waiting_outputs(lesson, "stopped by the user before it started")
        return
    flight = FLIGHTS.join(lesson, cfg, kind_of(cfg.cost_seconds()), SLOTS)
    if isinstance(flight, Frame):  # the same lesson, settings and seed ran before: the same numbers
        yield from cached_outputs(flight, lesson, pacer)
        return
    sender = Sender(lesson, pacer, flight)
    try:
        for item in with_heartbeat(flight.follow(control), control, interval=TICK_S):
            if isinstance(item, Replay):  # the warm-up finished this run while it waited for its slot
                yield from cached_outputs(item.frame, lesson, pacer)
                return
            if isinstance(item, Frame):
                progress(item.progress, desc=item.message)
            yield from sender.messages(item)
        yield from sender.end()
    except torch.cuda.OutOfMemoryError:
        raise gr.Error("out of GPU memory: lower the width, batch size or number of variants and run "
                       "again (the memory has been freed)", print_exception=False) from None
    except Exception as err:  # reported in one line; the traceback stays in the server log
        if err is not flight.error:  # the run's own was logged once, by its flight
            log.exception("lesson %s failed", lesson.name)
        raise gr.Error(without_paths(f"the run failed: {type(err).__name__}: {err}"), print_exception=False) from None


def maybe_zero_gpu(fn: Callable) -> Callable:
    """On a ZeroGPU Space (the `spaces` package and SPACES_ZERO_GPU set), borrow a GPU per call."""
    if not os.environ.get("SPACES_ZERO_GPU") or importlib.util.find_spec("spaces") is None:
        return fn
    import spaces

    return spaces.GPU(duration=120)(fn)

SERVER_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][\w.\-+~@]+){2,}[\\/]?")


def without_paths(message: str) -> str:
    """A message for the page: every server path in it shortened to its last part (an error from
    deep inside a library may quote where a file lives on the server)."""
    return SERVER_PATH.sub(lambda m: m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1], message)


def session_of(request: Any) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


STOP_REPLIES = {"running": "**stopping** after the current step",
                "waiting": "**stopped** before it started (it was waiting for a free slot)",
                "none": "nothing is running"}


def make_stop_handler(tab: str) -> Callable[[gr.Request], str]:
    def stop(request: gr.Request) -> str:
        """Stop this session's run of the tab; the run's own last frame then says "stopped by the user"."""
        return STOP_REPLIES[CONTROLS.stop(session_of(request), tab)]

    stop.__name__ = f"stop_{tab}"
    return stop


def make_request_handler(tab: str) -> Callable[[gr.Request], str]:
    def requested(request: gr.Request) -> str:
        """A Run click, counted before its run may wait in the queue; clears Stop's last reply."""
        CONTROLS.requested(session_of(request), tab)
        return ""

    requested.__name__ = f"requested_{tab}"
    return requested
