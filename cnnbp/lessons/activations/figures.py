"""Figures and tables of the activations lesson: pure functions, measured numbers -> plotly
figures and pandas tables. The chart types every lesson shares are in ``cnnbp.plots.common``.

>>> fig = activation_grid([dict(name="relu", label="ReLU", x=[-1, 0, 1], value=[0, 0, 1],
...                             grad=[0, 0, 1], saturated=[(-1, 0)])],
...                       n_cols=1, title="ReLU", threshold=0.1)
>>> [t.name for t in fig.data]
['f(x)', "f'(x)"]
"""

from __future__ import annotations

import functools
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp import plots
from cnnbp.data import dataset_label
from cnnbp.lessons.activations.config import ActivationsConfig
from cnnbp.lessons.activations.functions import Curve, maxout_formula
from cnnbp.lessons.activations.outcome import Race
from cnnbp.lessons.activations.race import PROBE_IMAGES
from cnnbp.lessons.activations.selu import DeepProfile
from cnnbp.lessons.activations.zero_centred import MINIBATCH, W_STAR, SignResult, ZigzagPath
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.plots.common import apply_layout, color_for, variant_colours
from cnnbp.plots.drawn import drawn

SATURATED_FILL = "rgba(214, 39, 40, 0.12)"
GRID_COLUMNS = 4
# A function panel is about 150 px wide at 1024 x 768: 301 points of the 601-point grid are two a
# pixel, the same curve at half the bytes (the figure was the page's largest message: 181 KiB).
DRAWN_POINTS = 301
# Panel height and the gap between rows: the x tick labels and a two-line panel title below them fit.
PANEL_PX, ROW_GAP_PX = 172, 95
PANEL_TITLE_PX = 14
COLOURS = variant_colours(list(ACTIVATIONS))  # one colour per activation in every figure of the tab


def activation_grid(curves: Sequence[dict], *, n_cols: int, title: str, threshold: float) -> go.Figure:
    """One panel per activation: f(x) solid, f'(x) dashed, saturated ranges shaded.

    ``curves``: dicts with ``name``, ``label``, ``x`` (evenly spaced, the same for every curve),
    ``value``, ``grad`` and ``saturated`` (a list of (x from, x to) where |f'| < ``threshold`` x
    its peak). At most ``DRAWN_POINTS`` of the grid are drawn, x sent as its start and step."""
    n_rows = max(1, -(-len(curves) // n_cols))
    area = n_rows * PANEL_PX + (n_rows - 1) * ROW_GAP_PX  # the panels and the gaps between their rows
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[c["label"] for c in curves],
                        horizontal_spacing=0.04, vertical_spacing=ROW_GAP_PX / area if n_rows > 1 else 0.15)
    shaded: list[dict] = []
    for i, c in enumerate(curves):
        row, col = i // n_cols + 1, i % n_cols + 1
        stride = max(1, -(-(len(c["x"]) - 1) // (DRAWN_POINTS - 1)))
        grid = dict(x0=c["x"][0], dx=c["x"][stride] - c["x"][0] if len(c["x"]) > stride else 1.0)
        fig.add_trace(go.Scatter(**grid, y=drawn(c["value"][::stride]), mode="lines", name="f(x)", legendgroup="f",
                                 showlegend=i == 0, line=dict(color=color_for(0)),
                                 meta=c["name"], hovertemplate="x %{x:.3g}<br>f(x) %{y:.4g}<extra></extra>"),
                      row=row, col=col)
        fig.add_trace(go.Scatter(**grid, y=drawn(c["grad"][::stride]), mode="lines", name="f'(x)", legendgroup="g",
                                 showlegend=i == 0, line=dict(color=color_for(1), dash="dash"),
                                 meta=c["name"], hovertemplate="x %{x:.3g}<br>f'(x) %{y:.4g}<extra></extra>"),
                      row=row, col=col)
        # the shaded ranges as plain shapes, set once below: add_vrect per range took most of the
        # figure's 0.5 s (each call walks every shape so far)
        axis = "" if i == 0 else i + 1  # make_subplots numbers the panels' axes row by row
        shaded += [dict(type="rect", xref=f"x{axis}", yref=f"y{axis} domain", x0=lo, x1=hi, y0=0, y1=1,
                        fillcolor=SATURATED_FILL, line=dict(width=0), layer="below", name=f"saturated {c['name']}")
                   for lo, hi in c["saturated"]]
    fig.update_layout(shapes=shaded)
    # at most 4 ticks (x = -10, 0, 10 at the default range): they fit a panel level, never rotated
    # up into the title of the panel below
    fig.update_xaxes(nticks=4)
    fig.update_xaxes(title_text="x", row=n_rows)
    fig.update_yaxes(title_text="f, f'", col=1)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=PANEL_TITLE_PX)))
    apply_layout(fig, f"{title} (shaded: |f'(x)| < {threshold:g} x its peak)", height=max(320, area + 150))
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


# ---- the lesson's figures and tables, from its results ------------------------------------

def functions_figure(curves: list[Curve], cfg: ActivationsConfig) -> go.Figure:
    # Maxout's panel title in two short lines: its formula in words wrapped to three at 1024 px
    panel = lambda c: c.label if get_act(c.name).elementwise else f"Maxout<br>{maxout_formula(compact=True)}"  # noqa: E731
    return activation_grid(
        [dict(name=c.name, label=panel(c), x=c.x, value=c.value, grad=c.grad, saturated=c.saturated) for c in curves],
        n_cols=min(GRID_COLUMNS, len(curves)), threshold=cfg.saturation,
        title=f"Activations f(x) and their derivatives f'(x), x in [-{cfg.x_range:g}, {cfg.x_range:g}]")


