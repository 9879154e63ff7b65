"""Share, playlists, rooms, replays and the take-home export in a real browser (headless Chromium):
open a link, step a playlist, guess with two devices in one room and a third in another, open a
replay and run it live, download the export and run its script."""

import os
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
        page.goto(server_url + query, wait_until="load", timeout=60_000)
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


def test_a_link_opens_the_tab_on_its_settings(open_page):
    from playwright.sync_api import expect

    page = open_page("?lesson=init&width=512&depth=3&seed=7&inits=xavier,kaiming")
    expect(page.get_by_role("tab", name="Init", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#init-status")).to_contain_text("Opened from a link", timeout=10_000)
    assert (number(page, "init", "width"), number(page, "init", "depth")) == ("512", "3")
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
    assert number(page, "init", "width") == "512" and number(page, "init", "depth") == "6"
    page.screenshot(path=str(SHOTS / "share-playlist-step.png"))
    page.locator("#lecture-next").click()
    expect(step).to_contain_text("10/14 ReLU needs Kaiming")
    page.locator("body").press("PageUp")
    expect(step).to_contain_text("9/14")
    page.locator("#lecture-prev").click()
    expect(step).to_contain_text("8/14 Why normalise?")
    expect(page.get_by_role("tab", name="Preprocessing", exact=True)).to_have_attribute("aria-selected", "true")
