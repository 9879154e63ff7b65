"""Figures and tables of the augmentation lesson: measured results -> plotly figures and
DataFrames (nothing is computed here but the layout of the gallery's strips)."""

from __future__ import annotations

import base64
import io
import math
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from cnnbp.lessons.augment.ensemble import EnsembleCurve
from cnnbp.lessons.augment.flips import FlipResult
from cnnbp.lessons.augment.gallery import GalleryRow
from cnnbp.lessons.augment.training import ArmHistory
from cnnbp.lessons.augment.tta import TTAResult
from cnnbp.plots.common import DASHES, apply_layout, grouped_bars, variant_colours, wrap_title

GAP_PX = 2  # white pixels between the copies of a strip
SUBTITLE = dict(size=14)
COLOURS = variant_colours(["plain", "augmented"])  # one colour per arm in every figure of the tab


def strip(images: np.ndarray) -> np.ndarray:
    """(k, H, W, 3) uint8 -> one (H, k * (W + GAP_PX) - GAP_PX, 3) image, white between the copies."""
    k, h, w, _ = images.shape
    out = np.full((h, k * (w + GAP_PX) - GAP_PX, 3), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        out[:, i * (w + GAP_PX): i * (w + GAP_PX) + w] = image
    return out


def png_source(image: np.ndarray) -> str:
    """(H, W, 3) uint8 -> a PNG data URI: plotly sends it as is (a nested list of pixels is
    validated value by value: seconds for a gallery)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def gallery(rows: list[GalleryRow], source: str) -> go.Figure:
    cols = 2
    n_rows = math.ceil(len(rows) / cols)
    titles = [r.title + (f", lam {r.mix:.2f}" if r.mix is not None else "") for r in rows]
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.5 / max(n_rows, 1))
    for i, row in enumerate(rows):
        at = dict(row=i // cols + 1, col=i % cols + 1)
        if row.images is None:
            fig.add_annotation(text=row.label, showarrow=False, x=0.5, y=0.5, xref="x domain", yref="y domain",
                               font=SUBTITLE, **at)
            fig.add_trace(go.Scatter(x=[], y=[], showlegend=False), **at)
        else:
            fig.add_trace(go.Image(source=png_source(strip(row.images)), name=row.name,
                                   hovertemplate=row.label + "<extra></extra>"), **at)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.for_each_annotation(lambda a: a.update(font=SUBTITLE))
    apply_layout(fig, wrap_title(f"What the network sees: {source}, one batch of copies per augmentation"),
                 height=110 * n_rows + 60)
    fig.update_layout(showlegend=False)
    return fig


def curves(histories: Sequence[ArmHistory], seed: int, train_images: int) -> go.Figure:
    fig = go.Figure()
    for h in histories:
        for j, (what, values) in enumerate((("test", h.test_accuracy), ("train", h.train_accuracy))):
            fig.add_trace(go.Scatter(x=h.eval_steps, y=values, mode="lines+markers", name=f"{what} {h.arm}",
                                     meta=f"{what} {h.arm}", line=dict(color=COLOURS[h.arm], dash=DASHES[j])))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02])
    return apply_layout(fig, wrap_title(f"Seed {seed}, {train_images} training images: train (dashed) and test "
                                        f"accuracy, with and without augmentation"), height=360)


def accuracy(histories: Sequence[ArmHistory]) -> go.Figure:
    seeds = list(dict.fromkeys(h.seed for h in histories))
    fig = make_subplots(rows=1, cols=2, subplot_titles=["test accuracy", "gap: train - test"],
                        horizontal_spacing=0.12)
    for arm in ("plain", "augmented"):
        mine = {h.seed: h for h in histories if h.arm == arm}
        for col, values in ((1, [mine[s].test_accuracy[-1] for s in seeds]),
                            (2, [mine[s].train_accuracy[-1] - mine[s].test_accuracy[-1] for s in seeds])):
            fig.add_trace(go.Bar(x=[f"seed {s}" for s in seeds], y=values, name=arm, meta=f"{arm} {col}",
                                 marker_color=COLOURS[arm], showlegend=col == 1,
                                 text=[f"{v:.1%}" for v in values], textposition="outside"), row=1, col=col)
    fig.update_yaxes(tickformat=".0%")
    fig.update_yaxes(range=[0, 1.1], row=1, col=1)
    return apply_layout(fig, "Final accuracy per seed, plain vs augmented", height=360)


def accuracy_table(histories: Sequence[ArmHistory]) -> pd.DataFrame:
    return pd.DataFrame([{"seed": h.seed, "arm": h.arm, "train accuracy": h.train_accuracy[-1],
                          "test accuracy": h.test_accuracy[-1],
                          "gap": h.train_accuracy[-1] - h.test_accuracy[-1]} for h in histories])


def flips(result: FlipResult) -> go.Figure:
    groups = [{"name": name, "values": [round(v, 3) for v in shares]} for name, shares in result.per_class.items()]
    fig = grouped_bars(groups, categories=result.classes, y_title="called another name",
                       title=wrap_title(f"Flipped test images the plain net calls by another name "
                                        f"({result.images} images, per class)"))
    fig.update_traces(text=None)  # 40 bars: the axis says it
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1])
    return fig


def flips_table(result: FlipResult) -> pd.DataFrame:
    return pd.DataFrame([{"class": c, **{f"{f}: other name": result.per_class[f][i] for f in result.per_class},
                          **{f"{f}: read as": result.read_as[f][i] for f in result.read_as if f != "none"}}
                         for i, c in enumerate(result.classes)])


def tta_views(views: list[str], correct_prob: list[list[float]], predicted: list[list[str]],
              labels: list[str]) -> go.Figure:
    """Rows: the example images; columns: each view, then the average; colour: the softmax of the
    true class; text: the class predicted."""
    columns = [*views, "average"]
    fig = go.Figure(go.Heatmap(z=correct_prob, x=columns, y=labels, zmin=0, zmax=1, colorscale="Blues",
                               text=predicted, texttemplate="%{text}", textfont=dict(size=13),
                               colorbar=dict(title="p(true)")))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45, tickfont=dict(size=11))
    return apply_layout(fig, wrap_title("Each view's prediction beside the average (colour: probability of the "
                                        "true class)"), height=max(300, 45 * len(labels) + 200))


def tta(result: TTAResult) -> go.Figure:
    seeds = [f"seed {s}" for s in result.seeds]
    groups = [{"name": "whole image", "values": [round(a, 4) for a in result.single]},
              {"name": f"TTA, {result.views} views", "values": [round(a, 4) for a in result.tta]}]
    fig = grouped_bars(groups, categories=seeds, y_title="test accuracy",
                       title=wrap_title(f"Augmented nets without and with TTA: {result.outcome}; cost "
                                        f"{result.views}x the forward passes"))
    fig.update_traces(texttemplate="%{y:.1%}")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1])
    return fig


def tta_table(result: TTAResult) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "whole image": a, "TTA": b, "change": b - a, "views": result.views,
                          "forward passes": result.forward_passes}
                         for s, a, b in zip(result.seeds, result.single, result.tta)])


def ensemble(curves: dict[str, EnsembleCurve]) -> go.Figure:
    fig = go.Figure()
    for arm, c in curves.items():
        ks = list(range(1, len(c.accuracy) + 1))
        fig.add_trace(go.Scatter(x=ks, y=c.accuracy, mode="lines+markers", name=f"ensemble, {arm}", meta=arm,
                                 line=dict(color=COLOURS[arm])))
        fig.add_trace(go.Scatter(x=ks, y=[c.mean_member] * len(ks), mode="lines", name=f"mean member, {arm}",
                                 meta=f"mean {arm}", line=dict(color=COLOURS[arm], dash="dot")))
    fig.update_xaxes(title_text="models averaged (K)", dtick=1)
    fig.update_yaxes(title_text="test accuracy", tickformat=".1%")
    return apply_layout(fig, wrap_title("Ensembles: accuracy of the average of K nets vs the mean single net "
                                        "(cost: K x training and K x forward passes)"), height=360)


def ensemble_table(curves: dict[str, EnsembleCurve]) -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "K": k + 1, "ensemble accuracy": a, "member accuracy": c.members[k],
                          "mean member": c.mean_member} for arm, c in curves.items() for k, a in enumerate(c.accuracy)])


def gallery_table(rows: list[GalleryRow]) -> pd.DataFrame:
    return pd.DataFrame([{"augmentation": r.name, "transforms.v2": r.title, "label": r.label} for r in rows])
