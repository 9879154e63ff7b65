"""A tab's full state (lesson, settings, seed) as a JSON preset or a short link query, and back.

    preset = make_preset("init", cfg)              # {"lesson": "init", "settings": {...every field}}
    lesson, cfg = read_preset(preset)              # validated by the lesson's own Config
    to_query("init", cfg)                          # "lesson=init&activations=relu&seed=3" (non-defaults)
    lesson, cfg = read_query({"lesson": "init", "activations": "relu", "seed": "3"})

Everything read goes through :func:`validate_config`, so a bad link or file gets the same one-line
ConfigError as a bad setting typed in the tab. Upload fields (a file on the server) are never part
of a preset: a link must not name a path on somebody else's machine.

A preset may also carry a ``title``, a one-line ``prompt`` and a ``question`` (see
:class:`Question`): what a playlist step shows. A playlist (:func:`read_playlist`; the shipped ones
in ``assets/playlists/``, one per lecture text) is an ordered list of such presets.
"""

from __future__ import annotations

import functools
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode

from cnnbp.data.session import is_session_name
from cnnbp.lessons.base import ConfigError, LessonConfig, get_lesson, validate_config

FORMAT = "cnnbp-preset"
VERSION = 1
MAX_PRESET_BYTES = 64_000  # a preset is a few hundred bytes; anything far bigger is not one
PRESET_KEYS = {"format", "version", "lesson", "settings", "title", "prompt", "question"}


