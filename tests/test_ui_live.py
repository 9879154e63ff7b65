"""``Lesson.live``: fields whose change re-runs the lesson's own handler at once (no Run click),
without a second API endpoint; lessons without it are wired as before."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import gradio as gr
import pytest
from pydantic import Field

from cnnbp.lessons.base import Lesson, LessonConfig, Part, Update, Verdict
from cnnbp.ui.lesson_tab import build_lesson_tab


class LiveConfig(LessonConfig):
    size: int = Field(4, ge=1, le=10, description="a slider that needs a Run")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="a number box")
    cut: int = Field(3, ge=0, le=10, description="a slider")
    share: float = Field(0.5, ge=0.0, le=1.0, description="a float slider", json_schema_extra={"step": 0.05})


def _report(state) -> Iterator[Update]:
    cfg = state.cfg
    yield Update(1.0, numbers={"share": cfg.share},
                 verdicts=[Verdict("settings", f"share {cfg.share:g}, size {cfg.size}")])


def lesson(live: tuple[str, ...] = ()) -> Lesson:
    return Lesson(name="livetest", title="Live test", summary="", config=LiveConfig, figures=(), live=live,
                  parts=(Part("report", 1.0, _report),))


def events(demo: gr.Blocks) -> list:
    """The run events: the API endpoint's, the page's Run, the live fields' (where there are)."""
    return [fn for fn in demo.fns.values() if (fn.name or "").startswith("run_")]  # a js-only event has no name


def triggers(demo: gr.Blocks, event) -> set[tuple[str, str]]:
    """What triggers a page event: the js-only event it follows (cnnbp.ui.settings_input) names them."""
    first = demo.fns[event.trigger_after]
    assert first.fn is None and first.js
    by_id = {b._id: b for b in demo.blocks.values()}
    return {(by_id[i].elem_id, kind) for i, kind in first.targets}


def build(live: tuple[str, ...]) -> gr.Blocks:
    with gr.Blocks() as demo:
        build_lesson_tab(lesson(live))
    return demo


def test_live_fields_retrigger_the_same_handler_privately():
    demo = build(("threshold", "cut", "share"))
    api, click, live = events(demo)
    assert api.api_name == "livetest" and api.api_visibility == "public"
    assert sorted(c.elem_id for c in api.inputs) == sorted(f"livetest-{n}" for n in LiveConfig.model_fields)
    assert click.api_visibility == "private" and triggers(demo, click) == {("livetest-run", "click")}
    assert live.fn is click.fn  # the very same handler: same validation, cache and stream
    assert [c._id for c in live.inputs] == [c._id for c in click.inputs] == [demo_box(demo)._id]
    assert [c._id for c in live.outputs] == [c._id for c in click.outputs] == [c._id for c in api.outputs]
    assert live.api_visibility == "private" and live.trigger_mode == "always_last"
    assert live.concurrency_id == click.concurrency_id == api.concurrency_id and not live.preprocess
    kinds = triggers(demo, live)
    assert kinds == {("livetest-threshold", "change"), ("livetest-cut", "release"), ("livetest-share", "release")}


def demo_box(demo: gr.Blocks):
    (box,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "livetest-settings"]
    return box


def test_a_float_with_a_step_is_a_slider_and_one_without_stays_a_number():
    demo = build(())
    api, _ = events(demo)
    by_name = {c.elem_id: c for c in api.inputs}
    share, threshold = by_name["livetest-share"], by_name["livetest-threshold"]
    assert isinstance(share, gr.Slider) and (share.minimum, share.maximum, share.step) == (0.0, 1.0, 0.05)
    assert isinstance(threshold, gr.Number)


def test_no_live_fields_no_extra_event():
    assert len(events(build(()))) == 2  # the API endpoint's and the page's Run


def test_live_endpoint_is_not_in_the_api():
    demo = build(("cut",))
    named = demo.get_api_info()["named_endpoints"]
    assert "/livetest" in named and len([n for n in named if n.startswith("/run_")]) == 0


def test_unknown_live_field_is_refused_when_the_lesson_is_declared():
    with pytest.raises(ValueError, match="live fields \\['bogus'\\] are not settings of LiveConfig"):
        lesson(("bogus",))


@contextmanager
def browser_page(demo: gr.Blocks, init_script: str | None = None) -> Iterator:
    """``demo`` served on a free loopback port and open in headless Chromium (tests/browser.py)."""
    import socket

    from tests.browser import ARGS, CHROMIUM, require_browser

    require_browser()
    import playwright.sync_api as sync_api

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page()
            if init_script:
                page.add_init_script(init_script)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            yield page
            browser.close()
    finally:
        demo.close()


def test_in_a_browser_moving_a_live_slider_reruns_and_other_fields_wait_for_run():
    """Headless Chromium: leaving the slider's number box (and a drag) re-runs the lesson; a
    non-live field does not. Needs Chromium and playwright (tests/browser.py)."""
    demo = build(("share",))
    with browser_page(demo) as page:
        status = page.locator("#livetest-status")
        verdicts = page.locator("#livetest-verdicts")
        size = page.locator("#livetest-size input[type=number]")
        size.fill("7")
        size.press("Tab")
        page.wait_for_timeout(1000)
        assert "Press" in status.inner_text()  # not live: waits for Run
        share = page.locator("#livetest-share input[type=number]")
        share.fill("0.25")
        share.press("Tab")  # leaving the box releases the slider
        verdicts.get_by_text("share 0.25, size 7").wait_for(timeout=20_000)
        box = page.locator("#livetest-share input[type=range]").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)  # press and release
        verdicts.get_by_text("share 0.8").wait_for(timeout=20_000)
