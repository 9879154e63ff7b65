"""The activations lesson end to end on quick settings: figures = numbers, verdicts, determinism,
its particular settings, and every claim. What every lesson must do (the stream, stop, budget,
cost refusal, bad input) is tested for all of them in tests/lessons/test_protocol.py."""

from __future__ import annotations

import numpy as np
import pytest

import cnnbp.lessons.activations  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.activations.config import PART_NAMES, ActivationsConfig
from cnnbp.lessons.activations.figures import DRAWN_POINTS
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
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


def test_function_figure_shows_the_numbers(final):
    fig, numbers = final.figures["functions"], final.numbers["functions"]
    assert set(numbers["curves"]) == set(QUICK["functions"])
    x = numbers["x"]
    for name, curve in numbers["curves"].items():
        f, df = [t for t in fig.data if t.meta == name]
        # every second point of the grid, the ends included; x as its start and step (no array)
        assert len(f.y) == len(df.y) == (len(x) + 1) // 2 <= DRAWN_POINTS and f.x is None
        drawn_x = f.x0 + f.dx * np.arange(len(f.y))
        np.testing.assert_allclose(drawn_x, x[::2], atol=1e-12)
        assert (df.x0, df.dx) == (f.x0, f.dx) and drawn_x[-1] == pytest.approx(x[-1])
        # drawn as float32 (cnnbp.plots.drawn): the measured float64 numbers to 7 significant digits
        for drawn, measured in ((f.y, curve["value"][::2]), (df.y, curve["grad"][::2])):
            np.testing.assert_allclose(drawn, measured, rtol=1e-7, atol=0)
    shaded = [(s.x0, s.x1) for s in fig.layout.shapes]
    expected = [tuple(iv) for c in numbers["curves"].values() for iv in c["saturated"]]
    assert shaded == expected
    table = final.tables["at_points"]
    assert table.to_dict("records") == final.numbers["at_points"]
    assert len(table) == 3 * len(QUICK["functions"])


def test_the_default_function_figure_is_one_message_under_100_kib():
    # every activation of the registry (11 panels, 22 curves): it was 181 KiB with every grid point and x
    final = merge_frames(run_lesson("activations", {"parts": ["functions"]}))
    assert len(final.figures["functions"].data) == 2 * len(ActivationsConfig().functions)
    assert len(final.figures["functions"].to_json()) < 100 * 1024


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
    lines = [t for t in dead.data if t.meta == "relu, lr 0.5"]  # relu's panel, the high rate's lines
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
    assert "The lecture says ReLU converges about 6x faster" in race and "at seed 0:" in race
    steps = relu["steps_to_target"]
    assert (f"relu {steps} steps" if steps is not None else "relu not reached") in race
    dead = texts["dead units"].text
    assert ", ".join(f"{d:.0%}" for d in final.numbers["cnn"]["relu, lr 0.5"]["dead"][-1]) in dead


def test_the_quick_settings_are_too_small_to_tell(final):
    """One seed and 3 epochs: the CNN verdicts say so instead of passing or failing."""
    texts = {v.label: v for v in final.verdicts}
    over = final.numbers["over_seeds"]
    assert over["seeds"] == [0] and len(over["speedups"]) == len(over["dead_gaps"]) == 1
    for label in ("ReLU converges faster", "dead units"):
        assert texts[label].passed is None and "One seed decides nothing: cannot tell" in texts[label].text
    speedup = over["speedups"][0]  # sigmoid never reached 80% in the 69 steps: a lower bound, short of 3x
    assert speedup["high"] is None and speedup["low"] < over["lines"]["pass_speedup"]
    assert f"at least {speedup['low']:.2g}x" in texts["ReLU converges faster"].text


def test_a_different_seed_changes_the_draws():
    a = merge_frames(run_lesson("activations", {"parts": ["zero_centred"], "seed": 1})).numbers
    b = merge_frames(run_lesson("activations", {"parts": ["zero_centred"], "seed": 2})).numbers
    assert a["zigzag"][0]["w1"] != b["zigzag"][0]["w1"]


def test_parts_run_alone():
    final = merge_frames(run_lesson("activations", {"parts": ["functions"], "functions": ["gelu"], "x_range": 3}))
    assert set(final.figures) == {"functions"} and final.numbers["functions"]["x"][0] == -3.0


