"""Train in one tab, look inside in another, in a real browser: upload a zip of three classes in the
Norm layers tab, train there, download the trained models, then load one in the Visualising tab on
the same upload and see its filters; in the Transfer tab the same file is the source and the upload
the target (and the upload is offered as the ImageNet target). Screenshots go where
tests/test_browser.py puts its own."""

from __future__ import annotations

from urllib.parse import urlencode

from cnnbp.lessons import LESSONS
from cnnbp.nn.checkpoints import load_checkpoint
from cnnbp.ui.lesson_tab import tab_label
from tests import pets, test_browser
from tests.test_browser import SHOTS, open_tab, set_number
from tests.test_browser_uploads import download_models, run_and_wait

page = test_browser.page  # the same headless Chromium fixture
pets_zip = pets.pets_zip  # the one zip every upload test uses

# The Transfer tab's settings, opened from a link before anything else (a link opens a new page: the
# upload that follows belongs to that page's session): the strategies side by side, small and quick.
TRANSFER_LINK = {"lesson": "transfer", "parts": "compare", "strategies": "linear_probe,finetune,scratch",
                 "steps": 20, "images_per_class": 5, "seeds": 1, "stage": 2, "freeze_stages": 1}


def wait_until_uploaded(page, box: str, name: str) -> None:
    """Wait until the file box ``box`` shows ``name`` as uploaded. Its finished row splits the name into
    stem and extension (no text "name.pt" in it) and names it whole only in its aria-label; the text
    "name.pt" is there only while "Uploading 1 file..." shows, which a fast upload skips."""
    page.locator(f'{box} td.filename[aria-label="{name}"]').wait_for(timeout=30_000)


def test_train_norms_on_an_upload_then_look_inside_it_and_transfer_from_it(page, pets_zip, server_url, tmp_path):
    page.goto(f"{server_url}?{urlencode(TRANSFER_LINK)}", wait_until="networkidle")
    page.locator("#transfer-status").get_by_text("Opened from a link").wait_for(timeout=30_000)
    page.set_viewport_size({"width": 1024, "height": 768})  # the projector
    open_tab(page, tab_label(LESSONS["norms"]))
    page.locator("#norms-quick").click()
    page.locator("#norms-own-data").get_by_text("Your own data (zip)").click()
    page.locator("#norms-data-zip input[type=file]").set_input_files(str(pets_zip))
    page.locator("#norms-data-note").get_by_text("pets (your upload)").wait_for(timeout=60_000)
    run_and_wait(page, "norms")

    first, data = next(iter(download_models(page, "norms", server_url).items()))
    model = tmp_path / first
    model.write_bytes(data)
    loaded = load_checkpoint(model)
    assert loaded.classes == ("cat", "dog", "fox")

    open_tab(page, tab_label(LESSONS["visualise"]))
    page.locator("#visualise-quick").click()
    page.locator("#visualise-dataset input").click()  # opening it offers this session's upload
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    set_number(page, "visualise", "embed_points", 50)
    page.locator("#visualise-model_file input[type=file]").set_input_files(str(model))
    wait_until_uploaded(page, "#visualise-model_file", first)
    run_and_wait(page, "visualise")
    verdicts = page.locator("#visualise-verdicts").text_content()  # the texts folded under the headlines
    assert "The model file's conv1 ((8, 3, 3, 3))" in verdicts, verdicts
    assert "your upload 'pets'" in verdicts and "upload-" not in verdicts
    filters = page.locator("#visualise-plot-filters")
    filters.scroll_into_view_if_needed()
    assert filters.locator(".js-plotly-plot").count() == 1
    assert "loaded" in filters.inner_text()  # the panel of the file's filters, beside the Kaiming draw
    page.screenshot(path=str(SHOTS / "own-visualise-model-file-1024x768.png"))

    # the Transfer tab: the downloaded model is the source, the upload the target of its strategies
    open_tab(page, tab_label(LESSONS["transfer"]))
    page.locator("#transfer-target input").click()  # opening it offers this session's upload
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    page.locator("#transfer-model_file input[type=file]").set_input_files(str(model))
    wait_until_uploaded(page, "#transfer-model_file", first)
    run_and_wait(page, "transfer")
    verdicts = page.locator("#transfer-verdicts").text_content()
    assert f"Frozen your model '{first}' features (stage 2)" in verdicts, verdicts
    assert "5 images per class of your upload 'pets'" in verdicts and "upload-" not in verdicts
    page.screenshot(path=str(SHOTS / "own-transfer-model-file-1024x768.png"))
    # and it offers the same upload as the ImageNet part's target
    page.locator("#transfer-imagenet_target input").click()
    page.get_by_role("option", name="pets (your upload)").click(timeout=30_000)
    assert page.locator("#transfer-imagenet_target input").input_value() == "pets (your upload)"
