"""Figures and tables of the normalisation lesson: pure functions, measured numbers -> plotly
figures and DataFrames. The chart types come first, then each part's figures and tables.

>>> fig = tensor_picture([dict(kind="instance", title="InstanceNorm", shape=[2, 2, 1, 2],
...                            lit=[[0, 0, 0, 0], [0, 0, 0, 1]], chosen=[0, 0, 0, 0])], title="demo")
>>> fig.data[0].z
([2, 1, None, 0, 0], [0, 0, None, 0, 0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.data import dataset_label
from cnnbp.lessons.norms.batch_one import BatchOneResult
from cnnbp.lessons.norms.contrast import ContrastResult
from cnnbp.lessons.norms.equivalences import Equivalences
from cnnbp.lessons.norms.races import Paired, SideBySide
from cnnbp.lessons.norms.training import NormRun
from cnnbp.lessons.norms.verdicts import NAMES, best_words, contrast_words, counted, race_words
from cnnbp.nn.norms import NORMS
from cnnbp.plots.common import FONT, apply_layout, color_for, keyed_colours, training_curves, variant_colours

if TYPE_CHECKING:
    from cnnbp.lessons.norms.config import NormsConfig

COLOURS = variant_colours(list(NORMS))  # one colour per norm in every figure of the tab


OTHER_CELL = "#e8e8e8"  # a cell the statistic does not cover
CHOSEN_CELL = "#000000"
# The value a cell gets in a panel's grid: what colour it is drawn in.
OTHER, SHARES, CHOSEN = 0, 1, 2


def picture_grid(shape: Sequence[int], lit: Sequence[Sequence[int]], chosen: Sequence[int]) -> list[list]:
    """An (N, C, H, W) tensor flattened to a C x N (H W + 1) grid: row c is page c; book n is the
    block of H W columns from n (H W + 1), word (h, w) its column h W + w; one empty column (None)
    between books. Each cell: OTHER, SHARES (averaged with the chosen cell) or CHOSEN.

    >>> picture_grid([2, 2, 1, 1], lit=[[0, 1, 0, 0], [1, 1, 0, 0]], chosen=[0, 1, 0, 0])
    [[0, None, 0], [2, None, 1]]
    """
    n, c, h, w = shape
    words = h * w
    grid = [[None if (col + 1) % (words + 1) == 0 else OTHER for col in range(n * (words + 1) - 1)]
            for _ in range(c)]
    for book, page, row, col in lit:
        grid[page][book * (words + 1) + row * w + col] = SHARES
    book, page, row, col = chosen
    grid[page][book * (words + 1) + row * w + col] = CHOSEN
    return grid


BLOCK_GAP_ROWS = 2  # between two norms' grids in the picture: room for the lower one's title


def tensor_picture(panels: Sequence[dict], *, title: str) -> go.Figure:
    """One flat grid per norm, one above the other in one panel (the GroupNorm paper's picture unfolded):
    every cell of an (N, C, H, W) tensor as a square, pages down, books across with their H x W words side
    by side (:func:`picture_grid`); the cells averaged with the chosen one (black) in the norm's colour,
    each grid titled above it. (A panel per norm drew 4 panels' axes: plotly's first draw costs about the
    same per panel; one panel took 1.50x less CPU, 167 -> 111 ms, bench/cold_draws.py.)

    ``panels``: dicts with ``kind``, ``title``, ``shape`` (N, C, H, W), ``lit`` (the lit cells
    as [n, c, h, w] lists) and ``chosen`` (the chosen cell)."""
    fig = go.Figure()
    pages, titles = [], []
    for i, p in enumerate(panels):
        n, c, h, w = p["shape"]
        words, colour = h * w, COLOURS[p["kind"]]
        top = i * (c + BLOCK_GAP_ROWS)  # the grid's first row on the shared y axis (drawn downwards)
        steps = [(0, OTHER_CELL), (1 / 3, OTHER_CELL), (1 / 3, colour), (2 / 3, colour), (2 / 3, CHOSEN_CELL),
                 (1, CHOSEN_CELL)]  # OTHER, SHARES, CHOSEN: one flat colour each
        hover = [[f"book {col // (words + 1)}, page {page}, word {col % (words + 1)}" for col in range(len(row))]
                 for page, row in enumerate(picture_grid(p["shape"], p["lit"], p["chosen"]))]
        fig.add_trace(go.Heatmap(z=picture_grid(p["shape"], p["lit"], p["chosen"]), y0=top, dy=1, zmin=0, zmax=2,
                                 colorscale=steps, showscale=False, xgap=2, ygap=2, name=p["title"], meta=p["kind"],
                                 text=hover, hovertemplate="%{text}<extra></extra>"))
        pages += [(top + page, str(page)) for page in range(c)]
        titles.append(dict(text=p["title"], x=0, xref="paper", xanchor="left", y=top - 0.55, yref="y",
                           yanchor="bottom", showarrow=False, font=FONT))
    n, _, h, w = panels[-1]["shape"]
    fig.update_xaxes(tickvals=[b * (h * w + 1) + (h * w - 1) / 2 for b in range(n)],
                     ticktext=[f"book {b}" for b in range(n)], showgrid=False, zeroline=False,
                     title_text=f"{n} books side by side, each its {h} x {w} words")
    # drawn downwards, a gap above the first grid for its title (plotly hides an annotation off the axis range)
    fig.update_yaxes(range=[pages[-1][0] + 0.5, -BLOCK_GAP_ROWS - 0.5], tickvals=[y for y, _ in pages],
                     ticktext=[t for _, t in pages],
                     showgrid=False, zeroline=False, title_text="page")
    fig.update_layout(annotations=titles)
    apply_layout(fig, title, height=185 * len(panels) + 40)
    return fig


def final_accuracy_bars(rows: Sequence[dict], *, title: str) -> go.Figure:
    """Mean final test accuracy per norm (bars, labelled with the time per epoch) and each
    seed's (dots). ``rows``: dicts with ``norm``, ``mean``, ``seeds`` (accuracies),
    ``seconds_per_epoch``."""
    names = [r["norm"] for r in rows]
    fig = go.Figure(go.Bar(x=names, y=[r["mean"] for r in rows], name="mean over seeds", marker_color=color_for(0),
                           text=[f"{r['mean']:.1%}<br>{r['seconds_per_epoch']:.2f} s/epoch" for r in rows],
                           textposition="inside"))
    fig.add_trace(go.Scatter(x=[r["norm"] for r in rows for _ in r["seeds"]],
                             y=[a for r in rows for a in r["seeds"]], mode="markers", name="one seed",
                             marker=dict(color="black", size=7)))
    fig.update_yaxes(title_text="final test accuracy", range=[0, 1.02])
    fig.update_xaxes(title_text="norm after every conv")
    return apply_layout(fig, title, height=400)


def batch_sweep(series: Sequence[dict], *, title: str, extra: Sequence[dict] = ()) -> go.Figure:
    """Final test accuracy against the batch size (log axis, falling to the right), one line per
    norm (the mean over seeds) with each seed's dot. ``series``: dicts with ``name``,
    ``batch_sizes``, ``mean``, ``seeds`` ([batch][seed]). ``extra``: single points (``name``,
    ``batch_size``, ``accuracy``, ``symbol``, ``color``), e.g. BatchNorm at batch size 1."""
    fig = go.Figure()
    colour = keyed_colours([s["name"] for s in series], COLOURS)
    for s in series:
        fig.add_trace(go.Scatter(x=s["batch_sizes"], y=s["mean"], mode="lines+markers", name=s["name"],
                                 legendgroup=s["name"], line=dict(color=colour[s["name"]])))
        fig.add_trace(go.Scatter(x=[b for b, accs in zip(s["batch_sizes"], s["seeds"]) for _ in accs],
                                 y=[a for accs in s["seeds"] for a in accs], mode="markers",
                                 name=f"{s['name']}, one seed", legendgroup=s["name"], showlegend=False,
                                 marker=dict(color=colour[s["name"]], size=5, opacity=0.5)))
    for p in extra:
        fig.add_trace(go.Scatter(x=[p["batch_size"]], y=[p["accuracy"]], mode="markers+text", name=p["name"],
                                 text=[p["name"]], textposition="bottom center",
                                 marker=dict(color=p.get("color", "black"), size=11, symbol=p.get("symbol", "x"))))
    ticks = sorted({b for s in series for b in s["batch_sizes"]} | {p["batch_size"] for p in extra}, reverse=True)
    fig.update_xaxes(title_text="batch size (images per step)", type="log", autorange="reversed",
                     tickvals=ticks, ticktext=[str(b) for b in ticks])
    fig.update_yaxes(title_text="final test accuracy", range=[0, 1.02])
    return apply_layout(fig, title, height=420)


def contrast_maps(images: Sequence[dict], *, title: str) -> go.Figure:
    """Rows of (before, after, |after - before|) heat maps. ``images``: dicts with ``name``,
    ``before`` and ``after`` (2-D lists), ``change`` (the max abs change, for the row title).
    The |change| maps share one colour scale (white: no change), so rows compare at a glance."""
    titles = []
    for im in images:
        titles += [f"{im['name']}: before", f"{im['name']}: after", f"|change|, max {im['change']:.2g}"]
    fig = make_subplots(rows=len(images), cols=3, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.09)
    top = max(max(im["change"] for im in images), 1e-12)
    for r, im in enumerate(images, start=1):
        diff = [[abs(a - b) for a, b in zip(ra, rb)] for ra, rb in zip(im["after"], im["before"])]
        lo = min(min(min(row) for row in im["before"]), min(min(row) for row in im["after"]))
        hi = max(max(max(row) for row in im["before"]), max(max(row) for row in im["after"]))
        for col, z, scale in ((1, im["before"], "Greys"), (2, im["after"], "Greys"), (3, diff, "Reds")):
            fig.add_trace(go.Heatmap(z=z, colorscale=scale, showscale=False, name=f"{im['name']} {col}",
                                     zmin=0 if col == 3 else lo, zmax=top if col == 3 else hi,
                                     hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>"),
                          row=r, col=col)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    return apply_layout(fig, title, height=190 * len(images) + 90)


def lines_over(series: Sequence[dict], *, x_title: str, y_title: str, title: str, log_x: bool = True,
               log_y: bool = False, reference: dict | None = None) -> go.Figure:
    """Plain lines: ``series`` dicts with ``name``, ``x``, ``y``; ``reference``: a horizontal
    line (``name``, ``y``)."""
    fig = go.Figure()
    for i, s in enumerate(series):
        fig.add_trace(go.Scatter(x=s["x"], y=s["y"], mode="lines+markers", name=s["name"],
                                 line=dict(color=color_for(i))))
    if reference is not None:
        fig.add_hline(y=reference["y"], line_dash="dot", line_color="black", annotation_text=reference["name"])
    ticks = sorted({x for s in series for x in s["x"]})
    fig.update_xaxes(title_text=x_title, type="log" if log_x else "linear", tickvals=ticks,
                     ticktext=[f"{x:g}" for x in ticks])
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    return apply_layout(fig, title, height=400)


# ---- the picture -----------------------------------------------------------------------------

def _picture_title(kind: str, p: dict, cfg: NormsConfig) -> str:
    label = f"GroupNorm, G = {cfg.picture_groups}" if kind == "group" else p["label"]
    return f"{label}: over {p['axes']}, {p['set_size']} cells per statistic"


def picture_figure(numbers: dict, cfg: NormsConfig) -> go.Figure:
    panels = [dict(kind=k, title=_picture_title(k, p, cfg), shape=numbers["shape"], lit=p["lit"],
                   chosen=numbers["chosen"]) for k, p in numbers["norms"].items()]
    n, c, h, w = numbers["shape"]
    return tensor_picture(
        panels, title=f"{n} books x {c} pages x {h * w} words: the cells averaged with book {cfg.cell_sample}, "
                      f"page {cfg.cell_channel} (black), in each norm's colour")


def picture_table(numbers: dict) -> pd.DataFrame:
    return pd.DataFrame([{"norm": p["label"], "averages over": p["axes"], "reading": p["reading"],
                          "cells per statistic": p["set_size"], "statistics in the tensor": p["statistics"],
                          "same cells as torch's norm": p["torch_agrees"]} for p in numbers["norms"].values()])


# ---- equivalences and contrast -----------------------------------------------------------------

def equivalences_table(result: Equivalences) -> pd.DataFrame:
    return pd.DataFrame(result.rows)


def contrast_table(result: ContrastResult) -> pd.DataFrame:
    return pd.DataFrame([{"norm": n, "max abs change": result.change[n], "change / output std":
                          result.relative_change[n]} for n in result.change])


def contrast_figure(result: ContrastResult) -> go.Figure:
    moved = max(abs(a - b) for ra, rb in zip(result.image, result.image_changed) for a, b in zip(ra, rb))
    images = [dict(name="input image", before=result.image, after=result.image_changed, change=moved)]
    for n, label in (("instance", "InstanceNorm"), ("batch", "BatchNorm (eval)")):
        before, after = result.maps[n]
        images.append(dict(name=f"{label}, map 0", before=before, after=after, change=result.change[n]))
    # the title says what was measured, as the verdict does
    return contrast_maps(images, title=f"Contrast x -> {result.scale:g} x + {result.shift:g}: {contrast_words(result)}")


# ---- side by side ------------------------------------------------------------------------------

def compare_curves(runs: list[NormRun], cfg: NormsConfig) -> go.Figure:
    return training_curves(
        [dict(name=r.name, color_key=r.norm, dash_key=r.seed, steps=r.steps, loss=r.loss, eval_steps=r.eval_steps,
              test_accuracy=r.test_accuracy) for r in runs],
        title=(f"Same CNN on {dataset_label(cfg.dataset)}, one norm per colour (dash: seed), batch {cfg.batch_size}, "
               f"lr {cfg.lr:g}"),
        colours=COLOURS)


def compare_bars(numbers: dict, race: SideBySide, cfg: NormsConfig) -> go.Figure:
    rows = [r for r in numbers["summary"] if r["mean"] is not None]
    return final_accuracy_bars(
        rows, title=f"Final test accuracy after {counted(cfg.epochs, 'epoch')} ({counted(cfg.seeds, 'seed')}; "
                    f"time per epoch in the bars): {best_words(race)}")


def compare_table(numbers: dict) -> pd.DataFrame:
    return pd.DataFrame(numbers["summary"])


# ---- the batch-size sweep and batch size 1 ---------------------------------------------------------

def sweep_figure(numbers: dict, race: Paired | None, cfg: NormsConfig, batch_one_run: NormRun | None) -> go.Figure:
    series = [dict(name=norm, **s) for norm, s in numbers["summary"].items() if s["batch_sizes"]]
    extra = []
    if batch_one_run is not None and batch_one_run.final_accuracy is not None:
        extra.append(dict(name="BatchNorm at batch 1", batch_size=1, accuracy=batch_one_run.final_accuracy,
                          color=COLOURS["batch"]))
    return batch_sweep(
        series, extra=extra,
        title=f"Final test accuracy as the batch shrinks ({cfg.sweep_images} training images, "
              f"{counted(cfg.sweep_epochs, 'epoch')}, lr x batch / {cfg.batch_size})"
              + (f"<br><sup>at batch {min(cfg.batch_list())}: {race_words(race, NAMES)}</sup>" if race else ""))


def sweep_table(runs: list[NormRun]) -> pd.DataFrame:
    return pd.DataFrame([{"norm": r.norm, "batch size": r.batch_size, "seed": r.seed, "lr": r.lr,
                          "steps": r.steps[-1] if r.steps else 0, "final test accuracy": r.final_accuracy,
                          "diverged at": r.diverged_at} for r in runs])


def batch_one_table(result: BatchOneResult, cnn: NormRun | None) -> pd.DataFrame:
    rows = [
        {"experiment": "BatchNorm1d(8) training on a (1, 8) batch", "result":
            f"refused: {result.error}" if result.refused else "accepted"},
        {"experiment": "lecture's formula on one sample: max |x - m|", "result": f"{result.centred_max:g}"},
        {"experiment": "its variance (max over features)", "result": f"{result.variance_max:g}"},
        {"experiment": "output range across 4 different samples", "result": f"{result.output_spread:g}"},
        {"experiment": "max |gradient| reaching the input", "result": f"{result.input_grad_max:g}"},
        {"experiment": "BatchNorm2d training on a (1, 8, 4, 4) map", "result":
            (f"accepted; max abs diff from InstanceNorm {result.conv_vs_instance:.2g}" if result.conv_accepted
             else "refused")},
    ]
    if cnn is not None:
        acc = f"{cnn.final_accuracy:.1%}" if cnn.final_accuracy is not None else f"diverged at step {cnn.diverged_at}"
        rows.append({"experiment": "BatchNorm CNN trained at batch 1: test accuracy (eval mode)", "result": acc})
    return pd.DataFrame(rows)


# ---- SyncBatchNorm -----------------------------------------------------------------------------------

def sync_figures(numbers: dict, cfg: NormsConfig) -> dict[str, go.Figure]:
    noise = [n for n in numbers["noise"] if n["devices"] > 1]
    figs = {"sync_noise": lines_over(
        [dict(name="mean: RMS (m_k - m) / s", x=[n["per_device_batch"] for n in noise],
              y=[n["mean_error"] for n in noise]),
         dict(name="std: RMS (s_k - s) / s", x=[n["per_device_batch"] for n in noise],
              y=[n["std_error"] for n in noise])],
        x_title="images per device", y_title="error, in units of the whole batch's std", log_y=True,
        title=f"Per-device statistics vs the whole batch of {cfg.sync_batch} (first conv, "
              f"{noise[0]['batches'] if noise else 0}"
              f" batches; synchronised: 0 by construction)")}
    local = [r for r in numbers["runs"] if not r["sync"] and r["final_accuracy"] is not None]
    synced = next((r for r in numbers["runs"] if r["sync"] and r["final_accuracy"] is not None), None)
    figs["sync_accuracy"] = lines_over(
        [dict(name="own statistics per device", x=[r["per_device_batch"] for r in local],
              y=[r["final_accuracy"] for r in local])],
        x_title="images per device", y_title="final test accuracy",
        reference=dict(name=f"synchronised ({synced['final_accuracy']:.1%})", y=synced["final_accuracy"])
        if synced else None,
        title=f"Test accuracy after {counted(cfg.epochs, 'epoch')}, batch {cfg.sync_batch} split over K devices")
    return figs


def sync_table(numbers: dict) -> pd.DataFrame:
    noise = {n["devices"]: n for n in numbers["noise"]}
    rows = []
    for r in numbers["runs"]:
        n = noise.get(r["devices"], {}) if not r["sync"] else {"mean_error": 0.0, "std_error": 0.0}
        rows.append({"run": r["name"], "devices": r["devices"], "synchronised": r["sync"],
                     "images per device": r["per_device_batch"], "mean error": n.get("mean_error"),
                     "std error": n.get("std_error"), "final test accuracy": r["final_accuracy"]})
    return pd.DataFrame(rows)
