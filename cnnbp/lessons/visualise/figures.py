"""Figures and tables of the "visualise" lesson: filter grids, feature maps, occlusion maps, 2-D
embeddings, top images with their receptive fields, synthesised images. Pure: measured numbers in,
figure out. The chart types come first, the lesson's titled figures and tables at the end.

Images arrive as nested lists (C, H, W) in [0, 1]; grey ones are drawn as heat maps, RGB ones
as ``go.Image``. Filters and feature maps are rescaled for display only (said in each title).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.plots.common import apply_layout, color_for, training_curves

GAP = 1  # pixels between tiles of a mosaic


def normalise(tile: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] (a constant tile becomes 0.5).

    >>> normalise(np.array([1.0, 3.0])).tolist()
    [0.0, 1.0]
    """
    lo, hi = float(np.min(tile)), float(np.max(tile))
    return np.full_like(tile, 0.5, dtype=float) if hi <= lo else (tile - lo) / (hi - lo)


def mosaic(tiles: Sequence[np.ndarray], *, n_cols: int) -> np.ndarray:
    """Tiles (C, h, w) -> one (C, H, W) array, row-major, NaN between tiles."""
    c, h, w = np.asarray(tiles[0]).shape
    n_rows = -(-len(tiles) // n_cols)
    out = np.full((c, n_rows * (h + GAP) - GAP, n_cols * (w + GAP) - GAP), np.nan)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, n_cols)
        out[:, r * (h + GAP): r * (h + GAP) + h, col * (w + GAP): col * (w + GAP) + w] = tile
    return out


def image_trace(image: np.ndarray, *, name: str = "", zmin: float = 0.0, zmax: float = 1.0,
                colorscale: str = "gray") -> go.BaseTraceType:
    """(C, H, W) -> a heat map (C = 1; NaN gaps transparent) or an RGB image (C = 3; gaps white)."""
    image = np.asarray(image, dtype=float)
    if image.shape[0] == 3:
        rgb = np.nan_to_num(np.clip(image, 0, 1), nan=1.0)
        return go.Image(z=np.round(rgb.transpose(1, 2, 0) * 255).astype(np.uint8), name=name,
                        hovertemplate="x %{x}, y %{y}<extra></extra>")
    return go.Heatmap(z=image[0], zmin=zmin, zmax=zmax, colorscale=colorscale, showscale=False, name=name,
                      hovertemplate="x %{x}, y %{y}: %{z:.3g}<extra></extra>")


def _image_axes(fig: go.Figure) -> None:
    """Every panel an image: no ticks, row 0 at the top, square pixels."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", constrain="domain")
    fig.for_each_yaxis(lambda ax: ax.update(scaleanchor=ax.anchor, scaleratio=1))


def filter_grid(snapshots: Sequence[dict], *, title: str) -> go.Figure:
    """First-layer filters, one row per checkpoint (``label``, ``weights`` (F, C, k, k),
    ``smoothness``), each filter min-max scaled on its own."""
    rows = [mosaic([normalise(np.asarray(f)) for f in s["weights"]], n_cols=len(s["weights"])) for s in snapshots]
    fig = make_subplots(rows=len(rows), cols=1, vertical_spacing=0.04,
                        subplot_titles=[f"{s['label']}: neighbour correlation {s['smoothness']:.2f}"
                                        for s in snapshots])
    for i, (s, tile) in enumerate(zip(snapshots, rows)):
        fig.add_trace(image_trace(tile, name=s["label"]), row=i + 1, col=1)
    _image_axes(fig)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, title, height=max(260, 120 * len(rows) + 90))


def feature_maps(image: np.ndarray, layers: Sequence[dict], *, title: str) -> go.Figure:
    """The input and each layer's maps (``name``, ``maps`` (C, H, W), ``dead`` channel list); one
    grey scale per layer, 0 to the layer's largest output (``scale``)."""
    titles = [f"{layer['name']}: {len(layer['maps'])} channels, max {layer['scale']:.3g}"
              + (f", dead: {', '.join(map(str, layer['dead']))}" if layer["dead"] else "") for layer in layers]
    fig = make_subplots(rows=1 + len(layers), cols=1, vertical_spacing=0.05, subplot_titles=["input"] + titles)
    fig.add_trace(image_trace(np.asarray(image), name="input"), row=1, col=1)
    for i, layer in enumerate(layers):
        maps = np.asarray(layer["maps"], dtype=float)
        tiles = [m[None] for m in maps]
        fig.add_trace(image_trace(mosaic(tiles, n_cols=min(16, len(tiles))), name=layer["name"],
                                  zmax=max(layer["scale"], 1e-12), colorscale="viridis"), row=i + 2, col=1)
    _image_axes(fig)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, title, height=140 * (1 + len(layers)) + 80)


