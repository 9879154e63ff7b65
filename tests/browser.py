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
