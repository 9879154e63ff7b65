"""What a figure's first draw costs in the page, and which of its parts: each figure of a tab drawn from
scratch again and again into a new div beside it (as Gradio's Plot draws a first value: ``Plotly.react``
on an empty div, then ``Plots.resize``), as sent and with one part taken out, interleaved, in one page.

Per tab: one streaming run of the quick settings records every figure the page was sent (the last value of
each is kept); then each figure is drawn ``--repeats`` times per variant, variants in rotating order. Printed
per figure and variant: the median of the draw's own time (the synchronous ``react``, what
tests/test_stall.py times), the median main-thread CPU time of the whole draw (CDP's ThreadTime around it,
plotly's resize 100 ms later included: close to the idle time on a loaded machine), the ratio of each to the
figure as sent, and how many times plotly drew the figure again with grown margins (``margin redraws``;
where it did, a "grew" line says which margins). Variants take out: the annotations (panel titles), the
tick labels, the modebar, the drag layers and hover (``staticPlot``), the axes' drag handles, the shapes,
the legend, the hidden traces (groups behind buttons), the template's trace defaults or the template,
plotly's automargin or margin growth
(``noAutoexpand``: no second draw), or Gradio's ``Plots.resize``; or they draw point clouds with WebGL
(``webgl``), no grid lines (``noGrid``), no axis at all where it has neither tick labels nor a title
(``unlabelledAxesHidden``). With ``--profile`` the draws of the figure
as sent run under a CDP CPU profile: the functions they spent the most time in (inclusive).

    python bench/first_draws.py [--tabs init,activations] [--repeats 5] [--variants asSent,noAutoexpand] [--profile]
                                [--save before.json] [--against before.json]

``--save FILE`` writes each tab's figures (their last values) to FILE; ``--against FILE`` draws those saved
figures too, interleaved with the page's own as variant ``saved``: a figure changed in the code (fewer panels,
traces, points) against itself before the change, one page, same seed. A figure split in two is compared
by the sum of its parts' medians (``--parts functions=functions,functions_shapes``).
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

# Draws figure ``i`` of the recording (``variant`` applied to its JSON) into a new div placed after its
# Plot block, as Gradio's Plot draws a first value; returns the react's own ms. The div is purged after.
FIRST_DRAW = """
async ([i, variant]) => {
  const {id, fig} = window.__figs[i];
  const {data, layout, config} = JSON.parse(fig);
  const axes = (l) => Object.keys(l).filter((k) => /^[xy]axis\\d*$/.test(k));
  const everyAxis = (set) => {  // the figure's axes and its template's
    for (const k of axes(layout)) Object.assign(layout[k], set);
    const t = layout.template?.layout;
    if (t) for (const k of ['xaxis', 'yaxis']) t[k] = {...t[k], ...set};
  };
  const change = {
    asSent: () => {},
    noAnnotations: () => { layout.annotations = []; },
    noTickLabels: () => everyAxis({showticklabels: false}),
    noAutomargin: () => everyAxis({automargin: false}),
    noModebar: () => { config.displayModeBar = false; },
    staticPlot: () => { config.staticPlot = true; },
    noShapes: () => { layout.shapes = []; },
    noLegend: () => { layout.showlegend = false; },
    noAutoexpand: () => {},
    noHiddenTraces: () => { data.splice(0, data.length, ...data.filter((t) => t.visible !== false)); },
    noResize: () => {},
    webgl: () => data.forEach((t) => {  // point clouds drawn by WebGL, not one SVG node a point
      if ((t.type || 'scatter') === 'scatter' && t.mode === 'markers') t.type = 'scattergl';
    }),
    noAxisDragHandles: () => { config.showAxisDragHandles = false; },
    noGrid: () => everyAxis({showgrid: false, zeroline: false}),
    unlabelledAxesHidden: () => {  // an axis without tick labels or title drawn not at all (no grid, no ticks)
      for (const k of axes(layout)) {
        if (layout[k].showticklabels === false && !layout[k].title?.text) layout[k].visible = false;
      }
    },
    templateLayoutOnly: () => { if (layout.template) layout.template = {layout: layout.template.layout}; },
    noTemplate: () => { delete layout.template; },
  }[variant]();
  config.responsive = true; layout.autosize = true; (layout.margin ||= {}).autoexpand = true;  // as Gradio's Plot
  if (variant === 'noAutoexpand') layout.margin.autoexpand = false;
  // a saved figure whose key is gone (split) sits beside the tab's first figure: the same width
  const below = document.getElementById(id) || document.querySelector(`[id^=${id.split('-')[0]}-plot-]`);
  const div = document.createElement('div');
  div.style.width = below.getBoundingClientRect().width + 'px';
  below.parentNode.insertBefore(div, below.nextSibling);
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
  const t = performance.now();
  window.__plainReact(div, data, layout, config);
  const ms = performance.now() - t;
  const redraws = div._fullLayout._redrawFromAutoMarginCount || 0;
  const size = div._fullLayout._size, asked = div._fullLayout.margin;
  const grew = ['l', 'r', 't', 'b'].map((k) => `${k} ${asked[k]} -> ${Math.round(size[k])}`).join(', ');
  if (redraws) console.log(`grew ${id}: ${grew}`);  // the margins plotly drew it again with
  if (variant !== 'noResize') window.Plotly.Plots.resize(div);
  await new Promise((r) => setTimeout(r, 150));  // plotly's resize redraw comes 100 ms later
  window.Plotly.purge(div); div.remove();
  return [ms, redraws];
}
"""

SAVED = "(ix) => Object.fromEntries(ix.map(([f, i]) => [f, window.__figs[i].fig]))"  # figure key -> JSON

VARIANTS = ["asSent", "noAnnotations", "noTickLabels", "noAutomargin", "noModebar", "staticPlot", "noShapes",
            "noLegend", "noAutoexpand"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", default="init,activations,dropout,norms")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--save", type=Path, help="write the tabs' figures (last values) to this JSON file")
    parser.add_argument("--against", type=Path, help="also draw the figures saved in this file (variant 'saved')")
    parser.add_argument("--parts", default="", help="old=new1,new2;...: a split figure's parts, for the totals")
    args = parser.parse_args()
    variants = args.variants.split(",")
    saved_all = json.loads(args.against.read_text()) if args.against else {}
    to_save: dict[str, dict[str, str]] = {}
    parts = dict((old, new.split(",")) for old, new in (p.split("=") for p in args.parts.split(";") if p))

    from bench.page_figures import app_page, run_tab
    from bench.profile_page import inclusive

    with app_page() as page:
        page.on("console", lambda m: m.text.startswith("grew") and print("   ", m.text, flush=True))
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

        def cpu_ms() -> float:  # the page's main thread's CPU time: near its idle wall time under load
            metrics = cdp.send("Performance.getMetrics")["metrics"]
            return 1000 * next(m["value"] for m in metrics if m["name"] == "ThreadTime")

        for name in args.tabs.split(","):
            start, _ = run_tab(page, name, args.seed, fresh=False, against="atonce")
            figs = page.evaluate("(s) => window.__figs.slice(s).map((f, k) => [f.id, s + k, f.fig.length])", start)
            last = {fid: (i, size) for fid, i, size in figs}  # the last value of each figure
            if args.save:
                to_save[name] = page.evaluate(SAVED,
                                              [[f, i] for f, (i, _) in last.items()])
            saved = {}
            for fid, fig in saved_all.get(name, {}).items():  # appended to the recording, drawn like its own
                saved[fid] = page.evaluate("([id, fig]) => window.__figs.push({id, fig}) - 1", [fid, fig])
            print(f"\n{name}: load {os.getloadavg()[0]:.1f}", flush=True)
            medians: dict[str, float] = {}
            for fid, (i, size) in last.items():
                drawn = variants + ["saved"] * (fid in saved)  # the saved figure in the same rotation
                ms, cpu, redraws = {v: [] for v in drawn}, {v: [] for v in drawn}, {}
                for r in range(args.repeats):
                    for k in range(len(drawn)):
                        v = drawn[(k + r) % len(drawn)]
                        before = cpu_ms()
                        which = [saved[fid], "asSent"] if v == "saved" else [i, v]
                        took, redraws[v] = page.evaluate(FIRST_DRAW, which)
                        cpu[v].append(cpu_ms() - before)
                        ms[v].append(took)
                wall = {v: statistics.median(m) for v, m in ms.items()}
                used = {v: statistics.median(m) for v, m in cpu.items()}
                medians[fid] = used["asSent"]
                base, base_cpu = wall["asSent"], used["asSent"]
                said = ", ".join(f"{v} {wall[v]:.0f} ms ({base / max(wall[v], 1e-3):.2f}x), "
                                 f"CPU {used[v]:.0f} ({base_cpu / max(used[v], 1e-3):.2f}x)"
                                 for v in variants if v != "asSent")
                print(f"  {fid} ({size // 1024} KiB): as sent {base:.0f} ms, CPU {base_cpu:.0f} ms "
                      f"({redraws['asSent']} margin redraws); {said}; "
                      f"margin redraws {redraws}; load {os.getloadavg()[0]:.1f}",
                      flush=True)
                if "saved" in used:
                    print(f"    saved -> as sent: CPU {used['saved']:.0f} -> {base_cpu:.0f} ms "
                          f"({used['saved'] / max(base_cpu, 1e-3):.2f}x less), "
                          f"wall {wall['saved']:.0f} -> {base:.0f} ms, "
                          f"margin redraws {redraws['saved']} -> {redraws['asSent']}", flush=True)
                if args.profile:
                    cdp.send("Profiler.enable")
                    cdp.send("Profiler.setSamplingInterval", {"interval": 250})
                    cdp.send("Profiler.start")
                    for _ in range(args.repeats):
                        page.evaluate(FIRST_DRAW, [i, "asSent"])
                    profile = cdp.send("Profiler.stop")["profile"]
                    per = (profile["endTime"] - profile["startTime"]) / 1000 / max(1, len(profile["samples"]))
                    busy = [s for s, dt in zip(profile["samples"], profile["timeDeltas"])]
                    nodes = {n["id"]: n["callFrame"]["functionName"] for n in profile["nodes"]}
                    busy = [s for s in busy if nodes[s] not in ("(idle)", "(program)")]
                    top = inclusive(profile, busy, per)
                    print("    per draw: " + ", ".join(f"{k} {v / args.repeats:.0f}" for k, v in top[:14]), flush=True)
            print(f"  {name}: longest first draw {max(medians.values(), default=0):.0f} ms CPU "
                  f"({max(medians, key=medians.get, default='')})", flush=True)
            for old, new in parts.items():
                if old.split("-plot-")[0] == name and all(n in medians for n in new):
                    print(f"  {old} split into {new}: CPU {sum(medians[n] for n in new):.0f} ms in all", flush=True)
    if args.save:
        args.save.write_text(json.dumps(to_save))


if __name__ == "__main__":
    main()
