"""Figures and tables of the label-imbalance lesson: measured numbers -> plotly figures and
DataFrames (the first part draws from plain lists, the second assembles a trained run's).

>>> fig = roc_curves([dict(name="none", fpr=[0, 0.5, 1], tpr=[0, 0.8, 1], auc=0.65,
...                        point=dict(fpr=0.5, tpr=0.8))], threshold=0.5, title="ROC")
>>> [t.name for t in fig.data]
['chance (AUC 0.5)', 'none (AUC 0.650)', 'none at t = 0.5']
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnbp.data import dataset_label
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.metrics import CurveMetrics, ThresholdMetrics, as_dict
from cnnbp.lessons.imbalance.scoring import Scored
from cnnbp.lessons.imbalance.training import METHODS, MethodHistory, TrainedRun, method_label
from cnnbp.plots.common import apply_layout, grouped_bars, variant_colours

CHANCE = dict(color="grey", dash="dot")


def _colour(name: str, order: Sequence[str]) -> str:
    return COLOURS[name] if name in order else "black"


def legend_below(fig: go.Figure, *, height: int) -> go.Figure:
    """A taller figure: apply_layout's legend hangs below the x-axis title in its own margin."""
    fig.update_layout(height=height + fig.layout.height - 380)
    return fig


def class_histogram(counts: dict[str, Sequence[int]], *, classes: Sequence[str], seen: dict[str, Sequence[int]],
                    order: Sequence[str], title: str) -> go.Figure:
    """Left: images per class in each set (``counts``: set name -> per-class counts). Right:
    the share of each class among the images each method's batches drew (``seen``: method ->
    images drawn per class); a balanced method is flat at 1/K."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.1,
                        subplot_titles=["images per class", "class share of the training batches"])
    for name, values in counts.items():
        fig.add_trace(go.Bar(x=list(classes), y=list(values), name=name, marker_color=COLOURS[name],
                             text=[str(v) for v in values], textposition="outside"), row=1, col=1)
    for method, drawn in seen.items():
        total = max(1, sum(drawn))
        fig.add_trace(go.Scatter(x=list(classes), y=[d / total for d in drawn], mode="lines+markers", name=method,
                                 line=dict(color=_colour(method, order)), legendgroup=method,
                                 hovertemplate="class %{x}: %{y:.1%}<extra>" + method + "</extra>"),
                      row=1, col=2)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="class", type="category")
    top = max((max(v) for v in counts.values() if len(v)), default=1)
    fig.update_yaxes(title_text="images", range=[0, top * 1.15], row=1, col=1)  # room for the count labels
    fig.update_yaxes(title_text="share of images drawn", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    return legend_below(apply_layout(fig, title), height=500)


def training_curves(histories: Sequence[dict], *, order: Sequence[str], title: str) -> go.Figure:
    """Training loss per step, then balanced accuracy and the rare class's recall on the test
    set at each evaluation; one colour per method. ``histories``: dicts with ``name``,
    ``steps``, ``loss``, ``eval_steps``, ``balanced_accuracy``, ``rare_recall``."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=["training loss", "test balanced accuracy", "test recall of the rare class"])
    for h in histories:
        line = dict(color=_colour(h["name"], order))
        fig.add_trace(go.Scatter(x=h["steps"], y=h["loss"], mode="lines", name=h["name"], legendgroup=h["name"],
                                 line=line), row=1, col=1)
        for col, key in ((2, "balanced_accuracy"), (3, "rare_recall")):
            fig.add_trace(go.Scatter(x=h["eval_steps"], y=h[key], mode="lines+markers", name=h["name"],
                                     legendgroup=h["name"], showlegend=False, line=line, marker=dict(size=4)),
                          row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss (as trained: weighted / focal)", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_yaxes(range=[0, 1.02], row=1, col=3)
    return legend_below(apply_layout(fig, title), height=480)


def confusion_grid(panels: Sequence[dict], *, classes: Sequence[str], title: str) -> go.Figure:
    """One confusion matrix per model: colour = share of the true class (row-normalised), text =
    count and share. ``panels``: dicts with ``name``, ``counts`` and ``normalised`` (rows: truth)."""
    n = len(panels)
    n_cols = min(4, n)
    n_rows = -(-n // n_cols)
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[p["name"] for p in panels],
                        horizontal_spacing=0.05, vertical_spacing=0.14 if n_rows > 1 else 0.2)
    labels = [str(c) for c in classes]
    small = len(labels) <= 4
    traces = []
    for i, p in enumerate(panels):
        text = [[f"{c}<br>{s:.0%}" if small else f"{c}" for c, s in zip(cr, sr)]
                for cr, sr in zip(p["counts"], p["normalised"])]
        traces.append(go.Heatmap(z=p["normalised"], x=labels, y=labels, zmin=0, zmax=1, colorscale="Blues",
                                 text=text, texttemplate="%{text}", showscale=i == 0, name=p["name"],
                                 colorbar=dict(title="share of<br>true class", len=0.8),
                                 customdata=p["counts"],
                                 hovertemplate="true %{y}, predicted %{x}: %{customdata} images "
                                               "(%{z:.1%} of true %{y})<extra>" + p["name"] + "</extra>"))
    # one add_traces call: plotly re-validates the whole figure on every add_trace
    fig.add_traces(traces, rows=[i // n_cols + 1 for i in range(n)], cols=[i % n_cols + 1 for i in range(n)])
    fig.update_yaxes(autorange="reversed")  # every panel: the first class on top, as in the table
    fig.update_yaxes(title_text="true", col=1)
    fig.update_xaxes(title_text="predicted", row=n_rows)
    fig.for_each_annotation(lambda a: a.update(font=dict(size=11)))
    return apply_layout(fig, title, height=max(320, 260 * n_rows + 80))


def _at_threshold(name: str, x: float, y: float, colour: str, threshold: float) -> go.Scatter:
    """A model's operating point on its curve: an open circle in the curve's colour."""
    return go.Scatter(x=[x], y=[y], mode="markers", name=f"{name} at t = {threshold:g}", legendgroup=name,
                      marker=dict(color=colour, size=11, symbol="circle-open", line=dict(width=3)), showlegend=False)


def roc_curves(curves: Sequence[dict], *, threshold: float, title: str, order: Sequence[str] = ()) -> go.Figure:
    """ROC curves with the chance diagonal and each model's point at ``threshold``. ``curves``:
    dicts with ``name``, ``fpr``, ``tpr``, ``auc`` and ``point`` (``fpr``, ``tpr``)."""
    traces = [go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=CHANCE, name="chance (AUC 0.5)")]
    for c in curves:
        colour = _colour(c["name"], order or [x["name"] for x in curves])
        # straight segments between sklearn's points: tied scores move along a diagonal, not a staircase
        traces.append(go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", line=dict(color=colour),
                                 name=f"{c['name']} (AUC {c['auc']:.3f})", legendgroup=c["name"]))
        traces.append(_at_threshold(c["name"], c["point"]["fpr"], c["point"]["tpr"], colour, threshold))
    fig = go.Figure(traces)
    fig.update_xaxes(title_text="false-positive rate (rare class vs rest)", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="true-positive rate (recall)", range=[-0.02, 1.02])
    return legend_below(apply_layout(fig, title), height=560)


def pr_curves(curves: Sequence[dict], *, prevalence: float, threshold: float, title: str,
              order: Sequence[str] = ()) -> go.Figure:
    """Precision-recall curves, the chance line at the rare class's prevalence, and each model's
    point at ``threshold``. ``curves``: dicts with ``name``, ``precision``, ``recall``, ``ap``,
    ``point`` (``precision``, ``recall``)."""
    traces = [go.Scatter(x=[0, 1], y=[prevalence, prevalence], mode="lines", line=CHANCE,
                         name=f"chance (precision = prevalence {prevalence:.3f})")]
    for c in curves:
        colour = _colour(c["name"], order or [x["name"] for x in curves])
        # "hv": the precision of each point holds down to the next recall, as in sklearn's AP sum
        traces.append(go.Scatter(x=c["recall"], y=c["precision"], mode="lines", line=dict(color=colour, shape="hv"),
                                 name=f"{c['name']} (AP {c['ap']:.3f})", legendgroup=c["name"]))
        traces.append(_at_threshold(c["name"], c["point"]["recall"], c["point"]["precision"], colour, threshold))
    fig = go.Figure(traces)
    fig.update_xaxes(title_text="recall of the rare class", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="precision of the rare class", range=[-0.02, 1.02])
    return legend_below(apply_layout(fig, title), height=560)


# ---- a trained run's figures and tables ----------------------------------------------------------

ORDER = [method_label(m) for m in METHODS]  # every method keeps its colour whichever are chosen
SET_NAMES = {"train": "training set", "balanced": "balanced test set", "same_ratio": "same-ratio test set"}
COLOURS = variant_colours([*ORDER, *SET_NAMES.values()])  # one colour per method and per set in every figure


def _set(name: str) -> str:
    return name.replace("_", "-")


def histogram(counts: dict, seen: dict, classes: tuple[str, ...], cfg: ImbalanceConfig) -> go.Figure:
    return class_histogram({SET_NAMES[k]: v for k, v in counts.items()}, classes=classes,
                           seen={method_label(m): s for m, s in seen.items()}, order=ORDER,
                           title=f"{dataset_label(cfg.dataset)}, {cfg.task}, 1:{cfg.ratio:g}: images per class")


def curves(histories: list[MethodHistory], cfg: ImbalanceConfig) -> go.Figure:
    return training_curves(
        [dict(name=method_label(h.method), steps=h.steps, loss=h.loss, eval_steps=h.eval_steps,
              balanced_accuracy=h.balanced_accuracy, rare_recall=h.rare_recall) for h in histories],
        order=ORDER, title=f"Training, {cfg.steps} steps per method (test metrics: argmax decisions)")


def metrics(scored: dict[str, ThresholdMetrics], curves: dict[str, CurveMetrics], models: list[str],
            trained: TrainedRun, cfg: ImbalanceConfig, shown: str) -> go.Figure:
    rare = trained.rare
    groups = [dict(name="accuracy", values=[scored[m].accuracy for m in models]),
              dict(name="balanced accuracy", values=[scored[m].balanced_accuracy for m in models]),
              dict(name="macro F1", values=[scored[m].macro_f1 for m in models]),
              dict(name="rare recall", values=[scored[m].recall[rare] for m in models]),
              dict(name="rare precision", values=[scored[m].precision[rare] for m in models]),
              dict(name="ROC-AUC", values=[curves[m].roc_auc for m in models]),
              dict(name="PR-AUC", values=[curves[m].pr_auc for m in models])]
    fig = grouped_bars(groups, categories=[method_label(m) for m in models], y_title="score",
                       title=f"Metrics on the {_set(shown)} test set at threshold {cfg.threshold:g}")
    fig.update_traces(text=None, hovertemplate="%{x}: %{y:.3f}", selector=dict(type="bar"))  # 56 bars: no labels
    return legend_below(fig, height=460)


def confusion(scored: dict[str, ThresholdMetrics], models: list[str], trained: TrainedRun, cfg: ImbalanceConfig,
              shown: str) -> go.Figure:
    return confusion_grid(
        [dict(name=method_label(m), counts=scored[m].confusion, normalised=scored[m].confusion_normalised)
         for m in models],
        classes=trained.classes,
        title=f"Confusion matrices, {_set(shown)} test set, threshold {cfg.threshold:g} "
              f"(colour: share of the true class)")


def roc(scored: dict[str, ThresholdMetrics], curves: dict[str, CurveMetrics], models: list[str],
        cfg: ImbalanceConfig, shown: str) -> go.Figure:
    return roc_curves(
        [dict(name=method_label(m), fpr=curves[m].roc_fpr, tpr=curves[m].roc_tpr, auc=curves[m].roc_auc,
              point=scored[m].rare_point) for m in models],
        threshold=cfg.threshold, order=ORDER,
        title=f"ROC of the rare class vs the rest, {_set(shown)} test set (circles: threshold {cfg.threshold:g})")


def pr(scored: dict[str, ThresholdMetrics], curves: dict[str, CurveMetrics], models: list[str],
       cfg: ImbalanceConfig, shown: str) -> go.Figure:
    return pr_curves(
        [dict(name=method_label(m), precision=curves[m].pr_precision, recall=curves[m].pr_recall,
              ap=curves[m].pr_auc, point=scored[m].rare_point) for m in models],
        prevalence=curves[models[0]].prevalence, threshold=cfg.threshold, order=ORDER,
        title=f"Precision-recall of the rare class, {_set(shown)} test set (circles: threshold "
              f"{cfg.threshold:g})")


def metrics_table(scored: Scored, curves: dict, models: list[str], trained: TrainedRun) -> pd.DataFrame:
    rare, maj = trained.rare, trained.majority
    rows = []
    for t in scored:
        for m in models:
            s, c = scored[t][m], curves[t][m]
            rows.append({"test set": t, "model": method_label(m), "accuracy": s.accuracy,
                         "balanced accuracy": s.balanced_accuracy, "macro F1": s.macro_f1,
                         "rare precision": s.precision[rare], "rare recall": s.recall[rare], "rare F1": s.f1[rare],
                         "rare FPR": s.fpr[rare], "majority recall": s.recall[maj], "ROC-AUC": c.roc_auc,
                         "PR-AUC": c.pr_auc})
    return pd.DataFrame(rows)


def per_class_table(scored: dict[str, ThresholdMetrics], models: list[str], trained: TrainedRun) -> pd.DataFrame:
    return pd.DataFrame([{"model": method_label(m), "class": cls, "precision": s.precision[i], "recall": s.recall[i],
                          "F1": s.f1[i], "FPR": s.fpr[i], "support": s.support[i]}
                         for m in models for s in [scored[m]] for i, cls in enumerate(trained.classes)])


def seeds_table(scored: dict[int, Scored], models: list[str], trained: TrainedRun, shown: str) -> pd.DataFrame:
    """Per model and seed, on the shown test set: the numbers the comparisons over seeds read."""
    return pd.DataFrame([{"model": method_label(m), "seed": seed, "rare recall": s[shown][m].recall[trained.rare],
                          "majority recall": s[shown][m].recall[trained.majority], "macro F1": s[shown][m].macro_f1,
                          "balanced accuracy": s[shown][m].balanced_accuracy}
                         for m in models for seed, s in scored.items()])


def scenarios_table(scen: dict) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": s.replace("_", " "), "model": method_label(m), **as_dict(r)}
                         for s, by in scen.items() for m, r in by.items()])
