"""The live calculator in a real browser at 1024 x 768: a spec typed and Enter redraws the stack
without Run; a bad spec is one line in the page and changes nothing."""

import pytest

from tests.browser import ARGS, CHROMIUM, require_browser


@pytest.fixture(scope="module")
def page(server_url):
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        page.goto(server_url, wait_until="networkidle")
        page.get_by_role("tab", name="Architecture", exact=True).click()
        page.locator("#architecture-quick").click()
        page.locator("#architecture-run").click()
        page.locator("#architecture-status").get_by_text("done in").wait_for(timeout=180_000)
        yield page
        browser.close()


def shapes_text(page) -> str:
    """The drawing's own text (Gradio overlays a status badge on the component, not on the drawing)."""
    return page.locator("#architecture-plot-shapes [data-testid=plotly]").inner_text()


def test_enter_in_the_spec_box_redraws_the_stack_without_run(page):
    assert "90x90x5" in shapes_text(page)
    box = page.locator("#architecture-layers textarea")
    box.fill("conv 16 k3 p1, pool 2, conv 32 k5 s2, fc 10")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#architecture-plot-shapes').innerText.includes('1x1x10')",
                           timeout=60_000)
    assert "21x21x32" in shapes_text(page)
    # (The live re-run then trains the quick settings' stacks again: the status may say "training".
    # It only ever read "done" because the page pulled the next frame late; the heartbeat's worker
    # thread computes on, so that assertion was about timing, not the calculator.)


def test_a_bad_spec_is_one_line_in_the_page(page):
    before = shapes_text(page)
    box = page.locator("#architecture-layers textarea")
    box.fill("conv 5 k3, dense 4")
    box.press("Enter")
    toast = page.get_by_text("unknown layer 'dense'")
    toast.wait_for(timeout=60_000)
    assert toast.first.inner_text().startswith("layers: layer 2 'dense 4'")
    assert shapes_text(page) == before
