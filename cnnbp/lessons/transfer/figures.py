"""Figures and tables of the transfer lesson: results in, plotly figures and tables out (nothing
is measured here). A figure beside a verdict marks the numbers that verdict reads, and its title
quotes the verdict's sentence (verdicts.*_call)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.data import dataset_label
from cnnbp.lessons.transfer.comparison import Forgetting, Scores, SeedScores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.imagenet_source import STRATEGIES as IMAGENET_STRATEGIES
from cnnbp.lessons.transfer.selection import SeedSelection
from cnnbp.lessons.transfer.strategies import STRATEGIES, History
from cnnbp.lessons.transfer.sweep import SIZE_STRATEGIES, RuleCell
from cnnbp.lessons.transfer.verdicts import (
    convergence_call,
    finetune_call,
    forgetting_call,
    imagenet_convergence_call,
    selection_call,
)
from cnnbp.plots.common import apply_layout, color_for, training_curves, variant_colours, wrap_title
from cnnbp.plots.drawn import drawn

OTHER_SEEDS = "other verdict seeds"  # the legend entry of the thin curves
TICK_CHARS = 22  # a bar group's label per line: four groups side by side fit 1024 px without rotating
# One colour per strategy in every figure of the tab (the small sources' and ImageNet's strategies)
# (the 2x2 table's four first: the lecture's choices get the most distinct colours)
COLOURS = variant_colours([*SIZE_STRATEGIES, "lora", "top", *STRATEGIES, *IMAGENET_STRATEGIES])


def drawn_losses(fig: go.Figure) -> go.Figure:
    """The loss panel's per-step series as float32 (``plots.drawn``): most of the figure's bytes."""
    for trace in fig.data:
        if trace.xaxis == "x":
            trace.y = drawn(trace.y)
    return fig


def curves_figure(histories: Sequence[History], probe: float | None, cfg: TransferConfig,
                  scores: SeedScores | None = None) -> go.Figure:
    """Training loss and test accuracy per run (the run's seed in full, the other verdict seeds
    thin); the linear probe (no SGD curve) as a dashed level; the target accuracy dotted, and a
    diamond where each run settles at it: the step the convergence verdict reads."""
    title = (f"{cfg.source_label} -> {cfg.target_label}, {cfg.images_per_class} images per class: training loss "
             "and test accuracy per strategy")
    if scores is not None and {"finetune", "scratch"} <= scores.rows[0].steps_to.keys():
        title += f"<br><sup>settles at {cfg.target_accuracy:.0%}: {convergence_call(scores)}</sup>"
    rows = [{**h.as_dict(), "color_key": h.strategy, "dash_key": h.lr} for h in histories]
    fig = drawn_losses(training_curves(rows, title=title, colours=COLOURS))
    for trace in fig.data:
        if ", seed " in trace.name:  # a verdict seed other than the run's: thin, one legend entry for all
            trace.update(opacity=0.35, line_width=1, legendgroup=OTHER_SEEDS, showlegend=False)
    last = max((h.eval_steps[-1] for h in histories if h.eval_steps), default=1)
    if probe is not None:
        fig.add_trace(go.Scatter(x=[0, last], y=[probe, probe], mode="lines",
                                 name=f"linear probe, stage {cfg.stage} (frozen)",
                                 line=dict(color=COLOURS["linear_probe"], dash="dash")), row=1, col=2)
    fig.add_trace(go.Scatter(x=[0, last], y=[cfg.target_accuracy] * 2, mode="lines", name="target accuracy",
                             line=dict(color="grey", dash="dot", width=1)), row=1, col=2)
    settled = {h.name: h.steps_to(cfg.target_accuracy) for h in histories
               if h.strategy in ("finetune", "scratch") and h.lr == cfg.lr}
    settled = {name: step for name, step in settled.items() if step is not None}
    if scores is not None and settled:
        fig.add_trace(go.Scatter(x=list(settled.values()), y=[cfg.target_accuracy] * len(settled),
                                 text=list(settled), mode="markers", name="settles at the target",
                                 marker=dict(symbol="diamond", size=9, color="black")), row=1, col=2)
    return fig


def imagenet_curves(histories: Sequence[History], scores: SeedScores | None, cfg: TransferConfig) -> go.Figure:
    """The ImageNet part's curves: every run (other verdict seeds thin), the linear probe dashed,
    the target accuracy dotted."""
    title = wrap_title(f"ImageNet (EfficientNet-Lite0) -> {dataset_label(cfg.imagenet_target)}, "
                       f"{cfg.imagenet_per_class} per class at {cfg.imagenet_size} px")
    if scores is not None and {"top", "scratch"} <= scores.rows[0].steps_to.keys():
        title += (f"<br><sup>settles at {cfg.imagenet_target_accuracy:.0%}: "
                  f"{imagenet_convergence_call(scores)}</sup>")
    rows = [{**h.as_dict(), "color_key": h.strategy, "dash_key": 0} for h in histories]
    fig = drawn_losses(training_curves(rows, title=title, colours=COLOURS))
    for trace in fig.data:
        if ", seed " in trace.name:
            trace.update(opacity=0.35, line_width=1, showlegend=False)
    last = max((h.eval_steps[-1] for h in histories if h.eval_steps), default=cfg.imagenet_steps)
    probe = scores.rows[0].accuracy.get("linear_probe") if scores is not None else None
    if probe is not None:
        fig.add_trace(go.Scatter(x=[0, last], y=[probe, probe], mode="lines", name="linear probe (frozen)",
                                 line=dict(color=COLOURS["linear_probe"], dash="dash")), row=1, col=2)
    fig.add_trace(go.Scatter(x=[0, last], y=[cfg.imagenet_target_accuracy] * 2, mode="lines",
                             name="target accuracy", line=dict(color="grey", dash="dot", width=1)), row=1, col=2)
    return fig


def imagenet_rule_figure(cells: Sequence[dict], cfg: TransferConfig) -> go.Figure:
    """The 2x2 table from ImageNet as bars: one group per cell, one bar per strategy."""
    labels = [wrap_title(f"{c['similarity']}, {c['size']}<br>{c['per_class']}/class<br>best: {', '.join(c['best'])}",
                         TICK_CHARS) for c in cells]
    fig = go.Figure()
    for s in cells[0]["accuracy"]:
        values = [c["accuracy"][s] for c in cells]
        fig.add_trace(go.Bar(x=labels, y=values, name=s, marker_color=COLOURS[s],
                             text=[f"{v:.0%}" for v in values], textposition="outside"))
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.15])
    return apply_layout(fig, wrap_title(f"The rule of thumb from ImageNet (seed {cfg.seed})<br><sup>similar: "
                                        "Fashion-MNIST, dissimilar: MNIST (by their classes)</sup>"), height=460)


def stages_figure(per_stage: Sequence[float], scratch: float | None, cfg: TransferConfig) -> go.Figure:
    """Linear-probe test accuracy from each stage of the frozen source (the chosen one darker)."""
    stages = [f"stage {k}" for k in range(1, len(per_stage) + 1)]
    colors = [COLOURS["linear_probe"] if k == cfg.stage else "#9ecae1" for k in range(1, len(per_stage) + 1)]
    fig = go.Figure(go.Bar(x=stages, y=list(per_stage), marker_color=colors, name="linear probe",
                           text=[f"{a:.0%}" for a in per_stage], textposition="outside"))
    if scratch is not None:
        fig.add_trace(go.Scatter(x=stages, y=[scratch] * len(stages), mode="lines", name="scratch (SGD)",
                                 line=dict(color=COLOURS["scratch"], dash="dot")))
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.1])
    fig.update_xaxes(title_text="embedding taken after (bottom -> top)")
    return apply_layout(fig, f"Linear probe from each stage of the frozen {cfg.source_label} "
                             f"({cfg.images_per_class} per class, seed {cfg.seed})")


def params_figure(strategy_rows: Sequence[dict], cfg: TransferConfig) -> go.Figure:
    """Final test accuracy against trainable parameters (log x), one point per chosen strategy at
    the run's own rate (the forgetting run at the large rate left out)."""
    fig = go.Figure()
    chosen = [r for r in strategy_rows if r["strategy"] in cfg.strategies and r["lr"] in (cfg.lr, None)]
    for r in chosen:
        fig.add_trace(go.Scatter(x=[r["trainable"]], y=[r["accuracy"]], mode="markers+text", name=r["name"],
                                 text=[f"{r['name']} ({r['share']:.0%} trainable)"], textposition="top center",
                                 marker=dict(size=12, color=COLOURS[r["strategy"]])))
    fig.update_xaxes(title_text="trainable parameters (log scale)", type="log")
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.1])
    return apply_layout(fig, "Accuracy against trainable parameters (LoRA vs full fine-tuning)", height=420)


