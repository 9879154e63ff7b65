"""The batchnorm lesson end to end on quick settings: figures = numbers, verdicts, determinism,
a cut-short race, its cross-field settings and costs, and every claim (the folding claim's
timing decides no test). The protocol tests (tests/lessons/test_protocol.py) do the rest."""

from __future__ import annotations

import pytest

import cnnbp.lessons.batchnorm  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import run_claim
from cnnbp.data import get_dataset
from cnnbp.device import pick_device
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
from cnnbp.lessons.batchnorm.config import PART_NAMES, BatchNormConfig
from cnnbp.lessons.batchnorm.folding import measure_folding
from cnnbp.lessons.batchnorm.training import History, TrainModeBug, Variant
from cnnbp.lessons.batchnorm.verdicts import race_words, training_verdicts
from cnnbp.train import RunControl

LESSON = get_lesson("batchnorm")
QUICK = dict(LESSON.quick)
TIMING = {"seconds", "times", "speedup", "speedup_torch"}  # folding times: the only numbers a rerun may change



def without_timing(numbers: dict) -> dict:
    out = dict(numbers)
    out["folding"] = {k: v for k, v in numbers["folding"].items() if k not in TIMING}
    return out


def test_the_stream_shows_training_as_it_happens(frames):
    assert sum(f.message.startswith("training") for f in frames) >= 1


def test_running_stats_figure_shows_the_numbers(final):
    run, fig = final.numbers["running_stats"], final.figures["running_stats"]
    assert len(run["steps"]) == QUICK["stat_steps"] + 1
    lines = [t for t in fig.data if t.name.startswith("channel ")]
    assert [list(t.y) for t in lines] == [[rm[c] for rm in run["running_mean"]] for c in range(len(run["data_mean"]))]
    err = next(t for t in fig.data if t.name.startswith("|running mean"))
    assert list(err.y) == run["mean_error"]


def test_checks_figure_and_table_show_the_numbers(final):
    rows, modes = final.numbers["checks"], final.numbers["modes"]
    bars = final.figures["checks"].data[0]
    assert list(bars.x) == [r["check"] for r in rows]
    assert [r["max_abs_diff"] for r in rows][:4] == [modes["train_vs_eval"], modes["eval_vs_formula"],
                                                    modes["train_vs_formula"], modes["identity"]]
    assert list(bars.y) == [v if v > 0 else 1e-9 for v in (r["max_abs_diff"] for r in rows)]
    assert final.tables["checks"].to_dict("records") == rows
    scatter = final.figures["train_eval"].data[0]
    assert list(scatter.x) == modes["sample_eval"] and list(scatter.y) == modes["sample_train"]


def test_training_figures_show_the_numbers(final):
    cnn = final.numbers["cnn"]
    assert len(cnn) == 7  # good-init pair, bad-init pair, high-lr pair, BN at the other position
    curves = final.figures["curves"]
    for name, h in cnn.items():
        acc = next(t for t in curves.data if t.meta == name and t.mode == "lines+markers")
        assert list(acc.x) == h["eval_steps"] and list(acc.y) == h["test_accuracy"]
        assert h["steps"][-1] == final.numbers["cnn_settings"]["total_steps"] or h["diverged_at"]
    bars = final.figures["steps_to_target"].data[0]
    assert list(bars.y) == list(cnn) and list(bars.x) == [h["steps_to_target"] for h in cnn.values()]
    table = final.tables["training"]
    assert list(table["net"]) == list(cnn)


def test_bug_figure_and_table_show_the_numbers(final):
    rows = final.numbers["bug"]["rows"]
    assert final.numbers["bug"]["model"] == "BN before act, kaiming, lr 0.05"
    shown = {y: x for t in final.figures["bug"].data for x, y in zip(t.x, t.y)}
    assert shown == {r["evaluation"]: r["accuracy"] for r in rows}
    assert final.tables["bug"].to_dict("records") == rows


