"""The norms lesson end to end on quick settings: what its figures, tables and verdicts show
(their numbers), determinism, its own settings' cross-checks, its cost, and its claims. The
protocol every lesson keeps (stream, stop, budget, refusals) is tests/lessons/test_protocol.py."""

from __future__ import annotations

import pytest

import cnnbp.lessons.norms  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
from cnnbp.lessons.norms import axes, figures
from cnnbp.lessons.norms.config import PART_NAMES, NormsConfig
from cnnbp.lessons.norms.contrast import INVARIANT_RATIO
from cnnbp.lessons.norms.figures import CHOSEN
from cnnbp.lessons.norms.races import SideBySide
from cnnbp.lessons.norms.verdicts import compare_verdict
from tests.lessons.quick import quick_frames

LESSON = get_lesson("norms")
QUICK = dict(LESSON.quick)


@pytest.fixture(scope="module")
def final():
    return merge_frames(quick_frames("norms"))  # the quick run, shared with the protocol tests


def test_the_stream_shows_training_as_it_happens():
    assert any(f.message.startswith("training") and "compare_curves" in f.figures for f in quick_frames("norms"))


def shaded(fig, kind: str, shape) -> tuple[set, set]:
    """The cells the picture's ``kind`` panel shades as (n, c, h, w), and the one drawn as chosen: read
    back from its grid (page c is row c, book n the n-th block of H W columns, one empty column between)."""
    _, _, h, w = shape
    grid = next(t for t in fig.data if t.meta == kind).z
    cells = {(col // (h * w + 1), c, col % (h * w + 1) // w, col % (h * w + 1) % w): v
             for c, row in enumerate(grid) for col, v in enumerate(row) if v is not None}
    assert sum(v is None for v in grid[0]) == shape[0] - 1  # the gaps between books
    return {x for x, v in cells.items() if v}, {x for x, v in cells.items() if v == CHOSEN}


def test_picture_shades_the_cells_of_the_numbers(final):
    pic = final.numbers["picture"]
    assert pic["shape"] == [4, 6, 3, 3] and pic["chosen"] == [0, 1, 0, 0]
    words = [(h, w) for h in range(3) for w in range(3)]
    expected = {"batch": {(n, 1, *x) for n in range(4) for x in words},  # page 1 of every book
                "layer": {(0, c, *x) for c in range(6) for x in words},  # all of book 0
                "instance": {(0, 1, *x) for x in words},  # page 1 of book 0
                "group": {(0, c, *x) for c in (0, 1) for x in words}}  # GroupNorm(3, 6): page 1's chapter, pages 0-1
    for kind, p in pic["norms"].items():
        assert p["torch_agrees"] is True
        assert shaded(final.figures["picture"], kind, pic["shape"]) == (expected[kind], {(0, 1, 0, 0)})
        assert {tuple(x) for x in p["lit"]} == expected[kind]
    assert {k: p["set_size"] for k, p in pic["norms"].items()} == {"batch": 36, "layer": 54, "instance": 9,
                                                                   "group": 18}


def test_picture_follows_its_settings():
    cfg = NormsConfig(picture_batch=2, picture_channels=4, picture_size=2, picture_groups=2, cell_sample=1,
                      cell_channel=3)
    numbers = axes.picture((2, 4, 2, 2), (1, 3, 0, 0), groups=2, seed=0)
    fig = figures.picture_figure(numbers, cfg)
    words = [(0, 0), (0, 1), (1, 0), (1, 1)]
    expected = {"batch": {(n, 3, *x) for n in range(2) for x in words},
                "layer": {(1, c, *x) for c in range(4) for x in words},
                "instance": {(1, 3, *x) for x in words}, "group": {(1, c, *x) for c in (2, 3) for x in words}}
    for kind, cells in expected.items():
        assert shaded(fig, kind, (2, 4, 2, 2)) == (cells, {(1, 3, 0, 0)})
    grid = fig.data[0].z
    assert len(grid) == 4 and len(grid[0]) == 2 * 4 + 1  # 4 pages; 2 books of 4 words and one gap


def test_tables_and_bars_show_the_numbers(final):
    summary = final.numbers["compare"]["summary"]
    assert [r["norm"] for r in summary] == QUICK["norms"]
    bars = final.figures["compare_final"].data[0]
    assert list(bars.y) == [r["mean"] for r in summary]
    table = final.tables["compare"]
    assert list(table["mean"]) == [r["mean"] for r in summary]
    runs = final.numbers["compare"]["runs"]
    for r in summary:
        assert r["seeds"] == [runs[f"{r['norm']}, seed 0"]["final_accuracy"]]
    curves = final.figures["compare_curves"]
    for name, run in runs.items():
        acc = next(t for t in curves.data if t.name == name and t.xaxis == "x2")
        assert list(acc.x) == run["eval_steps"] and list(acc.y) == run["test_accuracy"]
    eq = final.tables["equivalences"]
    assert list(eq["max_abs_diff"]) == [r["max_abs_diff"] for r in final.numbers["equivalences"]]


def test_sweep_figure_and_batch_one_point(final):
    sweep = final.numbers["sweep"]
    for i, norm in enumerate(["batch", "group"]):
        line = final.figures["sweep"].data[2 * i]
        assert line.name == norm
        assert list(line.x) == sweep["summary"][norm]["batch_sizes"] == [16, 2]
        assert list(line.y) == sweep["summary"][norm]["mean"]
    runs = {(r["norm"], r["batch_size"]): r for r in sweep["runs"]}
    assert runs[("batch", 2)]["steps"][-1] == 128 // 2 and runs[("batch", 2)]["lr"] == pytest.approx(0.05 * 2 / 32)
    one = final.numbers["batch_one"]
    assert one["refused"] and one["cnn"]["batch_size"] == 1 and one["cnn"]["steps"][-1] == 128
    point = next(t for t in final.figures["sweep"].data if t.name == "BatchNorm at batch 1")
    assert list(point.x) == [1] and list(point.y) == [one["cnn"]["final_accuracy"]]
    race = sweep["group_vs_batch"]  # the seed's pair at the smallest batch, as the verdict reads it
    assert race["seeds"] == [0] and race["a_accuracy"] == [runs[("group", 2)]["final_accuracy"]]
    assert race["b_accuracy"] == [runs[("batch", 2)]["final_accuracy"]] and race["a_wins"] is None
    assert "at batch 2: 1 seed cannot tell" in final.figures["sweep"].layout.title.text.replace("<br>", " ")


def test_contrast_and_sync_show_the_numbers(final):
    c = final.numbers["contrast"]
    assert c["change"]["instance"] < INVARIANT_RATIO * c["change"]["batch"] and c["change"]["batch"] > 0.1
    heat = final.figures["contrast"].data
    assert [list(r) for r in heat[3].z] == c["maps"]["instance"][0]  # row 2: InstanceNorm before
    sync = final.numbers["sync"]
    assert sync["check"]["equal"] and sync["check"]["devices"] == 8
    noise = {n["devices"]: n for n in sync["noise"]}
    assert noise[1]["mean_error"] == 0.0 and noise[8]["mean_error"] > noise[2]["mean_error"] > 0
    lines = final.figures["sync_noise"].data
    assert list(lines[0].x) == [16.0, 4.0] and list(lines[0].y) == [noise[2]["mean_error"], noise[8]["mean_error"]]
    acc = final.figures["sync_accuracy"].data[0]
    local = [r for r in sync["runs"] if not r["sync"]]
    assert list(acc.y) == [r["final_accuracy"] for r in local]
    assert [r["name"] for r in sync["runs"]][-1] == "8 devices, synchronised"


def test_verdicts_quote_the_numbers(final):
    v = {x.label: x for x in final.verdicts}
    assert v["N x C x H x W picture"].passed is True and "all four agree" in v["N x C x H x W picture"].text
    eq = final.numbers["equivalences"][0]
    assert f"{eq['max_abs_diff']:.2g}" in v["GroupNorm equivalences"].text and v["GroupNorm equivalences"].passed
    change = final.numbers["contrast"]["change"]
    assert (f"InstanceNorm's output moves by {change['instance']:.2g}, {change['instance'] / change['batch']:.2%} "
            f"of BatchNorm's {change['batch']:.2g} (invariant)") in v["InstanceNorm contrast invariance"].text
    assert "Expected more than 1 value per channel" in v["batch size 1 breaks BatchNorm"].text
    assert v["batch size 1 breaks BatchNorm"].passed is True
    race = final.numbers["sweep"]["group_vs_batch"]
    small = v["GroupNorm vs BatchNorm at small batches"]  # quick settings: one seed, so it cannot tell
    assert f"seed 0: GroupNorm {race['a_accuracy'][0]:.1%}, BatchNorm {race['b_accuracy'][0]:.1%}" in small.text
    assert small.passed is None and "1 seed cannot tell" in small.text
    assert v["SyncBatchNorm"].passed is True
    assert "training losses within 1e-05 for the first" in v["SyncBatchNorm"].text  # batch_size = sync_batch
    for r in final.numbers["compare"]["summary"]:
        assert f"{r['norm']} {r['mean']:.1%}" in v["norms side by side"].text
    assert "1 seed cannot tell which norm is best" in v["norms side by side"].text
    assert final.numbers["compare"]["race"]["best"] is None


def test_parts_run_alone_and_another_seed_draws_again():
    a = merge_frames(run_lesson("norms", {"parts": ["picture", "equivalences"], "seed": 1}))
    assert set(a.figures) == {"picture"} and set(a.numbers) == {"picture", "equivalences"}
    b, c = (merge_frames(run_lesson("norms", {"parts": ["contrast"], "seed": s})).numbers["contrast"] for s in (1, 2))
    assert b["change"]["batch"] != c["change"]["batch"]  # another seed, another first conv


@pytest.mark.parametrize("values, passed, words", [
    ({}, True, "(invariant)"),
    # the shapes' flat backgrounds leave more of eps's doing (0.033 at seed 0), still a small share of BatchNorm's
    ({"dataset": "shapes"}, True, "(invariant)"),
    # a contrast cut to 1%: the maps' variance falls towards eps, and eps undoes the invariance
    ({"contrast_scale": 0.01, "contrast_shift": 0.0}, False, "(not invariant)"),
    ({"contrast_scale": 1.0, "contrast_shift": 0.0}, None, "too small a contrast change to tell"),
])
def test_contrast_verdict_and_title_read_one_test(values, passed, words):
    f = merge_frames(run_lesson("norms", {"parts": ["contrast"], **values}))
    title, verdict = f.figures["contrast"].layout.title.text.replace("<br>", " "), f.verdicts[0]
    assert verdict.passed is passed and words in title and words in verdict.text
    change = f.numbers["contrast"]["change"]
    if passed is not None:
        assert f"InstanceNorm's output moves by {change['instance']:.2g}" in title


# ---- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [
    ({"groups": 3}, "groups (3) must divide the channels (16)"),
    ({"groups": 8, "width": 12}, "groups (8) must divide the channels (12)"),
    ({"picture_groups": 4}, "picture_groups (4) must divide the channels (6)"),
    ({"cell_sample": 5}, "cell_sample (5) must be below picture_batch (4)"),
    ({"cell_channel": 6}, "cell_channel (6) must be below picture_channels (6)"),
    ({"sweep_images": 1500}, "sweep_images (1500) is more than the 1437 training images of digits"),
    ({"sync_batch": 4, "sync_devices": ["2", "8"]}, "sync_devices (8) must not exceed sync_batch (4)"),
    ({"sweep_norms": []}, "sweep_norms: List should have at least 1 item"),
    ({"norms": ["batch", "batch"]}, "duplicates"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(NormsConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_compare_verdict_names_a_best_norm_only_when_the_seeds_do_not_overlap():
    cfg = validate_config(NormsConfig, {"norms": ["none", "batch", "instance"]})

    def text(accuracy: dict) -> str:
        rows = [{"norm": n, "mean": sum(a) / len(a), "seeds": a, "seconds_per_epoch": 0.1} for n, a in accuracy.items()]
        return compare_verdict({"summary": rows}, SideBySide([0, 1, 2], accuracy), cfg).text

    # InstanceNorm ahead of BatchNorm on each seed, yet BatchNorm's best seed beats InstanceNorm's worst
    close = text({"none": [0.90, 0.91, 0.92], "batch": [0.961, 0.975, 0.939], "instance": [0.964, 0.992, 0.958]})
    assert close.endswith("Highest mean: instance, too close to call: its worst seed (95.8%) is reached by the best "
                          "of batch (97.5%).")
    clear = text({"none": [0.94, 0.95, 0.96], "batch": [0.992, 0.989, 0.981], "instance": [0.975, 0.978, 0.978]})
    assert clear.endswith("Best: batch, its worst seed (98.1%) above every other norm's best (97.8%).")
    # lr 1 left every net at chance: 10.0% each, no best
    level = text({"none": [0.1, 0.1, 0.1], "batch": [0.1, 0.1, 0.1], "instance": [0.05, 0.05, 0.05]})
    assert "Best" not in level and "reached by the best of batch (10.0%)" in level


def test_cli_strings():
    cfg = validate_config(NormsConfig, {"norms": "batch,group", "sweep_batches": "8,2", "parts": "sweep"})
    assert cfg.norms == ["batch", "group"] and cfg.batch_list() == [8, 2] and cfg.parts == ["sweep"]


def test_cost_grows_with_the_job():
    assert NormsConfig(parts=["picture", "equivalences"]).cost_seconds() == 0
    assert 0 < NormsConfig(epochs=1).cost_seconds() < NormsConfig(epochs=5).cost_seconds()
    every = list(PART_NAMES)  # the sweep is not in the default run
    assert (NormsConfig(parts=every, sweep_batches=["32"]).cost_seconds()
            < NormsConfig(parts=every, sweep_batches=["32", "2"]).cost_seconds())
    with pytest.raises(ConfigError, match="too big: estimated"):  # the largest CNN, many seeds: over the budget
        validate_config(NormsConfig, {"epochs": 20, "seeds": 5, "width": 64})


def test_default_job_fits_the_budget():
    assert 5 < validate_config(NormsConfig).cost_seconds() < 35
    assert validate_config(NormsConfig, QUICK).cost_seconds() < 5


# ---- claims ---------------------------------------------------------------------------------

NORM_CLAIMS = sorted(c for c in CLAIMS if c.startswith("norms."))


# the small-batch races (digits, real images) do not hold: tested on their own (here and in test_real_data.py)
@pytest.mark.parametrize("claim_id", [c for c in NORM_CLAIMS if not c.startswith("norms.group_beats_batch_at_batch_2")])
def test_each_claim_holds_and_reports_its_figure(claim_id):
    result = run_claim(claim_id)
    assert result.passed is True, result.measured
    assert any(ch.isdigit() for ch in result.measured)


def test_small_batch_claim_reports_every_seed():
    """On our digits this claim does not hold (BatchNorm ahead at batch 2 on seeds 0-5); the check
    must quote each seed's two accuracies and decide as the lesson's race does."""
    result = run_claim("norms.group_beats_batch_at_batch_2", seed=1)
    for seed in (1, 2, 3):
        assert f"seed {seed}: GroupNorm " in result.measured
    assert result.passed is False and "BatchNorm ahead on every one of the 3 seeds" in result.measured
