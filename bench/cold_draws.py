"""A figure's first draw on a cold page: each draw in a new page (plotly.js loaded and warmed by one small
figure, as the app's page preloads it; nothing of the figure's own kind drawn before), so plotly's text
measurements and the JIT start cold, as for the first value of a figure in the app. bench/first_draws.py
draws a figure again and again in one page (warm: it under-reports a first draw up to 2x).

Two sets of figures, as ``bench/first_draws.py --save`` writes them ({tab: {figure id: JSON}}) or as
``--build`` writes them from this checkout's code (each tab's quick run, its final figures), drawn
alternately (old, new, new, old, ...), each into a 682 px wide div (a figure beside the settings at
1024 x 768). Printed per figure: the median main-thread CPU ms (CDP ThreadTime) of the synchronous
``Plotly.newPlot`` alone (what tests/test_stall.py times), its wall ms, the ratio, and the load.

    python bench/cold_draws.py --build activations,init --out /tmp/new.json
    python bench/cold_draws.py --old /tmp/before.json --new /tmp/new.json [--figures functions,dead] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("CPU_CORES", "1")

WIDTH_PX = 682  # the narrowest a figure gets: beside the settings column at 1024 x 768

DRAW = """
([fig, width]) => {
  const {data, layout, config = {}} = JSON.parse(fig);  // a figure's own JSON has no config: Gradio's Plot adds it
  const div = document.createElement('div');
  div.style.width = width + 'px';
  document.body.appendChild(div);
  config.responsive = true; layout.autosize = true; (layout.margin ||= {}).autoexpand = true;  // as Gradio's Plot
  const t = performance.now();
  Plotly.newPlot(div, data, layout, config);
  return [performance.now() - t, div._fullLayout._redrawFromAutoMarginCount || 0];
}
"""
WARM = "() => Plotly.newPlot(document.getElementById('warm'), [{y: [1, 2, 3]}], {width: 300, height: 200})"


def build(tabs: list[str], out: Path) -> None:
    """Each tab's quick run with this checkout's code: its final figures, keyed as the app's page ids."""
    from cnnbp.lessons import get_lesson, run_lesson
    from cnnbp.lessons.base import merge_frames

    found = {}
    for tab in tabs:
        final = merge_frames(run_lesson(tab, get_lesson(tab).quick))
        found[tab] = {f"{tab}-plot-{key}": fig.to_json() for key, fig in final.figures.items()}
        print(f"{tab}: {sorted(final.figures)}", flush=True)
    out.write_text(json.dumps(found))


def draw(old: dict, new: dict, wanted: set[str], repeats: int) -> None:
    import plotly
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    script = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    html = f"<html><body style='margin:0'><div id='warm'></div><script>{script}</script></body></html>"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        def cold(fig: str) -> tuple[float, float, int]:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.set_content(html)
            page.evaluate(WARM)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
            thread = lambda: next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]  # noqa: E731
                                  if m["name"] == "ThreadTime")
            before = thread()
            ms, redraws = page.evaluate(DRAW, [fig, WIDTH_PX])
            cpu = 1000 * (thread() - before)
            page.close()
            return cpu, ms, redraws

        for tab in new:
            for fid in new[tab]:
                if wanted and fid.split("-plot-")[1] not in wanted:
                    continue
                runs: dict[str, list] = {"old": [], "new": []}
                for r in range(repeats):
                    for which in (("old", "new") if r % 2 == 0 else ("new", "old")):  # alternately first
                        fig = (old if which == "old" else new).get(tab, {}).get(fid)
                        if fig is not None:
                            runs[which].append(cold(fig))
                med = {w: [statistics.median(run[k] for run in v) for k in range(3)] for w, v in runs.items() if v}
                said = "; ".join(f"{w} CPU {c:.0f} ms, wall {m:.0f} ms, {d:.0f} margin redraws"
                                 for w, (c, m, d) in med.items())
                ratio = f" ({med['old'][0] / med['new'][0]:.2f}x less)" if "old" in med else ""
                print(f"{fid}: {said}{ratio}; load {os.getloadavg()[0]:.1f}", flush=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", help="tabs whose quick-run figures to write to --out")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--old", type=Path)
    parser.add_argument("--new", type=Path)
    parser.add_argument("--figures", default="", help="figure keys to draw (default: all)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.build:
        build(args.build.split(","), args.out)
        return
    wanted = set(filter(None, args.figures.split(",")))
    old = json.loads(args.old.read_text()) if args.old else {}
    draw(old, json.loads(args.new.read_text()), wanted, args.repeats)


if __name__ == "__main__":
    main()
