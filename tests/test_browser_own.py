"""Train in one tab, look inside in another, in a real browser: upload a zip of three classes in the
Norm layers tab, train there, download the trained models, then load one in the Visualising tab on
the same upload and see its filters; the Transfer tab offers the upload as the ImageNet target.
Screenshots go where tests/test_browser.py puts its own."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from cnnbp.lessons import LESSONS
from cnnbp.nn.checkpoints import load_checkpoint
from cnnbp.ui.lesson_tab import tab_label
from tests import test_browser
from tests.data.test_hostile_uploads import class_folders, make_zip
from tests.test_browser import SHOTS, open_tab, set_number
from tests.test_browser_uploads import run_and_wait

page = test_browser.page  # the same headless Chromium fixture

# 100 a class: 80 train / 20 test each; the visualising tab's embeddings then take 50 of the 60 test images
COUNTS = {"cat": 100, "dog": 100, "fox": 100}


@pytest.fixture(scope="module")
def pets_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("own") / "pets.zip"
    path.write_bytes(make_zip(class_folders(COUNTS, size=(24, 24))))
    return path


def test_train_norms_on_an_upload_then_look_inside_it_in_the_visualising_tab(page, pets_zip, server_url, tmp_path):
    page.set_viewport_size({"width": 1024, "height": 768})  # the projector
    open_tab(page, tab_label(LESSONS["norms"]))
    page.locator("#norms-quick").click()
    page.locator("#norms-own-data").get_by_text("Your own data (zip)").click()
    page.locator("#norms-data-zip input[type=file]").set_input_files(str(pets_zip))
    page.locator("#norms-data-note").get_by_text("pets (your upload)").wait_for(timeout=60_000)
    run_and_wait(page, "norms")

    page.locator("#norms-models-download").get_by_text("Download the trained models").click()
    page.locator("#norms-models").click()
    link = page.locator("#norms-models-file a").first
    link.wait_for(timeout=60_000)
    archive = httpx.get(httpx.URL(server_url).join(link.get_attribute("href"))).content
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        first = sorted(z.namelist())[0]
        model = tmp_path / first
        model.write_bytes(z.read(first))
    loaded = load_checkpoint(model)
    assert loaded.classes == ("cat", "dog", "fox")

    open_tab(page, tab_label(LESSONS["visualise"]))
    page.locator("#visualise-quick").click()
    page.locator("#visualise-dataset input").click()  # opening it offers this session's upload
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    set_number(page, "visualise", "embed_points", 50)
    page.locator("#visualise-model_file input[type=file]").set_input_files(str(model))
    page.locator("#visualise-model_file").get_by_text(first).wait_for(timeout=30_000)
    run_and_wait(page, "visualise")
    verdicts = page.locator("#visualise-verdicts").inner_text()
    assert "The model file's conv1 ((8, 3, 3, 3))" in verdicts, verdicts
    assert "your upload 'pets'" in verdicts and "upload-" not in verdicts
    filters = page.locator("#visualise-plot-filters")
    filters.scroll_into_view_if_needed()
    assert filters.locator(".js-plotly-plot").count() == 1
    assert "loaded" in filters.inner_text()  # the panel of the file's filters, beside the Kaiming draw
    page.screenshot(path=str(SHOTS / "own-visualise-model-file-1024x768.png"))

    # the Transfer tab offers the same upload as the ImageNet part's target
    open_tab(page, tab_label(LESSONS["transfer"]))
    page.locator("#transfer-imagenet_target input").click()
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    assert page.locator("#transfer-imagenet_target input").input_value() == "pets (your upload)"
