"""Figures and tables of the preprocessing lesson: pure functions, measured results -> plotly
figures and pandas tables. The chart types come first, then each part's figures and tables.

Nothing here computes a statistic of the data; the one computation is the linear map of
transformed images onto display colours (stated in the figure), which a test reproduces.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.lessons.preprocessing.analysis import ImageAnalysis, Panel
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.sensitivity import SensitivityComparison
from cnnbp.lessons.preprocessing.training import TARGET_ACCURACY, TrainingResult
from cnnbp.lessons.preprocessing.transforms import IMAGE_LABELS, VECTOR_LABELS
from cnnbp.plots.common import DASHES, NARROWEST_PLOT_PX, apply_layout, color_for, keyed_colours, variant_colours
from cnnbp.plots.drawn import drawn

PAD = 0.08  # share of the data range added around a scatter panel
# A scatter panel narrower than this at 1024 x 768 gets its x tick labels turned by plotly, which wants that
# much more bottom margin (pixel_pairs: 140 -> 169 px) and would draw the figure a second time to get it
NARROW_PANEL_PX, TURNED_TICKS_PX = 130, 32
# The sensitivity figure's last log tick label and its two-line x titles: plotly grew r 20 -> 23, b 150 -> 153
SENSITIVITY_MARGIN_PX = 8
# One colour per preprocessing in every figure of the tab, by the name its legends show
COLOURS = variant_colours(list(IMAGE_LABELS.values()))


def _range(values: Sequence[float]) -> list[float]:
    """An axis range holding ``values`` and the origin (the lecture's pictures are about it)."""
    lo, hi = min(0.0, *values), max(0.0, *values)
    pad = (hi - lo) * PAD or 1.0
    return [lo - pad, hi + pad]


def scatter_panels(panels: Sequence[dict], *, title: str, x_title: str, y_title: str,
                   train_name: str = "train", test_name: str = "test") -> go.Figure:
    """Side-by-side 2-D scatter panels with equal axes (one unit is as long on x as on y) that
    always show the origin. ``panels``: dicts with ``title``, ``train`` ([[x, y], ...]) and
    optionally ``test``; per-panel axis titles in ``x_title``/``y_title`` or the panel's own."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p["title"] for p in panels],
                        horizontal_spacing=0.04)
    for col, p in enumerate(panels, start=1):
        xs, ys = [], []
        for key, name, colour in (("train", train_name, color_for(0)), ("test", test_name, color_for(1))):
            pts = p.get(key)
            if not pts:
                continue
            x, y = [q[0] for q in pts], [q[1] for q in pts]
            xs += x
            ys += y
            fig.add_trace(go.Scatter(x=drawn(x), y=drawn(y), mode="markers", name=name, legendgroup=name,
                                     showlegend=col == 1, marker=dict(size=4, color=colour, opacity=0.6)),
                          row=1, col=col)
        # equal axes: the same span on both, so a circle looks like a circle
        rx, ry = _range(xs), _range(ys)
        half = max(rx[1] - rx[0], ry[1] - ry[0]) / 2
        cx, cy = sum(rx) / 2, sum(ry) / 2
        axis = "" if col == 1 else str(col)
        fig.update_xaxes(range=[cx - half, cx + half], title_text=p.get("x_title", x_title), zeroline=True,
                         zerolinecolor="black", zerolinewidth=1, row=1, col=col)
        fig.update_yaxes(range=[cy - half, cy + half], title_text=p.get("y_title", y_title) if col == 1 else None,
                         zeroline=True, zerolinecolor="black", zerolinewidth=1, scaleanchor=f"x{axis}",
                         scaleratio=1, row=1, col=col)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    apply_layout(fig, title, height=380)
    if NARROWEST_PLOT_PX / len(panels) < NARROW_PANEL_PX:  # plotly turns the x tick labels on their side
        fig.update_layout(height=fig.layout.height + TURNED_TICKS_PX, margin_b=fig.layout.margin.b + TURNED_TICKS_PX)
    return fig


def covariance_panels(panels: Sequence[dict], *, title: str) -> go.Figure:
    """One covariance matrix per panel (``title``, ``matrix``), each on its own symmetric
    colour range +-max|entry| (written in the panel title)."""
    titles = [f"{p['title']}<br>max |cov| {np.abs(np.asarray(p['matrix'])).max():.3g}" for p in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.02)
    for col, p in enumerate(panels, start=1):
        z = p["matrix"]
        zmax = float(np.abs(np.asarray(z)).max()) or 1.0
        fig.add_trace(go.Heatmap(z=drawn(z), zmin=-zmax, zmax=zmax, colorscale="RdBu", reversescale=True,
                                 showscale=col == len(panels), name=p["title"],
                                 colorbar=dict(title="cov / max", tickvals=[-zmax, 0, zmax],
                                               ticktext=["-max", "0", "+max"]),
                                 hovertemplate="dim %{y}, dim %{x}: %{z:.3g}<extra></extra>"),
                      row=1, col=col)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if col == 1 else col}", showticklabels=col == 1,
                         row=1, col=col)
    fig.update_xaxes(title_text="pixel-vector dim")
    fig.update_yaxes(title_text="pixel-vector dim", col=1)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    return apply_layout(fig, title, height=360)


def display_uint8(images: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Images (K, C, H, W) -> (K, H, W, 3) uint8 for display: one linear map of the whole set's
    [min, max] onto [0, 255] (grey images repeated on 3 channels); returns the map's (lo, hi)."""
    x = np.asarray(images, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    z = np.round((x - lo) / ((hi - lo) or 1.0) * 255).astype(np.uint8)
    z = np.moveaxis(z, 1, -1)  # (K, H, W, C)
    if z.shape[-1] == 1:
        z = np.repeat(z, 3, axis=-1)
    return z, lo, hi


def image_rows(rows: Sequence[dict], *, col_titles: Sequence[str], title: str) -> go.Figure:
    """A grid of images: one row per ``rows`` item (``name``, ``images`` (K, C, H, W)), each row
    shown with its own linear map of [min, max] to black..white (the range is in the row title)."""
    n_rows, n_cols = len(rows), len(col_titles)
    maps = [display_uint8(r["images"]) for r in rows]
    fig = make_subplots(rows=n_rows, cols=n_cols, horizontal_spacing=0.01, vertical_spacing=0.04,
                        column_titles=list(col_titles),
                        row_titles=[f"{r['name']}<br>[{lo:.3g}, {hi:.3g}]" for r, (_, lo, hi) in zip(rows, maps)])
    for i, (z, _, _) in enumerate(maps):
        for j in range(min(n_cols, len(z))):
            fig.add_trace(go.Image(z=z[j], name=f"{rows[i]['name']} | {col_titles[j]}", hoverinfo="skip"),
                          row=i + 1, col=j + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    apply_layout(fig, title, height=max(260, 110 * n_rows + 90))
    fig.update_layout(margin=dict(l=20, r=170, t=80, b=20))
    return fig


def image_statistics(*, mean_image: np.ndarray, raw_range: tuple[float, float], channels: Sequence[str],
                     bars: Sequence[dict], title: str) -> go.Figure:
    """The training mean image (shown on the raw pixel range), and per-channel mean and std
    after each transform, train vs test. ``bars``: dicts with ``name`` (transform), ``split``,
    ``mean`` and ``std`` (one value per channel)."""
    fig = make_subplots(rows=1, cols=3, column_widths=[0.22, 0.39, 0.39], horizontal_spacing=0.07,
                        subplot_titles=["mean training image", "per-channel mean", "per-channel std"])
    lo, hi = raw_range
    z = np.clip(np.round((np.asarray(mean_image) - lo) / ((hi - lo) or 1.0) * 255), 0, 255).astype(np.uint8)
    z = np.moveaxis(z, 0, -1)
    if z.shape[-1] == 1:
        z = np.repeat(z, 3, axis=-1)
    fig.add_trace(go.Image(z=z, name="mean image", hoverinfo="skip"), row=1, col=1)
    colour = keyed_colours([b["name"] for b in bars], COLOURS)
    for b in bars:
        x = [[b["name"]] * len(channels), list(channels)]
        style = dict(color=colour[b["name"]], pattern_shape="" if b["split"] == "train" else "/")
        for col, key in ((2, "mean"), (3, "std")):
            fig.add_trace(go.Bar(x=x, y=b[key], name=f"{b['name']} ({b['split']})", legendgroup=b["name"] + b["split"],
                                 showlegend=col == 2, marker=style,
                                 hovertemplate="%{x}: %{y:.4g}<extra>" + b["split"] + "</extra>"),
                          row=1, col=col)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(title_text="pixel value", row=1, col=2)
    fig.update_yaxes(title_text="pixel value", row=1, col=3)
    fig.update_layout(barmode="group")
    return apply_layout(fig, title, height=420)


def loss_and_accuracy(histories: Sequence[dict], *, title: str, target_loss: float | None = None) -> go.Figure:
    """Training-set loss (log scale) and test accuracy at each evaluation, one line per run;
    colour by ``color_key``, dash by ``dash_key``. ``histories``: dicts with ``name``,
    ``color_key``, ``dash_key``, ``eval_steps``, ``train_loss``, ``test_accuracy``."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["training-set loss (cross-entropy, log scale)", "test accuracy"])
    colour = keyed_colours([h["color_key"] for h in histories], COLOURS)
    dashes = list(dict.fromkeys(h["dash_key"] for h in histories))
    for h in histories:
        line = dict(color=colour[h["color_key"]],
                    dash=DASHES[dashes.index(h["dash_key"]) % len(DASHES)])
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["train_loss"], mode="lines", name=h["name"],
                                 legendgroup=h["name"], line=line), row=1, col=1)
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["test_accuracy"], mode="lines", name=h["name"],
                                 legendgroup=h["name"], showlegend=False, line=line), row=1, col=2)
    if target_loss is not None:
        fig.add_hline(y=target_loss, line=dict(color="black", dash="dot", width=1), row=1, col=1,
                      annotation_text=f"target {target_loss:.3g}", annotation_position="bottom right")
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", type="log", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=1, col=2)
    return apply_layout(fig, title, height=440)


def sensitivity_curves(items: Sequence[dict], *, perturbation: float, title: str) -> go.Figure:
    """Left: the loss along one random weight direction (1-D slice); right: the mean relative
    loss change against the relative size of a random weight perturbation (log-log).
    ``items``: dicts with ``name``, ``slice_t``, ``slice_loss``, ``sizes``, ``relative_change``, and
    optionally ``pooled`` ((mean, standard error) at ``perturbation`` over more classifiers)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["loss along one random direction",
                                        "mean |ΔL| / L over random directions"])
    for i, it in enumerate(items):
        line = dict(color=COLOURS[it["name"]], dash=DASHES[i % len(DASHES)])
        fig.add_trace(go.Scatter(x=it["slice_t"], y=it["slice_loss"], mode="lines", name=it["name"],
                                 legendgroup=it["name"], line=line), row=1, col=1)
        fig.add_trace(go.Scatter(x=it["sizes"], y=it["relative_change"], mode="lines+markers", name=it["name"],
                                 legendgroup=it["name"], showlegend=False, line=line), row=1, col=2)
        if "pooled" in it:  # every run's classifier at the chosen size, with +-2 standard errors
            mean, se = it["pooled"]
            fig.add_trace(go.Scatter(x=[perturbation], y=[mean], mode="markers", name=f"{it['name']}, all runs",
                                     legendgroup=it["name"], showlegend=False,
                                     marker=dict(color=line["color"], symbol="diamond", size=10),
                                     error_y=dict(type="data", array=[2 * se], visible=True)), row=1, col=2)
    fig.add_vline(x=perturbation, line=dict(color="black", dash="dot", width=1), row=1, col=2)
    fig.update_xaxes(title_text="step t (weights W + t ||W|| d, ||d|| = 1)", row=1, col=1)
    fig.update_xaxes(title_text="perturbation size ||ΔW|| / ||W||", type="log", row=1, col=2)
    fig.update_yaxes(title_text="training loss", type="log", row=1, col=1)
    fig.update_yaxes(title_text="relative loss change", type="log", row=1, col=2)
    apply_layout(fig, title, height=420)
    m = fig.layout.margin
    return fig.update_layout(height=fig.layout.height + SENSITIVITY_MARGIN_PX,
                             margin=dict(r=m.r + SENSITIVITY_MARGIN_PX, b=m.b + SENSITIVITY_MARGIN_PX))


# ---- the point cloud --------------------------------------------------------------------------

def _pc_axes(transform: str) -> bool:
    """Decorrelated and whitened points are plotted on their principal components."""
    return transform in ("decorrelated", "whitened")


def cloud_figure(panels: list[Panel], cfg: PreprocessingConfig) -> go.Figure:
    return scatter_panels(
        [dict(title=VECTOR_LABELS[p.transform], train=p.train.tolist(),
              x_title="PC 1" if _pc_axes(p.transform) else "x1",
              y_title="PC 2" if _pc_axes(p.transform) else "x2") for p in panels],
        title=f"{cfg.cloud_points} points, correlation {cfg.correlation:g}, centre ({cfg.offset:g}, {cfg.offset:g}), "
              f"std ({cfg.scale:g}, 1)", x_title="x1", y_title="x2", train_name="points")


def cloud_table(panels: list[Panel]) -> pd.DataFrame:
    rows = []
    for p in panels:
        s = p.stats()
        rows.append({"preprocessing": p.transform, "mean x": s["mean"][0], "mean y": s["mean"][1], "std x": s["std"][0],
                     "std y": s["std"][1], "cov xy": s["cov"][0][1], "correlation": s["correlation"]})
    return pd.DataFrame(rows)


# ---- images ----------------------------------------------------------------------------------

def _channel_names(n: int) -> list[str]:
    return ["R", "G", "B"] if n == 3 else [f"channel {i}" for i in range(n)]


def image_figures(a: ImageAnalysis, cfg: PreprocessingConfig) -> dict[str, Callable[[], go.Figure]]:
    """Each image figure as a function drawing it (0.1-0.3 s each: the part draws them one by one)."""
    (ca, ra, xa), (cb, rb, xb) = a.pixels
    pixel = lambda c, r, x: f"pixel (c{c}, {r}, {x})"  # noqa: E731
    pairs = lambda: scatter_panels(  # noqa: E731
        [dict(title=VECTOR_LABELS[p.transform], train=p.train.tolist(), test=p.test.tolist(),
              x_title="PC 1" if _pc_axes(p.transform) else pixel(ca, ra, xa),
              y_title="PC 2" if _pc_axes(p.transform) else pixel(cb, rb, xb))
         for p in a.pair_panels],
        title=f"Two neighbouring pixels of {a.dataset} (statistics fitted on train, applied to test)",
        x_title=pixel(ca, ra, xa), y_title=pixel(cb, rb, xb))
    cov = lambda: covariance_panels(  # noqa: E731
        [dict(title=VECTOR_LABELS[t], matrix=m) for t, m in a.covariances.items()],
        title=f"Covariance of training pixel vectors ({a.dataset} pooled to {a.grid}x{a.grid}, "
              f"{len(a.covariances['original'])} dims)")
    names = _channel_names(len(a.channel_mean))
    lo, hi = cfg.input_offset, cfg.input_offset + cfg.input_scale
    stats = lambda: image_statistics(  # noqa: E731
        mean_image=a.mean_image, raw_range=(lo, hi), channels=names,
        bars=[dict(name=IMAGE_LABELS[t], split=split, mean=st["mean"], std=st["std"])
              for t, splits in a.after.items() for split, st in splits.items()],
        title=f"Mean training image (raw range [{lo:g}, {hi:g}]) and per-channel statistics after each step")
    examples = lambda: image_rows(  # noqa: E731
        [dict(name=IMAGE_LABELS[t], images=imgs) for t, imgs in a.examples.items()],
        col_titles=a.example_labels,
        title="Test images after each step (each row mapped from its [min, max] to black..white)")
    return {"pixel_pairs": pairs, "pixel_covariance": cov, "image_stats": stats, "image_examples": examples}


def channel_table(a: ImageAnalysis) -> pd.DataFrame:
    names = _channel_names(len(a.channel_mean))
    rows = [{"preprocessing": "fitted on train", "split": "train", "channel": c, "mean": m, "std": s}
            for c, m, s in zip(names, a.channel_mean, a.channel_std)]
    rows += [{"preprocessing": t, "split": split, "channel": c, "mean": m, "std": s}
             for t, splits in a.after.items() for split, st in splits.items()
             for c, m, s in zip(names, st["mean"], st["std"])]
    return pd.DataFrame(rows)


# ---- training ---------------------------------------------------------------------------------

def training_figure(result: TrainingResult, cfg: PreprocessingConfig) -> go.Figure:
    return loss_and_accuracy(
        [dict(name=f"{IMAGE_LABELS[h.transform]}, run {h.run + 1}", color_key=IMAGE_LABELS[h.transform],
              dash_key=h.run,
              eval_steps=h.eval_steps, train_loss=h.train_loss, test_accuracy=h.test_accuracy)
         for h in result.histories],
        title=f"{cfg.model} classifier on digits, raw = pixel x {cfg.input_scale:g} + {cfg.input_offset:g}; "
              f"SGD lr {cfg.lr:g}, momentum 0.9", target_loss=result.target_loss)


def training_table(result: TrainingResult) -> pd.DataFrame:
    target = result.target_loss
    return pd.DataFrame([{"preprocessing": h.transform, "run": h.run + 1,
                          "steps to loss target": h.steps_to_loss(target),
                          f"steps to {TARGET_ACCURACY:.0%} test accuracy": h.steps_to_accuracy(TARGET_ACCURACY),
                          "final train loss": h.train_loss[-1], "final test accuracy": h.test_accuracy[-1],
                          "diverged at": h.diverged_at} for h in result.histories])


# ---- sensitivity -------------------------------------------------------------------------------

def sensitivity_figure(sens: SensitivityComparison) -> go.Figure:
    return sensitivity_curves(
        [dict(name=IMAGE_LABELS[s.transform], slice_t=s.slice_t, slice_loss=s.slice_loss, sizes=s.sizes,
              relative_change=s.relative_change,
              pooled=(sens.change(s.transform), math.sqrt(sens.pooled(s.transform).variance))) for s in sens.inputs],
        perturbation=sens.perturbation,
        title=f"The same classifier (trained on {IMAGE_LABELS[sens.reference]} inputs) written for each input: "
              f"loss under random weight changes (lines: run 1; diamonds: all {sens.runs} runs, +-2 SE)")


def sensitivity_table(sens: SensitivityComparison) -> pd.DataFrame:
    return pd.DataFrame([{"input": s.transform, "size": size, "mean relative loss change": m,
                          "std over directions": sd, "loss": s.loss, "||W1||": s.first_layer_norm}
                         for s in sens.inputs
                         for size, m, sd in zip(s.sizes, s.relative_change, s.relative_change_std)])
