"""Image uploads through the running app (gradio_client, real files): a PNG reaches the lesson as
an image, broken or foreign files get one line naming the field, paths outside Gradio's upload
folder are never read, and the tab shows an upload box for the field."""

from __future__ import annotations

import json

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import validate_config
from cnnbp.ui.runner import uploaded_path
from cnnbp.ui.widgets import build_widgets, field_order, upload_fields

LESSON = LESSONS["visualise"]
# the cheapest run that looks at the image: one epoch, feature maps only
SMALL = {**LESSON.quick, "epochs": 1, "parts": ["activations"], "seed": 2024}


def call(client, **overrides):
    values = {**validate_config(LESSON.config, SMALL).model_dump(), **overrides}
    return client.predict(*[values[n] for n in field_order(LESSON.config)], api_name="/visualise")


def test_the_image_field_is_an_upload_box():
    assert upload_fields(LESSON.config) == {"image", "model_file"}
    with gr.Blocks():
        widgets = build_widgets(LESSON.config, prefix="t")
    assert isinstance(widgets["image"], gr.Image) and widgets["image"].type == "filepath"
    assert isinstance(widgets["window"], gr.Slider)  # the other fields are unchanged


def test_uploaded_path_takes_the_path_of_file_data_only():
    assert uploaded_path({"path": "/tmp/gradio/x/a.png", "meta": {"_type": "gradio.FileData"}}) == "/tmp/gradio/x/a.png"
    assert uploaded_path(None) is None
    assert uploaded_path(12) == 12 and uploaded_path({"url": "x"}) == {"url": "x"}


def test_a_png_upload_is_decoded_and_used(client, tmp_path):
    path = tmp_path / "stroke.png"
    img = np.zeros((32, 32), dtype=np.uint8)
    img[4:28, 14:18] = 255  # a bright vertical bar: a "1"
    Image.fromarray(img).save(path)
    out = call(client, image=handle_file(str(path)))
    assert "done in" in out[0]
    numbers = out[-1]
    assert numbers["feature_maps"]["image"] == "your upload"
    assert len(numbers["feature_maps"]["layers"]) == 4


@pytest.mark.parametrize("content, fragment", [
    (b"\x89PNG\r\n\x1a\nthis is not really a png", "image:"),
    (b"just some text", "not a readable PNG or JPEG"),
])
def test_a_broken_file_gets_one_line_naming_the_field(client, tmp_path, content, fragment):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(Exception) as err:
        call(client, image=handle_file(str(path)))
    message = str(err.value)
    assert message.startswith("image: ") and fragment in message, message
    assert "Traceback" not in message
    assert "done in" in call(client)[0]  # and the server keeps serving


def test_a_path_outside_the_upload_folder_is_never_read(server_url):
    values = validate_config(LESSON.config, SMALL).model_dump()
    values["image"] = {"path": "/work/main/app.py", "meta": {"_type": "gradio.FileData"}}
    body = json.dumps({"data": [values[n] for n in field_order(LESSON.config)]})
    posted = httpx.post(f"{server_url}gradio_api/call/visualise", content=body,
                        headers={"Content-Type": "application/json"}, timeout=30)
    if posted.status_code == 200:
        stream = httpx.get(f"{server_url}gradio_api/call/visualise/{posted.json()['event_id']}", timeout=120).text
        assert "event: error" in stream and "done in" not in stream, stream[:300]
        assert "demo = build_demo()" not in stream
    else:
        assert posted.status_code in (400, 403, 422)
