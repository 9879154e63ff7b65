"""A figure update in the page: drawn in place (cnnbp/ui/plot_in_place.py) vs drawn from scratch in a
new div (what Gradio 6.31's Plot does), interleaved in one Gradio page in headless Chromium.

Per tab, in one page: two streaming runs of the quick settings (new seeds, so none comes from the
cache), one with the page drawing every update from scratch (``window.cnnbpFreshDraws``) and one in
place, in alternating order; the longest main-thread task of each (a PerformanceObserver on
"longtask") and the load average are printed. The page records every figure Gradio sends (the
arguments of each ``Plotly.react``); the recorded updates are then replayed in that tab, each one both
ways, in alternating order, into two extra drawings under the tab's figures (so the page around them
is the real one): the naive way draws into a new div and drops the old one, the other updates one div.
Printed: the median and longest time from the call to the next frame (the draw and the browser's
layout after it), and the ratio of medians. Runs take the machine's load as it comes: compare the two
columns of one line, not lines of two runs.

With ``--against atonce`` the baseline is every draw made in the task of Gradio's message, as Gradio
does (``window.cnnbpDrawAtOnce``), against one draw per task of its own: the two streaming runs only.

With ``--against automargin`` the baseline is instead the figure drawn in place with the axes'
automargin on (plotly_white's, the app's template before issue 17's cut): both paths draw in place, the
baseline's layout gets ``automargin: true`` on its template's axes (the streaming run's figures too).

    python bench/page_figures.py [--tabs activations,init] [--repeats 1] [--against fresh|automargin|atonce]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("CPU_CORES", "1")

RECORD = """
window.__longTasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
  .observe({type: "longtask", buffered: true});
