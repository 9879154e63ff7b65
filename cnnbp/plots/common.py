"""Pure functions: measured numbers -> plotly figures (titles, axis labels, units).

Nothing here computes a statistic; every value drawn is one the caller measured, so a test
can read the figure's data back and compare it with the numbers.
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Okabe & Ito's colour-blind-safe palette (black last: reference lines are black), then darker
# tones of the same hues for variants beyond eight.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#004C77", "#8F3F00", "#006B4E", "#9C6B00"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
# Read from the back of a lecture hall on a 1024 x 768 projector: ticks and legends >= 16 px.
FONT = dict(size=16)
TITLE_FONT = dict(size=19)
TITLE_CHARS = 62  # a 19 px title line that fits the figure's width beside the settings at 1024 px
LEGEND_ROW_PX = 28


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def wrap_title(title: str, width: int = TITLE_CHARS) -> str:
    """Break a long title at spaces into lines of at most ``width`` characters (plotly does not
    wrap, it clips), keeping any line breaks already in it."""
    lines: list[str] = []
    for part in title.split("<br>"):
        line = ""
        for word in part.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines)


def legend_rows(fig: go.Figure, width_px: int = 640) -> int:
    """About how many rows the horizontal legend below the plot takes at ``width_px``."""
    names = [t.name for t in fig.data if getattr(t, "name", None) and getattr(t, "showlegend", None) is not False]
    if not names or fig.layout.showlegend is False:
        return 0
    rows, used = 1, 0
    for name in dict.fromkeys(names):
        item = 45 + 9 * len(str(name))
        if used and used + item > width_px:
            rows, used = rows + 1, 0
        used += item
    return rows


def apply_layout(fig: go.Figure, title: str, *, height: int = 380) -> go.Figure:
    """The app's one figure style: large type, the legend below the plot in its own margin (never
    over an axis), its height grown by what the title and legend take. The title is not wrapped
    here (tests read ``layout.title.text`` as the lesson wrote it): a lesson wraps a long title
    with ``wrap_title`` itself."""
    title_lines = title.count("<br>") + 1
    rows = legend_rows(fig)
    top = 34 + 38 * title_lines
    bottom = 70 + LEGEND_ROW_PX * rows
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", font=TITLE_FONT, yref="container", y=1.0,
                   yanchor="top", pad=dict(t=10 + 16 * (title_lines - 1))),
        height=height + 26 * (title_lines - 1) + LEGEND_ROW_PX * rows,
        font=FONT, template="plotly_white", margin=dict(l=70, r=20, t=top, b=bottom),
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left",
                    font=FONT),
    )
    return fig


def layer_histograms(
    rows: Sequence[dict],
    *,
    row_labels: Sequence[str],
    layer_labels: Sequence[str],
    groups: Sequence[str],
    title: str,
) -> go.Figure:
    """The lecture's rows of histograms: one row per ``row_label``, one column per layer.

    ``rows``: dicts with ``group``, ``row``, ``layer`` (index), ``counts``, ``edges``, ``mean``,
    ``std``. Several ``groups`` (e.g. activations) share the grid; buttons switch between them.
    """
    n_rows, n_cols = len(row_labels), len(layer_labels)
    fig = make_subplots(rows=n_rows, cols=n_cols, shared_yaxes=False,
                        horizontal_spacing=0.015, vertical_spacing=0.06 if n_rows > 1 else 0.1,
                        column_titles=list(layer_labels), row_titles=list(row_labels))
    for r in rows:
        edges = r["edges"]
        centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
        fig.add_trace(
            go.Bar(x=centres, y=r["counts"], width=edges[1] - edges[0],
                   marker_color=color_for(row_labels.index(r["row"])),
                   name=f"{r['group']} | {r['row']} | {layer_labels[r['layer']]}", showlegend=False,
                   visible=r["group"] == groups[0],
                   hovertemplate="value %{x:.3g}<br>count %{y}<extra>"
                   + f"mean {r['mean']:.3g}, std {r['std']:.3g}</extra>"),
            row=row_labels.index(r["row"]) + 1, col=r["layer"] + 1,
        )
    fig.update_xaxes(tickfont=dict(size=9), nticks=3)
    fig.update_yaxes(showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    if len(groups) > 1:
        buttons = [dict(label=g, method="update",
                        args=[{"visible": [r["group"] == g for r in rows]},
                              {"title.text": f"{title}: {g}"}]) for g in groups]
        fig.update_layout(updatemenus=[dict(type="buttons", direction="right", buttons=buttons,
                                            x=1.0, xanchor="right", y=1.12, yanchor="bottom")])
    apply_layout(fig, f"{title}: {groups[0]}", height=max(260, 130 * n_rows + 90))
    fig.update_layout(bargap=0, margin=dict(l=20, r=110, t=80, b=30))
    return fig


def per_layer_profiles(series: Sequence[dict], *, panels: Sequence[tuple[str, str, bool]],
                       title: str, x_title: str = "layer") -> go.Figure:
    """Side-by-side line panels over layers. ``series``: dicts with ``name``, ``color_key``,
    ``dash_key`` and one list per panel key; ``panels``: (key, y title, log y)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[1] for p in panels],
                        horizontal_spacing=0.08)
    color_keys = list(dict.fromkeys(s["color_key"] for s in series))
    dash_keys = list(dict.fromkeys(s["dash_key"] for s in series))
    for col, (key, y_title, log_y) in enumerate(panels, start=1):
        for s in series:
            values = s[key]
            fig.add_trace(go.Scatter(
                x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=s["name"],
                legendgroup=s["name"], showlegend=col == 1,
                line=dict(color=color_for(color_keys.index(s["color_key"])),
                          dash=DASHES[dash_keys.index(s["dash_key"]) % len(DASHES)])),
                row=1, col=col)
        fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear", row=1, col=col)
        fig.update_xaxes(title_text=x_title, dtick=1, row=1, col=col)
    return apply_layout(fig, title, height=420)


