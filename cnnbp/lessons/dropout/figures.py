"""Figures and tables of the dropout lesson: measured results -> plotly figures and DataFrames
(nothing is computed here)."""

from __future__ import annotations

import statistics
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.lessons.dropout.config import DROP_PROBS, DropoutConfig
from cnnbp.lessons.dropout.mc import MCResult
from cnnbp.lessons.dropout.mechanics import Expectation, KeepFraction, MaskDemo, sampling_ratio
from cnnbp.lessons.dropout.training import GapHistory, GapNarrowing, settled
from cnnbp.plots.common import DASHES, apply_layout, color_for, ordinal_colours

# One colour per drop probability (its net's legend name) in every figure of the tab: darker, less dropout
COLOURS = ordinal_colours([f"p = {p:g}" for p in DROP_PROBS.values()])


def masks(demo: MaskDemo, cfg: DropoutConfig) -> go.Figure:
    """Row 1: the mask of each training pass (1 = kept) and eval's (none: all kept); row 2: the
    hidden units after dropout (inverted: kept units scaled up) and in eval mode. Each row is one
    panel, the passes side by side one empty column apart and named below (one panel per pass drew
    10 panels' axes: plotly's first draw costs about the same per panel, bench/first_draws.py)."""
    masks, dropped, eval_hidden, keep = demo.masks, demo.dropped_hidden, demo.eval_hidden, demo.keep_fraction
    title = (f"Dropout masks on {cfg.hidden} hidden units of one digit, p = {cfg.p:g} (drop); "
             f"kept units scaled by 1/(1 - p)")
    n = len(masks)
    titles = [f"pass {i + 1}<br>{k:.0%} kept" for i, k in enumerate(keep)] + ["eval<br>no mask"]
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2)
    ones = [[1.0] * len(r) for r in eval_hidden]
    top = max(max(max(r) for r in grid) for grid in [*dropped, eval_hidden]) or 1.0
    width = len(ones[0]) + 1  # a block of units and the empty column after it
    for col, (mask, grid) in enumerate(zip([*masks, ones], [*dropped, eval_hidden])):
        name = titles[col].replace("<br>", ": ")
        fig.add_trace(go.Heatmap(z=mask, x0=col * width, dx=1, zmin=0, zmax=1, name=name,
                                 colorscale=[[0, "#222"], [1, "#f5d76e"]], showscale=False,
                                 hovertemplate="unit row %{y}, col %{x}: %{z}<extra>mask</extra>"),
                      row=1, col=1)
        fig.add_trace(go.Heatmap(z=grid, x0=col * width, dx=1, zmin=0, zmax=top, colorscale="Viridis",
                                 showscale=col == n, colorbar=dict(title="activation", len=0.45, y=0.22), name=name,
                                 hovertemplate="unit row %{y}, col %{x}: %{z:.3g}<extra>activation</extra>"),
                      row=2, col=1)
    centres = [col * width + (width - 2) / 2 for col in range(n + 1)]
    fig.update_xaxes(tickvals=centres, ticktext=titles, showgrid=False, zeroline=False, tickfont=dict(size=14),
                     range=[-0.5, (n + 1) * width - 1.5])
    fig.update_xaxes(showticklabels=False, row=2, col=1)
    fig.update_yaxes(showticklabels=False, autorange="reversed", showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="mask (1 = kept)", row=1, col=1)
    fig.update_yaxes(title_text="hidden units", row=2, col=1)
    return apply_layout(fig, title, height=420)


def keep_fraction(keeps: list[KeepFraction]) -> go.Figure:
    """Measured share of kept units against the drop probability, with the line 1 - p."""
    ps = [k.p for k in keeps]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ps, y=[1 - p for p in ps], mode="lines", name="1 - p (expected)",
                             line=dict(color="black", dash="dot")))
    fig.add_trace(go.Scatter(x=ps, y=[k.kept for k in keeps], mode="markers",
                             name=f"measured ({keeps[0].draws:,} draws each)", marker=dict(size=10, color=color_for(0)),
                             error_y=dict(type="data", array=[2 * k.std_error for k in keeps], visible=True)))
    fig.update_xaxes(title_text="p (drop probability)")
    fig.update_yaxes(title_text="share of units kept", range=[0, 1.05])
    return apply_layout(fig, "Share of units kept vs 1 - p (bars: 2 standard errors)", height=360)


