"""The architecture lesson's figures and tables: measured and computed numbers -> plotly and pandas.

>>> from cnnbp.lessons.architecture.layers import Shape, parse_spec, stack_rows
>>> fig = shapes(Shape(90, 90, 10), stack_rows(Shape(90, 90, 10), parse_spec("conv 5 k3 s1 p1")))
>>> [t.name for t in fig.data][-3:]
['parameters', 'a fully connected layer instead', 'multiply-adds']
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.lessons.architecture.layers import Row, Shape
from cnnbp.lessons.architecture.models import Summary
from cnnbp.lessons.architecture.receptive import EffectiveField
from cnnbp.lessons.architecture.stacks import STACKS, StackRun
from cnnbp.plots.common import apply_layout, color_for, wrap_title


def human(n: float) -> str:
    """A count for a title: 455, 3.65M, 15.5G.

    >>> human(455), human(3_645_000), human(15_470_264_320)
    ('455', '3.65M', '15.5G')
    """
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


def plain(n: int) -> int | float:
    """A count for JSON, a table or a browser: exact up to 2^53 (what a JavaScript number holds
    exactly), a float beyond (a 4096 x 4096 x 4096 input through fc layers reaches 1e26).

    >>> plain(455), plain(3 * 10**26)
    (455, 3e+26)
    """
    return n if abs(n) < 2**53 else float(n)


def _box(x: float, half_width: float, half_height: float) -> tuple[list[float], list[float]]:
    return ([x - half_width, x + half_width, x + half_width, x - half_width, x - half_width],
            [-half_height, -half_height, half_height, half_height, -half_height])


def shapes(inp: Shape, rows: Sequence[Row]) -> go.Figure:
    """Top: every tensor as a box (height ~ its side, width ~ log2 of its channels), labelled H x W x C;
    bottom: per layer, its parameters, what a fully connected layer would need, its multiply-adds (log)."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.5, 0.5], vertical_spacing=0.14,
                        subplot_titles=["tensor shapes (box height ~ side, width ~ log2 channels)",
                                        "per layer (log scale)"])
    tensors = [("input", inp), *[(f"{r.index}: {r.layer.describe()}", r.out) for r in rows]]
    side = max(max(s.height, s.width) for _, s in tensors)
    widest = max(math.log2(s.channels) + 1 for _, s in tensors)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for i, (_, s) in enumerate(tensors):  # one trace, the boxes apart by gaps: a long stack stays one trace
        # a 1x1 map still shows as a box: at least 4% of the tallest
        x, y = _box(i, 0.4 * (math.log2(s.channels) + 1) / widest, 0.5 * max(s.height, s.width, 0.04 * side) / side)
        xs += [*x, None]
        ys += [*y, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", name="tensors", showlegend=False,
                             line=dict(color=color_for(2)), hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(x=list(range(len(tensors))), y=[0.62] * len(tensors), mode="text", showlegend=False,
                             text=[s.text for _, s in tensors], textfont=dict(size=14), name="shapes",
                             hovertext=[f"{name}: {s.text}" for name, s in tensors], hoverinfo="text"),
                  row=1, col=1)
    labels = [str(r.index) for r in rows]
    for j, (name, values) in enumerate((("parameters", [r.params for r in rows]),
                                        ("a fully connected layer instead", [r.as_fc for r in rows]),
                                        ("multiply-adds", [r.macs for r in rows]))):
        fig.add_trace(go.Bar(x=labels, y=[plain(max(v, 0.5)) for v in values], name=name, marker_color=color_for(j),
                             customdata=[plain(v) for v in values], text=[human(v) for v in values],
                             textposition="outside",
                             hovertemplate="layer %{x}: %{customdata:,}<extra>" + name + "</extra>"), row=2, col=1)
    fig.update_xaxes(tickvals=list(range(len(tensors))), ticktext=["in"] + labels, row=1, col=1)
    fig.update_yaxes(visible=False, range=[-0.6, 0.75], row=1, col=1)
    top = max(max(r.as_fc for r in rows), 1)
    fig.update_yaxes(type="log", title_text="count", range=[-0.5, math.log10(top) * 1.15 + 0.6], row=2, col=1)
    fig.update_xaxes(title_text="layer", type="category", row=2, col=1)
    last = rows[-1]
    params, as_fc = sum(r.params for r in rows), sum(r.as_fc for r in rows)
    title = (f"{inp.text} -> {last.out.text}: {params:,} parameters "
             f"(fully connected: {as_fc:,}), {human(sum(r.macs for r in rows))} multiply-adds"
             if as_fc < 2**53 else f"{inp.text} -> {last.out.text}: {human(params)} parameters "
             f"(fully connected: {as_fc:.3g}), {human(sum(r.macs for r in rows))} multiply-adds")
    return apply_layout(fig, wrap_title(title), height=560)


