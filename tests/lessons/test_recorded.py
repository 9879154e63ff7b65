"""Every lesson's quick-run numbers against a recording (tests/lessons/recorded/NAME.json): a
refactor that moves code must not move a number. A change that means to change the numbers
(a verdict decided over more seeds, a new measurement) re-records on purpose, in its own commit:

    CNNBP_RECORD=1 python -m pytest tests/lessons/test_recorded.py

Timings are left out (they are measured, not computed); floats agree to a relative 1e-5.
A recording is compared only on a machine whose CPU kernels round as the recording machine's did
(``cnnbp.device.numerics_fingerprint``, stored in the recording): elsewhere the test skips and says
so, since another CPU's last-bit differences grow, over a training run, past any fair tolerance.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from cnnbp.device import numerics_fingerprint
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames
from tests.lessons.quick import quick_frames

RECORDED = Path(__file__).parent / "recorded"
TIMING_KEYS = {"seconds", "seconds_per_epoch", "times", "speedup", "speedup_torch"}
REL, ABS = 1e-5, 1e-7


def strip_timings(value):
    if isinstance(value, dict):
        return {k: strip_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [strip_timings(v) for v in value]
    return value


def rounded(value):
    """Floats to 8 significant digits on disk (the comparison's tolerance is 1e-5)."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return float(f"{value:.8g}") if isinstance(value, float) else value


def recordable(name: str) -> dict:
    final = merge_frames(quick_frames(name))
    numbers = json.loads(json.dumps(final.numbers, allow_nan=True))  # tuples -> lists, as on disk
    return {"numerics": numerics_fingerprint(), "numbers": strip_timings(numbers),
            "verdicts": [{"label": v.label, "passed": v.passed} for v in final.verdicts]}


def differences(got, want, path="") -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}/{k}: missing" for k in want if k not in got]
        out += [f"{path}/{k}: not recorded" for k in got if k not in want]
        for k in want.keys() & got.keys():
            out += differences(got[k], want[k], f"{path}/{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: {len(got)} items, recorded {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}/{i}")]
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(want) and math.isnan(got) or math.isclose(got, want, rel_tol=REL, abs_tol=ABS):
            return []
    elif got == want:
        return []
    return [f"{path}: {str(got)[:80]} != recorded {str(want)[:80]}"]


@pytest.mark.parametrize("name", list(LESSONS))
def test_quick_run_numbers_match_the_recording(name):
    path = RECORDED / f"{name}.json"
    if os.environ.get("CNNBP_RECORD") == "1":
        path.write_text(json.dumps(rounded(recordable(name)), indent=None, sort_keys=True, allow_nan=True) + "\n")
    assert path.exists(), f"no recording for {name}: run with CNNBP_RECORD=1 once, on purpose"
    want = json.loads(path.read_text())
    if want.get("numerics") != numerics_fingerprint():
        pytest.skip(f"{name} was recorded on a CPU whose kernels round differently (numerics "
                    f"{want.get('numerics')}, here {numerics_fingerprint()}): nothing to compare here")
    diff = differences(recordable(name), want)
    assert not diff, f"{len(diff)} numbers moved, e.g.\n" + "\n".join(diff[:20])


def test_the_comparison_can_fail():
    assert differences({"a": [1.0, 2.0]}, {"a": [1.0, 2.1]}) == ["/a/1: 2.0 != recorded 2.1"]
    assert differences({"a": 1.0}, {"a": 1.0 + 1e-9}) == []
    assert differences({"a": {"b": 1}}, {"a": {}}) == ["/a/b: not recorded"]