def expectation(exp: Expectation) -> go.Figure:
    """Relative error of the mean of k training passes against the eval output, log-log."""
    ks, errors, predicted = exp.ks, exp.errors, exp.predicted
    title = f"Mean of k training passes vs the eval output (p = {exp.p:g}, {exp.images} digits)"
    fig = go.Figure()
    dashes = [d for d in DASHES if d != "dot"]  # dotted: the predicted lines
    for i, (name, err) in enumerate(errors.items()):
        # series that coincide (inverted and lecture always; "scaled by drop p" at p = 0.5) stay
        # visible through each other's dashes
        fig.add_trace(go.Scatter(x=list(ks), y=list(err), mode="lines+markers", name=name, meta=name,
                                 line=dict(color=color_for(i), dash=dashes[i % len(dashes)]), marker=dict(size=4)))
    for name, pred in predicted.items():
        i = list(errors).index(name)
        fig.add_trace(go.Scatter(x=list(ks), y=list(pred), mode="lines", name=f"{name}: sampling error alone",
                                 meta=f"predicted {name}", line=dict(color=color_for(i), dash="dot")))
    fig.update_xaxes(title_text="training passes averaged (k)", type="log")
    fig.update_yaxes(title_text="||mean - eval|| / ||eval||", type="log")
    return apply_layout(fig, title, height=480)


def expectation_table(exp: Expectation) -> pd.DataFrame:
    rows = []
    for name, err in exp.final.items():
        pred = exp.predicted.get(name, [None])[-1]
        rows.append({"series": name, "passes": exp.ks[-1], "relative error": err, "sampling error alone": pred,
                     "ratio": sampling_ratio(err, pred) if pred is not None else None})
    return pd.DataFrame(rows)


def gap_curves(histories: list[GapHistory], cfg: DropoutConfig) -> go.Figure:
    """Left: train (dashed) and test (solid) accuracy; right: their gap; one colour per p."""
    title = f"{cfg.arch.upper()} on {cfg.train_images} training digits, one net per p"
    histories = [dict(name=h.name, eval_steps=h.eval_steps, train_accuracy=h.train_accuracy,
                      test_accuracy=h.test_accuracy, gap=h.gap) for h in histories]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["accuracy (dashed: train subset, solid: test)",
                                                        "train - test accuracy (the gap)"],
                        horizontal_spacing=0.1)
    for h in histories:
        color = COLOURS[h["name"]]
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["train_accuracy"], mode="lines", name=f"{h['name']} train",
                                 legendgroup=h["name"], showlegend=False, meta=f"train {h['name']}",
                                 line=dict(color=color, dash=DASHES[1])), row=1, col=1)
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["test_accuracy"], mode="lines", name=h["name"],
                                 legendgroup=h["name"], meta=f"test {h['name']}", line=dict(color=color)),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["gap"], mode="lines", name=h["name"], legendgroup=h["name"],
                                 showlegend=False, meta=f"gap {h['name']}", line=dict(color=color)), row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="train - test accuracy", row=1, col=2)
    return apply_layout(fig, title, height=420)


def gap_bars(histories: dict[int, list[GapHistory]]) -> go.Figure:
    """Train accuracy, test accuracy and gap per p (each the mean of the last quarter), averaged
    over the seeds; whiskers span the seeds' range."""
    by_p = list(zip(*histories.values()))  # per p: its net at each seed
    measures = {"train accuracy": lambda h: settled(h.train_accuracy),
                "test accuracy": lambda h: settled(h.test_accuracy), "gap": lambda h: h.settled_gap}
    rows = {name: [[f(h) for h in nets] for nets in by_p] for name, f in measures.items()}
    seeds = list(histories)
    title = ("Train accuracy, test accuracy and their gap per p (mean of the last quarter)" if len(seeds) == 1 else
             f"Train accuracy, test accuracy and their gap per p, mean over seeds {seeds[0]}-{seeds[-1]} "
             f"(whiskers: their range)")
    return gap_bar_chart([nets[0].p for nets in by_p], rows, title=title)


