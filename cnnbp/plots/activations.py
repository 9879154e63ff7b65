"""Figures of the activations lesson: pure functions, measured numbers -> plotly figures.

>>> fig = activation_grid([dict(name="relu", label="ReLU", x=[-1, 0, 1], value=[0, 0, 1],
...                             grad=[0, 0, 1], saturated=[(-1, 0)])],
...                       n_cols=1, title="ReLU", threshold=0.1)
>>> [t.name for t in fig.data]
['f(x)', "f'(x)"]
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.plots.common import apply_layout, color_for

SATURATED_FILL = "rgba(214, 39, 40, 0.12)"


def activation_grid(curves: Sequence[dict], *, n_cols: int, title: str, threshold: float) -> go.Figure:
    """One panel per activation: f(x) solid, f'(x) dashed, saturated ranges shaded.

    ``curves``: dicts with ``name``, ``label``, ``x``, ``value``, ``grad`` and ``saturated``
    (a list of (x from, x to) where |f'| < ``threshold`` x its peak)."""
    n_rows = max(1, -(-len(curves) // n_cols))
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[c["label"] for c in curves],
                        horizontal_spacing=0.04, vertical_spacing=0.1 if n_rows > 1 else 0.15)
    for i, c in enumerate(curves):
        row, col = i // n_cols + 1, i % n_cols + 1
        fig.add_trace(go.Scatter(x=c["x"], y=c["value"], mode="lines", name="f(x)", legendgroup="f",
                                 showlegend=i == 0, line=dict(color=color_for(0)),
                                 meta=c["name"], hovertemplate="x %{x:.3g}<br>f(x) %{y:.4g}<extra></extra>"),
                      row=row, col=col)
        fig.add_trace(go.Scatter(x=c["x"], y=c["grad"], mode="lines", name="f'(x)", legendgroup="g",
                                 showlegend=i == 0, line=dict(color=color_for(1), dash="dash"),
                                 meta=c["name"], hovertemplate="x %{x:.3g}<br>f'(x) %{y:.4g}<extra></extra>"),
                      row=row, col=col)
        for lo, hi in c["saturated"]:
            fig.add_vrect(x0=lo, x1=hi, fillcolor=SATURATED_FILL, line_width=0, layer="below",
                          name=f"saturated {c['name']}", row=row, col=col)
    fig.update_xaxes(title_text="x", row=n_rows)
    fig.update_yaxes(title_text="f, f'", col=1)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    apply_layout(fig, f"{title} (shaded: |f'(x)| < {threshold:g} x its peak)", height=max(320, 230 * n_rows + 110))
    return fig


def zigzag_paths(paths: Sequence[dict], *, w_star: tuple[float, float], title: str) -> go.Figure:
    """Side by side, one panel per input kind: the loss contours and the SGD path over (w1, w2).

    ``paths``: dicts with ``label``, ``w1``, ``w2`` (the path), ``grid_w1``, ``grid_w2``,
    ``grid_loss`` ([w2][w1])."""
    fig = make_subplots(rows=1, cols=len(paths), subplot_titles=[p["label"] for p in paths],
                        horizontal_spacing=0.08)
    for i, p in enumerate(paths, start=1):
        fig.add_trace(go.Contour(x=p["grid_w1"], y=p["grid_w2"], z=p["grid_loss"], colorscale="Blues",
                                 reversescale=True, showscale=False, contours=dict(coloring="lines"),
                                 name=f"loss, {p['label']}", hoverinfo="skip", ncontours=18),
                      row=1, col=i)
        fig.add_trace(go.Scatter(x=p["w1"], y=p["w2"], mode="lines+markers", name=f"SGD path, {p['label']}",
                                 line=dict(color=color_for(i - 1)), marker=dict(size=4),
                                 hovertemplate="step %{pointNumber}<br>w1 %{x:.3f}<br>w2 %{y:.3f}<extra></extra>"),
                      row=1, col=i)
        fig.add_trace(go.Scatter(x=[w_star[0]], y=[w_star[1]], mode="markers", name="optimum w*",
                                 legendgroup="w*", showlegend=i == 1,
                                 marker=dict(symbol="star", size=14, color="black")), row=1, col=i)
        fig.update_xaxes(title_text="w1", row=1, col=i)
        fig.update_yaxes(title_text="w2", scaleanchor=f"x{'' if i == 1 else i}", row=1, col=i)
    return apply_layout(fig, title, height=460)


def steps_to_target(bars: Sequence[dict], *, target: float, total_steps: int, title: str) -> go.Figure:
    """Steps each variant needed to reach ``target`` test accuracy; variants that never did
    get a hatched bar at ``total_steps`` labelled "not reached". ``bars``: ``name``, ``steps``."""
    names = [b["name"] for b in bars]
    reached = [b["steps"] for b in bars]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[s if s is not None else None for s in reached], name="steps to target",
                         marker_color=color_for(0), text=[f"{s}" if s is not None else "" for s in reached],
                         textposition="outside"))
    missing = [total_steps if s is None else None for s in reached]
    if any(m is not None for m in missing):
        fig.add_trace(go.Bar(x=names, y=missing, name=f"not reached in {total_steps} steps",
                             marker=dict(color="rgba(127,127,127,0.35)", pattern=dict(shape="/")),
                             text=["not reached" if m is not None else "" for m in missing],
                             textposition="outside"))
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(title_text=f"training steps to {target:.0%} test accuracy")
    return apply_layout(fig, title, height=400)
