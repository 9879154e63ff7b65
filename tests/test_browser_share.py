"""Share, playlists, rooms, replays and the take-home export in a real browser (headless Chromium):
open a link, step a playlist, guess with two devices in one room and a third in another, open a
replay and run it live, download the export and run its script."""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, require_browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("CNNBP_SCREENSHOTS", ROOT / "screenshots"))
LECTURE = "003-training-neural-networks-1"


@pytest.fixture(scope="module")
def browser(server_url):
    require_browser()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, server_url):
    """open_page("?query") -> a new page (its own session, like another device) at 1024 x 768."""
    pages = []

    def opener(query: str = ""):
        page = browser.new_page(viewport={"width": 1024, "height": 768}, accept_downloads=True)
        page.goto(server_url + query, wait_until="networkidle", timeout=60_000)
        page.locator("#lecture-panel").wait_for(timeout=60_000)  # the app is drawn (the load event follows)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


def open_share(page, lesson):
    page.locator(f"#{lesson}-share").get_by_text("Share, preset, take-home").click()


def number(page, lesson, field):
    return page.locator(f"#{lesson}-{field} input[type=number]").input_value()


def expect_number(page, lesson, field, value):
    """Wait for a widget's value: a step or a link fills its tab by a second event (the tab's opener)."""
    from playwright.sync_api import expect

    expect(page.locator(f"#{lesson}-{field} input[type=number]")).to_have_value(str(value), timeout=10_000)


