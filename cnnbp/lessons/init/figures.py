"""The init lesson's figures and tables: measured results -> plotly figures (the shared chart
types of cnnbp.plots) and pandas tables. Nothing here measures anything."""

from __future__ import annotations

from typing import Callable

import pandas as pd
import plotly.graph_objects as go

from cnnbp import plots
from cnnbp.data import dataset_label
from cnnbp.lessons.init.classic import ClassicResult
from cnnbp.lessons.init.cnn import VariantHistory
from cnnbp.lessons.init.config import InitConfig
from cnnbp.lessons.init.symmetry import SymmetryContrast
from cnnbp.nn.inits import INITS
from cnnbp.plots.common import DASHES

# One colour per init in every figure of the tab, the lecture's three first (the most distinct colours)
COLOURS = plots.variant_colours(["normal_0.01", "xavier", "kaiming", *INITS])

# ---- the classic MLP ---------------------------------------------------------------------


def classic_figures(results: list[ClassicResult], cfg: InitConfig) -> dict[str, Callable[[], go.Figure]]:
    """Each classic figure as a function drawing it (0.2-0.4 s each: the part draws them one by one)."""
    rows = [dict(group=r.activation, row=r.init, layer=i, counts=l.hist_counts, edges=l.hist_edges,
                 mean=l.mean, std=l.std) for r in results for i, l in enumerate(r.layers)]
    hist = lambda: plots.layer_histograms(  # noqa: E731
        rows, row_labels=list(cfg.inits), layer_labels=[f"layer {i + 1}" for i in range(cfg.depth)],
        groups=list(cfg.activations), colours=COLOURS,
        title=f"Activations per layer, {cfg.depth} x {cfg.width} MLP, batch {cfg.batch_size}")
    series = [dict(name=f"{r.init} / {r.activation}", color_key=r.init, dash_key=r.activation,
                   std=r.stds(), mean=[l.mean for l in r.layers], grad_w=r.weight_grad_norm,
                   grad_h=[l.grad_norm for l in r.layers]) for r in results]
    profiles = lambda: plots.per_layer_profiles(  # noqa: E731
        series, panels=[("mean", "activation mean", False), ("std", "activation std", True),
                        ("grad_w", "||dL/dW|| after one backward", True)], colours=COLOURS,
        title="Mean and std of the activations, and the weight gradient, per layer")
    return {"classic_histograms": hist, "classic_profiles": profiles}


def classic_table(results: list[ClassicResult]) -> pd.DataFrame:
    rows = [{"activation": r.activation, "init": r.init, "layer": i + 1, "mean": l.mean, "std": l.std,
             "saturated": l.frac_saturated, "mean_local_grad": l.mean_local_grad,
             "grad_h_norm": l.grad_norm, "grad_w_norm": r.weight_grad_norm[i]}
            for r in results for i, l in enumerate(r.layers)]
    return pd.DataFrame(rows)


# ---- the CNN -------------------------------------------------------------------------------

def cnn_figures(histories: list[VariantHistory], cfg: InitConfig) -> dict[str, Callable[[], go.Figure]]:
    """The CNN's three figures, each drawn when its frame is sent (training streams many updates)."""
    return {"cnn_curves": lambda: cnn_curves(histories, cfg), "cnn_layer_std": lambda: cnn_layer_std(histories, cfg),
            "cnn_dead": lambda: cnn_dead(histories)}


def cnn_curves(histories: list[VariantHistory], cfg: InitConfig) -> go.Figure:
    return plots.training_curves(
        [dict(name=h.name, color_key=h.init, dash_key=h.activation, steps=h.steps, loss=h.loss,
              eval_steps=h.eval_steps, test_accuracy=h.test_accuracy) for h in histories],
        title=f"Small CNN on {dataset_label(cfg.dataset)}: init x activation", colours=COLOURS)


def cnn_layer_std(histories: list[VariantHistory], cfg: InitConfig) -> go.Figure:
    """One panel per init, one dash per activation (a panel per net drew twice the panels: plotly's first
    draw costs about the same per panel, bench/cold_draws.py)."""
    activations = list(dict.fromkeys(h.activation for h in histories))
    panels = [dict(title=init, lines=[dict(name=layer, x=h.eval_steps, y=[s[i] for s in h.layer_std], meta=h.name,
                                           dash=activations.index(h.activation) % len(DASHES))
                                      for h in histories if h.init == init for i, layer in enumerate(h.layer_names)])
              for init in dict.fromkeys(h.init for h in histories)]
    words = {"dash": "dashed", "dot": "dotted"}
    dashes = ", ".join(f"{words.get(DASHES[i % len(DASHES)], DASHES[i % len(DASHES)])}: {a}"
                       for i, a in enumerate(activations))
    return plots.small_multiples(panels, n_cols=len(panels), x_title="step", y_title="std", log_y=True,
                                 title=f"Activation std per layer during training ({dashes})")


def cnn_dead(histories: list[VariantHistory]) -> go.Figure:
    return plots.heatmap([h.layer_dead[-1] for h in histories], x_labels=histories[0].layer_names,
                         y_labels=[h.name for h in histories],
                         title="Dead ReLUs / saturated units per layer (share of units with local gradient "
                               "< 10% of its peak on every probe image)", colorbar="share")


def cnn_table(histories: list[VariantHistory]) -> pd.DataFrame:
    rows = []
    for h in histories:
        row = {"init": h.init, "activation": h.activation, "steps": h.steps[-1] if h.steps else 0,
               "final_test_accuracy": h.test_accuracy[-1], "final_test_loss": h.test_loss[-1],
               "diverged_at": h.diverged_at}
        for name, std, dead in zip(h.layer_names, h.layer_std[-1], h.layer_dead[-1]):
            row[f"{name} std"] = std
            row[f"{name} dead"] = dead
        rows.append(row)
    return pd.DataFrame(rows)


# ---- symmetry ------------------------------------------------------------------------------

def symmetry_figure(contrast: SymmetryContrast):
    runs = (contrast.constant, contrast.other)
    layers = [s.layer for s in contrast.constant.after]
    return plots.grouped_bars(
        [dict(name=f"{r.init} init", color_key=r.init, values=[s.distinct_units for s in r.after]) for r in runs],
        categories=layers, colours=COLOURS, reference=[s.units for s in contrast.constant.after],
        reference_name="units in the layer",
        title=f"Distinct neurons per layer after {contrast.constant.steps} steps ({contrast.activation})",
        y_title="distinct neurons")


def symmetry_table(contrast: SymmetryContrast) -> pd.DataFrame:
    return pd.DataFrame([{"init": r.init, "layer": a.layer, "units": a.units,
                          "distinct_before": b.distinct_units, "distinct_after": a.distinct_units,
                          "spread_after": a.spread, "steps": r.steps}
                         for r in (contrast.constant, contrast.other) for b, a in zip(r.before, r.after)])