def training_curves(histories: Sequence[dict], *, title: str) -> go.Figure:
    """Training loss per step and test accuracy at each evaluation, one line per variant.
    ``histories``: dicts with ``name``, ``color_key``, ``dash_key``, ``steps``, ``loss``,
    ``eval_steps``, ``test_accuracy``."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["training loss (cross-entropy)",
                                                        "test accuracy"], horizontal_spacing=0.1)
    color_keys = list(dict.fromkeys(h["color_key"] for h in histories))
    dash_keys = list(dict.fromkeys(h["dash_key"] for h in histories))
    for h in histories:
        line = dict(color=color_for(color_keys.index(h["color_key"])),
                    dash=DASHES[dash_keys.index(h["dash_key"]) % len(DASHES)])
        fig.add_trace(go.Scatter(x=h["steps"], y=h["loss"], mode="lines", name=h["name"],
                                 legendgroup=h["name"], line=line), row=1, col=1)
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["test_accuracy"], mode="lines+markers",
                                 name=h["name"], legendgroup=h["name"], showlegend=False, line=line),
                      row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=1, col=2)
    return apply_layout(fig, title, height=420)


def small_multiples(panels: Sequence[dict], *, n_cols: int, title: str, x_title: str,
                    y_title: str, log_y: bool = False) -> go.Figure:
    """A grid of small line charts. ``panels``: dicts with ``title`` and ``lines`` (each a dict
    with ``name``, ``x``, ``y``); line i has the same colour in every panel."""
    n_rows = max(1, -(-len(panels) // n_cols))
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[p["title"] for p in panels],
                        shared_yaxes=True, horizontal_spacing=0.03, vertical_spacing=0.12)
    for i, panel in enumerate(panels):
        for j, line in enumerate(panel["lines"]):
            fig.add_trace(go.Scatter(x=line["x"], y=line["y"], mode="lines+markers", name=line["name"],
                                     legendgroup=line["name"], showlegend=i == 0,
                                     line=dict(color=color_for(j)), marker=dict(size=4)),
                          row=i // n_cols + 1, col=i % n_cols + 1)
    fig.update_xaxes(title_text=x_title, row=n_rows)
    fig.update_yaxes(type="log" if log_y else "linear")
    fig.update_yaxes(title_text=y_title, col=1)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    return apply_layout(fig, title, height=max(300, 220 * n_rows + 120))


def heatmap(values: Sequence[Sequence[float]], *, x_labels: Sequence[str], y_labels: Sequence[str],
            title: str, colorbar: str, zmin: float = 0.0, zmax: float = 1.0, fmt: str = ".0%") -> go.Figure:
    """A labelled heat map with each cell's value written in it."""
    text = [[format(v, fmt) for v in row] for row in values]
    fig = go.Figure(go.Heatmap(z=values, x=list(x_labels), y=list(y_labels), zmin=zmin, zmax=zmax,
                               colorscale="Reds", text=text, texttemplate="%{text}",
                               colorbar=dict(title=colorbar)))
    fig.update_yaxes(autorange="reversed")
    return apply_layout(fig, title, height=max(260, 34 * len(y_labels) + 140))


def grouped_bars(groups: Sequence[dict], *, categories: Sequence[str], title: str, y_title: str,
                 reference: Sequence[float] | None = None, reference_name: str = "") -> go.Figure:
    """Bars per category, one bar per group (``name``, ``values``); an optional reference line."""
    fig = go.Figure()
    for i, g in enumerate(groups):
        fig.add_trace(go.Bar(x=list(categories), y=g["values"], name=g["name"], marker_color=color_for(i),
                             text=[f"{v:g}" for v in g["values"]], textposition="outside"))
    if reference is not None:
        fig.add_trace(go.Scatter(x=list(categories), y=list(reference), mode="markers+lines",
                                 name=reference_name, line=dict(color="black", dash="dot")))
    fig.update_yaxes(title_text=y_title)
    return apply_layout(fig, title, height=400)
