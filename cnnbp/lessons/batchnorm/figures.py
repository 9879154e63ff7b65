"""Figures and tables of the batch-normalisation lesson: pure functions, measured numbers ->
plotly figures and DataFrames. The chart types first, then the lesson's figures assembled from
its result objects.

>>> fig = difference_bars([dict(name="eval vs formula", value=1e-7), dict(name="train vs eval", value=0.1)],
...                       tolerance=1e-5, floor=1e-9, title="checks")
>>> list(fig.data[0].y)
[1e-07, 0.1]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.data import dataset_label
from cnnbp.lessons.batchnorm.folding import FoldResult
from cnnbp.lessons.batchnorm.modes import ModeChecks, RunningStats
from cnnbp.lessons.batchnorm.training import History, SeededRace, TrainModeBug, Variant
from cnnbp.plots.common import DASHES, apply_layout, color_for, keyed_colours, variant_colours

if TYPE_CHECKING:
    from cnnbp.lessons.batchnorm.config import BatchNormConfig

LOG_FLOOR = 1e-9  # an exact 0 on the log-scale difference chart
NO_BN = "no BN"


def bn_at(position: str) -> str:
    """A BN net's legend name: "BN before act" for ``before_act``."""
    return f"BN {position.replace('_', ' ')}"


# One colour per net in every figure of the tab (the plain net and BN at either place)
COLOURS = variant_colours([NO_BN, bn_at("before_act"), bn_at("after_act")])


