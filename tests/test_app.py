"""The app driven through gradio_client against the launched demo: numbers, errors, stop."""

import time

import pytest

from cnnbp.lessons import run_lesson
from cnnbp.lessons.base import merge_frames
from cnnbp.lessons.init.config import InitConfig
from cnnbp.ui.widgets import field_order

QUICK = {"parts": ["classic", "cnn"], "activations": ["tanh", "relu"], "inits": ["xavier", "kaiming"],
         "width": 256, "depth": 3, "epochs": 1, "cnn_width": 8, "symmetry_steps": 5}


def args(**overrides):
    """Positional API arguments in the Config's field order (the endpoint's parameter order)."""
    values = {name: info.default for name, info in InitConfig.model_fields.items()}
    values.update(QUICK)
    values.update(overrides)
    return [values[name] for name in field_order(InitConfig)]


def test_endpoints_are_named_after_the_lessons(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/init", "/init_stop", "/claims"} <= set(api)
    names = [p["parameter_name"] for p in api["/init"]["parameters"]]
    assert names == field_order(InitConfig) and sorted(names) == sorted(InitConfig.model_fields)


def test_init_endpoint_returns_the_measured_numbers(client):
    outputs = client.predict(*args(), api_name="/init")
    numbers = outputs[-1]
    expected = merge_frames(run_lesson("init", QUICK)).numbers
    for act in ("tanh", "relu"):
        for init in ("xavier", "kaiming"):
            assert numbers["classic"][act][init]["std"] == pytest.approx(expected["classic"][act][init]["std"])
    assert numbers["cnn"]["kaiming / relu"]["test_accuracy"] == pytest.approx(
        expected["cnn"]["kaiming / relu"]["test_accuracy"])
    status, verdicts = outputs[0], outputs[1]
    assert "done in" in status
    assert "relu + Kaiming" in verdicts and "keep their scale" in verdicts


@pytest.mark.parametrize("overrides, fragment", [
    ({"width": -1}, "width"),
    ({"lr": 1e9}, "lr"),
    ({"epochs": 10**6}, "epochs"),
    ({"width": 8192, "depth": 12, "epochs": 30, "cnn_width": 64, "inits": ["orthogonal", "lsuv", "xavier"],
      "activations": ["maxout", "tanh", "relu"]}, "too big"),
])
def test_bad_input_gets_a_clear_message_and_the_server_keeps_serving(client, overrides, fragment):
    with pytest.raises(Exception) as err:
        client.predict(*args(**overrides), api_name="/init")
    assert fragment in str(err.value)
    assert "Traceback" not in str(err.value)
    outputs = client.predict(*args(parts=["classic"]), api_name="/init")
    assert "done in" in outputs[0]


def test_stop_cancels_a_running_lesson(client):
    settings = args(parts=["cnn"], epochs=10, cnn_width=16)
    job = client.submit(*settings, api_name="/init")
    deadline = time.monotonic() + 60
    while len(job.outputs()) < 2 and not job.done() and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until training frames stream in
    assert not job.done(), f"the run ended before Stop: {job.outputs()[-1:]}"
    started = time.monotonic()
    assert "stopping" in client.predict(api_name="/init_stop")
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.done() and time.monotonic() - started < 10  # 10 epochs would take far longer
    assert "stopped by the user" in job.outputs()[-1][0]
