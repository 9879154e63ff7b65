"""The dropout lesson end to end on quick settings: figures = numbers, verdicts, determinism,
edge cases, its cross-field settings, and every claim. (Stream, stop, budget, cost refusal and
bad input: tests/lessons/test_protocol.py, for every lesson.)"""

from __future__ import annotations

import pytest

import cnnbp.lessons.dropout  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
from cnnbp.lessons.dropout.config import DropoutConfig
from cnnbp.lessons.dropout.training import GapNarrowing, settled

LESSON = get_lesson("dropout")
QUICK = dict(LESSON.quick)



def test_the_stream_shows_training_as_it_happens(frames):
    assert sum(f.message.startswith("training") for f in frames) >= 1


def test_mask_figure_shows_the_masks_drawn(final):
    demo = final.numbers["masks"]
    heatmaps = final.figures["masks"].data
    n = QUICK.get("mask_passes", 4)
    masks, hidden = heatmaps[0::2], heatmaps[1::2]
    assert [[list(r) for r in t.z] for t in masks[:n]] == demo["masks"]
    assert [[list(r) for r in t.z] for t in hidden[:n]] == demo["dropped_hidden"]
    assert [list(r) for r in hidden[n].z] == demo["eval_hidden"]
    assert all(v == 1.0 for r in masks[n].z for v in r)  # eval: no mask
    assert len(demo["masks"][0]) * 16 == QUICK["hidden"]


def test_keep_fraction_figure_and_table_show_the_counts(final):
    keeps = final.numbers["keep_fraction"]
    measured = next(t for t in final.figures["keep_fraction"].data if t.name.startswith("measured"))
    assert list(measured.x) == [k["p"] for k in keeps] and list(measured.y) == [k["kept"] for k in keeps]
    assert final.tables["keep_fraction"].to_dict("records") == keeps
    assert [k["p"] for k in keeps] == [0.0, 0.5]


def test_expectation_figure_shows_the_errors(final):
    exp = final.numbers["expectation"]
    traces = {t.meta: t for t in final.figures["expectation"].data}
    for name, errors in exp["errors"].items():
        assert list(traces[name].x) == exp["ks"] and list(traces[name].y) == errors
    for name, pred in exp["predicted"].items():
        assert list(traces[f"predicted {name}"].y) == pred
    assert exp["ks"][-1] == QUICK["passes"]
    table = final.tables["expectation"].set_index("series")
    assert table.loc["inverted", "relative error"] == exp["final"]["inverted"]


def test_gap_figures_and_table_show_the_histories(final):
    reg = final.numbers["regularisation"]
    assert list(reg) == ["p = 0", "p = 0.5"]
    curves = {t.meta: t for t in final.figures["gap_curves"].data}
    for name, h in reg.items():
        assert list(curves[f"test {name}"].y) == h["test_accuracy"]
        assert list(curves[f"train {name}"].y) == h["train_accuracy"]
        assert list(curves[f"gap {name}"].y) == pytest.approx([a - b for a, b in
                                                              zip(h["train_accuracy"], h["test_accuracy"])])
        assert h["settled_gap"] == pytest.approx(settled(h["gap"]))
    bars = {t.name: list(t.y) for t in final.figures["gap_bars"].data}
    assert bars["gap"] == [h["settled_gap"] for h in reg.values()]  # one seed: its values
    assert final.numbers["gap_over_seeds"]["settled"]["p = 0.5"]["gap"] == [reg["p = 0.5"]["settled_gap"]]
    table = final.tables["gap"]
    assert list(table["test accuracy"]) == [h["settled_test"] for h in reg.values()]
    assert table["MC accuracy"].iloc[1] == final.numbers["mc"]["p = 0.5"]["accuracy"][-1]


def test_mc_figure_shows_the_distances(final):
    mc = final.numbers["mc"]
    assert list(mc) == ["p = 0.5"]  # p = 0 has nothing to average
    traces = {t.meta: t for t in final.figures["mc"].data}
    r = mc["p = 0.5"]
    assert list(traces["distance p = 0.5"].y) == r["distance"] and list(traces["distance p = 0.5"].x) == r["ks"]
    assert list(traces["accuracy p = 0.5"].y) == r["accuracy"]
    assert r["ks"][-1] == QUICK["mc_passes"]