def occlusion_maps(rows: Sequence[dict], *, window: int, title: str) -> go.Figure:
    """Per image: the image, P(true class) and P(predicted class) with the window centred at each
    position. ``rows``: ``image`` (C, H, W), ``index`` (None for an upload, whose "true" class is
    its predicted one), ``true``, ``pred`` (names), ``p_true``, ``p_pred`` ((n_y, n_x) grids),
    ``tops``, ``lefts``, ``mass_inside`` (or None)."""
    titles = []
    for r in rows:
        mass = f", mass on object {r['mass_inside']:.0%}" if r.get("mass_inside") is not None else ""
        mark = {True: " RIGHT", False: " WRONG"}.get(r.get("right"), "")
        first = (f"upload, predicted {r['pred']}" if r.get("index") is None
                 else f"true {r['true']}, predicted {r['pred']}{mark}")
        titles += [first, f"P({r['true']}){mass}" if r.get("index") is not None else f"P({r['pred']})",
                   f"P({r['pred']})"]
    fig = make_subplots(rows=len(rows), cols=3, subplot_titles=titles, horizontal_spacing=0.05,
                        vertical_spacing=0.3 / max(1, len(rows)))
    for i, r in enumerate(rows):
        centre = (window - 1) / 2
        fig.add_trace(image_trace(np.asarray(r["image"]), name="image"), row=i + 1, col=1)
        for j, key in enumerate(("p_true", "p_pred")):
            fig.add_trace(go.Heatmap(z=r[key], x=[c + centre for c in r["lefts"]], y=[t + centre for t in r["tops"]],
                                     zmin=0, zmax=1, colorscale="RdBu", name=key, showscale=i == 0 and j == 0,
                                     colorbar=dict(title="probability", len=0.5),
                                     hovertemplate="window centre x %{x}, y %{y}: P = %{z:.3f}<extra></extra>"),
                          row=i + 1, col=j + 2)
    _image_axes(fig)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    return apply_layout(fig, title, height=190 * len(rows) + 90)


SHADES = " ░▒▓█"  # dark to bright


def text_thumbnail(image: np.ndarray) -> str:
    """(C, H, W) in [0, 1] -> the image as lines of block characters (channel mean, each pixel two
    characters wide so it looks square), for a hover label: plotly cannot show an image on hover.

    >>> text_thumbnail(np.array([[[0.0, 1.0], [0.5, 0.2]]]))
    '  ██<br>▒▒░░'
    """
    grey = np.asarray(image, dtype=float).mean(axis=0)
    idx = np.clip(np.round(grey * (len(SHADES) - 1)), 0, len(SHADES) - 1).astype(int)
    return "<br>".join("".join(SHADES[i] * 2 for i in row) for row in idx)


