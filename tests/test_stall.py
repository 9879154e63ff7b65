"""Issue 17's rendering check: how long the page's main thread stalls while a run streams.

A real browser (headless Debian Chromium) runs a tab's quick settings at a projector's 1024 x 768
with a PerformanceObserver on "longtask" (every main-thread task over 50 ms) from page load. Each
tab's longest task, the tasks over 200 ms and their total are printed (``pytest -s``) and written to
screenshots/stalls-streaming.json with the load average; a screenshot mid-run shows the figures still
draw. The seed differs from the other browser tests' runs so that no run is served from the cache of
identical runs: what is measured is a run that streams.

A timing depends on the machine as much as on the page, so what is asserted is relative: the longest
stall is one figure's drawing, not several in a row (ONE_DRAW_FACTOR; no task holds two draws), and a
figure's updates are drawn in place, each figure from scratch once and without a second draw for grown
margins; each figure's first draw is printed (``first_draws_ms``). The issue's 200 ms is reported, not
asserted (notes/stall.md, notes/stall2.md and notes/draws.md have the numbers and the load they were taken at).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnnbp.lessons import LESSONS
from cnnbp.ui.lesson_tab import tab_label
from tests.browser import open_page, require_browser

SHOTS = Path(os.environ.get("CNNBP_SCREENSHOTS", Path(__file__).resolve().parents[1] / "screenshots"))
REPORT = SHOTS / "stalls-streaming.json"
SEED = 11  # not the default: a fresh run that streams, not one served from the cache

LOADING_PASSES = """
// Gradio's loading-state pass (update_loading_stati_state, at every message of a run) walks the entries of
// its table of loading states, one component update each: the passes and the table's size, counted.
window.__loadingPasses = [];
(() => {
  const entries = Object.entries;
  Object.entries = function (o) {
    const out = entries(o);
    const v = out.find(([, x]) => x && Object.keys(x).length)?.[1];
    if (v && typeof v === 'object' && 'fn_index' in v && 'stream_state' in v && 'component_id' in v)
      window.__loadingPasses.push({start: performance.now(), entries: out.length});
    return out;
  };
})();
"""

# Every main-thread task over 50 ms, kept on the page from its first script on; and every figure
# plotly draws (Plotly.react, which Gradio's Plot calls), with its time: how much of a stall is drawing.
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(
  {start: e.startTime, ms: e.duration}); }).observe({type: "longtask", buffered: true});
window.__draws = [];
(() => {
  let plotly;
  const timed = (P) => {
    if (!P || P.__timed) return P;
    const react = P.react;
    P.react = function (gd, ...rest) {
      const t = performance.now(), inPlace = Boolean(gd._fullLayout);  // an update of a drawn figure
      const out = react.call(this, gd, ...rest);
      const ms = performance.now() - t;  // plotly's redraws for grown margins are in it; counted apart
      const redraws = (gd._fullLayout && gd._fullLayout._redrawFromAutoMarginCount) || 0;
      window.__draws.push({start: t, ms, id: gd.closest('[id]')?.id, inPlace, redraws});
      return out;
    };
    P.__timed = true;
    return P;
  };
  Object.defineProperty(window, 'Plotly', {configurable: true, get: () => plotly, set: (P) => { plotly = timed(P); }});
})();
""" + LOADING_PASSES

# The longest main-thread task allowed while a tab streams, against its slowest single figure draw:
# that draw with half again for margin, plus the page's own work in the same task (Gradio's status and
# loading-state updates). A fixed number of ms would test the machine's load (one figure took 0.1 to
# 2.5 s here, load 1 to 13), not the page.
ONE_DRAW_FACTOR = 1.5
PAGE_WORK_MS = 250
TABS = os.environ.get("CNNBP_STALL_TABS", "activations,init,dropout,norms").split(",")


@pytest.fixture(scope="module")
def page(server_url):
    require_browser()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser, page = open_page(p, server_url, viewport={"width": 1024, "height": 768}, init_script=LONG_TASKS)
        yield page
        browser.close()


def stall_report(stalls: list[dict], draws: list[dict], passes: list[dict] = ()) -> dict:
    """The run's long tasks (longest, how many, how many over 200 ms, their total) and its figure
    draws (how many, how many from scratch, the longest, and how many fell in a long task over 200 ms);
    the long tasks that drew no figure (Gradio's message handling) apart, and Gradio's loading-state
    passes (``passes``: one per message, and the components each one updates)."""
    ms = [t["ms"] for t in stalls]
    long = [t for t in stalls if t["ms"] > 200]
    inside = [d for d in draws if any(t["start"] <= d["start"] <= t["start"] + t["ms"] for t in long)]
    per_task = [sum(t["start"] <= d["start"] <= t["start"] + t["ms"] for d in draws) for t in stalls]
    no_draw = [t["ms"] for t, n in zip(stalls, per_task) if n == 0]
    return {"longest_ms": round(max(ms, default=0.0)), "count": len(ms), "over_200_ms": len(long),
            "total_ms": round(sum(ms)), "draws": len(draws), "drawn_from_scratch": sum(not d["inPlace"] for d in draws),
            "longest_draw_ms": round(max((d["ms"] for d in draws), default=0.0)),
            "draws_in_stalls_over_200_ms": len(inside), "most_draws_in_one_task": max(per_task, default=0),
            "no_draw_tasks": len(no_draw), "no_draw_over_200_ms": sum(m > 200 for m in no_draw),
            "no_draw_total_ms": round(sum(no_draw)), "no_draw_longest_ms": round(max(no_draw, default=0.0)),
            "loading_passes": len(passes), "loading_entries_most": max((p["entries"] for p in passes), default=0),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "slowest_draws": [(d["id"], round(d["ms"])) for d in sorted(draws, key=lambda d: -d["ms"])[:4]],
            "first_draws_ms": {d["id"]: round(d["ms"]) for d in draws if not d["inPlace"]},
            "margin_redraws": {d["id"]: d["redraws"] for d in draws if not d["inPlace"] and d["redraws"]}}