def test_verdicts_quote_the_numbers(final):
    v = {x.label: x for x in final.verdicts}
    assert "drop probability" in v["which p"].text and v["which p"].passed is None
    keeps = final.numbers["keep_fraction"]
    assert f"p = 0.5: {keeps[1]['kept']:.4f}" in v["masks"].text and v["masks"].passed is True
    assert "in eval mode the layer returned its input unchanged and drew no random number" in v["masks"].text
    exp = final.numbers["expectation"]
    assert f"{exp['final']['inverted']:.2%}" in v["inverted dropout keeps the mean"].text
    assert v["inverted dropout keeps the mean"].passed is True
    assert v["test-time scaling is the same net"].passed is True
    assert "p = 0.5: the two readings coincide" in v["test-time scaling is the same net"].text
    reg = final.numbers["regularisation"]["p = 0"]
    gap = v["dropout narrows the gap"]
    assert f"gap {reg['settled_gap']:.1%}" in gap.text and gap.claim == "dropout.narrows_gap"
    assert gap.passed is None and "1 seed: too few to tell, the comparison needs 3" in gap.text  # the quick settings
    r = final.numbers["mc"]["p = 0.5"]
    assert f"{r['distance'][0]:.3f} at k = 1" in v["MC dropout approaches the eval pass"].text


def test_a_different_seed_changes_the_masks():
    runs = [merge_frames(run_lesson("dropout", {"parts": ["masks"], "hidden": 32, "seed": s})).numbers
            for s in (1, 2)]
    assert runs[0]["masks"]["masks"] != runs[1]["masks"]["masks"]


def test_no_dropout_is_exact_and_the_verdicts_say_so():
    final = merge_frames(run_lesson("dropout", {"parts": ["masks", "expectation"], "p": 0.0, "hidden": 32,
                                                "passes": 30, "images": 4}))
    exp = final.numbers["expectation"]
    assert exp["predicted"]["inverted"][-1] == 0.0 and exp["final"]["inverted"] < 1e-6
    assert all(m == [[1.0] * 16] * 2 for m in final.numbers["masks"]["masks"])
    assert {v.label: v.passed for v in final.verdicts}["inverted dropout keeps the mean"] is True


def test_the_cnn_trains_too():
    final = merge_frames(run_lesson("dropout", {"parts": ["regularisation"], "arch": "cnn", "drop_probs": ["0.5"],
                                                "train_images": 20, "epochs": 2, "batch_size": 10}))
    assert final.numbers["regularisation"]["p = 0.5"]["steps"] == [1, 2, 3, 4]
    assert "dropout narrows the gap" in {v.label for v in final.verdicts}


def test_every_training_digit_is_a_valid_subset():
    # the largest train_images the settings allow used to crash: "class 0 has only 142 images"
    final = merge_frames(run_lesson("dropout", {"parts": ["regularisation"], "drop_probs": ["0"], "width": 16,
                                                "train_images": 1437, "epochs": 1, "batch_size": 256, "seeds": 1}))
    assert final.done and final.numbers["regularisation"]["p = 0"]["steps"] == [1, 2, 3, 4, 5, 6]


def test_diverged_nets_are_named_and_not_judged():
    # lr 1 blows both nets up within a few steps; the verdicts used to call that "dropout does not
    # narrow the gap" (False) and "it keeps falling like 1/sqrt(k)" with no MC numbers at all
    final = merge_frames(run_lesson("dropout", {"parts": ["regularisation", "mc"], "lr": 1.0, "width": 512,
                                                "depth": 4, "epochs": 30, "drop_probs": ["0", "0.9"],
                                                "train_images": 50, "mc_passes": 10, "seeds": 1}))
    reg = final.numbers["regularisation"]
    assert reg["p = 0"]["diverged_at"] is not None and reg["p = 0.9"]["diverged_at"] is not None
    verdicts = {v.label: v for v in final.verdicts}
    gap = verdicts["dropout narrows the gap"]
    assert gap.passed is None and "Diverged" in gap.text and "p = 0.9 at step" in gap.text and "(seed 0)" in gap.text
    mc = verdicts["MC dropout approaches the eval pass"]
    assert final.numbers["mc"] == {} and mc.passed is None and "nothing to average" in mc.text
    assert "falling" not in mc.text