def embedding_scatter(projections: Sequence[dict], *, classes: Sequence[str], title: str,
                      images: Sequence | None = None) -> go.Figure:
    """One panel per (features, method): ``features``, ``method``, ``x``, ``y``, ``labels``,
    ``index`` (test-set indices, shown on hover), ``knn_accuracy``, ``trustworthiness``.
    ``images`` (by index, (C, H, W) each): drawn in the hover label as block characters."""
    thumbs = [text_thumbnail(np.asarray(im)) for im in images] if images is not None else None
    kinds = list(dict.fromkeys(p["features"] for p in projections))
    methods = list(dict.fromkeys(p["method"] for p in projections))
    titles = [""] * (len(kinds) * len(methods))
    for p in projections:
        titles[kinds.index(p["features"]) * len(methods) + methods.index(p["method"])] = (
            f"{p['features']}, {p['method']}: k-NN {p['knn_accuracy']:.0%}, trust {p['trustworthiness']:.2f}")
    fig = make_subplots(rows=len(kinds), cols=len(methods), subplot_titles=titles,
                        horizontal_spacing=0.05, vertical_spacing=0.12)
    for p in projections:
        labels, x, y, index = (np.asarray(p[k]) for k in ("labels", "x", "y", "index"))
        first = p is projections[0]
        for k, name in enumerate(classes):
            sel = labels == k
            text = [thumbs[i] for i in index[sel]] if thumbs is not None else None
            fig.add_trace(go.Scattergl(x=x[sel], y=y[sel], mode="markers", name=name, legendgroup=name,
                                       showlegend=first, marker=dict(size=4, color=color_for(k)),
                                       customdata=index[sel], meta=f"{p['features']}|{p['method']}", text=text,
                                       hovertemplate=f"class {name}, test image #%{{customdata}}"
                                                     + ("<br>%{text}" if text is not None else "") + "<extra></extra>",
                                       hoverlabel=dict(font=dict(family="monospace", size=10))),
                          row=kinds.index(p["features"]) + 1, col=methods.index(p["method"]) + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, title, height=300 * len(kinds) + 120)


def top_images(items: Sequence[dict], *, title: str) -> go.Figure:
    """Top row: the images (``image`` (C, H, W)) with the receptive field (``box`` top, left,
    bottom, right) outlined; bottom row: the crops (``crop``). ``activation`` in the titles."""
    n = len(items)
    fig = make_subplots(rows=2, cols=n, horizontal_spacing=0.01, vertical_spacing=0.08,
                        subplot_titles=[f"#{it['index']}: {it['activation']:.2f}" for it in items] + [""] * n)
    for j, it in enumerate(items):
        fig.add_trace(image_trace(np.asarray(it["image"]), name=f"image {it['index']}"), row=1, col=j + 1)
        top, left, bottom, right = it["box"]
        fig.add_shape(type="rect", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                      line=dict(color="#d62728", width=2), row=1, col=j + 1)
        fig.add_trace(image_trace(np.asarray(it["crop"]), name=f"crop {it['index']}"), row=2, col=j + 1)
    _image_axes(fig)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=9)))
    return apply_layout(fig, title, height=320)


def synthesis(results: Sequence[dict], *, title: str) -> go.Figure:
    """Synthesised images (``name``, ``image`` (C, H, W), ``roughness``) and the channel's mean
    output over the optimisation steps (``activation``)."""
    n = len(results)
    fig = make_subplots(rows=1, cols=n + 1, column_widths=[1] * n + [2], horizontal_spacing=0.06,
                        subplot_titles=[f"{r['name']}<br>roughness {r['roughness']:.2f}" for r in results]
                        + ["channel mean output"])
    for j, r in enumerate(results):
        fig.add_trace(image_trace(np.asarray(r["image"]), name=r["name"]), row=1, col=j + 1)
        fig.update_xaxes(showticklabels=False, constrain="domain", row=1, col=j + 1)
        fig.update_yaxes(showticklabels=False, autorange="reversed", constrain="domain",
                         scaleanchor="x" if j == 0 else f"x{j + 1}", row=1, col=j + 1)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    for j, r in enumerate(results):
        fig.add_trace(go.Scatter(x=list(range(len(r["activation"]))), y=r["activation"], mode="lines",
                                 name=r["name"], line=dict(color=color_for(j))), row=1, col=n + 1)
    fig.update_xaxes(title_text="step", row=1, col=n + 1)
    fig.update_yaxes(title_text="mean output", row=1, col=n + 1)
    return apply_layout(fig, title, height=340)


# ---- the lesson's figures and tables, titled -------------------------------------------------

def training_figure(training: dict, *, dataset: str, depth: int, width: int, lr: float) -> go.Figure:
    """``training``: the run's "training" numbers (steps, loss, eval_steps, test_accuracy)."""
    curve = {k: training[k] for k in ("steps", "loss", "eval_steps", "test_accuracy")}
    return training_curves([dict(name="SmallCNN", color_key=0, dash_key=0, **curve)],
                           title=f"SmallCNN on {dataset} (depth {depth}, width {width}, Adam lr {lr:g})")


