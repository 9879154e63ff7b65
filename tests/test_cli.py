"""The command line end to end, as a course author uses it (subprocesses, real files)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cnnbp", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_list_names_the_lessons():
    out = cli("list")
    assert out.returncode == 0
    firsts = [line.split()[0] for line in out.stdout.splitlines() if line and not line.startswith(" ")]
    assert {"init", "activations", "preprocessing"} <= set(firsts) and "Initialisation" in out.stdout


def test_show_lists_settings_with_bounds():
    out = cli("show", "init")
    assert out.returncode == 0
    assert "width" in out.stdout and "le 8192" in out.stdout and "kaiming" in out.stdout


def test_run_writes_html_csv_json(tmp_path):
    out = cli("run", "init", "--set", "activation=relu", "--set", "inits=xavier,kaiming",
              "--set", "width=256", "--set", "depth=3", "--set", "epochs=1", "--set", "symmetry_steps=5",
              "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "100%" in out.stderr  # the progress bar
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.html", "classic.csv", "cnn.csv", "verdicts.json", "numbers.json", "preset.json",
            "reproduce.py"} <= names
    html = (tmp_path / "report.html").read_text()  # every figure in one page, plotly.js inlined once
    assert html.count('class="plotly-graph-div"') >= 3 and len(html) > 1_000_000
    numbers = json.loads((tmp_path / "numbers.json").read_text())
    table = pd.read_csv(tmp_path / "classic.csv")
    assert set(table.activation) == {"relu"} and set(table.init) == {"xavier", "kaiming"}
    kaiming = table[table.init == "kaiming"].sort_values("layer")
    assert list(kaiming["std"]) == pytest.approx(numbers["classic"]["relu"]["kaiming"]["std"])
    verdicts = json.loads((tmp_path / "verdicts.json").read_text())["verdicts"]
    assert any(v["text"].startswith("relu + Kaiming") for v in verdicts)
    assert "relu + Kaiming" in out.stdout
    for v in verdicts:  # each verdict's line: the word and the headline, then its text
        assert v["headline"] and f"  {v['headline']}" in out.stdout


@pytest.mark.parametrize("args, message", [
    (("run", "init", "--set", "width=-5"), "width: Input should be greater than or equal to 16"),
    (("run", "init", "--set", "inits=bogus"), "unknown init 'bogus'"),
    (("run", "init", "--set", "nonsense"), "--set expects key=value"),
    (("run", "nolesson"), "unknown lesson 'nolesson'"),
    (("claims", "--lesson", "nolesson"), "no claims for lesson 'nolesson'"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    out = cli(*args, "--out", str(tmp_path / "x")) if args[0] == "run" else cli(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x").exists()  # nothing ran, nothing written


def test_claims_table_and_exit_code():
    out = cli("claims", "--lesson", "init")
    assert "init.kaiming_relu_scaled" in out.stdout
    assert out.returncode == 0 and "every claim held" in out.stdout


def test_claims_exit_1_when_a_claim_fails(monkeypatch, capsys):
    from cnnbp import claims
    from cnnbp import cli as cli_module

    failing = claims.Claim("test.fails", "test-only", "a claim that does not hold", "003",
                           lambda seed: (False, "measured 0"))
    monkeypatch.setitem(claims.all_claims(), "test.fails", failing)
    assert cli_module.main(["claims", "--lesson", "test-only"]) == 1
    assert "does not hold" in capsys.readouterr().out


def test_claims_over_seeds_say_how_many_agree(monkeypatch, capsys):
    from cnnbp import claims
    from cnnbp import cli as cli_module

    seen = []

    def check(seed):
        seen.append(seed)
        return (None if seed == 2 else seed % 2 == 0), f"measured at seed {seed}"

    monkeypatch.setitem(claims.all_claims(), "test.flips", claims.Claim("test.flips", "test-only", "s", "003", check))
    assert cli_module.main(["claims", "--lesson", "test-only", "--seeds", "4"]) == 1
    out = capsys.readouterr().out
    assert seen == [0, 1, 2, 3]
    assert "holds at 1 of 4 seeds" not in out and "does not hold at 2 of 4 seeds, holds at 1, cannot tell at 1" in out
    assert "measured at seed 0" in out
    assert "1 claim(s) did not hold at some seed, 0 more could not tell at some seed" in out
