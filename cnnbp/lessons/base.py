"""The lesson protocol: a validated Config in, a stream of Frames out.

    cfg = validate_config(InitConfig, {"width": 1024})   # ValueError with one clear line if bad
    for frame in lesson.run(cfg, RunControl()): ...        # progress, figures, tables, verdicts

A lesson declares its parts (:class:`Part`: a name, a share of the work, a generator of
:class:`Update`s); :func:`run_parts` runs the chosen ones in order and owns everything around
them: progress, throttling (:data:`FRAME_INTERVAL_S`), stop and budget checks between parts, the
accumulated figures, tables, numbers and verdicts, and the first, stopped and final frames.

One code path serves the Gradio UI (maps each Frame onto its components), the CLI (writes
the merged Frames to disk) and the tests (assert the numbers).
"""

from __future__ import annotations

import math
import os
import time
import typing
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Generator, Iterator, Mapping

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from cnnbp.device import torch_threads
from cnnbp.train.control import RunControl

COST_BUDGET_ENV = "CNNBP_MAX_COST_S"
DEFAULT_COST_BUDGET_S = 60.0  # estimated seconds on 2 CPU cores; beyond this a job is refused
NOMINAL_GFLOPS = 40.0  # what two CPU cores sustain on our small convs and matmuls
# While a part streams, at most one frame per interval: each frame re-renders plots in the
# browser, and more than ~2 a second stalls the page on a projector laptop.
FRAME_INTERVAL_S = 0.5
# A frame goes out once waiting for the next update would pass this share of the interval: the next stretch
# of work (or drawing) is predicted from the last one, and one 20% longer than the last still lands in time.
FRAME_AIM = 0.8


class ConfigError(ValueError):
    """Bad settings: one line that names the field, the value and what is allowed."""


@dataclass(frozen=True)
class Choice:
    """Field metadata: the value must be a key of ``registry`` (the UI builds a dropdown)."""

    registry: Mapping[str, Any]
    kind: str

    def check(self, name: str) -> str:
        if name not in self.registry:
            raise ValueError(f"unknown {self.kind} {name!r}; choose from {', '.join(self.registry)}")
        return name


def choice(registry: Mapping[str, Any], kind: str) -> Any:
    """``Annotated[str, ...]`` accepting only the keys of ``registry``."""
    meta = Choice(registry, kind)
    return typing.Annotated[str, AfterValidator(meta.check), meta]


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"duplicates in {values}")
    return values


def choices(registry: Mapping[str, Any], kind: str, *, max_length: int | None = None) -> Any:
    """A non-empty list of distinct registry keys (a multi-select in the UI)."""
    return typing.Annotated[
        list[choice(registry, kind)],
        Field(min_length=1, max_length=max_length or len(registry)),
        AfterValidator(_unique),
    ]


