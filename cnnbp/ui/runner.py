"""Run a lesson for one browser session and map its Frames onto the tab's components.

Each session's run has its own RunControl, so Stop cancels that run only, between two
training steps, and the run's last frame says so.
"""

from __future__ import annotations

import inspect
import logging
import threading
from typing import Any, Callable, Iterator

import gradio as gr

from cnnbp.lessons.base import ConfigError, Frame, Lesson, Verdict, validate_config
from cnnbp.train import RunControl

log = logging.getLogger("cnnbp.ui")


class SessionControls:
    """The RunControl of each session's current run, so its Stop button can reach it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controls: dict[str, RunControl] = {}

    def start(self, session: str) -> RunControl:
        control = RunControl()
        with self._lock:
            previous = self._controls.get(session)
            if previous is not None:
                previous.cancel()  # a second Run in the same tab replaces the first
            self._controls[session] = control
        return control

    def stop(self, session: str) -> bool:
        with self._lock:
            control = self._controls.get(session)
        if control is None:
            return False
        control.cancel()
        return True

    def finish(self, session: str, control: RunControl) -> None:
        with self._lock:
            if self._controls.get(session) is control:
                del self._controls[session]


CONTROLS = SessionControls()


def verdicts_markdown(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return ""
    mark = {True: "✅", False: "❌", None: "•"}
    return "\n".join(f"- {mark[v.passed]} {v.text}" for v in verdicts)


def frame_outputs(frame: Frame, lesson: Lesson) -> list[Any]:
    """Status, verdicts, one value per figure and table (``gr.skip()`` when unchanged), numbers."""
    status = f"**{frame.progress:.0%}**: {frame.message}"
    values: list[Any] = [status, verdicts_markdown(frame.verdicts) if frame.verdicts else gr.skip()]
    values += [frame.figures.get(name, gr.skip()) for name, _ in lesson.figures]
    values += [frame.tables[name] if name in frame.tables else gr.skip() for name, _ in lesson.tables]
    values.append(frame.numbers if (frame.verdicts or frame.done) else gr.skip())
    return values


def make_handler(lesson: Lesson, names: list[str]) -> Callable[..., Iterator[list[Any]]]:
    """A generator handler whose API parameters are the Config's field names."""

    def handler(*args: Any) -> Iterator[list[Any]]:
        values, request, progress = args[: len(names)], args[len(names)], args[len(names) + 1]
        try:
            cfg = validate_config(lesson.config, dict(zip(names, values)))
        except ConfigError as err:
            raise gr.Error(str(err), print_exception=False) from None
        session = getattr(request, "session_hash", None) or "anonymous"
        control = CONTROLS.start(session)
        try:
            for frame in lesson.run(cfg, control):
                progress(frame.progress, desc=frame.message)
                yield frame_outputs(frame, lesson)
        except gr.Error:
            raise
        except Exception as err:  # reported in one line; the traceback stays in the server log
            log.exception("lesson %s failed", lesson.name)
            raise gr.Error(f"the run failed: {type(err).__name__}: {err}", print_exception=False) from None
        finally:
            control.cancel()  # the browser went away or Stop was pressed: stop between steps
            CONTROLS.finish(session, control)

    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params += [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request),
               inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())]
    handler.__signature__ = inspect.Signature(params)
    handler.__annotations__ = {"request": gr.Request}
    handler.__name__ = f"run_{lesson.name}"
    return handler


def stop_handler(request: gr.Request) -> str:
    stopped = CONTROLS.stop(getattr(request, "session_hash", None) or "anonymous")
    return "**stopping** after the current step" if stopped else "nothing is running"