def forgetting_figure(result: Forgetting, cfg: TransferConfig) -> go.Figure:
    """Source-task test accuracy before and after fine-tuning on the target, per rate and seed."""
    rows = [r for pair in zip(result.low, result.high) for r in pair]
    names = [r["name"] for r in rows]
    fig = go.Figure([
        go.Bar(x=names, y=[r[key] for r in rows], name=label, marker_color=color_for(i),
               text=[f"{r[key]:.0%}" for r in rows], textposition="outside")
        for i, (key, label) in enumerate([("before", "source task, before"), ("after", "source task, after"),
                                          ("target", "target task, after")])])
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.15])
    return apply_layout(fig, f"Forgetting: {cfg.source_label}'s own task before and after fine-tuning on "
                             f"{cfg.target_label}"
                             f"<br><sup>{forgetting_call(result)}</sup>")


def sizes_figure(rows: Sequence[Scores], cfg: TransferConfig, large: SeedScores | None = None) -> go.Figure:
    """Left: accuracy of each strategy against images per class at the run's seed (and, hollow,
    fine-tuned and frozen at the largest size at the other verdict seeds: what the large-target
    verdict compares); right: steps until fine-tuned and scratch stay at the target accuracy
    (a gap where they never do)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["test accuracy", f"steps until the test accuracy stays at "
                                                         f"{cfg.target_accuracy:.0%}"])
    sizes = [r.per_class for r in rows]
    for s in SIZE_STRATEGIES:
        fig.add_trace(go.Scatter(x=sizes, y=[r.accuracy[s] for r in rows], mode="lines+markers", name=s,
                                 legendgroup=s, line=dict(color=COLOURS[s])), row=1, col=1)
        if large is not None and s in ("freeze", "finetune"):
            others = large.rows[1:]
            fig.add_trace(go.Scatter(x=[r.per_class for r in others], y=[r.accuracy[s] for r in others],
                                     mode="markers", name=f"{s}, other seeds", legendgroup=s, showlegend=False,
                                     marker=dict(color=COLOURS[s], symbol="circle-open", size=9)), row=1, col=1)
        if s in ("finetune", "scratch"):
            fig.add_trace(go.Scatter(x=sizes, y=[r.steps_to[s] for r in rows], mode="lines+markers", name=s,
                                     legendgroup=s, showlegend=False, line=dict(color=COLOURS[s])), row=1, col=2)
    fig.update_xaxes(title_text="target images per class (log scale)", type="log")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="steps", rangemode="tozero", row=1, col=2)
    title = f"{cfg.source_label} -> {cfg.target_label}: accuracy and convergence against the target-set size"
    if large is not None:
        title += f"<br><sup>fine-tuning vs freezing at {rows[-1].per_class} per class: {finetune_call(large)}</sup>"
    return apply_layout(fig, title, height=440)


def rule_figure(cells: Sequence[RuleCell], cfg: TransferConfig) -> go.Figure:
    """The lecture's 2x2 table as bars: one group per cell ({similar, dissimilar} x {small, large}),
    one bar per strategy; the cell's label names the best ones and the lecture's advice."""
    labels = [wrap_title(f"{c.similarity} ({c.source}), {c.size} ({c.row.per_class}/class)<br>best: "
                         f"{', '.join(c.best)}<br>lecture: {c.lecture}", TICK_CHARS) for c in cells]
    fig = go.Figure()
    for s in SIZE_STRATEGIES:
        values = [c.row.accuracy[s] for c in cells]
        fig.add_trace(go.Bar(x=labels, y=values, name=s, marker_color=COLOURS[s],
                             text=[f"{v:.0%}" for v in values], textposition="outside"))
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.15])
    return apply_layout(fig, f"The rule of thumb on {cfg.target_label}: best strategies per cell (seed {cfg.seed})",
                        height=460)


def selection_figure(result: SeedSelection, cfg: TransferConfig) -> go.Figure:
    """Mean-feature cosine similarity (source vs target) against the transfer accuracy, per source,
    at the run's seed; the title gives Spearman at every verdict seed."""
    fig = go.Figure()
    for i, r in enumerate(result.results[0].rows):
        fig.add_trace(go.Scatter(x=[r["similarity"]], y=[r["accuracy"]], mode="markers+text", name=r["source"],
                                 text=[r["source"]], textposition="top center",
                                 marker=dict(size=12, color=color_for(i))))
    fig.update_xaxes(title_text="cosine similarity of the mean feature vectors")
    fig.update_yaxes(title_text="linear-probe test accuracy on the target")
    rhos = " / ".join(f"{r.spearman:.2f}" for r in result.results)
    seeds = " / ".join(map(str, result.seeds))
    return apply_layout(fig, wrap_title(f"Which source for {cfg.target_label}? ({cfg.images_per_class} per class; "
                                        f"Spearman rank correlation {rhos} at seeds {seeds})"
                                        f"<br><sup>{selection_call(result)}</sup>"))


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
            row[f"{c.size} ({c.row.per_class}/class)"] = f"best: {', '.join(c.best)} ({acc}); lecture: {c.lecture}"
            row["source model"] = c.source
        out.append(row)
    return pd.DataFrame(out)