def test_folding_is_exact_and_its_figure_shows_the_times(final):
    f = final.numbers["folding"]
    assert f["batchnorms_before"] == QUICK["depth"] and f["batchnorms_after"] == 0
    assert f["max_abs_diff"] <= 1e-5 and f["max_abs_diff_ours_vs_torch"] <= 1e-5 and f["argmax_agree"] == 1.0
    bars = final.figures["folding"].data[0]
    assert list(bars.x) == ["unfolded", "folded", "torch fused"]
    assert list(bars.y) == [f["seconds"][n] * 1e3 for n in bars.x]
    assert all(len(t) == QUICK["fold_repeats"] for t in f["times"].values())


def test_verdicts_quote_the_numbers(final):
    texts = {v.label: v for v in final.verdicts}
    assert set(texts) == {"running statistics", "train vs eval", "gamma, beta recover the identity",
                          "BN is robust to a bad init", "BN allows a higher learning rate",
                          "BN before or after the nonlinearity", "the train-mode bug", "BN folds into the conv"}
    modes = final.numbers["modes"]
    assert f"{modes['train_vs_eval']:.3g}" in texts["train vs eval"].text
    assert f"{modes['eval_vs_formula']:.2g}" in texts["train vs eval"].text
    assert texts["train vs eval"].passed is True and texts["gamma, beta recover the identity"].passed is True
    bad = final.numbers["cnn"]["BN before act, normal_0.01, lr 0.05"]
    steps = bad["steps_to_target"]
    assert (f"with BN {steps} steps" if steps is not None else "with BN not reached") in \
        texts["BN is robust to a bad init"].text
    bug = final.numbers["bug"]["rows"]
    assert f"{bug[-2]['accuracy']:.1%}" in texts["the train-mode bug"].text
    f = final.numbers["folding"]
    assert f"{f['max_abs_diff']:.2g}" in texts["BN folds into the conv"].text
    assert f"median {f['speedup']['median']:.2f}x" in texts["BN folds into the conv"].text


def test_the_quick_settings_are_too_small_to_decide_what_needs_training_or_timing(final):
    verdicts = {v.label: v for v in final.verdicts}
    for label in ("BN is robust to a bad init", "BN allows a higher learning rate"):
        assert verdicts[label].passed is None and "Cannot tell" in verdicts[label].text
    assert verdicts["the train-mode bug"].passed is None and "not trained to 80%" in verdicts["the train-mode bug"].text
    fold = verdicts["BN folds into the conv"]
    assert fold.passed is None and "too few repeats (5) to call" in fold.text
    assert final.numbers["races"]["bad init"] == {"seeds": [0], "no_bn_steps": [None], "bn_steps": [None],
                                                  "bn_wins": [False], "decided": None}


def test_the_races_run_at_several_seeds_and_the_steps_figure_shows_them():
    final = merge_frames(run_lesson("batchnorm", {**QUICK, "parts": ["robustness"], "seeds": 3,
                                                  "target_accuracy": 0.3, "epochs": 3}))
    races = final.numbers["races"]
    assert races["bad init"]["seeds"] == races["high lr"]["seeds"] == [0, 1, 2]
    verdicts = {v.label: v for v in final.verdicts}
    for name, label in (("bad init", "BN is robust to a bad init"), ("high lr", "BN allows a higher learning rate")):
        r, v = races[name], verdicts[label]
        assert v.passed is r["decided"]
        assert v.passed is (True if all(w is True for w in r["bn_wins"]) else
                            False if all(w is False for w in r["bn_wins"]) else None)
        for seed, steps in zip(r["seeds"], r["bn_steps"]):
            assert (f"seed {seed}: no BN" in v.text) and (steps is None or f"with BN {steps} steps" in v.text)
    points = final.figures["steps_to_target"].data[-1]
    expected = [(s if s is not None else final.numbers["cnn_settings"]["total_steps"], n)
                for n, r in (("no BN, normal_0.01, lr 0.05", races["bad init"]["no_bn_steps"]),
                             ("BN before act, normal_0.01, lr 0.05", races["bad init"]["bn_steps"]),
                             ("no BN, kaiming, lr 0.5", races["high lr"]["no_bn_steps"]),
                             ("BN before act, kaiming, lr 0.5", races["high lr"]["bn_steps"])) for s in r[1:]]
    assert sorted(zip(points.x, points.y)) == sorted(expected)


