"""Figures of the normalisation lesson: pure functions, measured numbers -> plotly figures.

>>> fig = tensor_picture([dict(kind="instance", title="InstanceNorm", shape=[2, 2, 1, 2],
...                            lit=[[0, 0, 0, 0], [0, 0, 0, 1]], chosen=[0, 0, 0, 0])], title="demo")
>>> [t.name for t in fig.data]
['InstanceNorm: shares the statistic', 'InstanceNorm: other cells', 'InstanceNorm: chosen cell']
"""

from __future__ import annotations

import itertools
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.plots.common import apply_layout, color_for

LIT = "#d62728"
UNLIT = "#9e9e9e"


def _word(h: int, w: int, width: int) -> int:
    return h * width + w


def tensor_picture(panels: Sequence[dict], *, title: str, n_cols: int = 2) -> go.Figure:
    """One 3-D panel per norm: every cell of an (N, C, H, W) tensor as a marker at (book n,
    page c, word h*W + w); the cells averaged together with the chosen one light up.

    ``panels``: dicts with ``kind``, ``title``, ``shape`` (N, C, H, W), ``lit`` (the lit cells
    as [n, c, h, w] lists) and ``chosen`` (the chosen cell)."""
    n_rows = max(1, -(-len(panels) // n_cols))
    fig = make_subplots(rows=n_rows, cols=n_cols, specs=[[{"type": "scene"}] * n_cols] * n_rows,
                        subplot_titles=[p["title"] for p in panels], horizontal_spacing=0.02,
                        vertical_spacing=0.08)
    for i, p in enumerate(panels):
        n, c, h, w = p["shape"]
        lit = {tuple(cell) for cell in p["lit"]}
        cells = list(itertools.product(range(n), range(c), range(h), range(w)))
        groups = [("shares the statistic", [x for x in cells if x in lit], dict(size=6, color=LIT), 0.95),
                  ("other cells", [x for x in cells if x not in lit], dict(size=4, color=UNLIT), 0.3),
                  ("chosen cell", [tuple(p["chosen"])], dict(size=9, color="black", symbol="diamond"), 1.0)]
        for name, members, marker, opacity in groups:
            fig.add_trace(go.Scatter3d(opacity=opacity,
                x=[m[0] for m in members], y=[m[1] for m in members], z=[_word(m[2], m[3], w) for m in members],
                mode="markers", marker=marker, name=f"{p['title']}: {name}", meta=p["kind"],
                showlegend=False,
                text=[f"book {m[0]}, page {m[1]}, word ({m[2]}, {m[3]})" for m in members],
                hovertemplate="%{text}<extra>" + name + "</extra>"),
                row=i // n_cols + 1, col=i % n_cols + 1)
    axes = dict(xaxis=dict(title="N: book", dtick=1), yaxis=dict(title="C: page", dtick=1),
                zaxis=dict(title="H x W: word", dtick=1))
    for k in range(len(panels)):
        fig.update_layout({f"scene{'' if k == 0 else k + 1}": dict(
            **axes, aspectmode="cube", camera=dict(eye=dict(x=1.6, y=-1.6, z=1.0)))})
    apply_layout(fig, title, height=380 * n_rows + 60)
    fig.update_layout(margin=dict(l=0, r=0, t=70, b=10))
    return fig


def final_accuracy_bars(rows: Sequence[dict], *, title: str) -> go.Figure:
    """Mean final test accuracy per norm (bars, labelled with the time per epoch) and each
    seed's (dots). ``rows``: dicts with ``norm``, ``mean``, ``seeds`` (accuracies),
    ``seconds_per_epoch``."""
    names = [r["norm"] for r in rows]
    fig = go.Figure(go.Bar(x=names, y=[r["mean"] for r in rows], name="mean over seeds", marker_color=color_for(0),
                           text=[f"{r['mean']:.1%}<br>{r['seconds_per_epoch']:.2f} s/epoch" for r in rows],
                           textposition="inside"))
    fig.add_trace(go.Scatter(x=[r["norm"] for r in rows for _ in r["seeds"]],
                             y=[a for r in rows for a in r["seeds"]], mode="markers", name="one seed",
                             marker=dict(color="black", size=7)))
    fig.update_yaxes(title_text="final test accuracy", range=[0, 1.02])
    fig.update_xaxes(title_text="norm after every conv")
    return apply_layout(fig, title, height=400)


def batch_sweep(series: Sequence[dict], *, title: str, extra: Sequence[dict] = ()) -> go.Figure:
    """Final test accuracy against the batch size (log axis, falling to the right), one line per
    norm (the mean over seeds) with each seed's dot. ``series``: dicts with ``name``,
    ``batch_sizes``, ``mean``, ``seeds`` ([batch][seed]). ``extra``: single points (``name``,
    ``batch_size``, ``accuracy``, ``symbol``), e.g. BatchNorm at batch size 1."""
    fig = go.Figure()
    for i, s in enumerate(series):
        fig.add_trace(go.Scatter(x=s["batch_sizes"], y=s["mean"], mode="lines+markers", name=s["name"],
                                 legendgroup=s["name"], line=dict(color=color_for(i))))
        fig.add_trace(go.Scatter(x=[b for b, accs in zip(s["batch_sizes"], s["seeds"]) for _ in accs],
                                 y=[a for accs in s["seeds"] for a in accs], mode="markers",
                                 name=f"{s['name']}, one seed", legendgroup=s["name"], showlegend=False,
                                 marker=dict(color=color_for(i), size=5, opacity=0.5)))
    for p in extra:
        fig.add_trace(go.Scatter(x=[p["batch_size"]], y=[p["accuracy"]], mode="markers+text", name=p["name"],
                                 text=[p["name"]], textposition="bottom center",
                                 marker=dict(color="black", size=11, symbol=p.get("symbol", "x"))))
    ticks = sorted({b for s in series for b in s["batch_sizes"]} | {p["batch_size"] for p in extra}, reverse=True)
    fig.update_xaxes(title_text="batch size (images per step)", type="log", autorange="reversed",
                     tickvals=ticks, ticktext=[str(b) for b in ticks])
    fig.update_yaxes(title_text="final test accuracy", range=[0, 1.02])
    return apply_layout(fig, title, height=420)


def contrast_maps(images: Sequence[dict], *, title: str) -> go.Figure:
    """Rows of (before, after, |after - before|) heat maps. ``images``: dicts with ``name``,
    ``before`` and ``after`` (2-D lists), ``change`` (the max abs change, for the row title).
    The |change| maps share one colour scale (white: no change), so rows compare at a glance."""
    titles = []
    for im in images:
        titles += [f"{im['name']}: before", f"{im['name']}: after", f"|change|, max {im['change']:.2g}"]
    fig = make_subplots(rows=len(images), cols=3, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.09)
    top = max(max(im["change"] for im in images), 1e-12)
    for r, im in enumerate(images, start=1):
        diff = [[abs(a - b) for a, b in zip(ra, rb)] for ra, rb in zip(im["after"], im["before"])]
        lo = min(min(min(row) for row in im["before"]), min(min(row) for row in im["after"]))
        hi = max(max(max(row) for row in im["before"]), max(max(row) for row in im["after"]))
        for col, z, scale in ((1, im["before"], "Greys"), (2, im["after"], "Greys"), (3, diff, "Reds")):
            fig.add_trace(go.Heatmap(z=z, colorscale=scale, showscale=False, name=f"{im['name']} {col}",
                                     zmin=0 if col == 3 else lo, zmax=top if col == 3 else hi,
                                     hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>"),
                          row=r, col=col)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    return apply_layout(fig, title, height=190 * len(images) + 90)


def lines_over(series: Sequence[dict], *, x_title: str, y_title: str, title: str, log_x: bool = True,
               log_y: bool = False, reference: dict | None = None) -> go.Figure:
    """Plain lines: ``series`` dicts with ``name``, ``x``, ``y``; ``reference``: a horizontal
    line (``name``, ``y``)."""
    fig = go.Figure()
    for i, s in enumerate(series):
        fig.add_trace(go.Scatter(x=s["x"], y=s["y"], mode="lines+markers", name=s["name"],
                                 line=dict(color=color_for(i))))
    if reference is not None:
        fig.add_hline(y=reference["y"], line_dash="dot", line_color="black", annotation_text=reference["name"])
    ticks = sorted({x for s in series for x in s["x"]})
    fig.update_xaxes(title_text=x_title, type="log" if log_x else "linear", tickvals=ticks,
                     ticktext=[f"{x:g}" for x in ticks])
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    return apply_layout(fig, title, height=400)