def layers_table(rows: Sequence[Row]) -> pd.DataFrame:
    return pd.DataFrame([{
        "layer": r.index, "spec": r.layer.describe(), "input": r.inp.text, "output": r.out.text,
        "parameters": plain(r.params), "as fully connected": plain(r.as_fc), "multiply-adds": plain(r.macs),
        "receptive field": f"{r.rf_size[0]}x{r.rf_size[1]}", "jump": f"{r.rf_jump[0]}x{r.rf_jump[1]}",
        "start": f"{r.rf_start[0]:g}, {r.rf_start[1]:g}", "note": "; ".join(r.notes)} for r in rows])


def model_layers(s: Summary) -> go.Figure:
    """The chosen architecture's parameters and multiply-adds per counted layer (conv and linear)."""
    layers = [layer for layer in s.counted.layers if layer.macs or layer.params]
    weighted = [layer for layer in layers if layer.kind in ("Conv2d", "Linear")]
    names = [layer.name for layer in weighted]
    colours = [color_for(1 if layer.kind == "Linear" else 0) for layer in weighted]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["parameters (fc layers in orange)", "multiply-adds"])
    # The x axis is the layer's position (its name on hover and in the table): VGG-16's 16 names,
    # even slanted, ran into each other at 682 px, and EfficientNet has 65 weighted layers.
    order = list(range(1, len(weighted) + 1))
    for row, values, label in ((1, [layer.params for layer in weighted], "parameters"),
                               (2, [layer.macs for layer in weighted], "multiply-adds")):
        fig.add_trace(go.Bar(x=order, y=values, marker_color=colours, showlegend=False, name=label,
                             customdata=names, hovertemplate="%{x}. %{customdata}: %{y:,}<extra></extra>"),
                      row=row, col=1)
    fig.update_xaxes(title_text="weighted layer, in order (names in the table)", row=2, col=1)
    largest = s.largest
    title = (f"{s.label}: {human(s.params)} parameters, {s.fc_share:.0%} in fc layers (largest: {largest.name}, "
             f"{largest.params / s.params:.0%}); {human(s.macs)} multiply-adds")
    return apply_layout(fig, wrap_title(title), height=560)


def models_table(summaries: Sequence[Summary]) -> pd.DataFrame:
    out = []
    for s in summaries:
        out.append({
            "model": s.label, "input": "x".join(map(str, s.input_shape)),
            "parameters (sum numel)": s.params,
            "parameters (our recurrence)": s.params_by_recurrence,
            "parameters (model card)": int(s.reported[0]) if s.reported else None,
            "multiply-adds (our count)": s.macs,
            "multiply-adds (our recurrence)": s.macs_by_recurrence,
            "FLOPs (FlopCounterMode)": s.flops,
            "FLOPs / (2 x MACs)": round(s.flops / (2 * s.macs), 6),
            "'GFLOPS' (model card)": s.reported[1] if s.reported else None,
            "fc share of parameters": round(s.fc_share, 4),
            "receptive field (last conv/pool)": s.rf_size,
            "note": s.note,
        })
    return pd.DataFrame(out)


