"""The activations lesson end to end on quick settings: frames, figures = numbers, verdicts,
determinism, stop, bad settings, and every claim."""

from __future__ import annotations

import json
import math

import pytest

import cnnbp.lessons.activations  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.activations.lesson import ActivationsConfig
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
from cnnbp.train import RunControl
from tests.lessons.quick import quick_frames

LESSON = get_lesson("activations")
QUICK = dict(LESSON.quick)


@pytest.fixture(scope="module")
def frames():
    return list(quick_frames("activations"))  # shared with the protocol tests


@pytest.fixture(scope="module")
def final(frames):
    return merge_frames(frames)


def test_the_stream_shows_training_as_it_happens(frames):
    assert sum(f.message.startswith("training") for f in frames) >= 1


def test_every_declared_figure_and_table_arrives(final):
    assert set(final.figures) == {name for name, _ in LESSON.figures}
    assert set(final.tables) == {name for name, _ in LESSON.tables}
    json.dumps(final.numbers)  # plain numbers only


def test_function_figure_shows_the_numbers(final):
    fig, numbers = final.figures["functions"], final.numbers["functions"]
    assert set(numbers["curves"]) == set(QUICK["functions"])
    for name, curve in numbers["curves"].items():
        f, df = [t for t in fig.data if t.meta == name]
        assert list(f.x) == numbers["x"] and list(f.y) == curve["value"] and list(df.y) == curve["grad"]
    shaded = [(s.x0, s.x1) for s in fig.layout.shapes]
    expected = [tuple(iv) for c in numbers["curves"].values() for iv in c["saturated"]]
    assert shaded == expected
    table = final.tables["at_points"]
    assert table.to_dict("records") == final.numbers["at_points"]
    assert len(table) == 3 * len(QUICK["functions"])


def test_zero_centred_figures_show_the_numbers(final):
    bars = final.figures["same_sign"]
    per_sample = next(t for t in bars.data if t.name == "per sample")
    assert list(per_sample.y) == [s["per_sample"] for s in final.numbers["same_sign"]]
    paths = [t for t in final.figures["zigzag"].data if t.name and t.name.startswith("SGD path")]
    assert [list(t.x) for t in paths] == [p["w1"] for p in final.numbers["zigzag"]]
    assert [list(t.y) for t in paths] == [p["w2"] for p in final.numbers["zigzag"]]
    contour = next(t for t in final.figures["zigzag"].data if t.type == "contour")
    assert [list(r) for r in contour.z] == final.numbers["zigzag"][0]["grid_loss"]


def test_selu_figure_shows_the_numbers(final):
    fig = final.figures["selu"]
    std = {t.name: list(t.y) for t in fig.data if t.xaxis == "x2"}
    assert std == {name: p["std"] for name, p in final.numbers["selu"].items()}
    assert len(std["selu + xavier"]) == QUICK["mlp_depth"]


def test_training_figures_show_the_numbers(final):
    cnn = final.numbers["cnn"]
    curves = final.figures["race_curves"]
    for name, h in cnn.items():
        acc = next(t for t in curves.data if t.name == name and t.xaxis == "x2")
        assert list(acc.x) == h["eval_steps"] and list(acc.y) == h["test_accuracy"]
    bars = final.figures["steps_to_target"].data[0]
    assert list(bars.x) == QUICK["activations"]
    assert list(bars.y) == [cnn[f"{a}, lr {0.05:g}"]["steps_to_target"] for a in QUICK["activations"]]
    dead = final.figures["dead"]
    relu_high = cnn["relu, lr 0.5"]
    lines = [t for t in dead.data if t.xaxis == "x2"]  # row 1: relu at the low rate, then the high
    assert [list(t.y) for t in lines] == [[d[i] for d in relu_high["dead"]] for i in range(len(lines))]


def test_verdicts_quote_the_numbers(final):
    texts = {v.label: v for v in final.verdicts}
    rows = {(r["activation"], r["x"]): r for r in final.numbers["at_points"]}
    assert f"{rows[('sigmoid', 10.0)]['grad']:.3g}" in texts["x = -10, 0, 10"].text
    assert texts["x = -10, 0, 10"].passed is True
    assert "Maxout is drawn with fixed illustrative pieces, max(1x + 0, -0.5x - 1)" in texts["saturation"].text
    sign = final.numbers["same_sign"][0]
    assert sign["kind"] == "sigmoid" and sign["per_sample"] == 1.0
    assert "sigmoid outputs (all positive) 100.0%" in texts["same-sign gradients"].text
    selu = final.numbers["selu"]["selu + xavier"]
    assert f"layer {QUICK['mlp_depth']}: {selu['std'][-1]:.2f}" in texts["SELU self-normalises"].text
    race = texts["ReLU converges faster"].text
    relu = final.numbers["cnn"]["relu, lr 0.05"]
    assert "The lecture says ReLU converges about 6x faster" in race and "we measured:" in race
    steps = relu["steps_to_target"]
    assert (f"relu {steps} steps" if steps is not None else "relu not reached") in race
    dead = texts["dead units"].text
    assert ", ".join(f"{d:.0%}" for d in final.numbers["cnn"]["relu, lr 0.5"]["dead"][-1]) in dead


