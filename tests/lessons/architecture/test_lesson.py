"""The architecture lesson end to end on quick settings: the figures show the numbers, the live
fields re-run without training, the trained comparison decides nothing on one seed, and every
claim. (Stream, stop, budget, cost refusal and bad input: tests/lessons/test_protocol.py.)"""

from __future__ import annotations

import pytest

from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.architecture import parts
from cnnbp.lessons.architecture.stacks import Comparison
from cnnbp.lessons.base import merge_frames

LESSON = get_lesson("architecture")


def verdict(final, label):
    return next(v for v in final.verdicts if v.label == label)


def test_the_calculator_shows_the_lectures_example(final):
    calc = final.numbers["calculator"]
    assert calc["input"] == "90x90x10"
    assert calc["layers"][0]["output"] == "90x90x5" and calc["totals"]["params"] == 455
    assert calc["torch"] == {"params": 455, "flops": 2 * 90 * 90 * 5 * 90, "output": "90x90x5"}
    assert calc["lecture_example"]["fc_params"] == 3_280_540_500
    bars = {t.name: list(t.customdata) for t in final.figures["shapes"].data if t.type == "bar"}
    assert bars == {"parameters": [455], "a fully connected layer instead": [3_280_540_500],
                    "multiply-adds": [3_645_000]}
    table = final.tables["layers"]
    assert table["parameters"].tolist() == [455] and table["receptive field"].tolist() == ["3x3"]
    assert verdict(final, "455 parameters vs more than 3.28e9").passed is True
    assert verdict(final, "torch agrees with the calculator").passed is True


def test_the_lectures_advice_on_its_own_example(final):
    assert verdict(final, "input divisible by 2 many times").passed is False  # 90 = 2 x 45
    assert verdict(final, "small filters").passed is True
    assert verdict(final, "a conv before each pool").passed is None  # no pool to check


def test_the_models_figure_and_table_show_the_counted_numbers(final):
    vgg = final.numbers["models"]["vgg16"]
    assert vgg["params"] == 138_357_544 and vgg["flops"] == 2 * vgg["macs"]
    bars = final.figures["model_layers"].data
    assert sum(bars[0].y) == vgg["params"] and sum(bars[1].y) == vgg["macs"]
    row = final.tables["models"].set_index("model").loc["VGG-16"]
    assert row["parameters (sum numel)"] == row["parameters (our recurrence)"] == 138_357_544
    assert verdict(final, "VGG-16's parameters sit in its fc layers").passed is True
    assert verdict(final, "counters").passed is True


def test_the_stacks_part_reports_exact_weights_and_cannot_tell_on_one_seed(final):
    (pair,) = final.numbers["stacks"]["pairs"]
    c = 16
    assert pair == {"small": "3x3 x2", "large": "5x5", "field_small": 5, "field_large": 5,
                    "weights_small": 18 * c * c, "weights_large": 25 * c * c}
    assert verdict(final, "stacked 3x3 convs: same field, fewer weights").passed is True
    trained = verdict(final, "trained: 3x3 x2 vs 5x5")
    assert trained.passed is None and "cannot tell" in trained.text
    table = final.tables["stacks"]
    assert table["weights / C^2"].tolist() == [18, 25]
    finals = {h["stack"]: h["test_accuracy"][-1] for h in final.numbers["stacks"]["histories"]}
    points = {t.name: t.y[0] for t in final.figures["stacks"].data if t.mode == "markers"}
    assert points == pytest.approx(finals)


def test_the_effective_field_lies_inside_the_theoretical_one(final):
    erf = final.numbers["receptive"]
    assert erf["inside"] == pytest.approx(1.0, abs=1e-6) and erf["size"] == 7
    assert erf["rows"] == [1, 7] and erf["cols"] == [1, 7]  # unit (4, 4) of layer 3, a 7x7 field
    gradient = erf["gradient"]
    assert all(gradient[r][c] == 0.0 for r in range(8) for c in range(8) if not (1 <= r <= 7 and 1 <= c <= 7))


def test_comparison_over_seeds_reads_every_seed():
    assert Comparison("a", "b", [0.0, -0.01, 0.05]).no_worse is True
    assert Comparison("a", "b", [-0.03, -0.05, -0.021]).no_worse is False
    assert Comparison("a", "b", [0.03, -0.05, 0.01]).no_worse is None
    assert Comparison("a", "b", [0.1, 0.1]).no_worse is None  # too few seeds
    assert Comparison("a", "b", [0.03, 0.05, 0.021]).better is True


def test_live_fields_rerun_without_training(final):
    quick = dict(LESSON.quick)
    misses = parts.RUNS.misses
    changed = {**quick, "layers": "conv 8 k5 s2 p2, pool 2, fc 10", "height": 64, "width": 64, "channels": 3,
               "model": "resnet18", "unit_layer": 2, "unit_row": 0, "unit_col": 0}
    frames = list(run_lesson("architecture", changed))
    assert parts.RUNS.misses == misses, "a live change retrained the stacks"
    assert not any("training" in f.message for f in frames)
    again = merge_frames(frames)
    assert again.numbers["calculator"]["layers"][-1]["output"] == "1x1x10"
    assert again.numbers["model_shown"] == "resnet18"
    assert again.numbers["receptive"]["rows"] == [0, 2]  # layer 2: a 5x5 field around (0, 0), clipped
    assert again.numbers["stacks"] == final.numbers["stacks"]


def test_a_change_of_the_calculator_alone_costs_only_the_calculator(final, monkeypatch):
    """Another spec or input re-runs the calculator; the stacks and the unit's receptive field are
    answered from what the run kept: no training, no gradients."""
    calls = []
    monkeypatch.setattr(parts, "effective_field", lambda *a, **k: calls.append(1))
    changed = {**LESSON.quick, "layers": "conv 4 k3, pool 2, fc 10", "height": 12, "width": 12, "channels": 1}
    again = merge_frames(list(run_lesson("architecture", changed)))
    assert not calls, "a change of the calculator's settings computed the receptive field again"
    assert again.numbers["calculator"]["layers"][-1]["output"] == "1x1x10"
    assert again.numbers["receptive"] == final.numbers["receptive"]


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.startswith("architecture.")])
def test_every_claim_holds_exactly(claim):
    result = run_claim(claim, seed=0)
    assert result.passed is True and not result.error, result.measured
