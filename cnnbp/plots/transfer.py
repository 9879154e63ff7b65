"""Figures of the transfer lesson: numbers in, plotly figures out (nothing is computed here)."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.plots.common import apply_layout, color_for, training_curves


def strategy_curves(histories: Sequence[dict], *, probe: float | None, probe_name: str, title: str) -> go.Figure:
    """Training loss and test accuracy per strategy; the linear probe (no SGD curve) as a dashed
    level over the same steps. ``histories``: History.as_dict() rows."""
    rows = [{**h, "color_key": h["strategy"], "dash_key": h["lr"]} for h in histories]
    fig = training_curves(rows, title=title)
    if probe is not None:
        last = max((h["eval_steps"][-1] for h in histories if h["eval_steps"]), default=1)
        fig.add_trace(go.Scatter(x=[0, last], y=[probe, probe], mode="lines", name=probe_name,
                                 line=dict(color="black", dash="dash")), row=1, col=2)
    return fig


def stage_probes(accuracies: Sequence[float], *, chosen: int, scratch: float | None, title: str) -> go.Figure:
    """Linear-probe test accuracy from each stage of the frozen source (the chosen one darker)."""
    stages = [f"stage {k}" for k in range(1, len(accuracies) + 1)]
    colors = [color_for(0) if k == chosen else "#9ecae1" for k in range(1, len(accuracies) + 1)]
    fig = go.Figure(go.Bar(x=stages, y=list(accuracies), marker_color=colors, name="linear probe",
                           text=[f"{a:.0%}" for a in accuracies], textposition="outside"))
    if scratch is not None:
        fig.add_trace(go.Scatter(x=stages, y=[scratch] * len(stages), mode="lines", name="scratch (SGD)",
                                 line=dict(color="black", dash="dot")))
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.1])
    fig.update_xaxes(title_text="embedding taken after (bottom -> top)")
    return apply_layout(fig, title)


def params_vs_accuracy(rows: Sequence[dict], *, title: str) -> go.Figure:
    """Final test accuracy against trainable parameters (log x), one point per strategy."""
    fig = go.Figure()
    for i, r in enumerate(rows):
        fig.add_trace(go.Scatter(x=[r["trainable"]], y=[r["accuracy"]], mode="markers+text", name=r["name"],
                                 text=[f"{r['name']} ({r['share']:.0%} trainable)"], textposition="top center",
                                 marker=dict(size=12, color=color_for(i))))
    fig.update_xaxes(title_text="trainable parameters (log scale)", type="log")
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.1])
    return apply_layout(fig, title, height=420)


def forgetting(rows: Sequence[dict], *, title: str) -> go.Figure:
    """Source-task test accuracy before and after fine-tuning on the target, per learning rate."""
    names = [r["name"] for r in rows]
    fig = go.Figure([
        go.Bar(x=names, y=[r["before"] for r in rows], name="source task, before", marker_color=color_for(0),
               text=[f"{r['before']:.0%}" for r in rows], textposition="outside"),
        go.Bar(x=names, y=[r["after"] for r in rows], name="source task, after", marker_color=color_for(1),
               text=[f"{r['after']:.0%}" for r in rows], textposition="outside"),
        go.Bar(x=names, y=[r["target"] for r in rows], name="target task, after", marker_color=color_for(2),
               text=[f"{r['target']:.0%}" for r in rows], textposition="outside"),
    ])
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.15])
    return apply_layout(fig, title)


def size_sweep(rows: Sequence[dict], *, strategies: Sequence[str], target: float, title: str) -> go.Figure:
    """Left: accuracy of each strategy against images per class; right: steps to ``target``
    accuracy, pretrained (fine-tune) vs scratch (a gap where it was never reached)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["test accuracy", f"steps to {target:.0%} test accuracy"])
    sizes = [r["per_class"] for r in rows]
    for i, s in enumerate(strategies):
        fig.add_trace(go.Scatter(x=sizes, y=[r["accuracy"][s] for r in rows], mode="lines+markers", name=s,
                                 legendgroup=s, line=dict(color=color_for(i))), row=1, col=1)
        if s in ("finetune", "scratch"):
            fig.add_trace(go.Scatter(x=sizes, y=[r["steps_to"][s] for r in rows], mode="lines+markers", name=s,
                                     legendgroup=s, showlegend=False, line=dict(color=color_for(i))), row=1, col=2)
    fig.update_xaxes(title_text="target images per class (log scale)", type="log")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="steps", rangemode="tozero", row=1, col=2)
    return apply_layout(fig, title, height=420)


def selection_scatter(rows: Sequence[dict], *, rho: float, title: str) -> go.Figure:
    """Mean-feature cosine similarity (source vs target) against the transfer accuracy, per source."""
    fig = go.Figure()
    for i, r in enumerate(rows):
        fig.add_trace(go.Scatter(x=[r["similarity"]], y=[r["accuracy"]], mode="markers+text", name=r["source"],
                                 text=[r["source"]], textposition="top center",
                                 marker=dict(size=12, color=color_for(i))))
    fig.update_xaxes(title_text="cosine similarity of the mean feature vectors")
    fig.update_yaxes(title_text="linear-probe test accuracy on the target")
    return apply_layout(fig, f"{title} (Spearman rank correlation {rho:.2f})")


def rule_of_thumb(cells: Sequence[dict], *, strategies: Sequence[str], title: str) -> go.Figure:
    """The lecture's 2x2 table as bars: one group per cell ({similar, dissimilar} x {small, large}),
    one bar per strategy; the cell's label names the best one and the lecture's advice."""
    labels = [f"{c['similarity']} source ({c['source']}),<br>{c['size']} target ({c['per_class']}/class)<br>"
              f"best: {c['best']}; lecture: {c['lecture']}" for c in cells]
    fig = go.Figure()
    for i, s in enumerate(strategies):
        values = [c["accuracy"][s] for c in cells]
        fig.add_trace(go.Bar(x=labels, y=values, name=s, marker_color=color_for(i),
                             text=[f"{v:.0%}" for v in values], textposition="outside"))
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.15])
    return apply_layout(fig, title, height=460)
