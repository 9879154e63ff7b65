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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every worker of one run
    if not run:
        yield
        return
    alone = item.get_closest_marker("alone") is not None
    with ExitStack() as stack:
        gate, tests = (stack.enter_context(open(Path(tempfile.gettempdir()) / f"cnnbp-tests-{run}.{name}", "a"))
                       for name in ("gate", "lock"))
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(tests, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # closing the files releases the locks