def same_sign_table(signs: list[SignResult], paths: list[ZigzagPath]) -> pd.DataFrame:
    rows = [{"experiment": "sigmoid neuron", "inputs": s.label, "input_mean": s.input_mean,
             "same_sign_per_sample": s.per_sample, "same_sign_per_minibatch": s.per_minibatch} for s in signs]
    rows += [{"experiment": "2-weight SGD", "inputs": p.label, "same_sign_per_sample": p.same_sign_updates,
              "steps_to_reach": p.steps_to_reach, "final_distance": p.final_distance, "path_length": p.path_length}
             for p in paths]
    return pd.DataFrame(rows)


def same_sign_figure(signs: list[SignResult], cfg: ActivationsConfig) -> go.Figure:
    return plots.grouped_bars(
        [dict(name="per sample", values=[s.per_sample for s in signs]),
         dict(name=f"per minibatch of {MINIBATCH}", values=[s.per_minibatch for s in signs])],
        categories=[s.label for s in signs],
        title=f"Share of weight gradients with one sign in all {cfg.fan_in} components (sigmoid neuron)",
        y_title="share of gradient vectors")


def zigzag_figure(paths: list[ZigzagPath], cfg: ActivationsConfig) -> go.Figure:
    return zigzag_paths([vars(p) for p in paths], w_star=W_STAR,
                        title=f"SGD towards w* = {W_STAR} (one weight up, one down), "
                              f"{cfg.zigzag_steps} steps, lr {cfg.zigzag_lr:g}")


def selu_table(profiles: list[DeepProfile]) -> pd.DataFrame:
    return pd.DataFrame([{"activation": p.activation, "init": p.init, "layer": i + 1, "mean": m, "std": s}
                         for p in profiles for i, (m, s) in enumerate(zip(p.mean, p.std))])


def selu_figure(profiles: list[DeepProfile], cfg: ActivationsConfig) -> go.Figure:
    return plots.per_layer_profiles(
        [dict(name=p.name, color_key=p.activation, dash_key="all", mean=p.mean, std=p.std) for p in profiles],
        panels=[("mean", "activation mean", False), ("std", "activation std", False)], colours=COLOURS,
        title=f"Deep plain MLP ({cfg.mlp_depth} x {cfg.mlp_width}, no BatchNorm): mean and std per layer")


def race_table(race: Race) -> pd.DataFrame:
    """Every net trained, those of the further seeds after the ones drawn (they measure only what
    the verdicts read: the accuracy until the target, the dead share at the end)."""
    rows = []
    for h in race.histories:
        row = {"seed": h.seed, "activation": h.activation, "lr": h.lr, "init": h.init,
               "steps": h.steps[-1] if h.steps else 0, "steps_to_target": h.steps_to(race.target),
               "last_evaluated_step": h.eval_steps[-1] if h.eval_steps else None,
               "last_test_accuracy": h.test_accuracy[-1] if h.test_accuracy else None,
               "diverged_at": h.diverged_at}
        for name, dead in zip(h.layer_names, h.dead[-1] if h.dead else []):
            row[f"{name} dead"] = dead
        rows.append(row)
    return pd.DataFrame(rows)


def curves_figure(race: Race, cfg: ActivationsConfig) -> go.Figure:
    curves = plots.training_curves(
        [dict(name=h.name, color_key=h.activation, dash_key=h.lr, steps=h.steps, loss=h.loss,
              eval_steps=h.eval_steps, test_accuracy=h.test_accuracy) for h in race.drawn], colours=COLOURS,
        title=f"Small CNN on {dataset_label(cfg.dataset)}: one activation per line (dash: learning rate)")
    # a run that diverges (loss 1e22, then NaN) leaves the capped loss axis, marked "diverged"
    curves.add_hline(y=race.target, line_dash="dot", line_color="black", row=1, col=2,
                     annotation_text=f"target {race.target:.0%}")
    return curves


def dead_figure(race: Race) -> go.Figure:
    """One panel per activation, its low rate solid and its high rate dashed (a panel per net drew twice the
    panels: plotly's first draw costs about the same per panel, bench/cold_draws.py)."""
    by_activation: dict[str, list] = {}
    for h in race.dead:  # each activation's low rate, then its high rate
        by_activation.setdefault(h.activation, []).append(h)
    panels = [dict(title=activation, lines=[dict(name=layer, x=h.eval_steps, y=[d[i] for d in h.dead], meta=h.name,
                                                 dash=0 if h.lr == race.lr else 1)
                                            for h in nets for i, layer in enumerate(h.layer_names)])
              for activation, nets in by_activation.items()]
    return plots.small_multiples(
        panels, n_cols=min(3, len(panels)), x_title="step", y_title="dead share",
        title=f"Dead units per layer during training (no gradient on any of {PROBE_IMAGES} images); "
              f"solid: lr {race.lr:g}, dashed: lr {race.dead_lr:g}")


def steps_figure(race: Race, eval_every: int) -> go.Figure:
    return steps_to_target(
        [dict(name=h.activation, steps=h.steps_to(race.target)) for h in race.race],
        target=race.target, total_steps=race.total_steps,
        title=f"Training steps to {race.target:.0%} test accuracy (lr {race.lr:g}; evaluated every {eval_every} steps)")


def training_figures(race: Race, cfg: ActivationsConfig) -> dict:
    """The curves and the dead units, as functions: run_parts draws them only when their frame is
    sent (the steps to the target come once, at the end)."""
    figs = {"race_curves": functools.partial(curves_figure, race, cfg)}
    if race.dead:
        figs["dead"] = functools.partial(dead_figure, race)
    return figs