@dataclass(frozen=True)
class Question:
    """Predict, then reveal: ``text`` asked before the run, ``choices`` to guess from, and where the
    run's measured answer is read (:func:`measured_answer`): either

    - ``verdict``: a verdict's label; the answer is its word (HOLDS, DOES NOT HOLD, CAN'T TELL), or
    - ``numbers_path``: keys into the run's ``numbers`` (dict keys, list indices). With ``pick`` "max"
      or "min", the value there is keyed by the choices and the answer is the choice whose value
      (``then``: more keys into it) is largest or smallest; without, the value is the choice itself
      (a string) or its index (an int, or a bool: False the first choice, True the second).
    """

    text: str
    choices: tuple[str, ...]
    numbers_path: tuple[str | int, ...] = ()
    then: tuple[str | int, ...] = ()
    pick: str | None = None
    verdict: str | None = None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"text": self.text, "choices": list(self.choices)}
        for key in ("numbers_path", "then"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        for key in ("pick", "verdict"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


VERDICT_WORDS = {True: "HOLDS", False: "DOES NOT HOLD", None: "CAN'T TELL"}


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def measured_answer(question: Question, numbers: Mapping[str, Any], verdicts: list) -> str | None:
    """The choice the run measured (``verdicts``: Verdict objects or their dicts); None when the run
    did not measure it (the part was not run, the verdict is missing)."""
    if question.verdict:
        for v in verdicts:
            label, passed = (v["label"], v["passed"]) if isinstance(v, Mapping) else (v.label, v.passed)
            if label == question.verdict:
                return VERDICT_WORDS[passed]
        return None
    try:
        value = _at(numbers, question.numbers_path)
        if question.pick:
            scores = {c: float(_at(value[c], question.then)) for c in question.choices if c in value}
            best = (max if question.pick == "max" else min)(scores, key=scores.get) if scores else None
            return best
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if isinstance(value, str):
        return value if value in question.choices else None
    if isinstance(value, (bool, int)) and 0 <= int(value) < len(question.choices):
        return question.choices[int(value)]
    return None


@dataclass(frozen=True)
class Preset:
    lesson: str
    cfg: LessonConfig
    title: str = ""
    prompt: str = ""
    question: Question | None = None

    def settings(self) -> dict:
        return settings_of(self.lesson, self.cfg)

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "lesson": self.lesson,
                               "settings": self.settings()}
        for key in ("title", "prompt"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.question:
            out["question"] = self.question.as_dict()
        return out


def upload_names(config: type[LessonConfig]) -> set[str]:
    """The Config fields whose value is an uploaded file's path (never in a preset or a link)."""
    return {name for name, info in config.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("upload")}


def settings_of(lesson: str, cfg: LessonConfig) -> dict:
    """Every setting of ``cfg`` as plain JSON values, upload fields and a session's uploaded set left out
    (an upload's secret name is the key to it: a link must not hand it on; the link opens on the
    field's default)."""
    skip = upload_names(type(cfg))
    return {k: v for k, v in cfg.model_dump(mode="json").items() if k not in skip and not is_session_name(v)}


def make_preset(lesson: str, cfg: LessonConfig, **extra: Any) -> dict:
    return Preset(lesson, cfg, **extra).as_dict()


def _lesson_config(lesson: Any, settings: Any) -> tuple[str, LessonConfig]:
    if not isinstance(lesson, str):
        raise ConfigError(f"lesson: expected a lesson name, got {lesson!r}")
    config = get_lesson(lesson).config  # ValueError naming the lessons if unknown
    if not isinstance(settings, Mapping):
        raise ConfigError(f"settings: expected an object of setting: value, got {type(settings).__name__}")
    uploads = sorted(upload_names(config) & set(settings))
    if uploads:
        raise ConfigError(f"{uploads[0]}: a file upload cannot come from a preset or a link; upload it in the tab")
    held = sorted(k for k, v in settings.items() if is_session_name(v))
    if held:
        raise ConfigError(f"{held[0]}: an uploaded set cannot come from a preset or a link; upload it in the tab")
    return lesson, validate_config(config, settings)


def _question(raw: Any) -> Question | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str):
        raise ConfigError("question: expected {\"text\": ..., \"choices\": [...]}")
    choices = raw.get("choices")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices) \
            or len(set(choices)) != len(choices):
        raise ConfigError(f"question: choices must be two or more distinct strings, got {choices!r}")
    unknown = sorted(set(raw) - {"text", "choices", "numbers_path", "then", "pick", "verdict"})
    if unknown:
        raise ConfigError(f"question: unknown key {unknown[0]!r}")
    paths = {key: raw.get(key, []) for key in ("numbers_path", "then")}
    for key, path in paths.items():
        if not isinstance(path, list) or not all(isinstance(p, (str, int)) for p in path):
            raise ConfigError(f"question: {key} must be a list of keys, got {path!r}")
    verdict, pick = raw.get("verdict"), raw.get("pick")
    if not paths["numbers_path"] and not isinstance(verdict, str):
        raise ConfigError("question: give numbers_path (where the answer is in the numbers) or verdict (a label)")
    if pick not in (None, "max", "min"):
        raise ConfigError(f"question: pick must be max or min, got {pick!r}")
    if verdict and not set(choices) <= set(VERDICT_WORDS.values()):
        raise ConfigError(f"question: a verdict's choices are {', '.join(VERDICT_WORDS.values())}")
    return Question(raw["text"], tuple(choices), tuple(paths["numbers_path"]), tuple(paths["then"]), pick,
                    verdict)