def test_same_settings_same_numbers(final):
    again = merge_frames(run_lesson("activations", QUICK)).numbers
    assert again == final.numbers


def test_a_different_seed_changes_the_draws():
    a = merge_frames(run_lesson("activations", {"parts": ["zero_centred"], "seed": 1})).numbers
    b = merge_frames(run_lesson("activations", {"parts": ["zero_centred"], "seed": 2})).numbers
    assert a["zigzag"][0]["w1"] != b["zigzag"][0]["w1"]


def test_stop_ends_the_run_between_steps():
    control = RunControl()
    seen = []
    for frame in run_lesson("activations", {**QUICK, "parts": ["race"], "epochs": 10}, control=control):
        seen.append(frame)
        if frame.message.startswith("training"):
            control.cancel()
    assert seen[-1].done and seen[-1].message.startswith("stopped by the user after")
    assert seen[-1].progress < 1.0


def test_wall_clock_budget_stops_the_run():
    frames = list(run_lesson("activations", {**QUICK, "parts": ["selu", "race"]}, control=RunControl(budget_s=0.0)))
    assert frames[-1].done and "wall-clock budget" in frames[-1].message


def test_parts_run_alone():
    final = merge_frames(run_lesson("activations", {"parts": ["functions"], "functions": ["gelu"], "x_range": 3}))
    assert set(final.figures) == {"functions"} and final.numbers["functions"]["x"][0] == -3.0


# ---- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [
    ({"functions": ["bogus"]}, "unknown activation 'bogus'; choose from sigmoid"),
    ({"activations": []}, "activations: List should have at least 1 item"),
    ({"dead_activations": ["relu", "relu"]}, "duplicates"),
    ({"x_range": 0.5}, "x_range: Input should be greater than or equal to 1"),
    ({"x_range": math.nan}, "x_range"),
    ({"saturation": 1.0}, "saturation: Input should be less than 1"),
    ({"leaky_slope": 0}, "leaky_slope: Input should be greater than 0"),
    ({"zigzag_lr": 0.3}, "zigzag_lr: Input should be less than or equal to 0.25"),
    ({"samples": 8}, "samples"),
    ({"mlp_depth": 1000}, "mlp_depth"),
    ({"init": "bogus"}, "unknown init 'bogus'; choose from matched, zeros"),
    ({"dataset": "imagenet"}, "dataset"),
    ({"parts": ["everything"]}, "parts"),
    ({"target_accuracy": 1.5}, "target_accuracy"),
    ({"dead_lr": math.inf}, "dead_lr"),
    ({"epochs": "many"}, "epochs: Input should be a valid integer"),
    ({"colour": "red"}, "colour: unknown setting"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(ActivationsConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cli_strings_and_the_activation_alias():
    cfg = validate_config(ActivationsConfig, {"activation": "relu,tanh", "lr": "0.1", "parts": "race"})
    assert cfg.activations == ["relu", "tanh"] and cfg.lr == 0.1 and cfg.parts == ["race"]


def test_variants_are_the_race_and_the_dead_pairs_without_repeats():
    cfg = validate_config(ActivationsConfig, {"activations": ["sigmoid", "relu"], "dead_activations": ["relu"]})
    assert [(v.activation, v.lr, v.init) for v in cfg.variants()] == [
        ("sigmoid", 0.05, "xavier"), ("relu", 0.05, "kaiming"), ("relu", 0.5, "kaiming")]
    assert validate_config(ActivationsConfig, {"parts": ["functions", "selu"]}).variants() == []


def test_cost_grows_with_the_job_and_oversized_jobs_are_refused():
    small = ActivationsConfig(epochs=1)
    assert 0 < small.cost_seconds() < ActivationsConfig(epochs=10).cost_seconds()
    assert ActivationsConfig(parts=["functions"]).cost_seconds() == 0
    with pytest.raises(ConfigError, match="too big: estimated"):
        validate_config(ActivationsConfig, {"epochs": 30, "cnn_width": 64, "dataset": "shapes", "cnn_depth": 8})


def test_default_job_fits_the_budget():
    assert validate_config(ActivationsConfig).cost_seconds() < 30


# ---- claims ---------------------------------------------------------------------------------

ACTIVATION_CLAIMS = sorted(c for c in CLAIMS if c.startswith("activations."))


def test_the_claims_are_registered():
    assert ACTIVATION_CLAIMS == ["activations.high_lr_kills_relus", "activations.relu_faster_than_sigmoid",
                                 "activations.same_sign_gradients", "activations.saturation_kills_gradients",
                                 "activations.selu_self_normalises"]
    assert all(CLAIMS[c].source == "003" and CLAIMS[c].lesson == "activations" for c in ACTIVATION_CLAIMS)


@pytest.mark.parametrize("claim_id", ACTIVATION_CLAIMS)
def test_each_claim_holds_and_reports_its_figure(claim_id):
    result = run_claim(claim_id)
    assert result.passed is True, result.measured
    assert any(ch.isdigit() for ch in result.measured)