def filters_figure(snapshots: Sequence[dict]) -> go.Figure:
    return filter_grid(snapshots, title="First-layer filters as training goes on (each scaled to its own range)")


def model_file_filters_figure(snapshots: Sequence[dict]) -> go.Figure:
    return filter_grid(snapshots, title="The model file's first-layer filters beside a Kaiming draw of their shape "
                                        "(each scaled to its own range)")


def imagenet_filters_figure(snapshots: Sequence[dict]) -> go.Figure:
    return filter_grid(snapshots, title="ResNet-18 first-layer filters (each scaled to its own range)")


def feature_maps_figure(image: list, layers: Sequence[dict], *, what: str) -> go.Figure:
    return feature_maps(image, layers, title=f"Feature maps of {what} (one colour scale per layer, 0 to its "
                                             "largest output)")


def dead_table(layers: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"layer": layer["name"], "channels": len(layer["maps"]), "dead": len(layer["dead"]),
                          "dead channels": ", ".join(map(str, layer["dead"]))} for layer in layers])


def occlusion_figure(rows: Sequence[dict], *, window: int, stride: int, fill: str, accuracy: float) -> go.Figure:
    right = [r["right"] for r in rows if r.get("right") is not None]
    return occlusion_maps(rows, window=window, title=f"Occlusion: probability with a {window}x{window} {fill} "
                                                     f"window centred at each position (stride {stride})<br><sup>the "
                                                     f"model explained: {accuracy:.1%} test accuracy; "
                                                     f"{sum(right)} of {len(right)} examples here right</sup>")


def occlusion_table(rows: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"image": r["index"] if r["index"] is not None else "upload",
                          "true": r["true"] if r["index"] is not None else "unknown",
                          "predicted": r["pred"], "right": r.get("right"), "P(true)": r["base_p_true"],
                          "lowest P(true) under the window": float(np.min(r["p_true"])),
                          "mass on object": r["mass_inside"]} for r in rows])


def embeddings_figure(projections: Sequence[dict], *, classes: Sequence[str], images: Sequence) -> go.Figure:
    return embedding_scatter(projections, classes=classes, images=images,
                             title="Penultimate CNN features vs raw pixels in 2-D (coloured by true class; "
                                   "hover: the image)")


def embeddings_table(projections: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"features": e["features"], "method": e["method"], "k-NN accuracy": e["knn_accuracy"],
                          "trustworthiness": e["trustworthiness"], "seconds": e["seconds"]} for e in projections])


def top_images_figure(items: Sequence[dict], *, layer: int, channel: int, field: int) -> go.Figure:
    return top_images(items, title=f"Test images that most excite conv{layer} channel {channel}, with the "
                                   f"receptive field ({field}x{field} px) of the strongest unit")


def synthesis_figure(results: Sequence[dict], *, layer: int, channel: int) -> go.Figure:
    return synthesis(results, title=f"Inputs synthesised to excite conv{layer} channel {channel}")


# ---- the ImageNet network on a photo -----------------------------------------------------------

def top5_table(top5: Sequence[dict], *, photo: str) -> pd.DataFrame:
    return pd.DataFrame([{"photo": photo, "rank": k + 1, "class": t["class"], "probability": t["probability"]}
                         for k, t in enumerate(top5)])


def efficientnet_filters_figure(weights: list, *, smoothness: float) -> go.Figure:
    return filter_grid([{"label": "EfficientNet-Lite0 conv_stem, ImageNet-trained", "weights": weights,
                         "smoothness": smoothness}],
                       title=f"EfficientNet-Lite0 first-layer filters ({len(weights)} RGB 3x3, each scaled to its "
                             "own range)")


