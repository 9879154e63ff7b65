"""Figures and tables of the transfer lesson: results in, plotly figures and tables out (nothing
is measured here)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.lessons.transfer.comparison import Scores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.selection import Selection
from cnnbp.lessons.transfer.sweep import SIZE_STRATEGIES, RuleCell
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


# ---- the lesson's figures and tables, titled from its settings ------------------------------------

def curves_figure(rows: Sequence[dict], probe: float | None, cfg: TransferConfig) -> go.Figure:
    return strategy_curves(rows, probe=probe, probe_name=f"linear probe, stage {cfg.stage} (frozen)",
                           title=f"{cfg.source} -> {cfg.target}, {cfg.images_per_class} images per class: "
                                 "training loss and test accuracy per strategy")


def stages_figure(per_stage: Sequence[float], scratch: float | None, cfg: TransferConfig) -> go.Figure:
    return stage_probes(per_stage, chosen=cfg.stage, scratch=scratch,
                        title=f"Linear probe from each stage of the frozen {cfg.source} "
                              f"({cfg.images_per_class} per class)")


def params_figure(strategy_rows: Sequence[dict], cfg: TransferConfig) -> go.Figure:
    """The chosen strategies at the run's own rate (the forgetting run at the large rate left out)."""
    chosen = [r for r in strategy_rows if r["strategy"] in cfg.strategies and r["lr"] in (cfg.lr, None)]
    return params_vs_accuracy(chosen, title="Accuracy against trainable parameters (LoRA vs full fine-tuning)")


def forgetting_figure(rows: Sequence[dict], cfg: TransferConfig) -> go.Figure:
    return forgetting(rows, title=f"Forgetting: {cfg.source}'s own task before and after fine-tuning on {cfg.target}")


def sizes_figure(rows: Sequence[Scores], cfg: TransferConfig) -> go.Figure:
    return size_sweep([r.as_dict() for r in rows], strategies=SIZE_STRATEGIES, target=cfg.target_accuracy,
                      title=f"{cfg.source} -> {cfg.target}: accuracy and convergence against the target-set size")


def rule_figure(cells: Sequence[RuleCell], cfg: TransferConfig) -> go.Figure:
    return rule_of_thumb([c.as_dict() for c in cells], strategies=SIZE_STRATEGIES,
                         title=f"The rule of thumb on {cfg.target}: best strategy per cell")


def selection_figure(result: Selection, cfg: TransferConfig) -> go.Figure:
    return selection_scatter(result.rows, rho=result.spearman,
                             title=f"Which source for {cfg.target}? ({cfg.images_per_class} per class)")


def sizes_table(rows: Sequence[Scores]) -> pd.DataFrame:
    return pd.DataFrame([{"per_class": r.per_class, **{f"acc_{s}": r.accuracy[s] for s in SIZE_STRATEGIES},
                          **{f"steps_{s}": r.steps_to[s] for s in ("finetune", "scratch")}} for r in rows])


def rule_table(cells: Sequence[RuleCell]) -> pd.DataFrame:
    """The lecture's 2x2 layout: rows similar/dissimilar, columns small/large target."""
    out = []
    for kind in ("similar", "dissimilar"):
        row = {"source": kind}
        for c in (c for c in cells if c.similarity == kind):
            acc = ", ".join(f"{s} {c.row.accuracy[s]:.0%}" for s in SIZE_STRATEGIES)
            row[f"{c.size} ({c.row.per_class}/class)"] = f"best: {c.best} ({acc}); lecture: {c.lecture}"
            row["source model"] = c.source
        out.append(row)
    return pd.DataFrame(out)
