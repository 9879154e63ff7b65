"""The page's events take a tab's settings as one value (cnnbp/ui/settings_input.py): Gradio's page keeps
every input of a finished event in its table of loading states and updates each one at every message of
every later run. The API endpoint still takes every widget; bad input still gets its one-line message."""

from __future__ import annotations

import gradio as gr
import pytest

from cnnbp.lessons import LESSONS
from cnnbp.ui.widgets import upload_fields
from tests.test_ui_live import browser_page, build, events


@pytest.fixture(scope="module")
def config():
    import app

    return app.demo.config


def test_the_pages_run_events_take_the_settings_box_and_the_upload_boxes(config):
    elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    deps = {d["id"]: d for d in config["dependencies"]}
    api = {d["api_name"]: d for d in config["dependencies"] if d["api_name"] in LESSONS}
    for name, lesson in LESSONS.items():
        widgets = [elem[i] for i in api[name]["inputs"]]  # the API endpoint: every widget, as before
        assert sorted(widgets) == sorted(f"{name}-{n}" for n in lesson.config.model_fields), name
        uploads = {f"{name}-{n}" for n in upload_fields(lesson.config)}
        # every event of the page that streams this tab's run, or sets or reads its settings
        page = [d for d in config["dependencies"] if d["backend_fn"] and d["api_visibility"] == "private"
                and d["trigger_after"] is not None and f"{name}-settings" in {elem[i] for i in d["inputs"]}]
        runs = [d for d in page if d["outputs"] == api[name]["outputs"]]
        assert len(runs) == 1 + bool(lesson.live), name  # Run, and the live fields' re-run
        assert len(page) == len(runs) + 5, name  # Quick settings, Reset, Link, Save preset, Take-home
        for d in page:
            assert [elem[i] for i in d["inputs"]][0] == f"{name}-settings" and len(d["inputs"]) == 1 + len(uploads)
            assert {elem[i] for i in d["inputs"][1:]} == uploads, name
            first = deps[d["trigger_after"]]  # fills the box in the page: no server call, no loading state
            assert not first["backend_fn"] and first["js"] and first["outputs"] == d["inputs"][:1]
            assert sorted(elem[i] for i in first["inputs"]) == sorted(set(widgets) - uploads), name


def test_a_bad_value_typed_on_the_page_gets_the_one_line_message_and_few_loading_states():
    """Headless Chromium: a number over its maximum, typed and Run, gets the Config's one line; the good
    value then runs with every widget's value. Gradio's table of loading states holds the settings box,
    not each widget."""
    from tests.test_stall import LOADING_PASSES

    demo = build(())
    (api, run) = events(demo)
    with browser_page(demo, LOADING_PASSES) as page:
        threshold = page.locator("#livetest-threshold input[type=number]")
        threshold.fill("5")
        threshold.press("Tab")
        page.locator("#livetest-run").click()
        toast = page.get_by_text("threshold: Input should be less than or equal to 1")
        toast.first.wait_for(timeout=20_000)
        message = toast.first.inner_text()
        assert "\n" not in message.strip() and "/" not in message, message
        threshold.fill("0.75")
        page.locator("#livetest-size input[type=number]").fill("9")
        page.locator("#livetest-size input[type=number]").press("Tab")
        page.locator("#livetest-run").click()
        page.locator("#livetest-verdicts").get_by_text("share 0.5, size 9").wait_for(timeout=20_000)
        sizes = page.evaluate("window.__loadingPasses.map((p) => p.entries)")
    widgets = len(api.inputs)
    # the status line, the Stop note, the settings box; on the widgets' inputs as before: every widget too
    assert sizes and max(sizes) <= 3 < widgets + 2, sizes
    assert isinstance(run.inputs[0], gr.JSON)
