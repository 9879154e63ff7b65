"""Instant replays: a finished run as a record (settings, numbers, verdicts, tables, figures) that
plays back as the run's final Frame, identical to the live run, with no training.

No lesson's figures can be redrawn from ``numbers`` alone (each ``figures.py`` draws from the
experiment's own objects: histories, results dataclasses, images), so a record keeps every figure
as plotly's JSON and plotly redraws it. Records of a playlist's steps ship in
``assets/playlists/runs/`` (gzipped, one file per lesson + settings + seed), so a lecture plays at
once on a machine too slow to train live:

    python -m cnnbp.replays assets/playlists/NAME.json     # run every step live and record it
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import plotly.io as pio

from cnnbp.cache import BoundedCache
from cnnbp.device import numerics_fingerprint
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, get_lesson, merge_frames, validate_config
from cnnbp.presets import PLAYLISTS_DIR, read_playlist, settings_of
from cnnbp.train import RunControl

RUNS_DIR = PLAYLISTS_DIR / "runs"
FORMAT = "cnnbp-replay"
REPLAY_NOTE = "replay of a recorded run"  # what the status line says instead of the live timing


def run_key(lesson: str, cfg: LessonConfig) -> str:
    """A short name for lesson + validated settings + seed (the file name of its record)."""
    digest = hashlib.sha256(f"{lesson}\n{cfg.model_dump_json()}".encode()).hexdigest()[:16]
    return f"{lesson}-{digest}"


def record(lesson: str, cfg: LessonConfig, frame: Frame) -> dict:
    """A finished run's final Frame as plain JSON."""
    if not frame.done:
        raise ValueError("only a finished run can be recorded")
    return {
        "format": FORMAT, "lesson": lesson, "settings": settings_of(lesson, cfg), "message": frame.message,
        "numerics": numerics_fingerprint(),  # a live run equals the record where this is the same
        "verdicts": [v.as_dict() for v in frame.verdicts],
        "numbers": frame.numbers,
        "tables": {name: json.loads(t.to_json(orient="split", index=False)) for name, t in frame.tables.items()},
        "figures": {name: json.loads(pio.to_json(fig, validate=False)) for name, fig in frame.figures.items()},
    }


def restore(data: Mapping[str, Any]) -> tuple[str, LessonConfig, Frame]:
    """A record -> (lesson, validated Config, the final Frame, figures redrawn by plotly)."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not a recorded run (format {FORMAT!r})")
    lesson = data["lesson"]
    cfg = validate_config(get_lesson(lesson).config, data["settings"])
    verdicts = [Verdict(v["label"], v["text"], v["passed"], v["claim"], v.get("headline", ""))
                for v in data["verdicts"]]
    tables = {name: pd.DataFrame(t["data"], columns=t["columns"]) for name, t in data["tables"].items()}
    figures = {name: pio.from_json(json.dumps(fig), skip_invalid=True) for name, fig in data["figures"].items()}
    frame = Frame(1.0, data["message"], figures=figures, tables=tables, verdicts=verdicts,
                  numbers=dict(data["numbers"]), done=True)
    return lesson, cfg, frame


def save(data: Mapping[str, Any], folder: Path = RUNS_DIR) -> Path:
    lesson, cfg, _ = restore(data)  # only a record that plays back is written
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_key(lesson, cfg)}.json.gz"
    # mtime=0: the same record gives the same bytes (no churn in git when re-recorded)
    path.write_bytes(gzip.compress(json.dumps(data, allow_nan=True).encode(), mtime=0))
    return path


_LOADED: BoundedCache[Frame] = BoundedCache(16)  # the shipped records a class steps through


def find(lesson: str, cfg: LessonConfig, folder: Path = RUNS_DIR) -> Frame | None:
    """The recorded final Frame of exactly this lesson, settings and seed, if one ships."""
    key = run_key(lesson, cfg)
    frame = _LOADED.get((folder, key))
    if frame is None:
        path = folder / f"{key}.json.gz"
        if not path.exists():
            return None
        _, _, frame = restore(json.loads(gzip.decompress(path.read_bytes())))
        _LOADED.put((folder, key), frame)
    return frame


def record_playlist(path: Path, folder: Path = RUNS_DIR) -> list[Path]:
    """Run every step of the playlist at ``path`` live and save its record."""
    playlist = read_playlist(path.read_text(encoding="utf-8"), path.stem)
    written = []
    for i, step in enumerate(playlist.steps, 1):
        frame = merge_frames(get_lesson(step.lesson).run(step.cfg, RunControl()))
        written.append(save(record(step.lesson, step.cfg, frame), folder))
        print(f"step {i}/{len(playlist.steps)} {step.lesson}: {frame.message} -> {written[-1].name}", flush=True)
    return written


if __name__ == "__main__":
    from cnnbp.device import set_threads_once

    set_threads_once()
    for arg in sys.argv[1:]:
        record_playlist(Path(arg))