def test_a_different_seed_changes_the_draws():
    a = merge_frames(run_lesson("batchnorm", {"parts": ["modes"], "stat_steps": 5, "seed": 1})).numbers
    b = merge_frames(run_lesson("batchnorm", {"parts": ["modes"], "stat_steps": 5, "seed": 2})).numbers
    assert a["running_stats"]["running_mean"] != b["running_stats"]["running_mean"]


def test_parts_run_alone():
    final = merge_frames(run_lesson("batchnorm", {"parts": ["folding"], "depth": 2, "width": 4, "fold_batch": 16,
                                                  "fold_repeats": 3}))
    assert set(final.figures) == {"folding"} and set(final.numbers) == {"folding"}
    placement = validate_config(BatchNormConfig, {"parts": ["placement"], "norm_position": "after_act"})
    assert [(v.norm, v.norm_position) for v in placement.variants()] == [
        ("none", "before_act"), ("batch", "after_act"), ("batch", "before_act")]


def test_a_race_cut_short_by_a_stop_decides_nothing():
    control = RunControl()
    seen = []
    for frame in run_lesson("batchnorm", {**QUICK, "parts": ["robustness"], "epochs": 10}, control=control):
        seen.append(frame)
        if frame.message.startswith("training ") and " CNNs on " in frame.message:  # the race's own frames,
            control.cancel()  # not the part's name on a heartbeat before them ("training (part 1 of 1)")
    assert seen[-1].done and seen[-1].message.startswith("stopped by the user after")
    verdicts = {v.label: v.passed for v in seen[-1].verdicts}
    assert verdicts == {"BN is robust to a bad init": None, "BN allows a higher learning rate": None}


