"""The preprocessing lesson end to end on quick settings: figures that show the numbers, verdicts
that quote them, determinism, a stop before the sensitivity, its own settings' messages, the claims."""

import math

import numpy as np
import pytest

import cnnbp.lessons.preprocessing  # noqa: F401  (registers "preprocessing" and its claims)
from cnnbp.claims import run_claim
from cnnbp.lessons.base import ConfigError, get_lesson, merge_frames, run_lesson, validate_config
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.figures import display_uint8
from cnnbp.lessons.preprocessing.transforms import IMAGE_LABELS, VECTOR_LABELS
from cnnbp.lessons.preprocessing.verdicts import num
from cnnbp.plots.common import unwrap
from cnnbp.train import RunControl

QUICK = dict(get_lesson("preprocessing").quick)

LESSON = get_lesson("preprocessing")  # the shared fixtures read its quick run


def test_the_stream_shows_training_as_it_happens(frames):
    assert any(f.message.startswith("training on raw") for f in frames)  # curves streamed while training


def test_cloud_figure_shows_the_points_with_equal_axes(final):
    cloud = final.numbers["cloud"]
    fig = final.figures["cloud"]
    assert [unwrap(a.text) for a in fig.layout.annotations] == list(VECTOR_LABELS.values())  # panel titles
    for i, (name, trace) in enumerate(zip(cloud, fig.data)):
        points = np.array(cloud[name]["points"])
        np.testing.assert_allclose(trace.x, points[:, 0])
        np.testing.assert_allclose(trace.y, points[:, 1])
        y_axis = fig.layout[f"yaxis{i + 1 if i else ''}"]
        x_axis = fig.layout[f"xaxis{i + 1 if i else ''}"]
        assert y_axis.scaleanchor == f"x{i + 1 if i else ''}" and y_axis.scaleratio == 1
        assert x_axis.range[0] <= 0 <= x_axis.range[1] and y_axis.range[0] <= 0 <= y_axis.range[1]
    np.testing.assert_allclose(cloud["whitened"]["cov"], np.eye(2), atol=1e-9)
    table = final.tables["cloud"].set_index("preprocessing")
    assert table.loc["standardized", "std x"] == pytest.approx(1.0)
    assert table.loc["original", "correlation"] == pytest.approx(cloud["original"]["correlation"])


def test_image_figures_show_the_numbers(final):
    images = final.numbers["images"]
    cov = final.figures["pixel_covariance"]
    for trace, name in zip(cov.data, images["covariance"]):
        np.testing.assert_allclose(np.array(trace.z), images["covariance"][name])
    np.testing.assert_allclose(images["covariance"]["whitened"], np.eye(len(images["covariance"]["whitened"])),
                               atol=1e-8)
    pairs = final.figures["pixel_pairs"]
    test_points = np.array(images["pixel_pairs"]["centered"]["test"])
    test_trace = [t for t in pairs.data if t.name == "test" and t.xaxis == "x2"][0]
    np.testing.assert_allclose(test_trace.x, test_points[:, 0])
    stats = final.figures["image_stats"]
    bar = [t for t in stats.data if t.name == f"{IMAGE_LABELS['channel_std']} (test)" and t.xaxis == "x2"][0]
    assert list(bar.y) == pytest.approx(images["after"]["channel_std"]["test"]["mean"])
    examples = final.figures["image_examples"]
    shown = [t for t in examples.data if t.name.startswith(IMAGE_LABELS["mean_image"] + " |")]
    z, _, _ = display_uint8(np.array(images["examples"]["mean_image"]))
    np.testing.assert_array_equal(np.array(shown[0].z), z[0])


def test_channel_statistics_are_fitted_on_train_and_applied_to_test(final):
    from cnnbp.data import get_dataset

    images = final.numbers["images"]
    data = get_dataset(images["dataset"], seed=0)
    raw_train = data.x_train.double() * 255.0
    raw_test = data.x_test.double() * 255.0
    mean, std = raw_train.mean((0, 2, 3)), raw_train.std((0, 2, 3), correction=0)
    assert images["channel_mean"] == pytest.approx(mean.tolist())
    assert images["channel_std"] == pytest.approx(std.tolist())
    standardised = (raw_test - mean[:, None, None]) / std[:, None, None]
    after = images["after"]["channel_std"]
    assert after["test"]["mean"] == pytest.approx(standardised.mean((0, 2, 3)).tolist(), abs=1e-6)
    assert after["train"]["std"] == pytest.approx([1.0, 1.0, 1.0])
    table = final.tables["channels"]
    row = table[(table.preprocessing == "channel_std") & (table.split == "test") & (table.channel == "G")].iloc[0]
    assert row["std"] == pytest.approx(after["test"]["std"][1])


def test_training_figure_shows_the_curves(final):
    training = final.numbers["training"]
    fig = final.figures["training"]
    run = training["runs"]["raw, run 1"]
    trace = [t for t in fig.data if t.name == f"{IMAGE_LABELS['raw']}, run 1" and t.xaxis == "x"][0]
    assert list(trace.x) == run["eval_steps"] and list(trace.y) == pytest.approx(run["train_loss"])
    assert fig.layout.yaxis.type == "log"
    assert training["target_loss"] == pytest.approx(0.2 * math.log(10))


