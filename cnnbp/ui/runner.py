"""Run a lesson for one browser session and map its Frames onto the tab's components.

Each session's run has its own RunControl, so Stop cancels that run only, between two
training steps, and the run's last frame says so.
"""

from __future__ import annotations

import html
import importlib.util
import inspect
import logging
import os
import re
import threading
from typing import Any, Callable, Iterator

import gradio as gr
import torch

from cnnbp.lessons.base import ConfigError, Frame, Lesson, Verdict, merge_frames, validate_config
from cnnbp.train import RunControl
from cnnbp.ui import warmup
from cnnbp.ui.cache import RESULTS
from cnnbp.ui.widgets import upload_fields

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

    def active(self) -> int:
        """Runs going now (the start-up warm-up waits for none before its heavy work)."""
        with self._lock:
            return len(self._controls)

    def finish(self, session: str, control: RunControl) -> None:
        with self._lock:
            if self._controls.get(session) is control:
                del self._controls[session]


CONTROLS = SessionControls()


CANNOT_TELL = re.compile(r"can(?:'|no|not)?t tell|can not tell|could not tell|too close to call", re.I)


def verdict_word(v: Verdict) -> tuple[str, str]:
    """(word, css class) of a verdict, from its fields alone: words, not emoji (a hall PC without
    an emoji font draws every emoji as the same box)."""
    if v.passed is True:
        return "HOLDS", "v-holds"
    if v.passed is False:
        return "DOES NOT HOLD", "v-fails"
    if CANNOT_TELL.search(v.text):
        return "CAN'T TELL", "v-canttell"
    return "NOTE", "v-note"


def verdicts_markdown(verdicts: list[Verdict]) -> str:
    """One line per verdict: a coloured word, the label in bold, the text cut to one line; a click
    unfolds the whole text (a <details> whose summary is everything: the text is in the page once)."""
    if not verdicts:
        return ""
    rows = []
    for v in verdicts:
        word, cls = verdict_word(v)
        rows.append(f'<details class="verdict {cls}"><summary><span class="v-word">{word}</span> '
                    f'<b class="v-label">{html.escape(v.label)}</b> '
                    f'<span class="v-text">{html.escape(v.text)}</span></summary></details>')
    return '<div class="verdicts">' + "".join(rows) + "</div>"


def frame_outputs(frame: Frame, lesson: Lesson, *, note: str = "") -> list[Any]:
    """Status, verdicts, one value per figure and table (``gr.skip()`` when unchanged), numbers."""
    status = f"**{frame.progress:.0%}**: {frame.message}" + (f" ({note})" if note else "")
    values: list[Any] = [status, verdicts_markdown(frame.verdicts) if frame.verdicts else gr.skip()]
    values += [frame.figures.get(name, gr.skip()) for name, _ in lesson.figures]
    values += [frame.tables[name] if name in frame.tables else gr.skip() for name, _ in lesson.tables]
    values.append(frame.numbers if (frame.verdicts or frame.done) else gr.skip())
    return values


def uploaded_path(value: Any) -> Any:
    """An upload box's raw value (``preprocess=False``: a FileData dict, or None) -> the file's path.

    Gradio has already refused paths outside its upload folder; anything that is not a FileData
    dict passes through for the Config to refuse by name.
    """
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return value["path"]
    return value


def make_handler(lesson: Lesson, names: list[str]) -> Callable[..., Iterator[list[Any]]]:
    """A generator handler whose API parameters are the Config's field names."""
    uploads = upload_fields(lesson.config)

    def handler(*args: Any) -> Iterator[list[Any]]:
        values, request, progress = args[: len(names)], args[len(names)], args[len(names) + 1]
        values = [uploaded_path(v) if n in uploads else v for n, v in zip(names, values)]
        try:
            cfg = validate_config(lesson.config, dict(zip(names, values)))
        except ConfigError as err:
            raise gr.Error(str(err), print_exception=False) from None
        cached = RESULTS.get(lesson.name, cfg)
        if cached is not None:  # the same lesson, settings and seed ran before: same numbers
            yield frame_outputs(cached, lesson, note="served from the cache of identical runs")
            return
        yield from run_live(lesson, cfg, request, progress)

    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params += [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request),
               inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())]
    handler.__signature__ = inspect.Signature(params)
    handler.__annotations__ = {"request": gr.Request}
    handler.__name__ = f"run_{lesson.name}"
    return maybe_zero_gpu(handler)


def run_live(lesson: Lesson, cfg: Any, request: Any, progress: Any) -> Iterator[list[Any]]:
    """Run the lesson, stream its frames, cache the finished result."""
    warmup.yield_to_user()
    session = getattr(request, "session_hash", None) or "anonymous"
    control = CONTROLS.start(session)
    frames: list[Frame] = []
    try:
        for frame in lesson.run(cfg, control):
            frames.append(frame)
            progress(frame.progress, desc=frame.message)
            yield frame_outputs(frame, lesson)
        if not control.stop_reason():
            RESULTS.put(lesson.name, cfg, merge_frames(frames))
    except torch.cuda.OutOfMemoryError:
        frames.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        log.warning("lesson %s ran out of GPU memory", lesson.name)
        raise gr.Error("out of GPU memory: lower the width, batch size or number of variants and run "
                       "again (the memory has been freed)", print_exception=False) from None
    except Exception as err:  # reported in one line; the traceback stays in the server log
        log.exception("lesson %s failed", lesson.name)
        raise gr.Error(f"the run failed: {type(err).__name__}: {err}", print_exception=False) from None
    finally:
        control.cancel()  # the browser went away or Stop was pressed: stop between steps
        CONTROLS.finish(session, control)


def maybe_zero_gpu(fn: Callable) -> Callable:
    """On a ZeroGPU Space (the `spaces` package and SPACES_ZERO_GPU set), borrow a GPU per call."""
    if not os.environ.get("SPACES_ZERO_GPU") or importlib.util.find_spec("spaces") is None:
        return fn
    import spaces

    return spaces.GPU(duration=120)(fn)

def stop_handler(request: gr.Request) -> str:
    """Stop this session's run; the run's own last frame then says "stopped by the user"."""
    stopped = CONTROLS.stop(getattr(request, "session_hash", None) or "anonymous")
    return "**stopping** after the current step" if stopped else "nothing is running"
