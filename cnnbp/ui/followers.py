"""Identical runs computed once: a class that presses Run on the same lesson, settings and seed
follows one run live instead of queueing 30 copies of it.

The first request for a run starts a Flight: a thread that waits for the run's slot
(``cnnbp.ui.slots``), runs the lesson, keeps every frame and caches the finished result. Every
request for that run while it is in flight, the first included, follows it: the frames so far
merged into one, then each new frame as it comes; it ends when the run ends. One computation, the
same numbers for everyone, and a class finishes with the run instead of one replay after another.

Stop: each student pressed Run for themselves, so one student's Stop never stops the run for the
others. A follower's Stop ends its own following at once, with what the run had measured so far
(``left_frame``); the run itself is stopped (between two steps) only when its last follower stops
or leaves, and that follower gets the run's own "stopped by the user" frame, as a run of its own
would. A stopped run takes no new followers: an identical request then starts afresh.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterator

import torch

from cnnbp.lessons.base import Frame, Lesson, LessonConfig, merge_frames
from cnnbp.train import RunControl
from cnnbp.ui import warmup
from cnnbp.ui.cache import RESULTS
from cnnbp.ui.free_memory import release_free_memory

log = logging.getLogger("cnnbp.ui")
STOP_POLL_S = 0.25  # how often a follower waiting for the next frame looks at its own Stop


@dataclass
class Replay:
    """The run was found finished in the cache when its slot came (the start-up warm-up computed it)."""

    frame: Frame


def page_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """Each plotly figure as the JSON Gradio's Plot sends (its ``postprocess`` passes a PlotData
    through), made once per frame for every follower instead of once per follower."""
    from gradio.components.plot import PlotData

    return {name: PlotData(type="plotly", plot=fig.to_json()) if type(fig).__module__.startswith("plotly")
            else fig for name, fig in figures.items()}


class Flight:
    """One run being computed (or waiting for its slot) for everyone who asked for it."""

    def __init__(self, lesson: Lesson, cfg: LessonConfig, kind: str, slots: Any, flights: "Flights") -> None:
        self.lesson, self.cfg, self.kind, self._slots, self._flights = lesson, cfg, kind, slots, flights
        self.control = RunControl()  # the run's own: cancelled when its last follower stops or leaves
        self.followers = 0  # changed under the Flights lock
        self.audience = 0  # the most followers it had at once (a follower's reader may outlast its count)
        self._changed = threading.Condition()
        self._events: list[Frame | str | Replay] = []  # frames as sent, waiting lines, or a Replay
        self._frames: list[Frame] = []  # the lesson's own frames, for the cache
        self.error: BaseException | None = None
        self._finished = False
        self.thread = threading.Thread(target=self._run, name="cnnbp-flight", daemon=True)

    def _publish(self, event: Frame | str | Replay) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def _run(self) -> None:
        try:
            waiting = self._slots.wait(self.kind, self.control)
            try:
                while True:
                    self._publish(next(waiting))
            except StopIteration as end:
                if not end.value:
                    self._publish("stopped by the user before it started")
                    return
            try:
                cached = RESULTS.get(self.lesson.name, self.cfg)  # the warm-up may have finished it meanwhile
                if cached is not None:
                    self._publish(Replay(cached))
                    return
                warmup.yield_to_user()
                for frame in self.lesson.run(self.cfg, self.control):
                    self._frames.append(frame)
                    self._publish(replace(frame, figures=page_figures(frame.figures)))
            finally:
                self._slots.release(self.kind)
            if not self.control.stop_reason():
                RESULTS.put(self.lesson.name, self.cfg, merge_frames(self._frames))
        except BaseException as err:  # handed to every follower, which reports it in one line
            if isinstance(err, torch.cuda.OutOfMemoryError):
                self._frames.clear()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                log.warning("lesson %s ran out of GPU memory", self.lesson.name)
            else:  # the traceback stays in the server log, once per run
                log.exception("lesson %s failed", self.lesson.name)
            self.error = err
        finally:
            self._flights.landed(self)  # after the cache has it: an identical request finds one or the other
            with self._changed:
                self._finished = True
                self._changed.notify_all()
            if not self._flights.flying():  # the last run ended: its freed pages back to the system
                release_free_memory()

    def follow(self, mine: RunControl) -> Iterator[Frame | str | Replay]:
        """This run's events for one follower (``mine``: its own Stop): the frames so far merged into
        one, then each new one; a line while the run waits for its slot. Ends when the run ends (its
        error raised here), or at once with ``left_frame`` when this follower stops while others follow.
        Blocks between events: run it under ``runner.with_heartbeat`` for the page's clock."""
        counted = True
        try:
            with self._changed:
                seen = len(self._events)
                so_far = [e for e in self._events if isinstance(e, Frame)]
                latest = self._events[-1] if self._events else None
            if so_far:
                yield merge_frames(so_far)
            elif latest is not None:
                yield latest
            while True:
                if mine.cancelled.is_set() and counted:
                    others = self._flights.leave(self)
                    counted = False
                    if others:
                        with self._changed:
                            sent = [e for e in self._events[:seen] if isinstance(e, Frame)]
                        yield left_frame(sent, others)
                        return
                with self._changed:
                    if seen == len(self._events) and not self._finished:
                        self._changed.wait(STOP_POLL_S)
                    new, finished = self._events[seen:], self._finished
                seen += len(new)
                yield from new
                if finished and not new:
                    if self.error is not None:
                        raise self.error
                    return
        finally:
            if counted:  # the page went away (or the run ended): the run stops if nobody else follows
                self._flights.leave(self)


def left_frame(sent: list[Frame], others: int) -> Frame:
    """What a follower that pressed Stop ends with while ``others`` still follow the run: the run so
    far (its numbers and verdicts up to now), marked stopped for this page only."""
    so_far = merge_frames(sent) if sent else Frame(0.0, "")
    return replace(so_far, figures={}, done=True,
                   message=f"stopped by the user at {so_far.progress:.0%} (this page only: the identical "
                           f"run goes on for the {others} other{'s' * (others > 1)} who asked for it)")


class Flights:
    """The runs in flight by (lesson, settings and seed), and who follows each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flying: dict[tuple[str, str], Flight] = {}

    def join(self, lesson: Lesson, cfg: LessonConfig, kind: str, slots: Any) -> Flight | Frame:
        """Follow the identical run in flight, or the finished run from the cache (a Frame), or start it."""
        key = RESULTS.key(lesson.name, cfg)
        with self._lock:
            flight = self._flying.get(key)
            if flight is None:
                cached = RESULTS.get(lesson.name, cfg)
                if cached is not None:
                    return cached
                flight = self._flying[key] = Flight(lesson, cfg, kind, slots, self)
                flight.thread.start()
            flight.followers += 1
            flight.audience = max(flight.audience, flight.followers)
            return flight

    def leave(self, flight: Flight) -> int:
        """A follower stops or leaves; returns how many still follow. The run is stopped when none does,
        and then takes no new follower (they would get a run stopped by someone else)."""
        with self._lock:
            flight.followers -= 1
            if flight.followers == 0:
                flight.control.cancel()
                self._drop(flight)
            return flight.followers

    def landed(self, flight: Flight) -> None:
        with self._lock:
            self._drop(flight)

    def _drop(self, flight: Flight) -> None:
        key = RESULTS.key(flight.lesson.name, flight.cfg)
        if self._flying.get(key) is flight:
            del self._flying[key]

    def flying(self) -> int:
        with self._lock:
            return len(self._flying)


FLIGHTS = Flights()
