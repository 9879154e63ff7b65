"""Every kind of bad input gets one clear line (ConfigError, a ValueError) and nothing runs."""

import math

import pytest

from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import ConfigError, validate_config
from cnnbp.lessons.init.config import InitConfig


def test_defaults_are_the_lecture_setting():
    cfg = validate_config(InitConfig)
    assert (cfg.width, cfg.depth, cfg.batch_size) == (4096, 6, 16)
    assert cfg.inits == ["normal_0.01", "normal_0.05", "xavier", "kaiming"]


@pytest.mark.parametrize("values, fragment", [
    ({"width": 100_000}, "width: Input should be less than or equal to 8192"),
    ({"width": 0}, "width: Input should be greater than or equal to 16"),
    ({"depth": -3}, "depth"),
    ({"lr": math.nan}, "lr"),
    ({"lr": math.inf}, "lr"),
    ({"lr": 0}, "lr: Input should be greater than 0"),
    ({"width": "wide"}, "width: Input should be a valid integer"),
    ({"width": 4096.5}, "width"),
    ({"inits": ["xavier", "bogus"]}, "unknown init 'bogus'; choose from zeros, constant"),
    ({"activations": ["swishy"]}, "unknown activation 'swishy'"),
    ({"inits": []}, "inits: List should have at least 1 item"),
    ({"inits": ["xavier", "xavier"]}, "duplicates"),
    ({"parts": ["everything"]}, "parts"),
    ({"dataset": "imagenet"}, "dataset"),
    ({"colour": "red"}, "colour: unknown setting"),
    ({"seed": -1}, "seed"),
    ({"epochs": 10**9}, "epochs"),
])
def test_bad_values_get_one_clear_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(InitConfig, values)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_cli_strings_are_parsed():
    cfg = validate_config(InitConfig, {"activation": "relu", "inits": "xavier,kaiming", "width": "1024",
                                       "lr": "0.1", "parts": "classic"})
    assert cfg.activations == ["relu"] and cfg.inits == ["xavier", "kaiming"]
    assert cfg.width == 1024 and cfg.lr == 0.1 and cfg.parts == ["classic"]


def test_over_budget_job_is_refused_before_it_runs(monkeypatch):
    big = {"width": 8192, "depth": 12, "inits": ["orthogonal", "lsuv", "xavier", "kaiming"],
           "activations": ["maxout", "tanh", "relu"], "epochs": 30, "cnn_width": 64}
    with pytest.raises(ConfigError, match="too big: estimated"):
        validate_config(InitConfig, big)
    monkeypatch.setenv("CNNBP_MAX_COST_S", "0.001")
    with pytest.raises(ConfigError, match="too big"):
        validate_config(InitConfig, {"parts": ["classic"]})


def test_run_lesson_validates_before_running():
    with pytest.raises(ConfigError):
        run_lesson("init", {"width": -1})  # raises at call time, not on the first next()


def test_unknown_lesson():
    with pytest.raises(ValueError, match="unknown lesson .nope.; choose from activations, preprocessing, init"):
        get_lesson("nope")


def test_cost_grows_with_the_job():
    small = InitConfig(width=512, epochs=1)
    assert 0 < small.cost_seconds() < InitConfig(width=4096, epochs=10).cost_seconds()


def test_register_accepts_the_same_lesson_again_and_refuses_another_of_that_name(monkeypatch):
    import dataclasses

    from cnnbp.lessons import base

    monkeypatch.setattr(base, "LESSONS", {})
    lesson = base.Lesson(name="t", title="T", summary="", config=base.LessonConfig, parts=(),
                         figures=())
    assert base.register(lesson) is lesson
    base.register(dataclasses.replace(lesson))  # the package's __init__ executed once more
    with pytest.raises(ValueError, match="registered twice"):
        base.register(dataclasses.replace(lesson, title="Another"))


def test_a_cross_field_error_is_one_line_without_the_whole_settings_dict():
    with pytest.raises(ConfigError) as err:
        validate_config(get_lesson("transfer").config, {"freeze_stages": 7})  # checked against the source
    message = str(err.value)
    assert "freeze_stages (7)" in message and "{" not in message and "\n" not in message