def imagenet_feature_maps_figure(image: list, stages: Sequence[dict], *, what: str) -> go.Figure:
    """The photo and the first channels of each stage (``name``, ``maps``, ``channels``, ``zero``, ``scale``)."""
    titles = [f"{s['name']}: first {len(s['maps'])} of {s['channels']} channels ({s['size'][0]}x{s['size'][1]}), "
              f"{s['zero']} all-zero on this photo" for s in stages]
    fig = make_subplots(rows=1 + len(stages), cols=1, vertical_spacing=0.04, subplot_titles=["input"] + titles)
    fig.add_trace(image_trace(np.asarray(image), name="input"), row=1, col=1)
    for i, s in enumerate(stages):
        maps = np.asarray(s["maps"], dtype=float)
        fig.add_trace(image_trace(mosaic([m[None] for m in maps], n_cols=len(maps)), name=s["name"],
                                  zmin=min(0.0, float(maps.min())), zmax=max(s["scale"], 1e-12),
                                  colorscale="viridis"), row=i + 2, col=1)
    _image_axes(fig)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, f"Feature maps of {what} in EfficientNet-Lite0 (one colour scale per stage)",
                        height=130 * (1 + len(stages)) + 80)


def imagenet_top_images_figure(items: Sequence[dict], *, stage: str, channel: int, searched: str) -> go.Figure:
    """The top images of an EfficientNet-Lite0 channel with their labels and the gradient-support box."""
    labelled = [{**it, "index": f"{it['index']} {it['label']}"} for it in items]
    return top_images(labelled, title=f"EfficientNet-Lite0 {stage}, channel {channel}: the {len(items)} of "
                                      f"{searched} that excite it most (red: the pixels its strongest unit sees)")


def zero_channels_table(stages: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"layer": s["name"], "channels": s["channels"], "dead": s["zero"],
                          "dead channels": f"{s['zero'] / s['channels']:.0%} all-zero on this photo"}
                         for s in stages])


OVER = 0.6  # opacity of a map drawn over the photo


def photo_explanation_figure(image: list, *, name: str, coarse: dict, refined: dict | None, cam: list,
                             randomised: list | None, randomised_label: str = "") -> go.Figure:
    """The photo, the drop of P(class) under the coarse and the refined occlusion windows (one scale), Grad-CAM,
    and Grad-CAM of the randomised network (the last two panels once measured)."""
    panels = [coarse, refined]
    titles = [name] + [f"{k} ({o['positions']} pos.)" if o else f"{k}: …" for k, o in zip(("coarse", "refined"),
                                                                                          panels)]
    titles += ["Grad-CAM", "Grad-CAM, random top" if randomised is not None else "…"]
    drops = [o["base"] - np.asarray(o["p_class"]) for o in panels if o]
    top = max(1e-6, max(float(d.max()) for d in drops))
    fig = make_subplots(rows=1, cols=5, subplot_titles=titles, horizontal_spacing=0.02)
    for col in range(1, 6):  # the photo, then under each map (drawn over it, half transparent)
        fig.add_trace(image_trace(np.asarray(image), name="photo"), row=1, col=col)
    for j, o in enumerate(panels):
        if o is None:
            continue
        centre = (o["window"] - 1) / 2
        fig.add_trace(go.Heatmap(z=o["base"] - np.asarray(o["p_class"]), x=[c + centre for c in o["lefts"]],
                                 y=[t + centre for t in o["tops"]], zmin=0, zmax=top, colorscale="Reds", opacity=OVER,
                                 showscale=j == 0, colorbar=dict(title="drop of P", len=0.6), name=f"{o['window']}px",
                                 hovertemplate=f"{o['window']}px window centred at x %{{x}}, y %{{y}}: P falls by "
                                               "%{z:.3f}<extra></extra>"),
                      row=1, col=j + 2)
    for col, m, label in ((4, cam, "Grad-CAM"), (5, randomised, f"randomised {randomised_label}")):
        if m is not None:
            fig.add_trace(go.Heatmap(z=m, colorscale="inferno", showscale=False, name=label, opacity=OVER,
                                     hovertemplate=label + ": x %{x}, y %{y}: %{z:.3g}<extra></extra>"),
                          row=1, col=col)
    _image_axes(fig)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=10)))
    return apply_layout(fig, f"{name}: occlusion (how far P falls) and Grad-CAM over the photo", height=300)