def gap_bar_chart(ps: Sequence[float], rows: dict[str, Sequence[Sequence[float]]], *, title: str) -> go.Figure:
    """Grouped bars per p: ``rows`` maps a measure (train accuracy, test accuracy, gap) to each p's
    values over the seeds; the bar is their mean, whiskers span them when there are several."""
    fig = go.Figure()
    labels = [f"p = {p:g}" for p in ps]
    for i, (name, per_p) in enumerate(rows.items()):
        means = [statistics.fmean(v) for v in per_p]
        spread = any(len(v) > 1 for v in per_p)
        fig.add_trace(go.Bar(x=labels, y=means, name=name, marker_color=color_for(i),
                             text=[f"{v:.1%}" for v in means], textposition="outside",
                             error_y=dict(type="data", symmetric=False, visible=spread,
                                          array=[max(v) - m for v, m in zip(per_p, means)],
                                          arrayminus=[m - min(v) for v, m in zip(per_p, means)])))
    fig.update_xaxes(title_text="drop probability")
    # a gap can be negative (test above train, e.g. high p on a tiny subset): keep its bar in view
    low = min(0.0, *(min(v) for per_p in rows.values() for v in per_p))
    fig.update_yaxes(title_text="accuracy / gap", range=[low - 0.12 if low < 0 else 0, 1.12])
    return apply_layout(fig, title, height=400)


def gap_table(histories: list[GapHistory], narrowing: list[GapNarrowing],
              mc: dict[str, MCResult] | None = None) -> pd.DataFrame:
    """One row per p at the first seed, with its narrowing over every seed (points)."""
    by_p = {n.p: n for n in narrowing}
    rows = []
    for h in histories:
        n = by_p.get(h.p)
        row = {"p": h.p, "train accuracy": settled(h.train_accuracy), "test accuracy": settled(h.test_accuracy),
               "gap": h.settled_gap, "final test accuracy": h.test_accuracy[-1], "diverged_at": h.diverged_at,
               "narrower than p = 0, per seed (points)": " / ".join(f"{d * 100:+.1f}" for d in n.narrowing) if n
               else None}
        if mc is not None:
            r = mc.get(h.name)
            row["MC accuracy"] = r.accuracy[-1] if r else None
            row["eval accuracy"] = r.eval_accuracy if r else None
        rows.append(row)
    return pd.DataFrame(rows)


def mc(results: dict[str, MCResult]) -> go.Figure:
    """Left: distance between the mean of k stochastic passes and the eval pass; right: the
    accuracy of that mean, the eval pass's as a dotted line."""
    title = "MC dropout: the average of k stochastic passes vs the eval pass"
    series = [dict(name=name, ks=r.ks, distance=r.distance, accuracy=r.accuracy, eval_accuracy=r.eval_accuracy)
              for name, r in results.items()]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["distance to the eval pass (mean total variation of the softmax)",
                                        "test accuracy of the MC average (dotted: eval pass)"])
    for s in series:
        color = COLOURS[s["name"]]
        fig.add_trace(go.Scatter(x=s["ks"], y=s["distance"], mode="lines+markers", name=s["name"],
                                 legendgroup=s["name"], meta=f"distance {s['name']}", line=dict(color=color)),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=s["ks"], y=s["accuracy"], mode="lines+markers", name=s["name"], showlegend=False,
                                 legendgroup=s["name"], meta=f"accuracy {s['name']}", line=dict(color=color)),
                      row=1, col=2)
        fig.add_trace(go.Scatter(x=[s["ks"][0], s["ks"][-1]], y=[s["eval_accuracy"]] * 2, mode="lines",
                                 name=f"{s['name']} eval", showlegend=False, legendgroup=s["name"],
                                 meta=f"eval {s['name']}", line=dict(color=color, dash="dot")), row=1, col=2)
    fig.update_xaxes(title_text="stochastic passes averaged (k)", type="log")
    fig.update_yaxes(title_text="total variation distance", type="log", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", row=1, col=2)
    return apply_layout(fig, title, height=420)