class LessonConfig(BaseModel):
    """Base of every lesson's settings: bounded numbers, registry choices, a seed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    seed: int = Field(0, ge=0, le=2**31 - 1, description="same settings + seed -> same numbers")

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: Any) -> Any:
        """Accept "a,b" for list fields (the CLI's ``--set inits=xavier,kaiming``)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, info in cls.model_fields.items():
            for key in [name, *_aliases(info)]:
                value = out.get(key)
                if isinstance(value, str) and typing.get_origin(info.annotation) is list:
                    out[key] = [v.strip() for v in value.split(",") if v.strip()]
        return out

    def cost_seconds(self) -> float:
        """Estimated seconds on 2 CPU cores; lessons override it."""
        return 0.0


def _aliases(info: Any) -> list[str]:
    alias = info.validation_alias
    if isinstance(alias, str):
        return [alias]
    return [c for c in getattr(alias, "choices", []) if isinstance(c, str)]


def field_choices(info: Any) -> list[str] | None:
    """The allowed values of a field, from its registry or Literal (for the UI and the CLI)."""
    annotation = info.annotation
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    for meta in [*info.metadata, *typing.get_args(annotation)[1:]]:
        if isinstance(meta, Choice):
            return list(meta.registry)
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return None


def gflop_seconds(flops: float) -> float:
    return flops / (NOMINAL_GFLOPS * 1e9)


def cost_budget() -> float:
    return float(os.environ.get(COST_BUDGET_ENV, DEFAULT_COST_BUDGET_S))


def validate_config(config_cls: type[LessonConfig], values: Mapping[str, Any] | None = None) -> LessonConfig:
    """Build a Config from raw values (UI, API, CLI strings) or raise ConfigError.

    >>> validate_config(LessonConfig, {"seed": -1})
    Traceback (most recent call last):
    ...
    cnnbp.lessons.base.ConfigError: seed: Input should be greater than or equal to 0 (got -1)
    """
    try:
        cfg = config_cls.model_validate(dict(values or {}))
    except ValidationError as err:
        raise ConfigError(_one_line(err)) from None
    cost, budget = cfg.cost_seconds(), cost_budget()
    if not math.isfinite(cost) or cost > budget:
        raise ConfigError(
            f"this job is too big: estimated {cost:.0f} s on 2 CPU cores, the limit is {budget:.0f} s; "
            "lower the width, depth, epochs or the number of variants"
        )
    return cfg


def _one_line(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "settings"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown setting"
        # A cross-field check (no field in loc) names its fields itself; its input is every setting.
        got = f" (got {e.get('input')!r})" if e["loc"] else ""
        parts.append(f"{where}: {msg}{got}")
    return "; ".join(parts)


@dataclass
class Verdict:
    """One measured statement. ``passed`` is None for a plain observation or a result too
    close to call; ``claim`` is the id of the registered claim it measures, if any
    (``cnnbp.claims.CLAIMS``), apart from ``label``, the short name shown beside it.
    ``headline`` is the one line read from the back of a hall: the number that matters, in
    words ("ReLU 1.9x faster than sigmoid"); ``text`` is the whole account, folded under it."""

    label: str
    text: str
    passed: bool | None = None
    claim: str | None = None
    headline: str = ""

    def as_dict(self) -> dict:
        return {"label": self.label, "claim": self.claim, "passed": self.passed, "headline": self.headline,
                "text": self.text}


@dataclass
class Frame:
    """One update of a running lesson. Figures and tables are only those that changed;
    ``numbers`` is the plain measured data (JSON-able) behind them."""

    progress: float
    message: str
    figures: dict[str, Any] = field(default_factory=dict)  # name -> plotly Figure
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    done: bool = False


@dataclass
class Update:
    """What a part yields: how far it is (0..1 of its own work), a message, and what changed.

    ``numbers`` are merged into the run's numbers by top-level key (a part that streams sends
    its key again with the newer values); ``verdicts`` are appended to the run's verdicts. A
    figure may be given as a function of no arguments: it is drawn only when a frame is sent
    (a part that trains yields every evaluation; drawing each one would cost more than training).

    ``beat``: a heartbeat (:func:`heartbeats`): only how far the part is, yielded from inside long
    computations (every training round, every evaluation, every model) so that a frame can go out
    every FRAME_INTERVAL_S; it never forces a frame of its own. A Stop ends the part there.

    ``long_work_next``: what follows this update is one long stretch that cannot yield (a figure of
    many panels to build, a t-SNE fit): a frame goes out now, since the frame rule, which predicts
    the next stretch from the last one, cannot see it coming."""

    progress: float = 1.0
    message: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    beat: bool = False
    long_work_next: bool = False


def heartbeat(progress: float, *, long_work_next: bool = False) -> Update:
    """A part's "still working, this far" (progress in 0..1 of the part's own work); see
    :class:`Update` for ``long_work_next``."""
    return Update(progress, beat=True, long_work_next=long_work_next)


def scaled(work: Iterator[float], start: float = 0.0, end: float = 1.0) -> Generator[float, None, Any]:
    """Run ``work``, a computation that yields how far it is (0..1 of its own work) and returns its
    result, yielding that progress scaled into [start, end]; return its result."""
    work = iter(work)
    while True:
        try:
            reached = next(work)
        except StopIteration as finished:
            return finished.value
        yield start + (end - start) * min(max(float(reached), 0.0), 1.0)


def result_of(work: Iterator[float]) -> Any:
    """Run ``work`` (as in :func:`scaled`) to its end without streaming; its result (a claim's check)."""
    work = iter(work)
    while True:
        try:
            next(work)
        except StopIteration as finished:
            return finished.value


def on_threads(work: Iterator[float], threads: int) -> Generator[float, None, Any]:
    """Run ``work`` (as in :func:`scaled`) on ``threads`` torch threads, the count restored at every
    yield (as ``lockstep`` does: the count is process-wide); return its result."""
    work = iter(work)
    while True:
        with torch_threads(threads):
            try:
                reached = next(work)
            except StopIteration as finished:
                return finished.value
        yield reached


def heartbeats(work: Iterator[float], start: float = 0.0, end: float = 1.0) -> Generator[Update, None, Any]:
    """:func:`scaled`, each progress passed on as a heartbeat of the part; return ``work``'s result.

        contrast = yield from heartbeats(symmetry_contrast(...), 0.0, 0.9)
    """
    progress = scaled(work, start, end)
    while True:
        try:
            yield heartbeat(next(progress))
        except StopIteration as finished:
            return finished.value


class RunState(SimpleNamespace):
    """One run's shared state: ``cfg``, ``control``, and whatever a part leaves for a later one
    (the dropout nets that MC dropout averages, the visualised model). Parts set attributes."""


def _in_parts(name: str) -> Callable[[Any], bool]:
    return lambda cfg: name in getattr(cfg, "parts", (name,))


@dataclass(frozen=True)
class Part:
    """One experiment of a lesson.

    ``run(state)`` yields Updates; ``share``: its part of the run's work (a number, or a function
    of the Config where the work depends on it); ``when``: whether this run includes it (default:
    ``name in cfg.parts``, or always for a Config without ``parts``)."""

    name: str
    share: float | Callable[[Any], float]
    run: Callable[[RunState], Iterator[Update]]
    when: Callable[[Any], bool] | None = None

    def chosen(self, cfg: Any) -> bool:
        return (self.when or _in_parts(self.name))(cfg)

    def weight(self, cfg: Any) -> float:
        return float(self.share(cfg) if callable(self.share) else self.share)


def _start_message(cfg: Any, parts: list[Part]) -> str:
    return f"starting: {', '.join(p.name for p in parts)}"


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    summary: str
    config: type[LessonConfig]
    figures: tuple[tuple[str, str], ...]  # (name, caption) in display order
    tables: tuple[tuple[str, str], ...] = ()
    quick: Mapping[str, Any] = field(default_factory=dict)  # small settings for tests and demos
    # Fields whose change re-runs the lesson at once in the UI (no Run click): for settings a
    # lesson answers from cached results in milliseconds, e.g. a decision threshold.
    live: tuple[str, ...] = ()
    # Figures and tables that only parts left out of the quick settings draw (too slow for a
    # few seconds); those parts' own tests check them, the protocol tests the rest.
    optional: tuple[str, ...] = ()
    parts: tuple[Part, ...] = ()  # in the order they run
    # Numbers the figures carry whole (example images' pixels, point clouds, matrices), or per-step
    # series no figure draws (dropout's batch losses), as dotted paths into ``numbers`` ("*" for every
    # key): the tab's numbers output (the page's JSON, the API) leaves them out and names them, to keep
    # an update under 100 KiB; Frames, the CLI and the take-home keep every number.
    drawn_numbers: tuple[str, ...] = ()
    # The first frame's message, from the Config and the chosen parts (before any work).
    start: Callable[[Any, list[Part]], str] = _start_message

    def __post_init__(self) -> None:
        unknown = [n for n in self.live if n not in self.config.model_fields]
        if unknown:
            raise ValueError(f"lesson {self.name!r}: live fields {unknown} are not settings of "
                             f"{self.config.__name__}")

    def run(self, cfg: LessonConfig, control: RunControl) -> Iterator[Frame]:
        return run_parts(self, cfg, control)


def run_parts(lesson: Lesson, cfg: LessonConfig, control: RunControl) -> Iterator[Frame]:
    """Run the parts ``cfg`` chooses, in the lesson's order, as a stream of Frames.

    Frames carry only the figures and tables that changed since the last frame, the verdicts
    when they changed, and every number so far. While a part streams, updates closer than
    FRAME_INTERVAL_S are folded into the next frame (nothing is lost); a part's first and last
    updates, and any update with verdicts, are always sent; a heartbeat (``Update.beat``) only when
    a frame is due: once waiting for the part's next update (as long as its last stretch of work, plus
    the last drawing when the frame draws; a part's first drawing as long as the part before's last)
    would leave the page FRAME_AIM x FRAME_INTERVAL_S without a frame, or when the part says a long
    stretch of work comes next (``long_work_next``); a frame whose drawing would take the wait past
    that says how far the part is first; until a part's first message its frames name the part. Between parts,
    and at a part's second heartbeat after it (the step between lets a training loop end and say what
    it measured), the run stops on a Stop or a spent budget with a last frame that keeps what was measured.
    """
    parts = [p for p in lesson.parts if p.chosen(cfg)]
    total = sum(p.weight(cfg) for p in parts) or 1.0
    state = RunState(cfg=cfg, control=control)
    numbers: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    yield Frame(0.0, lesson.start(cfg, parts))
    done = 0.0
    drawing = 0.0  # how long the last frame's figures took: a part's first drawing is predicted from it
    for number, part in enumerate(parts, 1):
        if control.stop_reason():
            yield _stopped(control, done, verdicts, numbers)
            return
        share = part.weight(cfg) / total
        pending = Frame(done, _part_line(part, number, len(parts)))  # until the part says something itself
        new_verdicts, last_sent, told = False, -math.inf, False  # a part's first update goes out at once
        started = time.perf_counter()  # ... but a heartbeat only once a frame is due: it has no message of its own
        resumed = started  # when the part last resumed
        work = part.run(state)
        wrapping_up = False
        for update in work:
            if update.beat and control.stop_reason():
                # A Stop ends the part at its next heartbeat too, after one more step: a training loop
                # that sees the Stop ends and the part says what it measured (a race cut short decides
                # nothing); a part still working at the heartbeat after that is closed there.
                if wrapping_up:
                    work.close()
                    break
                wrapping_up = True
                continue
            # min: shares that sum to 1 in floats may overshoot it by an ulp
            pending.progress = min(1.0, max(pending.progress, done + share * min(max(update.progress, 0.0), 1.0)))
            pending.message = update.message or pending.message
            pending.figures.update(update.figures)
            pending.tables.update(update.tables)
            numbers.update(update.numbers)
            verdicts += update.verdicts
            new_verdicts |= bool(update.verdicts)
            now = time.perf_counter()
            # A frame is due when waiting for the part's next update would take the wait past the interval:
            # the part's last stretch of work stands for its next one, the last drawing for this frame's.
            draws = any(callable(f) for f in pending.figures.values())
            ahead = now - resumed + (drawing if draws else 0.0)
            aim = FRAME_AIM * FRAME_INTERVAL_S
            if update.beat:
                send = update.long_work_next or now + ahead - max(last_sent, started) >= aim
            else:
                send = (not told or update.verdicts or update.progress >= 1.0
                        or now + ahead - last_sent >= aim)
                told = told or send
            if send:
                if draws and now + drawing - max(last_sent, started) > aim:  # say how far, then draw
                    yield _send(Frame(pending.progress, pending.message), [], numbers)
                    last_sent = now = time.perf_counter()
                frame = _send(pending, verdicts if new_verdicts else [], numbers)
                drawing = time.perf_counter() - now if draws else drawing
                yield frame
                pending, new_verdicts = Frame(pending.progress, pending.message), False
                last_sent = time.perf_counter()  # the wait runs from the frame's hand-over
            resumed = time.perf_counter()
        if pending.figures or pending.tables or new_verdicts:
            yield _send(pending, verdicts if new_verdicts else [], numbers)
        if control.stop_reason():  # the part ended early (its training loop saw the Stop)
            yield _stopped(control, pending.progress, verdicts, numbers)
            return
        done += share
    yield Frame(1.0, f"done in {control.elapsed():.1f} s", verdicts=list(verdicts), numbers=dict(numbers),
                done=True)


def _part_line(part: Part, number: int, parts: int) -> str:
    """What a part's frames say before its first message (its heartbeats: the status line's clock):
    which part runs, in words ("zero centred (part 2 of 4)").

    >>> _part_line(Part("zero_centred", 1.0, iter), 2, 4)
    'zero centred (part 2 of 4)'
    """
    return f"{part.name.replace('_', ' ')} (part {number} of {parts})"


def _stopped(control: RunControl, progress: float, verdicts: list[Verdict], numbers: dict[str, Any]) -> Frame:
    return Frame(progress, f"{control.stop_reason()} after {progress:.0%} of the run", verdicts=list(verdicts),
                 numbers=dict(numbers), done=True)


def _send(pending: Frame, verdicts: list[Verdict], numbers: dict[str, Any]) -> Frame:
    pending.verdicts, pending.numbers = list(verdicts), dict(numbers)
    pending.figures = {name: fig() if callable(fig) else fig for name, fig in pending.figures.items()}
    return pending


LESSONS: dict[str, Lesson] = {}


def register(lesson: Lesson) -> Lesson:
    """Add ``lesson`` to LESSONS. Re-running a lesson package's ``__init__`` (pytest's importlib
    mode collecting its doctests) registers an equal Lesson again: that is no conflict."""
    existing = LESSONS.get(lesson.name)
    if existing is not None and existing != lesson:
        raise ValueError(f"lesson {lesson.name!r} is registered twice")
    LESSONS[lesson.name] = lesson
    return lesson


def get_lesson(name: str) -> Lesson:
    import cnnbp.lessons  # noqa: F401  (registers every lesson)

    try:
        return LESSONS[name]
    except KeyError:
        raise ValueError(f"unknown lesson {name!r}; choose from {', '.join(LESSONS)}") from None


def run_lesson(name: str, values: Mapping[str, Any] | None = None, *,
               control: RunControl | None = None) -> Iterator[Frame]:
    """Validate ``values`` for lesson ``name`` (ConfigError before anything runs), then run it."""
    lesson = get_lesson(name)
    cfg = validate_config(lesson.config, values)
    return lesson.run(cfg, control or RunControl())


def merge_frames(frames: typing.Iterable[Frame]) -> Frame:
    """The final state of a run: the latest of every figure and table, the last verdicts."""
    final = Frame(progress=0.0, message="")
    for frame in frames:
        final.progress, final.message, final.done = frame.progress, frame.message, frame.done
        final.figures.update(frame.figures)
        final.tables.update(frame.tables)
        final.numbers.update(frame.numbers)
        if frame.verdicts:
            final.verdicts = list(frame.verdicts)
    return final
