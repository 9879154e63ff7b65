"""Take-home export: a finished run as one folder (or one zip) a student opens without the app.

    report.html   titled, the verdicts, every figure; plotly.js inlined once (opens offline)
    NAME.csv      every table
    numbers.json  the measured numbers; verdicts.json the verdicts
    preset.json   the settings and seed (open it in the app's Share panel)
    reproduce.py  runs the same lesson through the cnnbp API and compares its numbers with numbers.json

The CLI's ``run --out DIR`` and the app's Take-home button both write it with :func:`write_report`.
"""

from __future__ import annotations

import html
import json
import math
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping

from cnnbp.lessons.base import Frame, LessonConfig, get_lesson, validate_config
from cnnbp.presets import make_preset
from cnnbp.verdict_line import VERDICT_CSS, verdicts_html

REL_TOL = 1e-4  # another machine or thread count moves float sums by rounding (~1e-5 relative)


def report_html(lesson_name: str, cfg: LessonConfig, frame: Frame) -> str:
    """One self-contained page: title, settings, verdicts, every figure (plotly.js once), tables."""
    from plotly.offline import get_plotlyjs

    lesson = get_lesson(lesson_name)
    captions = dict(lesson.figures) | dict(lesson.tables)
    figures = "".join(
        f"<h2>{html.escape(captions.get(name, name))}</h2>"
        + fig.to_html(include_plotlyjs=False, full_html=False, default_width="100%")
        for name, fig in frame.figures.items())
    tables = "".join(
        f"<h2>{html.escape(captions.get(name, name))}</h2>{table.to_html(index=False, border=0)}"
        for name, table in frame.tables.items())
    settings = html.escape(json.dumps(make_preset(lesson_name, cfg)["settings"]))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>cnnbp: {html.escape(lesson.title)}</title>"
        f"<script>{get_plotlyjs()}</script>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        f"table{{border-collapse:collapse}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}{VERDICT_CSS}</style>"
        f"</head><body><h1>{html.escape(lesson.title)}</h1><p>{html.escape(lesson.summary)}</p>"
        f"<p><i>{html.escape(frame.message)}</i></p><p><code>{settings}</code></p>"
        f"<h2>Verdicts</h2>{verdicts_html(frame.verdicts, unfolded=True) or '<p>none (the run stopped before any)</p>'}"
        f"{figures}{tables}</body></html>")


SCRIPT = '''"""Reproduce this run of {title} with cnnbp (installed, or run from the repository folder):

    python reproduce.py

It runs the lesson on the settings below and compares its numbers with numbers.json beside it.
"""

import json
import sys
from pathlib import Path

from cnnbp.export import compare_numbers
from cnnbp.lessons import run_lesson
from cnnbp.lessons.base import merge_frames
from cnnbp.verdict_line import plain_line

SETTINGS = {settings}

final = merge_frames(run_lesson({lesson!r}, SETTINGS))
for verdict in final.verdicts:
    print(plain_line(verdict))
    print("    " + verdict.text)
recorded = Path(__file__).with_name("numbers.json")
if recorded.exists():
    differences = compare_numbers(json.loads(recorded.read_text()), final.numbers)
    print("numbers: the same as numbers.json" if not differences else
          "numbers differ from numbers.json at " + ", ".join(differences[:5]))
    sys.exit(1 if differences else 0)
'''


def reproduce_script(lesson_name: str, cfg: LessonConfig) -> str:
    settings = json.dumps(make_preset(lesson_name, cfg)["settings"], indent=4)
    # JSON's true/false/null are Python's True/False/None: the dict is valid Python as printed
    settings = settings.replace(": true", ": True").replace(": false", ": False").replace(": null", ": None")
    return SCRIPT.format(title=get_lesson(lesson_name).title, settings=settings, lesson=lesson_name)


def compare_numbers(expected: Any, got: Any, *, rel_tol: float = REL_TOL, where: str = "numbers") -> list[str]:
    """The paths where ``got`` differs from ``expected`` (floats within ``rel_tol``, NaN equal to NaN)."""
    got = json.loads(json.dumps(got))  # the JSON types expected has: tuples as lists, int keys as str
    if isinstance(expected, dict) and isinstance(got, dict):
        if set(expected) != set(got):
            return [f"{where} (keys {sorted(set(expected) ^ set(got))[:3]})"]
        return [d for k in expected for d in compare_numbers(expected[k], got[k], rel_tol=rel_tol,
                                                              where=f"{where}.{k}")]
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{where} (length {len(expected)} vs {len(got)})"]
        return [d for i, (e, g) in enumerate(zip(expected, got))
                for d in compare_numbers(e, g, rel_tol=rel_tol, where=f"{where}[{i}]")]
    if isinstance(expected, float) or isinstance(got, float):
        if not isinstance(expected, (int, float)) or not isinstance(got, (int, float)):
            return [where]
        same = (math.isnan(expected) and math.isnan(got)) or math.isclose(expected, got, rel_tol=rel_tol,
                                                                            abs_tol=1e-9)
        return [] if same else [where]
    return [] if expected == got else [where]


def write_report(lesson_name: str, cfg: LessonConfig | Mapping[str, Any], frame: Frame, out: Path) -> list[Path]:
    """The take-home folder (see the module doc) of a run on ``cfg`` (a Config, or the raw settings it
    was validated from); returns the files written."""
    if not isinstance(cfg, LessonConfig):
        cfg = validate_config(get_lesson(lesson_name).config, cfg)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {
        "report.html": report_html(lesson_name, cfg, frame),
        "numbers.json": json.dumps(frame.numbers, indent=2, allow_nan=True),
        "verdicts.json": json.dumps({"message": frame.message, "verdicts": [v.as_dict() for v in frame.verdicts]},
                                    indent=2),
        "preset.json": json.dumps(make_preset(lesson_name, cfg), indent=2),
        "reproduce.py": reproduce_script(lesson_name, cfg),
    }
    files |= {f"{name}.csv": table.to_csv(index=False) for name, table in frame.tables.items()}
    written = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


def export_zip(lesson_name: str, cfg: LessonConfig, frame: Frame, folder: Path | None = None) -> Path:
    """The take-home folder as one zip (``cnnbp-LESSON-seedN.zip``) in ``folder`` (a new temp dir)."""
    folder = Path(folder or tempfile.mkdtemp(prefix="cnnbp-export-"))
    stem = f"cnnbp-{lesson_name}-seed{cfg.seed}"
    with tempfile.TemporaryDirectory() as tmp:
        files = write_report(lesson_name, cfg, frame, Path(tmp) / stem)
        path = folder / f"{stem}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for file in files:
                z.write(file, f"{stem}/{file.name}")
    return path
