"""A tab's full state (lesson, settings, seed) as a JSON preset or a short link query, and back.

    preset = make_preset("init", cfg)              # {"lesson": "init", "settings": {...every field}}
    lesson, cfg = read_preset(preset)              # validated by the lesson's own Config
    to_query("init", cfg)                          # "lesson=init&activations=relu&seed=3" (non-defaults)
    lesson, cfg = read_query({"lesson": "init", "activations": "relu", "seed": "3"})

Everything read goes through :func:`validate_config`, so a bad link or file gets the same one-line
ConfigError as a bad setting typed in the tab. Upload fields (a file on the server) are never part
of a preset: a link must not name a path on somebody else's machine.

A preset may also carry a ``title``, a one-line ``prompt`` and a ``question`` (see
:class:`Question`): what a playlist step shows (``cnnbp.replays`` keeps its recorded run).
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode

from cnnbp.lessons.base import ConfigError, LessonConfig, get_lesson, validate_config

FORMAT = "cnnbp-preset"
VERSION = 1
MAX_PRESET_BYTES = 64_000  # a preset is a few hundred bytes; anything far bigger is not one
PRESET_KEYS = {"format", "version", "lesson", "settings", "title", "prompt", "question", "replay"}


@dataclass(frozen=True)
class Question:
    """Predict, then reveal: ``text`` asked before the run, ``choices`` to guess from, and where the
    measured answer is read once the run ends: ``numbers_path`` (keys into the run's ``numbers``, a
    path of dict keys / list indices) whose value is one of ``choices`` or an index into them; or,
    without a path, the ``verdict`` (a verdict's label): its HOLDS / DOES NOT HOLD / CAN'T TELL word,
    with ``choices`` those words."""

    text: str
    choices: tuple[str, ...]
    numbers_path: tuple[str | int, ...] = ()
    verdict: str | None = None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"text": self.text, "choices": list(self.choices)}
        if self.numbers_path:
            out["numbers_path"] = list(self.numbers_path)
        if self.verdict:
            out["verdict"] = self.verdict
        return out


@dataclass(frozen=True)
class Preset:
    lesson: str
    cfg: LessonConfig
    title: str = ""
    prompt: str = ""
    question: Question | None = None
    replay: Mapping[str, Any] | None = field(default=None, compare=False)  # a recorded run (cnnbp.replays)

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
        if self.replay:
            out["replay"] = dict(self.replay)
        return out


def upload_names(config: type[LessonConfig]) -> set[str]:
    """The Config fields whose value is an uploaded file's path (never in a preset or a link)."""
    return {name for name, info in config.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("upload")}


def settings_of(lesson: str, cfg: LessonConfig) -> dict:
    """Every setting of ``cfg`` as plain JSON values, upload fields left out."""
    skip = upload_names(type(cfg))
    return {k: v for k, v in cfg.model_dump(mode="json").items() if k not in skip}


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
    path = raw.get("numbers_path", [])
    if not isinstance(path, list) or not all(isinstance(p, (str, int)) for p in path):
        raise ConfigError(f"question: numbers_path must be a list of keys, got {path!r}")
    verdict = raw.get("verdict")
    if not path and not isinstance(verdict, str):
        raise ConfigError("question: give numbers_path (where the answer is in the numbers) or verdict (a label)")
    return Question(raw["text"], tuple(choices), tuple(path), verdict)


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
    replay = data.get("replay")
    if replay is not None and not isinstance(replay, Mapping):
        raise ConfigError("replay: expected a recorded run (an object)")
    return Preset(lesson, cfg, texts["title"], texts["prompt"], _question(data.get("question")), replay)


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
