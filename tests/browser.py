"""Headless Debian Chromium for the browser tests: where it is, how it is launched here, and
what a test does when it is missing (skip; fail under CI's CNNBP_REQUIRE_BROWSER=1)."""

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def require_browser():
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


def open_page(playwright, url: str, *, viewport: dict, init_script: str | None = None):
    """Launch the headless Chromium and open ``url`` in it (``init_script`` runs before the page's own
    scripts); returns (browser, page). The caller closes the browser."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    page = browser.new_page(viewport=viewport)
    if init_script:
        page.add_init_script(init_script)
    page.goto(url, wait_until="networkidle")
    return browser, page


def wait_for_figures(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page has drawn every figure it was sent: it draws one figure per task, after the
    message that brought it (cnnbp/ui/plot_in_place.py), so a figure may still be due when a status says done."""
    page.wait_for_function("() => !window.cnnbpDrawsDue || window.cnnbpDrawsDue() === 0", timeout=timeout_ms)
