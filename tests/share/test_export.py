"""The take-home export: one page with every figure and plotly.js once, tables, numbers, a preset, and a
script that reproduces the run (run here in a subprocess, as a student would)."""

import html
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cnnbp.export import compare_numbers, export_zip, write_report
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames, validate_config
from cnnbp.presets import read_preset
from cnnbp.train import RunControl
from cnnbp.verdict_line import verdict_word

ROOT = Path(__file__).resolve().parents[2]
LESSON = LESSONS["preprocessing"]
VALUES = {**LESSON.quick, "parts": ["cloud", "images"], "seed": 3}


@pytest.fixture(scope="module")
def run():
    cfg = validate_config(LESSON.config, VALUES)
    return cfg, merge_frames(LESSON.run(cfg, RunControl()))


def test_report_has_every_figure_verdict_and_table_and_plotly_once(run, tmp_path):
    cfg, final = run
    write_report("preprocessing", cfg, final, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert page.count('class="plotly-graph-div"') == len(final.figures) > 3
    assert page.count("Plotly.newPlot") == len(final.figures)
    assert page.count("plotly.js v") == 1  # the library's banner: inlined once
    assert LESSON.title in page and all(v.label in page for v in final.verdicts)
    for v in final.verdicts:  # the verdict's line: its word and headline, the whole text under it
        line = f'{verdict_word(v)[0]}</span><span class="v-line"><span class="v-headline">{html.escape(v.headline)}<'
        assert line in page
    assert page.count("<details class=\"verdict") == page.count(" open><summary>") == len(final.verdicts)
    for name, table in final.tables.items():
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / f"{name}.csv"), table, check_dtype=False)
    assert json.loads((tmp_path / "numbers.json").read_text()) == json.loads(json.dumps(final.numbers))
    assert read_preset((tmp_path / "preset.json").read_text()).cfg == cfg


def test_zip_holds_the_folder_and_its_script_reproduces_the_run(run, tmp_path):
    cfg, final = run
    path = export_zip("preprocessing", cfg, final, tmp_path)
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    folder = tmp_path / "cnnbp-preprocessing-seed3"
    assert {"report.html", "numbers.json", "reproduce.py", "preset.json"} <= {p.name for p in folder.iterdir()}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPU_CORES": "1"}
    out = subprocess.run([sys.executable, "reproduce.py"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "numbers: the same as numbers.json" in out.stdout
    # and it would say so if they were not: spoil one number
    numbers = json.loads((folder / "numbers.json").read_text())
    numbers["seed_spoiled"] = 1
    (folder / "numbers.json").write_text(json.dumps(numbers))
    out = subprocess.run([sys.executable, "reproduce.py"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1 and "numbers differ" in out.stdout


def test_compare_numbers_by_hand():
    assert compare_numbers({"a": [1.0, float("nan")], "b": "x"}, {"a": [1.0 + 1e-7, float("nan")], "b": "x"}) == []
    assert compare_numbers({"a": [1.0, 2.0]}, {"a": [1.0, 2.1]}) == ["numbers.a[1]"]
    assert compare_numbers({"a": 1}, {"b": 1}) == ["numbers (keys ['a', 'b'])"]
    assert compare_numbers([1, 2], [1]) == ["numbers (length 2 vs 1)"]
    assert compare_numbers({"k": [1, 2]}, {"k": (1, 2)}) == []  # got is JSON-normalised


def test_cli_runs_a_preset_and_writes_the_same_report(run, tmp_path):
    cfg, final = run
    write_report("preprocessing", cfg, final, tmp_path / "app")
    env = {**os.environ, "CPU_CORES": "1"}
    out = subprocess.run([sys.executable, "-m", "cnnbp", "run", "preprocessing", "--preset",
                          str(tmp_path / "app" / "preset.json"), "--out", str(tmp_path / "cli")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    app, cli = tmp_path / "app", tmp_path / "cli"
    assert sorted(p.name for p in app.iterdir()) == sorted(p.name for p in cli.iterdir())
    assert compare_numbers(json.loads((app / "numbers.json").read_text()),
                           json.loads((cli / "numbers.json").read_text())) == []
    assert (app / "reproduce.py").read_text() == (cli / "reproduce.py").read_text()


@pytest.mark.parametrize("args, words", [
    (["--preset", "/nonexistent/p.json"], "--preset: cannot read"),
    (["--preset", "WRONG"], "is a preset of 'init', not 'preprocessing'"),
])
def test_cli_preset_refusals_are_one_line(tmp_path, args, words):
    wrong = tmp_path / "init.json"
    wrong.write_text(json.dumps({"lesson": "init", "settings": {}}))
    args = [str(wrong) if a == "WRONG" else a for a in args]
    out = subprocess.run([sys.executable, "-m", "cnnbp", "run", "preprocessing", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and words in out.stderr and len(out.stderr.strip().splitlines()) == 1