window.__figs = [];
// The layout with automargin on every axis of its template (as plotly_white has it): the old baseline.
window.automargined = (layout) => {
  const t = layout.template && layout.template.layout;
  if (t) for (const k of ['xaxis', 'yaxis']) t[k] = {...(t[k] || {}), automargin: true};
  return layout;
};
(() => {
  let plotly;
  const recorded = (P) => {
    if (!P || P.__recorded) return P;
    const react = P.react;
    window.__plainReact = (...args) => react.call(P, ...args);  // the replays: plotly alone, not the page's wrapper
    P.react = function (gd, data, layout, config) {
      const id = gd.closest('[id]')?.id;
      if (id && !id.startsWith('plotly-preload')) window.__figs.push({id, fig: JSON.stringify({data, layout, config})});
      if (window.cnnbpAutomargin && layout) layout = automargined(layout);
      return react.call(this, gd, data, layout, config);
    };
    P.__recorded = true;
    return P;
  };
  Object.defineProperty(window, 'Plotly', {configurable: true, get: () => plotly,
                                           set: (P) => { plotly = recorded(P); }});
})();
"""

# Replays update ``i`` of the recording both ways; returns [ms in place, ms of the baseline]: drawn from
# scratch (against "fresh") or in place with automargin on (against "automargin").
REPLAY = """
async ([i, freshFirst, against]) => {
  const P = {react: window.__plainReact, purge: window.Plotly.purge}, {id, fig} = window.__figs[i];
  const hosts = (window.__hosts ||= {});
  if (!hosts[id]) {
    const below = document.getElementById(id);
    const make = () => {
      const d = document.createElement('div');
      below.parentNode.insertBefore(d, below.nextSibling);
      return d;
    };
    hosts[id] = {inPlace: make(), freshHolder: make(), fresh: null, margined: make()};
    hosts[id].inPlace.appendChild(document.createElement('div'));
    hosts[id].margined.appendChild(document.createElement('div'));
  }
  const h = hosts[id];
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
  const time = async (draw) => {
    await frame();
    const {data, layout, config} = JSON.parse(fig);
    const t = performance.now();
    draw(data, layout, config);
    await frame();
    return performance.now() - t;
  };
  const inPlace = () => time((d, l, c) => P.react(h.inPlace.firstChild, d, l, c));
  const margined = () => time((d, l, c) => P.react(h.margined.firstChild, d, automargined(l), c));
  const fresh = against === 'automargin' ? margined : () => time((d, l, c) => {
    const div = document.createElement('div');
    h.freshHolder.appendChild(div);
    if (h.fresh) { h.fresh.remove(); P.purge(h.fresh); }
    h.fresh = div;
    P.react(div, d, l, c);
  });
  if (freshFirst) { const f = await fresh(); return [await inPlace(), f]; }
  const a = await inPlace(); return [a, await fresh()];
}
"""


BASELINE = {"fresh": "from scratch", "automargin": "automargin on", "atonce": "drawn in Gradio's task"}
FLAG = {"fresh": "cnnbpFreshDraws", "automargin": "cnnbpAutomargin", "atonce": "cnnbpDrawAtOnce"}


def run_tab(page, name: str, seed: int, *, fresh: bool, against: str) -> tuple[int, list[float]]:
    """One streaming run of tab ``name``; returns where its recorded figures start and its long tasks (ms)."""
    from playwright.sync_api import expect

    from cnnbp.lessons import LESSONS
    from cnnbp.ui.lesson_tab import tab_label

    page.get_by_role("tab", name=tab_label(LESSONS[name]), exact=True).click()
    page.locator(f"#{name}-quick").click()
    expect(page.locator(f"#{name}-status")).to_contain_text("Quick settings:", timeout=10_000)
    box = page.locator(f"#{name}-seed input[type=number]")
    if not box.is_visible():
        page.locator(".label-wrap:visible", has_text="Advanced").click()
        box.wait_for(state="visible")
    box.fill(str(seed))
    box.press("Enter")
    expect(box).to_have_value(str(seed))
    page.evaluate(f"window.{FLAG[against]} = {str(fresh).lower()}")
    start, tasks = page.evaluate("[window.__figs.length, window.__longTasks.length]")
    page.locator(f"#{name}-run").click()
    status = page.locator(f"#{name}-status")
    expect(status).to_contain_text("done in", timeout=300_000)
    assert "served from the cache" not in status.inner_text()
    page.wait_for_timeout(2_000)  # the last figures draw after the last frame
    return start, page.evaluate("(n) => window.__longTasks.slice(n)", tasks)


@contextlib.contextmanager
def app_page(init_script: str = RECORD):
    """The app served on a free loopback port in this process, open in headless Chromium at 1024 x 768
    (``init_script`` runs before the page's own scripts); yields the page."""
    from playwright.sync_api import sync_playwright

    import app
    from cnnbp.ui import launch_options
    from tests.browser import open_page

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    **launch_options())
    try:
        with sync_playwright() as p:
            browser, page = open_page(p, f"http://127.0.0.1:{port}/", viewport={"width": 1024, "height": 768},
                                      init_script=init_script)
            yield page
            browser.close()
    finally:
        app.demo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", default="activations,preprocessing,init,batchnorm,dropout")
    parser.add_argument("--repeats", type=int, default=1, help="replays of each tab's recorded updates")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--against", choices=list(BASELINE), default="fresh",
                        help="the baseline: drawn from scratch, in place with the axes' automargin on, or each "
                             "draw in the task of Gradio's message (no replays: they time one draw either way)")
    args = parser.parse_args()

    with app_page() as page:
        for k, name in enumerate(args.tabs.split(",")):
            tasks = {}
            for fresh in ([True, False] if k % 2 == 0 else [False, True]):
                start, tasks[fresh] = run_tab(page, name, args.seed + fresh, fresh=fresh, against=args.against)
            new = "in a task of its own" if args.against == "atonce" else "in place"
            said = {f: f"{max(t, default=0):.0f} ms ({sum(ms > 200 for ms in t)} over 200 ms, {sum(t):.0f} ms in all)"
                    for f, t in tasks.items()}
            print(f"{name}: longest task, {BASELINE[args.against]} {said[True]}, {new} {said[False]}; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            if args.against == "atonce":
                continue
            end = page.evaluate("window.__figs.length")
            in_place, fresh = [], []
            for r in range(args.repeats):
                for i in range(start, end):
                    a, b = page.evaluate(REPLAY, [i, (i + r) % 2 == 1, args.against])
                    in_place.append(a)
                    fresh.append(b)
            ratio = statistics.median(fresh) / statistics.median(in_place)
            print(f"{name} replayed: {end - start} updates x {args.repeats}; "
                  f"{BASELINE[args.against]} median {statistics.median(fresh):.0f} ms "
                  f"(longest {max(fresh):.0f}), in place median {statistics.median(in_place):.0f} ms "
                  f"(longest {max(in_place):.0f}); {ratio:.2f}x; load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