def test_sensitivity_figure_and_one_function(final):
    sens = final.numbers["sensitivity"]
    losses = [v["loss"] for v in sens["inputs"].values()]
    assert max(losses) - min(losses) < 1e-9 * max(losses)  # the same classifier in every parametrisation
    fig = final.figures["sensitivity"]
    raw = sens["inputs"]["raw"]
    curve = [t for t in fig.data if t.name == IMAGE_LABELS["raw"] and t.xaxis == "x2"][0]
    assert list(curve.x) == raw["sizes"] and list(curve.y) == pytest.approx(raw["relative_change"])
    # the curve is the first run's classifier; the verdict's number pools every run's
    assert raw["per_run"][0][0] == raw["relative_change"][raw["sizes"].index(0.01)]
    assert len(raw["per_run"]) == sens["runs"] == QUICK["runs"]
    assert raw["at_perturbation"] == pytest.approx(sum(m for m, _ in raw["per_run"]) / sens["runs"])
    pooled = [t for t in fig.data if t.name == f"{IMAGE_LABELS['raw']}, all runs"][0]
    assert list(pooled.x) == [0.01] and list(pooled.y) == pytest.approx([raw["at_perturbation"]])
    assert list(pooled.error_y.array) == pytest.approx([2 * raw["at_perturbation_se"]])
    ratio = raw["at_perturbation"] / sens["inputs"]["channel_std"]["at_perturbation"]
    lo, hi = sens["raw_ratio_interval"]
    assert sens["raw_ratio"] == pytest.approx(ratio) and lo < ratio < hi


def test_verdicts_quote_the_numbers_and_quick_settings_cannot_tell(final):
    texts = {v.label: v for v in final.verdicts}
    cloud = final.numbers["cloud"]["original"]
    assert f"correlation {cloud['correlation']:.3f}" in texts["point cloud"].text
    images = final.numbers["images"]
    assert num(images["channel_mean"][0], ".4g") in texts["image statistics"].text
    fast = texts["standardised inputs train faster"]
    runs = final.numbers["training"]["runs"]
    assert f"loss target at step {runs['channel_std, run 1']['steps_to_target_loss']}" in fast.text
    # the quick settings train 2 runs per input: too few for a comparison to pass or fail
    assert fast.passed is None and "2 run(s) per input: too few to tell" in fast.text
    assert final.numbers["training"]["faster"]["holds"] is None
    sens = texts["loss more sensitive before normalisation"]
    assert f"{final.numbers['sensitivity']['raw_ratio']:.2g}x" in sens.text
    assert sens.passed is None and "2 run(s): too few to tell" in sens.text


def test_seed_changes_the_numbers(final):
    other = merge_frames(run_lesson("preprocessing", {**QUICK, "parts": ["cloud"], "seed": 1})).numbers
    assert other["cloud"]["original"]["points"] != final.numbers["cloud"]["original"]["points"]


def test_parts_run_alone():
    frames = list(run_lesson("preprocessing", {"parts": ["cloud"], "cloud_points": 50}))
    final = merge_frames(frames)
    assert set(final.figures) == {"cloud"} and final.done
    assert len(final.numbers["cloud"]["original"]["points"]) == 50


def test_without_raw_and_standardised_the_training_verdict_is_an_observation():
    final = merge_frames(run_lesson("preprocessing", {**QUICK, "parts": ["training"], "runs": 1,
                                                      "transforms": ["mean_image", "channel_mean"]}))
    assert all(v.passed is None for v in final.verdicts)
    assert set(final.numbers["sensitivity"]["inputs"]) == {"mean_image", "channel_mean"}


def test_a_stop_during_training_skips_the_sensitivity():
    control = RunControl()
    seen = []
    for frame in run_lesson("preprocessing", {**QUICK, "parts": ["training"], "epochs": 10}, control=control):
        seen.append(frame)
        if frame.message.startswith("training on raw"):
            control.cancel()
    assert seen[-1].done and seen[-1].message.startswith("stopped by the user after")
    assert seen[-1].progress < 1.0
    assert "sensitivity" not in seen[-1].numbers


def test_mlp_runs():
    final = merge_frames(run_lesson("preprocessing", {**QUICK, "parts": ["training"], "model": "mlp", "hidden": 16,
                                                      "runs": 1, "transforms": ["raw", "channel_std"]}))
    assert final.done and set(final.numbers["sensitivity"]["inputs"]) == {"raw", "channel_std"}


# ---- settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fragment", [  # beyond the protocol's bad values for every field
    ({"transforms": ["raw", "zca"]}, "unknown transform 'zca'; choose from raw, mean_image"),
    ({"transforms": []}, "transforms: List should have at least 1 item"),
    ({"transforms": ["raw", "raw"]}, "duplicates"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(PreprocessingConfig, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cli_strings_are_parsed():
    cfg = validate_config(PreprocessingConfig, {"transforms": "raw,channel_std", "correlation": "-0.5",
                                                "parts": "cloud,training"})
    assert cfg.transforms == ["raw", "channel_std"] and cfg.correlation == -0.5


def test_cost_is_small_by_default_and_grows_with_the_job():
    default = validate_config(PreprocessingConfig).cost_seconds()
    assert 0 < validate_config(PreprocessingConfig, QUICK).cost_seconds() < default < 15
    assert PreprocessingConfig(epochs=30, runs=10).cost_seconds() > default


# ---- claims -----------------------------------------------------------------------------------

def test_standardised_trains_faster_claim():
    result = run_claim("preprocessing.standardised_trains_faster")
    assert result.claim.source == "003" and result.claim.lesson == "preprocessing"
    assert result.passed is True, result.measured
    assert "linear" in result.measured and "mlp" in result.measured and "sooner" in result.measured
    assert run_claim("preprocessing.standardised_trains_faster", seed=1).passed is True


def test_loss_sensitivity_claim():
    result = run_claim("preprocessing.loss_sensitive_before_normalisation")
    assert result.passed is True, result.measured
    far, eight_bit = result.measured.split(" | ")
    assert "far from the origin" in far and "the claim holds" in far
    assert "8-bit pixels" in eight_bit and "the claim does not hold" in eight_bit