def read_preset(data: Any) -> Preset:
    """A preset dict (or its JSON text) -> a validated :class:`Preset`; ConfigError in one line."""
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_PRESET_BYTES:
            raise ConfigError(f"preset: {len(data)} bytes is too big for a preset (at most {MAX_PRESET_BYTES})")
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise ConfigError(f"preset: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, Mapping):
        raise ConfigError("preset: expected a JSON object with lesson and settings")
    if data.get("format", FORMAT) != FORMAT or data.get("version", VERSION) != VERSION:
        raise ConfigError(f"preset: expected format {FORMAT!r} version {VERSION}")
    unknown = sorted(set(data) - PRESET_KEYS)
    if unknown:
        raise ConfigError(f"preset: unknown key {unknown[0]!r}; a preset has {', '.join(sorted(PRESET_KEYS))}")
    lesson, cfg = _lesson_config(data.get("lesson"), data.get("settings", {}))
    texts = {k: data.get(k, "") for k in ("title", "prompt")}
    for key, text in texts.items():
        if not isinstance(text, str):
            raise ConfigError(f"{key}: expected text, got {text!r}")
    return Preset(lesson, cfg, texts["title"], texts["prompt"], _question(data.get("question")))


def _query_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_query(lesson: str, cfg: LessonConfig) -> str:
    """The link's query: the lesson and every setting that differs from its default (a short link;
    the defaults are the code's, so a link opens the same settings as long as the defaults stay)."""
    defaults = settings_of(lesson, type(cfg)())
    pairs = [("lesson", lesson)]
    pairs += [(k, _query_value(v)) for k, v in settings_of(lesson, cfg).items() if v != defaults.get(k)]
    return urlencode(pairs, safe=",")


def read_query(params: Mapping[str, str] | str) -> tuple[str, LessonConfig] | None:
    """A link's query parameters -> (lesson, validated Config); None when the link names no lesson
    (a plain visit). Values arrive as strings; the Config converts them ("3" -> 3, "a,b" -> a list)."""
    if isinstance(params, str):
        params = dict(parse_qsl(params.lstrip("?"), keep_blank_values=True))
    params = dict(params)
    lesson = params.pop("lesson", None)
    for key in OTHER_QUERY_KEYS:
        params.pop(key, None)
    if lesson is None:
        if params:
            raise ConfigError(f"link: {next(iter(params))!r} without a lesson=; add lesson=NAME")
        return None
    config = get_lesson(lesson).config
    for name, value in list(params.items()):
        info = config.model_fields.get(name)
        if info is not None and typing.get_origin(info.annotation) is list and value == "":
            params[name] = []  # an empty list, for the Config to refuse by name
    return _lesson_config(lesson, params)


# Query keys that are not settings: the playlist, its step, the room (read by cnnbp.ui.share).
OTHER_QUERY_KEYS = ("playlist", "step", "room", "presenter")


PLAYLIST_FORMAT = "cnnbp-playlist"
PLAYLISTS_DIR = Path(__file__).resolve().parents[1] / "assets" / "playlists"
MAX_STEPS = 100


@dataclass(frozen=True)
class Playlist:
    """A lecture as an ordered list of presets (steps), each with a title and a one-line prompt."""

    name: str  # the file's stem: what ?playlist= names
    title: str
    lecture: str  # the lecture text it walks, for the author
    steps: tuple[Preset, ...]


def read_playlist(data: Any, name: str = "") -> Playlist:
    """A playlist dict or JSON text -> :class:`Playlist`; a bad step is refused as "step N: ..."."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise ConfigError(f"playlist {name}: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, Mapping) or data.get("format") != PLAYLIST_FORMAT or data.get("version") != VERSION:
        raise ConfigError(f"playlist {name}: expected an object with format {PLAYLIST_FORMAT!r}, version {VERSION}")
    unknown = sorted(set(data) - {"format", "version", "title", "lecture", "steps"})
    if unknown:
        raise ConfigError(f"playlist {name}: unknown key {unknown[0]!r}")
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise ConfigError(f"playlist {name}: steps must be a list of 1 to {MAX_STEPS} presets")
    presets = []
    for i, step in enumerate(steps, 1):
        try:
            preset = read_preset(step)
        except ValueError as err:
            raise ConfigError(f"playlist {name}, step {i}: {err}") from None
        if not preset.title or not preset.prompt:
            raise ConfigError(f"playlist {name}, step {i}: a step needs a title and a prompt")
        presets.append(preset)
    return Playlist(name, str(data.get("title", name)), str(data.get("lecture", "")), tuple(presets))


@functools.cache
def _read_shipped() -> tuple[dict[str, Playlist], dict[str, str]]:
    playlists, problems = {}, {}
    for path in sorted(PLAYLISTS_DIR.glob("*.json")):
        try:
            playlists[path.stem] = read_playlist(path.read_text(encoding="utf-8"), path.stem)
        except ConfigError as err:  # e.g. a step on an altered shipped source: that playlist says so,
            problems[path.stem] = str(err)  # the app and every other playlist keep working
    return playlists, problems


def shipped_playlists() -> dict[str, Playlist]:
    """The playlists in assets/playlists/ that read cleanly, by name, in file-name order (the lectures')."""
    return _read_shipped()[0]


def unreadable_playlists() -> dict[str, str]:
    """The shipped playlists that cannot be read here, each with its one-line reason."""
    return _read_shipped()[1]
