"""The repository starts clean as a Space and its CI runs exactly what the README says."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n"), "README.md must start with the Spaces front matter"
    block = text.split("---\n")[1]
    pairs = (line.split(":", 1) for line in block.splitlines() if ":" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def pinned(package: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith(f"{package}=="):
            return line.split("==")[1].strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


def test_space_front_matter_matches_the_requirements():
    meta = front_matter()
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == pinned("gradio")
    assert meta["app_file"] == "app.py" and (ROOT / "app.py").exists()
    assert meta["python_version"] == "3.11"
    assert meta["title"] and meta["emoji"]


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = re.search(r"pip install -r requirements.txt -r requirements-dev.txt && python -m pytest", readme)
    assert test_cmd, "the README's test command moved: update .ci/run too"
    assert "pip install -r requirements.txt -r requirements-dev.txt" in ci and "python -m pytest" in ci
    assert "set -euo pipefail" in ci  # pytest's exit code 5 (no tests) fails the run


def test_import_app_does_not_launch():
    import subprocess
    import sys

    code = "import app; assert not app.demo.is_running; assert app.demo.fns; print('built, not launched')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "built, not launched" in out.stdout and "Running on" not in out.stdout


def test_warm_up_pays_the_one_time_costs_and_signals_ready():
    from cnnbp.ui.warmup import READY, warm_up

    assert warm_up() > 0
    assert READY.is_set()


def test_readme_claims_table_lists_every_registered_claim_with_its_source():
    import cnnbp.lessons  # noqa: F401  (registers the claims)
    from cnnbp.claims import all_claims

    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+\.[a-z_0-9]+)`: [^|]*\| ([^|]+) \|", readme, re.M))
    claims = all_claims()
    assert set(rows) == set(claims), "README's claims table and the registry differ"
    for claim_id, source in rows.items():
        registered = claims[claim_id].source
        assert [s.strip() for s in source.split(",")] == [s.strip() for s in registered.split(",")], claim_id


def test_readme_lists_every_lesson():
    from cnnbp.lessons import LESSONS

    readme = (ROOT / "README.md").read_text()
    for name, lesson in LESSONS.items():
        assert f"| **{lesson.title}** (`{name}`) | live |" in readme, name