def model_layers_table(s: Summary) -> pd.DataFrame:
    return pd.DataFrame([{"layer": layer.name, "type": layer.kind, "output": "x".join(map(str, layer.out_shape)),
                          "parameters": layer.params, "multiply-adds": layer.macs} for layer in s.counted.layers])


def stacks(run: StackRun, channels: int) -> go.Figure:
    """Left: test accuracy while training (first seed); right: final test accuracy of every seed
    against the block's weights in units of C^2."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=[f"test accuracy (seed {run.seeds[0]})", "final test accuracy vs weights"])
    names = list(dict.fromkeys(h.stack for h in run.histories))
    for i, name in enumerate(names):
        first = next(h for h in run.histories if h.stack == name)
        line = dict(color=color_for(i))
        fig.add_trace(go.Scatter(x=first.eval_steps, y=first.test_accuracy, mode="lines+markers", name=name,
                                 legendgroup=name, line=line), row=1, col=1)
        finals = run.finals(name)
        fig.add_trace(go.Scatter(x=[STACKS[name].weights(channels) / channels ** 2] * len(finals), y=finals,
                                 mode="markers", marker=dict(size=11, color=color_for(i)), name=name, legendgroup=name,
                                 showlegend=False, hovertemplate="%{y:.3f}<extra>" + name + "</extra>"), row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="block weights / C^2", row=1, col=2)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    title = (f"Stacked small filters vs one large filter (C = {channels}), {len(run.seeds)} seed(s): "
             "the same receptive field with fewer weights")
    return apply_layout(fig, wrap_title(title), height=420)


def stacks_table(run: StackRun, channels: int) -> pd.DataFrame:
    return pd.DataFrame([{
        "stack": h.stack, "seed": h.seed, "block weights": h.weights,
        "weights / C^2": h.weights // channels ** 2, "receptive field of the block": STACKS[h.stack].receptive_field,
        "ReLUs in the block": STACKS[h.stack].nonlinearities, "final test accuracy": round(h.final, 4)}
        for h in run.histories])


def _outline(erf: EffectiveField) -> dict:
    (top, bottom), (left, right) = erf.rows, erf.cols
    return dict(x=[left - 0.5, right + 0.5, right + 0.5, left - 0.5, left - 0.5],
                y=[top - 0.5, top - 0.5, bottom + 0.5, bottom + 0.5, top - 0.5])


def receptive(image: list[list[float]], erf: EffectiveField, stack: str) -> go.Figure:
    """The image with the unit's theoretical field; the mean |gradient| map with the same outline."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=[
        f"theoretical field: {erf.size}x{erf.size}", "effective: mean |d unit / d input|"])
    fig.add_trace(go.Heatmap(z=image, colorscale="gray", reversescale=True, showscale=False, name="image"),
                  row=1, col=1)
    fig.add_trace(go.Heatmap(z=erf.gradient, colorscale="Reds", showscale=False, name="gradient"), row=1, col=2)
    for col in (1, 2):
        fig.add_trace(go.Scatter(**_outline(erf), mode="lines", line=dict(color=color_for(0), width=3),
                                 name="theoretical field", showlegend=col == 1), row=1, col=col)
        fig.add_trace(go.Scatter(x=[erf.col], y=[erf.row], mode="markers", marker=dict(symbol="x", size=12,
                                 color=color_for(1)), name="the unit's centre", showlegend=col == 1), row=1, col=col)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
    title = (f"Unit (layer {erf.layer}, row {erf.row}, col {erf.col}) of {stack}: {erf.inside:.0%} of the gradient "
             f"inside the {erf.size}x{erf.size} field, {erf.centre:.0%} in its centre "
             f"({erf.centre_area:.0%} of its area)")
    return apply_layout(fig, wrap_title(title), height=460)
