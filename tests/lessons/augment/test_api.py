"""The /augment endpoint through gradio_client: named after the lesson, its parameters the
Config's fields, the quick run's numbers, bad input refused in one line."""

import pytest

from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.augment.config import AugmentConfig
from cnnbp.lessons.base import merge_frames
from cnnbp.ui.widgets import field_order

QUICK = dict(get_lesson("augment").quick)


def args(**overrides):
    values = {name: info.default for name, info in AugmentConfig.model_fields.items()}
    values.update(QUICK, **overrides)
    return [values[name] for name in field_order(AugmentConfig)]


def test_the_endpoint_runs_the_lesson_and_returns_its_numbers(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert [p["parameter_name"] for p in api["/augment"]["parameters"]] == field_order(AugmentConfig)
    outputs = client.predict(*args(parts=["training", "ensemble"]), api_name="/augment")
    expected = merge_frames(run_lesson("augment", {**QUICK, "parts": ["training", "ensemble"]})).numbers
    assert "done in" in outputs[0]
    numbers = outputs[-1]
    assert numbers["ensemble"]["augmented"]["accuracy"] == pytest.approx(expected["ensemble"]["augmented"]["accuracy"])


def test_bad_input_is_one_line_and_the_server_keeps_serving(client):
    with pytest.raises(Exception) as err:
        client.predict(*args(parts=["tta"]), api_name="/augment")
    assert "add training" in str(err.value) and "Traceback" not in str(err.value)
    assert "done in" in client.predict(*args(parts=["gallery"]), api_name="/augment")[0]
