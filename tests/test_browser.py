"""One real browser: headless Debian Chromium driven by Playwright loads the page, runs the
Initialisation lesson on small settings, waits for the plots and the verdict, presses Stop on
a long run, and saves screenshots (the folder is printed).

Needs /usr/bin/chromium (Debian's `chromium`) and the `playwright` package; .ci/run installs both
and sets CNNBP_REQUIRE_BROWSER=1 so that a missing browser fails CI instead of skipping.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path(os.environ.get("CNNBP_SCREENSHOTS", Path(__file__).resolve().parents[1] / "screenshots"))


def _require_browser():
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not shutil.which(CHROMIUM):
        missing.append(CHROMIUM)
    if missing:
        message = f"browser test needs {' and '.join(missing)} (apt-get install -y chromium; pip install playwright)"
        if os.environ.get("CNNBP_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def page(server_url):
    _require_browser()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SHOTS}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server_url, wait_until="networkidle")
        yield page
        browser.close()


def set_slider(page, field: str, value: int) -> None:
    box = page.locator(f"#init-{field} input[type=number]")  # the slider's number box
    box.fill(str(value))
    box.press("Enter")


def test_init_lesson_runs_in_the_browser(page):
    page.get_by_role("tab", name="Initialisation").click()
    for label, value in (("width", 256), ("depth", 4), ("epochs", 1), ("symmetry_steps", 5), ("cnn_width", 8)):
        set_slider(page, label, value)
    page.locator("#init-run").click()
    page.locator("#init-status").get_by_text("done in").wait_for(timeout=120_000)
    assert page.locator("[data-testid=plotly]").count() >= 6  # every figure drew
    verdicts = page.locator("#init-verdicts").inner_text()
    assert "relu + Kaiming" in verdicts and "keep their scale" in verdicts
    assert "distinct neurons" in verdicts
    page.screenshot(path=str(SHOTS / "init.png"), full_page=True)


def test_stop_ends_a_long_run(page):
    page.get_by_role("tab", name="Initialisation").click()
    set_slider(page, "epochs", 10)
    page.locator("#init-run").click()
    page.locator("#init-status").get_by_text("training the CNN").wait_for(timeout=60_000)
    page.locator("#init-stop").click()
    page.locator("#init-status").get_by_text("stopped by the user").wait_for(timeout=30_000)


def test_evidence_tab_lists_the_claims(page):
    page.get_by_role("tab", name="Evidence").click()
    table = page.locator("#evidence-table")
    table.get_by_text("init.kaiming_relu_scaled").wait_for(timeout=10_000)
    page.screenshot(path=str(SHOTS / "evidence.png"), full_page=True)
