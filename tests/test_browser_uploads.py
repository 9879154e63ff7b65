"""The class's own data in a real browser: upload a zip of three classes in the Norm layers tab,
train on it there and in the Imbalance tab (where the upload is already in the dropdown, and its
default rare class 8 becomes the set's last class), and download both tabs' trained models.
Screenshots go where tests/test_browser.py puts its own."""

from __future__ import annotations

import io
import zipfile

import httpx

from cnnbp.nn.checkpoints import LoadedModel, load_checkpoint
from tests import pets, test_browser
from tests.browser import wait_for_figures
from tests.test_browser import SHOTS, open_tab

page = test_browser.page  # the same headless Chromium fixture
pets_zip = pets.pets_zip  # the one zip every upload test uses


def run_and_wait(page, lesson: str) -> None:
    page.locator(f"#{lesson}-run").click()
    page.locator(f"#{lesson}-status").get_by_text("done in").wait_for(timeout=240_000)
    wait_for_figures(page)


def download_models(page, lesson: str, server_url: str) -> dict[str, bytes]:
    """The tab's "Download the trained models": the zip of checkpoints, as {file name: bytes}."""
    page.locator(f"#{lesson}-models-download").get_by_text("Download the trained models").click()
    page.locator(f"#{lesson}-models").click()
    link = page.locator(f"#{lesson}-models-file a").first
    link.wait_for(timeout=60_000)
    archive = httpx.get(httpx.URL(server_url).join(link.get_attribute("href"))).content
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: z.read(name) for name in sorted(z.namelist())}


def first_model(files: dict[str, bytes]) -> LoadedModel:
    return load_checkpoint(next(iter(files.values())))


def test_upload_train_in_two_tabs_and_download(page, pets_zip, server_url):
    page.set_viewport_size({"width": 1024, "height": 768})  # the projector
    open_tab(page, "Norm layers")
    page.locator("#norms-quick").click()
    page.locator("#norms-own-data").get_by_text("Your own data (zip)").click()
    page.locator("#norms-data-zip input[type=file]").set_input_files(str(pets_zip))
    note = page.locator("#norms-data-note")
    note.get_by_text("pets (your upload)").wait_for(timeout=60_000)
    assert "300 images in 3 classes (cat 100, dog 100, fox 100); 300 resized to 32x32" in note.inner_text()
    assert page.locator("#norms-dataset input").input_value() == "pets (your upload)"
    page.screenshot(path=str(SHOTS / "uploads-norms-1024x768.png"))
    run_and_wait(page, "norms")
    assert page.locator("#norms-verdicts .v-word").count() > 0

    # the models the run trained, as a zip of checkpoints of the uploaded classes
    loaded = first_model(download_models(page, "norms", server_url))
    assert loaded.classes == ("cat", "dog", "fox") and loaded.trained_on.startswith("pets, ")

    # the same upload is offered in the Imbalance tab (one upload per session serves every tab)
    open_tab(page, "Imbalance")
    page.locator("#imbalance-quick").click()  # quick settings put the dataset back to the digits
    page.locator("#imbalance-dataset input").click()  # opening it offers this session's upload
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    # the default rare class 8 is past the upload's classes 0..2: its last class, fox, is the rare one (the
    # status line says so while it trains)
    run_and_wait(page, "imbalance")
    text = page.locator("#imbalance-verdicts").text_content()  # the texts folded under the headlines
    assert "fox" in text, text
    page.screenshot(path=str(SHOTS / "uploads-imbalance-1024x768.png"), full_page=True)
    files = download_models(page, "imbalance", server_url)
    assert "none_seed_0.pt" in files  # one checkpoint per method
    loaded = first_model(files)  # binary: the rare class against the rest
    assert loaded.classes == ("not fox", "fox") and loaded.trained_on.startswith("your upload 'pets', binary")
