"""The class's own data in a real browser: upload a zip of three classes in the Norm layers tab,
train on it there and in the Imbalance tab (where the upload is already in the dropdown), and
download the trained models. Screenshots go where tests/test_browser.py puts its own."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from cnnbp.nn.checkpoints import load_checkpoint
from tests import test_browser
from tests.data.test_hostile_uploads import class_folders, make_zip
from tests.test_browser import SHOTS, open_tab, set_number

page = test_browser.page  # the same headless Chromium fixture

# 60 a class: 144 training images at the 80/20 split, over the norms quick run's 128-image sweep
COUNTS = {"cat": 60, "dog": 60, "fox": 60}


@pytest.fixture(scope="module")
def pets_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "pets.zip"
    path.write_bytes(make_zip(class_folders(COUNTS, size=(24, 24))))
    return path


def run_and_wait(page, lesson: str) -> None:
    page.locator(f"#{lesson}-run").click()
    page.locator(f"#{lesson}-status").get_by_text("done in").wait_for(timeout=240_000)


def test_upload_train_in_two_tabs_and_download(page, pets_zip, server_url):
    page.set_viewport_size({"width": 1024, "height": 768})  # the projector
    open_tab(page, "Norm layers")
    page.locator("#norms-quick").click()
    page.locator("#norms-own-data").get_by_text("Your own data (zip)").click()
    page.locator("#norms-data-zip input[type=file]").set_input_files(str(pets_zip))
    note = page.locator("#norms-data-note")
    note.get_by_text("pets (your upload)").wait_for(timeout=60_000)
    assert "180 images in 3 classes (cat 60, dog 60, fox 60); 180 resized to 32x32" in note.inner_text()
    assert page.locator("#norms-dataset input").input_value() == "pets (your upload)"
    page.screenshot(path=str(SHOTS / "uploads-norms-1024x768.png"))
    run_and_wait(page, "norms")
    assert page.locator("#norms-verdicts .v-word").count() > 0

    # the models the run trained, as a zip of checkpoints of the uploaded classes
    page.locator("#norms-models-download").get_by_text("Download the trained models").click()
    page.locator("#norms-models").click()
    link = page.locator("#norms-models-file a").first
    link.wait_for(timeout=60_000)
    archive = httpx.get(httpx.URL(server_url).join(link.get_attribute("href"))).content
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        loaded = load_checkpoint(z.read(sorted(z.namelist())[0]))
    assert loaded.classes == ("cat", "dog", "fox") and loaded.trained_on.startswith("pets, ")

    # the same upload is offered in the Imbalance tab (one upload per session serves every tab)
    open_tab(page, "Imbalance")
    page.locator("#imbalance-quick").click()  # quick settings put the dataset back to the digits
    page.locator("#imbalance-dataset input").click()  # opening it offers this session's upload
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    set_number(page, "imbalance", "rare_class", 2)  # fox: the upload's classes are 0..2
    run_and_wait(page, "imbalance")
    text = page.locator("#imbalance-verdicts").inner_text()
    assert "fox" in text, text
    page.screenshot(path=str(SHOTS / "uploads-imbalance-1024x768.png"), full_page=True)
