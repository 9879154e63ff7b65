"""How the suite shares the machine when it runs on several pytest-xdist workers (CI: ``-n 2``).

Tests that time the page (a browser's main thread against the figures it draws) run alone: while
one runs, no other worker runs a test, so the machine's load is theirs. A readers-writer lock over
the workers of one run (two files in their shared temp folder): every test holds it shared, an
``alone`` test exclusively; a waiting ``alone`` test holds the gate, so no test slips in ahead of it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

ALONE = ("tests/test_stall.py",)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.startswith(ALONE):
            item.add_marker("alone")


def _lock_files() -> list[Path]:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every worker of one run
    return [Path(tempfile.gettempdir()) / f"cnnbp-tests-{run}.{name}" for name in ("gate", "lock")] if run else []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    files = _lock_files()
    if not files:
        yield
        return
    alone = item.get_closest_marker("alone") is not None
    with ExitStack() as stack:
        gate, tests = (stack.enter_context(open(path, "a")) for path in files)
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(tests, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # closing the files releases the locks


def pytest_sessionfinish(session):
    # a worker that is done removes the files; one still running makes them again, with no one to share them
    for path in _lock_files():
        path.unlink(missing_ok=True)