# ---- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [
    ({"functions": ["bogus"]}, "unknown activation 'bogus'; choose from sigmoid"),
    ({"activations": []}, "activations: List should have at least 1 item"),
    ({"dead_activations": ["relu", "relu"]}, "duplicates"),
    ({"init": "bogus"}, "unknown init 'bogus'; choose from matched, zeros"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(ActivationsConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cli_strings_and_the_activation_alias():
    cfg = validate_config(ActivationsConfig, {"activation": "relu,tanh", "lr": "0.1", "parts": "race"})
    assert cfg.activations == ["relu", "tanh"] and cfg.lr == 0.1 and cfg.parts == ["race"]


def test_variants_are_the_race_and_the_dead_pairs_then_what_the_verdicts_read_at_further_seeds():
    cfg = validate_config(ActivationsConfig, {"activations": ["sigmoid", "relu"], "dead_activations": ["relu"],
                                              "seed": 7, "seeds": 2, "parts": ["race", "dead"]})
    # (activation, lr, init, seed, when its accuracy is measured, when its dead units are)
    assert [(v.activation, v.lr, v.init, v.seed, v.accuracy, v.dead) for v in cfg.variants()] == [
        ("sigmoid", 0.05, "xavier", 7, "every", "end"),  # drawn; no dead-unit curve drawn for it
        ("relu", 0.05, "kaiming", 7, "every", "every"), ("relu", 0.5, "kaiming", 7, "every", "every"),
        ("relu", 0.05, "kaiming", 8, "until", "end"), ("sigmoid", 0.05, "xavier", 8, "until", "never"),
        ("relu", 0.5, "kaiming", 8, "end", "end")]
    no_pairs = validate_config(ActivationsConfig, {"activations": ["tanh"], "dead_activations": ["elu"],
                                                   "parts": ["race", "dead"]})
    assert {v.seed for v in no_pairs.variants()} == {0}  # nothing for a verdict to read at other seeds
    assert validate_config(ActivationsConfig, {"parts": ["functions", "selu"]}).variants() == []


def test_cost_grows_with_the_job_and_is_what_it_was():
    small = ActivationsConfig(epochs=1)
    assert 0 < small.cost_seconds() < ActivationsConfig(epochs=10).cost_seconds()
    assert ActivationsConfig(parts=["functions"]).cost_seconds() == 0
    fewer_evaluations = ActivationsConfig(parts=list(PART_NAMES)).cost_seconds()
    # one seed: the estimate before cnnbp.nn owned the MACs (24.5 s on the defaults, 670 s on the
    # shapes), at the 6 evaluations an epoch it was taken with; each further seed adds the
    # verdicts' 3 nets, without the probe at every evaluation
    every_part = {"parts": list(PART_NAMES), "evals_per_epoch": 6}  # the figures above: every part, 6 evaluations
    assert fewer_evaluations < ActivationsConfig(**every_part).cost_seconds()
    one_seed = ActivationsConfig(seeds=1, **every_part).cost_seconds()
    assert one_seed == pytest.approx(24.5, rel=0.1)
    assert ActivationsConfig(seeds=1, dataset="shapes", **every_part).cost_seconds() == pytest.approx(670, rel=0.1)
    assert (one_seed < ActivationsConfig(seeds=2, **every_part).cost_seconds()
            < ActivationsConfig(**every_part).cost_seconds() < 2 * one_seed)


# ---- claims ---------------------------------------------------------------------------------

ACTIVATION_CLAIMS = sorted(c for c in CLAIMS if c.startswith("activations."))


def test_the_verdicts_name_the_claims_they_measure(final):
    claims = {v.label: v.claim for v in final.verdicts}
    assert claims == {"x = -10, 0, 10": "activations.saturation_kills_gradients", "saturation": None,
                      "same-sign gradients": "activations.same_sign_gradients", "zig-zag": None,
                      "SELU self-normalises": "activations.selu_self_normalises",
                      "ReLU converges faster": "activations.relu_faster_than_sigmoid",
                      "dead units": "activations.high_lr_kills_relus"}
    assert set(claims.values()) - {None} == set(ACTIVATION_CLAIMS)


@pytest.mark.parametrize("claim_id", ACTIVATION_CLAIMS)
def test_each_claim_holds_and_reports_its_figure(claim_id):
    result = run_claim(claim_id)
    assert result.passed is True, result.measured
    assert any(ch.isdigit() for ch in result.measured)


def test_the_nets_the_verdicts_read_at_three_seeds_step_as_one_stack(monkeypatch):
    """ReLU and sigmoid at lr and ReLU at the high rate train at every verdict seed: each trio steps
    as one stacked model (equal to one at a time up to float rounding: tests/test_stacked.py)."""
    from cnnbp.lessons.activations import race
    from cnnbp.train import RunControl
    from cnnbp.train.stacked import lockstep_groups

    seen = {}

    def spy(trainers, histories, control, **kwargs):
        seen.update(names=[(t.name, v.seed) for t, v in zip(trainers, variants)], groups=lockstep_groups(trainers),
                    stack=kwargs.get("stack"))
        return iter(())

    monkeypatch.setattr(race, "lockstep", spy)
    cfg = validate_config(ActivationsConfig, {"activations": ["sigmoid", "relu"], "dead_activations": ["relu"],
                                              "cnn_depth": 2, "cnn_width": 4, "parts": ["race", "dead"]})
    variants = cfg.variants()
    list(race.train_variants(variants, dataset="digits", depth=2, width=4, epochs=1, batch_size=64, options={},
                             peaks={"sigmoid": 0.25, "relu": 1.0}, target=0.8, evals_per_epoch=3,
                             control=RunControl()))
    names = seen["names"]
    trios = [[names[i] for i in group] for group in seen["groups"]]
    assert seen["stack"] and sorted(trios) == sorted(
        [[(net, seed) for seed in (0, 1, 2)] for net in ("sigmoid, lr 0.05", "relu, lr 0.05", "relu, lr 0.5")])