def test_the_gap_verdict_reads_every_seed():
    values = {"parts": ["regularisation"], "drop_probs": ["0", "0.5", "0.75"], "train_images": 20, "epochs": 3,
              "batch_size": 10, "width": 32, "seed": 5}
    final = merge_frames(run_lesson("dropout", values))
    over = final.numbers["gap_over_seeds"]
    assert over["seeds"] == [5, 6, 7]
    for name in ("p = 0.5", "p = 0.75"):
        n = over["narrowing"][name]
        gaps = over["settled"]
        assert n["narrowing"] == pytest.approx([a - b for a, b in zip(gaps["p = 0"]["gap"], gaps[name]["gap"])])
        assert n["narrows"] == GapNarrowing(p=n["p"], seeds=n["seeds"], narrowing=n["narrowing"]).narrows
    # the first seed's nets are the ones the curves show
    assert gaps["p = 0.5"]["gap"][0] == final.numbers["regularisation"]["p = 0.5"]["settled_gap"]
    gap = {v.label: v for v in final.verdicts}["dropout narrows the gap"]
    decided = [over["narrowing"][name]["narrows"] for name in ("p = 0.5", "p = 0.75")]
    assert gap.passed == (decided[0] if decided[0] == decided[1] else None)  # more than half of the 2 p's
    assert "seeds 5/6/7" in gap.text
    bars = {t.name: t for t in final.figures["gap_bars"].data}
    assert list(bars["gap"].y) == pytest.approx([sum(g) / 3 for g in (gaps["p = 0"]["gap"], gaps["p = 0.5"]["gap"],
                                                                        gaps["p = 0.75"]["gap"])])


def test_too_few_entries_cannot_tell_whether_the_mean_is_kept():
    final = merge_frames(run_lesson("dropout", {"parts": ["expectation"], "hidden": 16, "images": 1, "passes": 50}))
    exp = final.numbers["expectation"]
    assert exp["effective_entries"]["inverted"] < 10  # one digit's 10 outputs
    v = {v.label: v for v in final.verdicts}["inverted dropout keeps the mean"]
    assert v.passed is None and "Too few entries to tell" in v.text


def test_one_mc_pass_gives_no_verdict():
    final = merge_frames(run_lesson("dropout", {"parts": ["regularisation", "mc"], "drop_probs": ["0.5"],
                                                "train_images": 20, "epochs": 2, "batch_size": 10, "mc_passes": 1}))
    assert final.numbers["mc"]["p = 0.5"]["ks"] == [1]
    mc = {v.label: v for v in final.verdicts}["MC dropout approaches the eval pass"]
    assert mc.passed is None and "falling" not in mc.text


# ---- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [
    ({"hidden": 40}, "hidden (40) must be a multiple of 16"),
    ({"parts": ["mc"]}, "mc averages the nets that regularisation trains"),
    ({"drop_probs": ["0"]}, "mc needs a net with dropout"),
    ({"batch_size": 64, "train_images": 32}, "batch_size (64) must not exceed train_images (32)"),
    ({"drop_probs": ["0.5", "0.5"]}, "duplicates"),
    ({"drop_probs": []}, "drop_probs: List should have at least 1 item"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(DropoutConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cli_strings():
    cfg = validate_config(DropoutConfig, {"drop_probs": "0,0.5", "p": "0.2", "parts": "masks,expectation"})
    assert cfg.ps == [0.0, 0.5] and cfg.p == 0.2 and cfg.parts == ["masks", "expectation"]


def test_cost_grows_with_the_job():
    small = DropoutConfig(epochs=10)
    assert 0 < small.cost_seconds() < DropoutConfig(epochs=100).cost_seconds() < DropoutConfig().cost_seconds()
    assert DropoutConfig(parts=["masks"]).cost_seconds() < 1
    assert DropoutConfig(arch="cnn").cost_seconds() > DropoutConfig().cost_seconds()


# ---- claims ---------------------------------------------------------------------------------

DROPOUT_CLAIMS = sorted(c for c in CLAIMS if c.startswith("dropout."))


# What the claims measure on our data at seed 0: the gap narrows by about a point, less than the
# seeds' spread (the README's ledger says so).
EXPECTED = {"dropout.inverted_keeps_mean": True, "dropout.test_time_scaling_same_net": True,
            "dropout.narrows_gap": None}


@pytest.mark.parametrize("claim_id", DROPOUT_CLAIMS)
def test_each_claim_measures_its_figure(claim_id):
    result = run_claim(claim_id)
    assert not result.error and result.passed is EXPECTED[claim_id], result.measured
    assert any(ch.isdigit() for ch in result.measured)
