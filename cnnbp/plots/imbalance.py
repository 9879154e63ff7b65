"""Figures of the label-imbalance lesson: pure functions, measured numbers -> plotly figures.

>>> fig = roc_curves([dict(name="none", fpr=[0, 0.5, 1], tpr=[0, 0.8, 1], auc=0.65,
...                        point=dict(fpr=0.5, tpr=0.8))], threshold=0.5, title="ROC")
>>> [t.name for t in fig.data]
['chance (AUC 0.5)', 'none (AUC 0.650)', 'none at t = 0.5']
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.plots.common import apply_layout, color_for

CHANCE = dict(color="grey", dash="dot")


def _colour(name: str, order: Sequence[str]) -> str:
    return "black" if name not in order else color_for(list(order).index(name))


def legend_below(fig: go.Figure, *, height: int) -> go.Figure:
    """The legend hangs below the x-axis title (several rows of method names would cover it)."""
    fig.update_layout(height=height, legend=dict(yanchor="top", y=-0.2), margin=dict(b=140))
    return fig


def class_histogram(counts: dict[str, Sequence[int]], *, classes: Sequence[str], seen: dict[str, Sequence[int]],
                    order: Sequence[str], title: str) -> go.Figure:
    """Left: images per class in each set (``counts``: set name -> per-class counts). Right:
    the share of each class among the images each method's batches drew (``seen``: method ->
    images drawn per class); a balanced method is flat at 1/K."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.1,
                        subplot_titles=["images per class", "class share of the training batches"])
    for i, (name, values) in enumerate(counts.items()):
        fig.add_trace(go.Bar(x=list(classes), y=list(values), name=name, marker_color=color_for(i + 8),
                             text=[str(v) for v in values], textposition="outside"), row=1, col=1)
    for method, drawn in seen.items():
        total = max(1, sum(drawn))
        fig.add_trace(go.Scatter(x=list(classes), y=[d / total for d in drawn], mode="lines+markers", name=method,
                                 line=dict(color=_colour(method, order)), legendgroup=method,
                                 hovertemplate="class %{x}: %{y:.1%}<extra>" + method + "</extra>"),
                      row=1, col=2)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="class", type="category")
    top = max((max(v) for v in counts.values() if len(v)), default=1)
    fig.update_yaxes(title_text="images", range=[0, top * 1.15], row=1, col=1)  # room for the count labels
    fig.update_yaxes(title_text="share of images drawn", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    return legend_below(apply_layout(fig, title), height=500)


def training_curves(histories: Sequence[dict], *, order: Sequence[str], title: str) -> go.Figure:
    """Training loss per step, then balanced accuracy and the rare class's recall on the test
    set at each evaluation; one colour per method. ``histories``: dicts with ``name``,
    ``steps``, ``loss``, ``eval_steps``, ``balanced_accuracy``, ``rare_recall``."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=["training loss", "test balanced accuracy", "test recall of the rare class"])
    for h in histories:
        line = dict(color=_colour(h["name"], order))
        fig.add_trace(go.Scatter(x=h["steps"], y=h["loss"], mode="lines", name=h["name"], legendgroup=h["name"],
                                 line=line), row=1, col=1)
        for col, key in ((2, "balanced_accuracy"), (3, "rare_recall")):
            fig.add_trace(go.Scatter(x=h["eval_steps"], y=h[key], mode="lines+markers", name=h["name"],
                                     legendgroup=h["name"], showlegend=False, line=line, marker=dict(size=4)),
                          row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss (as trained: weighted / focal)", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_yaxes(range=[0, 1.02], row=1, col=3)
    return legend_below(apply_layout(fig, title), height=480)


def confusion_grid(panels: Sequence[dict], *, classes: Sequence[str], title: str) -> go.Figure:
    """One confusion matrix per model: colour = share of the true class (row-normalised), text =
    count and share. ``panels``: dicts with ``name``, ``counts`` and ``normalised`` (rows: truth)."""
    n = len(panels)
    n_cols = min(4, n)
    n_rows = -(-n // n_cols)
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[p["name"] for p in panels],
                        horizontal_spacing=0.05, vertical_spacing=0.14 if n_rows > 1 else 0.2)
    labels = [str(c) for c in classes]
    small = len(labels) <= 4
    traces = []
    for i, p in enumerate(panels):
        text = [[f"{c}<br>{s:.0%}" if small else f"{c}" for c, s in zip(cr, sr)]
                for cr, sr in zip(p["counts"], p["normalised"])]
        traces.append(go.Heatmap(z=p["normalised"], x=labels, y=labels, zmin=0, zmax=1, colorscale="Blues",
                                 text=text, texttemplate="%{text}", showscale=i == 0, name=p["name"],
                                 colorbar=dict(title="share of<br>true class", len=0.8),
                                 customdata=p["counts"],
                                 hovertemplate="true %{y}, predicted %{x}: %{customdata} images "
                                               "(%{z:.1%} of true %{y})<extra>" + p["name"] + "</extra>"))
    # one add_traces call: plotly re-validates the whole figure on every add_trace
    fig.add_traces(traces, rows=[i // n_cols + 1 for i in range(n)], cols=[i % n_cols + 1 for i in range(n)])
    fig.update_yaxes(autorange="reversed")  # every panel: the first class on top, as in the table
    fig.update_yaxes(title_text="true", col=1)
    fig.update_xaxes(title_text="predicted", row=n_rows)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, title, height=max(320, 260 * n_rows + 80))


def roc_curves(curves: Sequence[dict], *, threshold: float, title: str, order: Sequence[str] = ()) -> go.Figure:
    """ROC curves with the chance diagonal and each model's point at ``threshold``. ``curves``:
    dicts with ``name``, ``fpr``, ``tpr``, ``auc`` and ``point`` (``fpr``, ``tpr``)."""
    traces = [go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=CHANCE, name="chance (AUC 0.5)")]
    for c in curves:
        colour = _colour(c["name"], order or [x["name"] for x in curves])
        # straight segments between sklearn's points: tied scores move along a diagonal, not a staircase
        traces.append(go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", line=dict(color=colour),
                                 name=f"{c['name']} (AUC {c['auc']:.3f})", legendgroup=c["name"]))
        traces.append(go.Scatter(x=[c["point"]["fpr"]], y=[c["point"]["tpr"]], mode="markers",
                                 marker=dict(color=colour, size=11, symbol="circle-open", line=dict(width=3)),
                                 name=f"{c['name']} at t = {threshold:g}", legendgroup=c["name"], showlegend=False))
    fig = go.Figure(traces)
    fig.update_xaxes(title_text="false-positive rate (rare class vs rest)", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="true-positive rate (recall)", range=[-0.02, 1.02])
    return legend_below(apply_layout(fig, title), height=560)


def pr_curves(curves: Sequence[dict], *, prevalence: float, threshold: float, title: str,
              order: Sequence[str] = ()) -> go.Figure:
    """Precision-recall curves, the chance line at the rare class's prevalence, and each model's
    point at ``threshold``. ``curves``: dicts with ``name``, ``precision``, ``recall``, ``ap``,
    ``point`` (``precision``, ``recall``)."""
    traces = [go.Scatter(x=[0, 1], y=[prevalence, prevalence], mode="lines", line=CHANCE,
                         name=f"chance (precision = prevalence {prevalence:.3f})")]
    for c in curves:
        colour = _colour(c["name"], order or [x["name"] for x in curves])
        # "hv": the precision of each point holds down to the next recall, as in sklearn's AP sum
        traces.append(go.Scatter(x=c["recall"], y=c["precision"], mode="lines", line=dict(color=colour, shape="hv"),
                                 name=f"{c['name']} (AP {c['ap']:.3f})", legendgroup=c["name"]))
        traces.append(go.Scatter(x=[c["point"]["recall"]], y=[c["point"]["precision"]], mode="markers",
                                 marker=dict(color=colour, size=11, symbol="circle-open", line=dict(width=3)),
                                 name=f"{c['name']} at t = {threshold:g}", legendgroup=c["name"], showlegend=False))
    fig = go.Figure(traces)
    fig.update_xaxes(title_text="recall of the rare class", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="precision of the rare class", range=[-0.02, 1.02])
    return legend_below(apply_layout(fig, title), height=560)