def test_a_link_opens_the_tab_on_its_settings(open_page):
    from playwright.sync_api import expect

    page = open_page("?lesson=init&width=512&depth=3&seed=7&inits=xavier,kaiming")
    expect(page.get_by_role("tab", name="Init", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#init-status")).to_contain_text("Opened from a link", timeout=10_000)
    expect_number(page, "init", "width", 512)
    expect_number(page, "init", "depth", 3)
    assert "xavier" in page.locator("#init-inits").inner_text()
    # the tab's own link says the same settings back
    open_share(page, "init")
    page.locator("#init-link-button").click()
    link = page.locator("#init-link textarea")
    expect(link).to_have_value(
        page.url.split("?")[0] + "?lesson=init&seed=7&inits=xavier,kaiming&width=512&depth=3", timeout=10_000)


def test_a_bad_link_is_refused_in_one_line_and_the_tab_keeps_its_defaults(open_page):
    from playwright.sync_api import expect

    page = open_page("?lesson=init&width=-3")
    expect(page.locator("#init-status")).to_contain_text("Link refused: width: Input should be greater than or "
                                                         "equal to 16", timeout=10_000)
    assert number(page, "init", "width") == "4096"


def test_step_a_playlist_with_buttons_and_keys(open_page):
    from playwright.sync_api import expect

    page = open_page(f"?playlist={LECTURE}&step=9")
    step = page.locator("#lecture-step")
    expect(step).to_contain_text("9/14 Small random numbers", timeout=10_000)
    expect_number(page, "init", "width", 512)
    expect_number(page, "init", "depth", 6)
    expect(page.locator("#init-status")).to_contain_text("Step 9: Small random numbers")
    page.screenshot(path=str(SHOTS / "share-playlist-step.png"))
    page.locator("#lecture-next").click()
    expect(step).to_contain_text("10/14 ReLU needs Kaiming")
    page.locator("body").press("PageUp")
    expect(step).to_contain_text("9/14")
    page.locator("#lecture-prev").click()
    expect(step).to_contain_text("8/14 Why normalise?")
    expect(page.get_by_role("tab", name="Preprocessing", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#preprocessing-status")).to_contain_text("Step 8: Why normalise?")
    # Next twice at once: the second step's tab ends on the second step's settings
    page.locator("#lecture-next").click()
    page.locator("#lecture-next").click()
    expect(step).to_contain_text("10/14 ReLU needs Kaiming")
    expect(page.locator("#init-status")).to_contain_text("Step 10: ReLU needs Kaiming", timeout=10_000)


def guessing(page) -> bool:
    """Whether the page hides the verdicts (while a guess waits for its run)."""
    return page.evaluate("document.body.classList.contains('cnnbp-guessing')")


def open_room(page) -> str:
    """The presenter opens a room from the lecture panel; returns the students' link."""
    from playwright.sync_api import expect

    page.locator("#lecture-panel").get_by_text("Lecture: playlists, rooms").click()
    page.locator("#lecture-open-room").click()
    link = page.locator("#lecture-room-link textarea")
    expect(link).to_have_value(re.compile(r"room=[A-Z2-9]{6}"), timeout=10_000)
    return link.input_value()


def guess(page, choice):
    from playwright.sync_api import expect

    page.locator("#lecture-choices").get_by_label(choice, exact=True).check()
    page.locator("#lecture-lock").click()
    expect(page.locator("#lecture-reveal")).to_contain_text(f"Your guess: {choice}", timeout=10_000)


def test_guess_then_reveal_with_two_rooms(open_page):
    from playwright.sync_api import expect

    presenter = open_page(f"?playlist={LECTURE}&step=9")
    expect(presenter.locator("#lecture-step")).to_contain_text("9/14", timeout=10_000)
    link = open_room(presenter)
    assert f"playlist={LECTURE}" in link and "step=9" in link
    query = "?" + link.split("?", 1)[1]
    other_presenter = open_page(f"?playlist={LECTURE}&step=9")
    other_link = open_room(other_presenter)
    assert other_link != link

    for choice, page in (("normal_0.01", open_page(query)), ("xavier", open_page(query))):
        expect(page.locator("#lecture-step")).to_contain_text("9/14", timeout=10_000)
        guess(page, choice)
    guess(open_page("?" + other_link.split("?", 1)[1]), "normal_0.05")

    # each presenter sees its own room's guesses only (the tally refreshes every 2 s)
    tally = presenter.locator("#lecture-tally")
    expect(tally).to_contain_text("The class's guesses (2)", timeout=15_000)
    assert "normal_0.05" in tally.inner_text() and "0 (0%)" in tally.inner_text()
    expect(other_presenter.locator("#lecture-tally")).to_contain_text("The class's guesses (1)", timeout=15_000)

    # the verdicts stay hidden until the run ends, then the measured answer shows beside the class's
    assert guessing(presenter)
    presenter.locator("#init-run").click()
    reveal = presenter.locator("#lecture-reveal")
    expect(reveal).to_contain_text("Measured: normal_0.01", timeout=60_000)
    expect(tally).to_contain_text("← measured")
    presenter.wait_for_function("!document.body.classList.contains('cnnbp-guessing')", timeout=10_000)
    verdicts = presenter.locator("#init-verdicts .verdicts")
    assert verdicts.evaluate("e => getComputedStyle(e).visibility") == "visible"
    assert "classic MLP" in verdicts.text_content()  # folded under the headlines
    presenter.screenshot(path=str(SHOTS / "share-reveal.png"))
    # back and forth: a revealed step stays revealed
    presenter.locator("#lecture-next").click()
    expect(presenter.locator("#lecture-step")).to_contain_text("10/14")
    assert guessing(presenter)
    presenter.locator("#lecture-prev").click()
    expect(reveal).to_contain_text("Measured: normal_0.01", timeout=10_000)
    presenter.wait_for_function("!document.body.classList.contains('cnnbp-guessing')", timeout=10_000)


def test_a_replay_says_so_and_run_live_trains(open_page):
    from playwright.sync_api import expect

    page = open_page(f"?playlist={LECTURE}&step=10")
    status = page.locator("#init-status")
    expect(status).to_contain_text("A recorded run is ready", timeout=10_000)
    page.locator("#init-run").click()
    expect(status).to_contain_text("replay of a recorded run", timeout=30_000)
    expect(page.locator("#lecture-reveal")).to_contain_text("Measured: kaiming", timeout=30_000)
    page.locator("#lecture-run-live").click()
    expect(status).not_to_contain_text("replay", timeout=120_000)
    expect(status).to_contain_text("done in", timeout=120_000)


def test_download_the_take_home_and_run_its_script(open_page, tmp_path):
    from playwright.sync_api import expect

    page = open_page("?lesson=preprocessing&parts=cloud&seed=4&cloud_points=200")
    expect(page.locator("#preprocessing-status")).to_contain_text("Opened from a link", timeout=10_000)
    page.locator("#preprocessing-run").click()
    expect(page.locator("#preprocessing-status")).to_contain_text("done in", timeout=120_000)
    open_share(page, "preprocessing")
    page.locator("#preprocessing-export").click()
    link = page.locator("#preprocessing-download a").first
    link.wait_for(timeout=60_000)
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "export.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    folder = tmp_path / "cnnbp-preprocessing-seed4"
    assert "Data preprocessing" in (folder / "report.html").read_text() or (folder / "report.html").exists()
    out = subprocess.run([sys.executable, "reproduce.py"], cwd=folder, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "CPU_CORES": "1"})
    assert out.returncode == 0 and "numbers: the same as numbers.json" in out.stdout, out.stdout + out.stderr[-1500:]


def test_click_a_confusion_cell_to_see_its_images(open_page):
    from playwright.sync_api import expect

    page = open_page("?lesson=imbalance&steps=60&seeds=1&seed=2")
    expect(page.locator("#imbalance-status")).to_contain_text("Opened from a link", timeout=10_000)
    page.locator("#imbalance-run").click()
    expect(page.locator("#imbalance-status")).to_contain_text("done in", timeout=180_000)
    plot = page.locator("#imbalance-plot-confusion .js-plotly-plot")
    plot.wait_for(timeout=30_000)
    page.wait_for_timeout(1_500)  # the page hooks plotly's click within a second
    # the first panel's top-left cell (true and predicted: the first class), clicked through plotly
    cell = page.locator("#imbalance-plot-confusion .nsewdrag").first
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    gallery = page.locator("#imbalance-cell-images")
    expect(gallery).to_contain_text("true", timeout=30_000)
    assert "predicted" in gallery.inner_text() and gallery.locator("img").count() > 0
    page.screenshot(path=str(SHOTS / "share-confusion-click.png"))


def test_an_embedding_point_shows_its_image(open_page):
    """Plotly's click on a WebGL point needs a pixel-exact hit: the test sends plotly's own click
    event for point #7 of the first panel, as plotly does on a hit."""
    from playwright.sync_api import expect

    page = open_page("?lesson=visualise&parts=embeddings&methods=pca&epochs=2&models=1&seed=3")
    expect(page.locator("#visualise-status")).to_contain_text("Opened from a link", timeout=10_000)
    page.locator("#visualise-run").click()
    expect(page.locator("#visualise-status")).to_contain_text("done in", timeout=180_000)
    page.wait_for_function("document.querySelector('#visualise-plot-embeddings .js-plotly-plot')"
                           "?.dataset.cnnbpClick === '1'", timeout=30_000)
    index = page.evaluate("""() => {
        const plot = document.querySelector('#visualise-plot-embeddings .js-plotly-plot');
        const trace = plot._fullData[0], i = trace.customdata[7];  // decoded arrays
        plot.emit('plotly_click', {points: [{data: trace, customdata: i, x: trace.x[7], y: trace.y[7]}]});
        return i; }""")
    gallery = page.locator("#visualise-cell-images")
    expect(gallery).to_contain_text(f"test image #{index}, class", timeout=30_000)
    assert gallery.locator("img").count() == 1