def record(name: str, report: dict) -> None:
    found = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    found[name] = report
    REPORT.write_text(json.dumps(found, indent=1))
    print(f"\n{name}: main-thread stalls while streaming {report}")


def renderer_cpu_s(page) -> float:
    """CPU seconds of the browser's renderer processes (the page's main thread and its helpers), from
    Chromium itself: a number the machine's load inflates far less than a task's wall time."""
    cdp = page.context.browser.new_browser_cdp_session()
    info = cdp.send("SystemInfo.getProcessInfo")["processInfo"]
    cdp.detach()
    return sum(p["cpuTime"] for p in info if p["type"] == "renderer")


def resize_listeners(page) -> tuple[int, int]:
    """The window's resize listeners (plotly adds one per drawn figure) and the figures drawn on the page."""
    cdp = page.context.new_cdp_session(page)
    window = cdp.send("Runtime.evaluate", {"expression": "window"})["result"]["objectId"]
    listeners = cdp.send("DOMDebugger.getEventListeners", {"objectId": window})["listeners"]
    cdp.detach()
    return sum(item["type"] == "resize" for item in listeners), page.locator(".js-plotly-plot").count()


@pytest.mark.parametrize("name", TABS)
def test_a_streaming_run_does_not_stall_the_page(page, name):
    from playwright.sync_api import expect

    lesson = LESSONS[name]
    page.get_by_role("tab", name=tab_label(lesson), exact=True).click()
    page.locator(f"#{name}-quick").click()
    # the quick settings' reply (which also sets the seed) has landed before the seed is typed
    expect(page.locator(f"#{name}-status")).to_contain_text("Quick settings:", timeout=10_000)
    seed = page.locator(f"#{name}-seed input[type=number]")
    if not seed.is_visible():  # under the closed "Advanced" accordion
        page.locator(".label-wrap:visible", has_text="Advanced").click()
        seed.wait_for(state="visible")
    seed.fill(str(SEED))
    seed.press("Enter")
    expect(seed).to_have_value(str(SEED))
    before = page.evaluate("[window.__longTasks.length, window.__draws.length, window.__loadingPasses.length]")
    listeners_before, figures_before = resize_listeners(page)  # the page's own and the tab's widgets'
    cpu_before = renderer_cpu_s(page)
    page.locator(f"#{name}-run").click()
    page.wait_for_function("(sel) => document.querySelector(sel) !== null",
                           arg=f"[id^={name}-plot-] [data-testid=plotly]", timeout=180_000)
    page.wait_for_timeout(300)
    # a 3D figure (norms) holds the page for seconds on a loaded machine without a GPU
    page.screenshot(path=str(SHOTS / f"{name}-1024x768-streaming.png"), timeout=120_000)
    status = page.locator(f"#{name}-status")
    expect(status).to_contain_text("done in", timeout=240_000)
    assert "served from the cache" not in status.inner_text()  # a run that streamed
    page.wait_for_timeout(1_000)  # the last figures draw after the last frame
    report = stall_report(*page.evaluate("([t, d, p]) => [window.__longTasks.slice(t), window.__draws.slice(d), "
                                         "window.__loadingPasses.slice(p)]", before))
    report["renderer_cpu_s"] = round(renderer_cpu_s(page) - cpu_before, 2)  # from Run to the last draw + 1 s
    report["resize_listeners"], report["figures_on_page"] = resize_listeners(page)
    report["resize_listeners_added"] = report["resize_listeners"] - listeners_before
    report["figures_added"] = report["figures_on_page"] - figures_before
    record(name, report)
    # The page never freezes for more than one figure's drawing: no task draws figures one after
    # another (they arrive one per message), so the longest stall is the slowest figure plus the
    # page's own work. (Before the pacing, 2 to 3 figures drew in one task: 2x the slowest draw.)
    assert report["longest_ms"] <= ONE_DRAW_FACTOR * report["longest_draw_ms"] + PAGE_WORK_MS, (name, report)
    # Every figure draw runs in a task of its own (cnnbp/ui/plot_in_place.py): no task over 50 ms holds
    # two draws, so a click (Stop) waits for one draw at most. (Drawn in Gradio's task, two figures of
    # one message drew in one task: 2 in an activations run at load 4.)
    assert report["most_draws_in_one_task"] <= 1, (name, report)
    # A figure's update is drawn in its old drawing (cnnbp/ui/plot_in_place.py), not from scratch in
    # the new empty div Gradio makes for every value: each figure of the tab starts from scratch once.
    assert report["drawn_from_scratch"] <= len(lesson.figures), (name, report)
    # A figure's first draw is one draw: its margins hold its legend, colour bar and labels, so plotly does
    # not draw it again with grown margins (cnnbp/plots/common.py; it did for 2-3 figures a tab, each first
    # draw then 1.4-2.3x the CPU: bench/first_draws.py). Counted by plotly, not timed.
    assert not report["margin_redraws"], (name, report)
    # Drawings are reused or purged: the resize listeners a run adds follow the figures it adds, not every
    # update it sent (95 in one activations run). Counted from just before Run, not from zero: a fresh page
    # has 19 of its own before any tab is shown, and a tab's widgets add theirs when it is first shown, so
    # "4 a figure on the page + 10" failed for dropout as a fresh page's first tab (39 > 38: 33 before its
    # Run). Measured: each run adds one a new figure (plotly's), 6 for dropout's 6, 7 for activations' 7.
    assert report["resize_listeners_added"] <= 4 * report["figures_added"] + 10, (name, report)