# ---- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [
    ({"high_lr": 0.01}, "high_lr (0.01) must be larger than lr (0.05)"),
    ({"lr": 1.0, "high_lr": 1.0}, "high_lr (1) must be larger than lr (1)"),
    ({"bad_init": "kaiming"}, "bad_init (kaiming) is the good init for relu, the reference"),
    ({"bad_init": "xavier", "activation": "tanh"}, "bad_init (xavier) is the good init for tanh"),
    # both print as "lr 0.1": the high-rate nets' numbers overwrote the reference nets' under the same name
    ({"lr": 0.1, "high_lr": 0.1000001}, "high_lr (0.1000001) must differ from lr (0.1) in its first 6 digits"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(BatchNormConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cross_checks_apply_only_when_the_robustness_part_runs():
    cfg = validate_config(BatchNormConfig, {"parts": ["folding"], "high_lr": 0.01, "bad_init": "kaiming"})
    assert cfg.high_lr == 0.01 and cfg.bad_init == "kaiming"
    every_part = {"parts": list(PART_NAMES), "bad_init": "xavier"}
    assert len(validate_config(BatchNormConfig, every_part).variants()) == 7  # not ReLU's good init


def test_variants_follow_the_parts_without_repeats():
    cfg = validate_config(BatchNormConfig, {"parts": list(PART_NAMES), "activation": "tanh"})
    names = [v.name for v in cfg.variants()]
    assert len(names) == len(set(names)) == 7 and cfg.good_init == "xavier"
    assert validate_config(BatchNormConfig, {"parts": ["modes", "folding"]}).variants() == []


def test_cost_grows_with_the_job_and_counts_what_flops_miss():
    assert 0 < BatchNormConfig(epochs=1).cost_seconds() < BatchNormConfig(epochs=10).cost_seconds()
    assert BatchNormConfig(parts=["modes"]).cost_seconds() < 1
    # tiny nets on tiny batches: the per-step overhead counts, not only the flops (once a step for each
    # stack of nets of one architecture and learning rate: 5 at the first seed, with placement)
    every_part = BatchNormConfig(parts=list(PART_NAMES), depth=1, width=4, batch_size=4, epochs=6)
    assert every_part.cost_seconds() > 5 * 360 * 6 * 0.004
    # the single BN layer on the shapes, 2000 steps of 512 x 16 maps of 32 x 32: ~40 ms a step measured
    # (over a minute in all), once estimated at 17 s and accepted
    with pytest.raises(ConfigError, match="too big: estimated"):
        validate_config(BatchNormConfig, {"parts": ["modes"], "dataset": "shapes", "stat_steps": 2000,
                                          "batch_size": 512, "stat_channels": 16})


def test_a_target_met_before_any_step_neither_crashes_nor_passes():
    from cnnbp.lessons.batchnorm.training import Race

    total = BatchNormConfig().total_steps
    plain = History(variant=Variant("s", "none", "kaiming", 0.05), eval_steps=[0, 5], test_accuracy=[0.1, 0.3],
                    steps=[total])
    bn = History(variant=Variant("s", "batch", "kaiming", 0.05), eval_steps=[0, 5], test_accuracy=[0.12, 0.5],
                 steps=[total])
    race = Race(plain, bn, 0.01, total)  # a target below the untrained nets' ~10%
    assert race.bn_wins is False  # was a ZeroDivisionError (0 / 0 steps)
    assert "no BN 0 steps, with BN 0 steps" in race_words(race) and "too low" in race_words(race)
    late_plain = History(variant=plain.variant, eval_steps=[0, 5], test_accuracy=[0.0, 0.3], steps=[total])
    assert Race(late_plain, bn, 0.01, total).bn_wins is True  # BN there at once, the plain net after 5 steps


def test_the_bug_verdict_does_not_call_train_mode_wrong_when_it_was_not():
    cfg = validate_config(BatchNormConfig, {"parts": ["folding"]})
    pair = [History(variant=Variant("s", norm, "kaiming", cfg.lr), eval_steps=[0], test_accuracy=[0.1])
            for norm in ("none", "batch")]
    rows = [{"evaluation": e, "mode": m, "accuracy": a} for e, m, a in (
        ("eval mode (running statistics)", "eval", 0.103), ("train mode, batches of 1", "train", 0.117),
        ("train mode, one class per batch", "train", 0.114), ("eval after", "eval", 0.175))]  # lr 2: all broken
    v = training_verdicts(pair, {}, TrainModeBug("m", rows, 0.1), cfg)[-1]
    assert v.passed is False and "wrong on small" not in v.text and "no train-mode evaluation falls 10 points" in v.text
    rows[2]["accuracy"] = 0.0
    v = training_verdicts(pair, {}, TrainModeBug("m", rows, 0.1), cfg)[-1]
    assert v.passed is True and "wrong on small or one-class batches (worst: train mode, one class" in v.text


# ---- claims ---------------------------------------------------------------------------------


@pytest.mark.parametrize("claim_id", ["batchnorm.train_eval_differ_eval_is_formula", "batchnorm.robust_to_bad_init"])
def test_each_claim_holds_and_reports_its_figure(claim_id):
    result = run_claim(claim_id)
    assert result.passed is True, result.measured
    assert any(ch.isdigit() for ch in result.measured)


def test_folding_claim_equality_holds_and_its_timing_is_reported():
    cfg = BatchNormConfig()  # the claim's measurement: a test asserts the equality, never the speed
    f = measure_folding(get_dataset(cfg.dataset, seed=0), depth=cfg.depth, width=cfg.width, activation=cfg.activation,
                        batch=cfg.fold_batch, repeats=cfg.fold_repeats, seed=0, device=pick_device(), threads=1)
    assert f.max_abs_diff <= 1e-5 and f.max_abs_diff_ours_vs_torch <= 1e-5 and f.argmax_agree == 1.0
    result = run_claim("batchnorm.folding_preserves_outputs_and_is_faster")
    assert result.passed is not False or "SLOWER" in result.measured  # fails only on a measured slowdown
    assert "unfolded / folded time per repeat: median" in result.measured