def running_stats(run: dict, *, title: str) -> go.Figure:
    """Left: the running mean of every channel over the steps, its data mean dotted. Right: the
    largest error over channels, mean (in data stds) and variance (relative), log scale, with
    the (1 - momentum)^t decay the update rule predicts. ``run``: the lesson's numbers."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["running mean per channel (dotted: the data's mean)",
                                        "largest error over channels"])
    steps = run["steps"]
    for c, mu in enumerate(run["data_mean"]):
        color = color_for(c)
        fig.add_trace(go.Scatter(x=steps, y=[rm[c] for rm in run["running_mean"]], mode="lines",
                                 name=f"channel {c}", legendgroup=f"c{c}", showlegend=False, line=dict(color=color)),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=[steps[0], steps[-1]], y=[mu, mu], mode="lines", name=f"data mean, channel {c}",
                                 legendgroup=f"c{c}", showlegend=False, line=dict(color=color, dash="dot")),
                      row=1, col=1)
    errors = [("mean_error", "|running mean - data mean| / data std"),
              ("var_error", "|running var / data var - 1|"),
              ("expected_mean_error", "mean error predicted: start x (1 - momentum)^step")]
    for i, (key, name) in enumerate(errors):
        fig.add_trace(go.Scatter(x=steps, y=run[key], mode="lines", name=name,
                                 line=dict(color=color_for(i), dash="dot" if key.startswith("expected") else "solid")),
                      row=1, col=2)
    fig.update_xaxes(title_text="training step (one minibatch)")
    fig.update_yaxes(title_text="running mean", row=1, col=1)
    fig.update_yaxes(title_text="error (log)", type="log", row=1, col=2)
    return apply_layout(fig, title, height=460)


def difference_bars(bars: Sequence[dict], *, tolerance: float, floor: float, title: str) -> go.Figure:
    """Max absolute differences on a log axis (``name``, ``value``); an exact 0 is drawn at
    ``floor`` and labelled "0 (exact)"; the dotted line is the equality tolerance."""
    names = [b["name"] for b in bars]
    values = [b["value"] for b in bars]
    fig = go.Figure(go.Bar(x=names, y=[v if v > 0 else floor for v in values], marker_color=color_for(0),
                           name="max |difference|", text=[f"{v:.2g}" if v > 0 else "0 (exact)" for v in values],
                           textposition="outside"))
    fig.add_hline(y=tolerance, line_dash="dot", line_color="black", annotation_text=f"tolerance {tolerance:.2g}")
    fig.update_yaxes(title_text="max |difference| (log)", type="log")
    return apply_layout(fig, title, height=420)


def mode_scatter(eval_values: Sequence[float], train_values: Sequence[float], *, title: str) -> go.Figure:
    """The same BN outputs in eval mode (x) and train mode (y); the line y = x is "no difference"."""
    lo, hi = min(*eval_values, *train_values), max(*eval_values, *train_values)
    fig = go.Figure([
        go.Scatter(x=list(eval_values), y=list(train_values), mode="markers", name="one output value",
                   marker=dict(size=4, color=color_for(0), opacity=0.6)),
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line=dict(color="black", dash="dot")),
    ])
    fig.update_xaxes(title_text="eval-mode output (running statistics)")
    fig.update_yaxes(title_text="train-mode output (this batch's statistics)")
    return apply_layout(fig, title, height=420)


def scenario_curves(rows: Sequence[dict], *, target: float, title: str) -> go.Figure:
    """One row per scenario (``title``, ``histories``), training loss left and test accuracy
    right; each history: ``name``, ``color_key``, ``steps``, ``loss``, ``eval_steps``,
    ``test_accuracy``. The dotted line is the target accuracy."""
    n = max(1, len(rows))
    titles = [t for r in rows for t in (f"{r['title']}: training loss", f"{r['title']}: test accuracy")]
    fig = make_subplots(rows=n, cols=2, subplot_titles=titles, horizontal_spacing=0.1,
                        vertical_spacing=0.12 if n > 1 else 0.15)
    keys = list(dict.fromkeys(h["color_key"] for r in rows for h in r["histories"]))
    colour = keyed_colours(keys, COLOURS)
    for i, r in enumerate(rows, start=1):
        for h in r["histories"]:
            line = dict(color=colour[h["color_key"]],
                        dash=DASHES[keys.index(h["color_key"]) % len(DASHES)])
            shown = h["color_key"] not in {x["color_key"] for rr in rows[:i - 1] for x in rr["histories"]}
            fig.add_trace(go.Scatter(x=h["steps"], y=h["loss"], mode="lines", name=h["color_key"],
                                     legendgroup=h["color_key"], showlegend=shown, line=line, meta=h["name"]),
                          row=i, col=1)
            fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["test_accuracy"], mode="lines+markers",
                                     name=h["color_key"], legendgroup=h["color_key"], showlegend=False, line=line,
                                     marker=dict(size=4), meta=h["name"]),
                          row=i, col=2)
        fig.add_hline(y=target, line_dash="dot", line_color="black", row=i, col=2)
        fig.update_yaxes(title_text="loss (log)", type="log", row=i, col=1)
        fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=i, col=2)
    fig.update_xaxes(title_text="step", row=n)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, title, height=max(380, 300 * n + 110))


def accuracy_bars(rows: Sequence[dict], *, title: str) -> go.Figure:
    """Test accuracy of one net evaluated several ways, one horizontal bar each (``evaluation``,
    ``mode``, ``accuracy``), top to bottom in the given order; eval mode and train mode coloured apart."""
    fig = go.Figure()
    for i, mode in enumerate(dict.fromkeys(r["mode"] for r in rows)):
        sub = [r for r in rows if r["mode"] == mode]
        fig.add_trace(go.Bar(y=[r["evaluation"] for r in sub], x=[r["accuracy"] for r in sub], orientation="h",
                             name=f"{mode} mode", marker_color=color_for(i),
                             text=[f"{r['accuracy']:.1%}" for r in sub], textposition="outside"))
    fig.update_xaxes(title_text="test accuracy", range=[0, 1.12])
    fig.update_yaxes(categoryorder="array", categoryarray=[r["evaluation"] for r in rows][::-1], automargin=True)
    return apply_layout(fig, title, height=max(320, 48 * len(rows) + 160))


def steps_bars(bars: Sequence[dict], *, target: float, total_steps: int, title: str) -> go.Figure:
    """Steps each net needed to reach ``target`` test accuracy, one horizontal bar each
    (``name``, ``steps``); nets that never did get a hatched bar at ``total_steps``. A bar's
    ``more`` (optional): the same net's steps at further seeds, drawn as points (never: at
    ``total_steps``, as an x)."""
    names = [b["name"] for b in bars]
    steps = [b["steps"] for b in bars]
    fig = go.Figure(go.Bar(y=names, x=steps, orientation="h", name="steps to target", marker_color=color_for(0),
                           text=[f"{s}" if s is not None else "" for s in steps], textposition="outside"))
    missing = [total_steps if s is None else None for s in steps]
    if any(m is not None for m in missing):
        fig.add_trace(go.Bar(y=names, x=missing, orientation="h", name=f"not reached in {total_steps} steps",
                             marker=dict(color="rgba(127,127,127,0.35)", pattern=dict(shape="/")),
                             text=["not reached" if m is not None else "" for m in missing], textposition="inside"))
    more = [(b["name"], s) for b in bars for s in b.get("more", [])]
    if more:
        fig.add_trace(go.Scatter(y=[n for n, _ in more], x=[total_steps if s is None else s for _, s in more],
                                 mode="markers", name="further seeds (x: not reached)",
                                 marker=dict(color="black", size=9, symbol=["x" if s is None else "circle"
                                                                            for _, s in more])))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text=f"training steps to {target:.0%} test accuracy", range=[0, total_steps * 1.1])
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1], automargin=True)
    return apply_layout(fig, title, height=max(320, 40 * len(bars) + 160))


def timing_bars(seconds: dict[str, float], times: dict[str, list[float]], *, title: str) -> go.Figure:
    """Median milliseconds per forward for each model (bars) and every repeat (points); the
    axis stops at 3x the largest median so one slow repeat does not flatten the bars."""
    names = list(seconds)
    fig = go.Figure([
        go.Bar(x=names, y=[seconds[n] * 1e3 for n in names], name="median", marker_color=color_for(0),
               text=[f"{seconds[n] * 1e3:.3g} ms" for n in names], textposition="outside"),
        go.Scatter(x=[n for n in names for _ in times[n]], y=[t * 1e3 for n in names for t in times[n]],
                   mode="markers", name="each repeat (slower ones off the axis)",
                   marker=dict(size=5, color="black", opacity=0.4)),
    ])
    fig.update_yaxes(title_text="milliseconds per forward (batch)", range=[0, 3e3 * max(seconds.values())])
    return apply_layout(fig, title, height=400)


# ---- the lesson's figures and tables ----------------------------------------------------------

def check_rows(c: ModeChecks) -> list[dict]:
    """The measured differences, each with what it compares and the line it is held to."""
    same = c.equal_line
    return [
        {"check": "train vs eval", "compares": "the same batch in train mode and in eval mode",
         "max_abs_diff": c.train_vs_eval, "expected": f"differ (> {c.differ_line:.2g})"},
        {"check": "eval vs formula", "compares": "eval output vs gamma (x - running_mean) / sqrt(running_var + eps)"
                                                 " + beta, in float64", "max_abs_diff": c.eval_vs_formula,
         "expected": f"equal (<= {same:.2g})"},
        {"check": "train vs formula", "compares": "train output vs the same formula with this batch's mean and "
                                                  "biased variance", "max_abs_diff": c.train_vs_formula,
         "expected": f"equal (<= {same:.2g})"},
        {"check": "identity", "compares": "gamma = sqrt(batch var + eps), beta = batch mean: output vs input",
         "max_abs_diff": c.identity, "expected": f"equal (<= {c.identity_line:.2g})"},
        {"check": "other batch, train", "compares": "image 0's output in two different batches, train mode",
         "max_abs_diff": c.same_image_other_batch, "expected": "differ"},
        {"check": "other batch, eval", "compares": "image 0's output in two different batches, eval mode",
         "max_abs_diff": c.same_image_other_batch_eval, "expected": "equal (exactly 0)"},
    ]


def mode_figures(s: RunningStats, c: ModeChecks, cfg: BatchNormConfig) -> dict:
    return {
        "running_stats": running_stats(
            vars(s), title=f"Running statistics of one BatchNorm2d, momentum {cfg.bn_momentum:g}, "
                           f"batch {cfg.batch_size}"),
        "checks": difference_bars(
            [dict(name=r["check"], value=r["max_abs_diff"]) for r in check_rows(c)],
            tolerance=c.equal_line, floor=LOG_FLOOR,
            title=f"One BN layer on {c.batch} test maps: max absolute differences"),
        "train_eval": mode_scatter(
            c.sample_eval, c.sample_train,
            title=f"The same inputs, eval mode vs train mode ({len(c.sample_eval)} output values)"),
    }


def training_table(histories: list[History], cfg: BatchNormConfig) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": h.variant.scenario, "net": h.name, "steps": h.steps[-1] if h.steps else 0,
                          "steps_to_target": h.steps_to(cfg.target_accuracy),
                          "best_test_accuracy": max(h.test_accuracy), "final_test_accuracy": h.test_accuracy[-1],
                          "diverged_at": h.diverged_at} for h in histories])


def curves_figure(histories: list[History], cfg: BatchNormConfig) -> go.Figure:
    rows = []
    for scenario in dict.fromkeys(h.variant.scenario for h in histories):
        rows.append({"title": scenario, "histories": [
            dict(name=h.name, color_key=NO_BN if h.variant.norm == "none" else bn_at(h.variant.norm_position),
                 steps=h.steps, loss=h.loss,
                 eval_steps=h.eval_steps, test_accuracy=h.test_accuracy)
            for h in histories if h.variant.scenario == scenario]})
    return scenario_curves(rows, target=cfg.target_accuracy,
                           title=f"Small CNN on {dataset_label(cfg.dataset)}, with and without BatchNorm "
                                 f"(dotted: target {cfg.target_accuracy:.0%})")


def steps_figure(histories: list[History], races: dict[str, SeededRace], cfg: BatchNormConfig) -> go.Figure:
    """The first seed's nets as bars; the races' nets at the further seeds as points."""
    more: dict[Variant, list[int | None]] = {}
    for r in races.values():
        more[r.races[0].plain.variant] = [x.plain_steps for x in r.races[1:]]
        more[r.races[0].bn.variant] = [x.bn_steps for x in r.races[1:]]
    seeds = max((len(r.seeds) for r in races.values()), default=1)
    return steps_bars(
        [dict(name=h.name, steps=h.steps_to(cfg.target_accuracy), more=more.get(h.variant, [])) for h in histories],
        target=cfg.target_accuracy, total_steps=cfg.total_steps,
        title=f"Training steps to {cfg.target_accuracy:.0%} test accuracy, evaluated every {cfg.eval_every} steps "
              f"(bars: seed {cfg.seed}" + (f"; points: the races at {seeds - 1} further seeds)" if seeds > 1 else ")"))


def bug_figure(bug: TrainModeBug) -> go.Figure:
    return accuracy_bars(
        bug.rows, title=f"One trained BN net ({bug.model}): test accuracy, evaluated in eval vs train mode")


def folding_table(f: FoldResult) -> pd.DataFrame:
    return pd.DataFrame([{"net": name, "median_ms": s * 1e3, "speedup_vs_unfolded": f.seconds["unfolded"] / s,
                          "max_abs_diff_vs_unfolded": {"unfolded": 0.0, "folded": f.max_abs_diff,
                                                       "torch fused": f.max_abs_diff_torch}[name]}
                         for name, s in f.seconds.items()])


def folding_figure(f: FoldResult) -> go.Figure:
    interval = f.speedup_interval
    spread = f", 95% interval {interval[0]:.2f}-{interval[1]:.2f}x" if interval else ""
    return timing_bars(f.seconds, f.times, title=(
        f"Inference on {f.batch} images: unfolded vs folded (max |logit difference| {f.max_abs_diff:.2g}; "
        f"median speedup {f.speedup:.2f}x{spread})"))
