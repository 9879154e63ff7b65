"""Lesson "imbalance": label imbalance, its fixes, and the metrics that tell the truth.

An imbalanced training set is cut from digits or shapes (binary: one rare class against the
rest; multiclass: a long tail). Each fix (none, over-sampling, under-sampling, reweighted
loss, effective-number weights, balanced batches, focal loss) trains the same CNN on the same
data, seed and step budget, curves streaming. Every metric comes from ``sklearn.metrics`` on
the kept test-set probabilities, next to the trivial majority-class baseline, on a balanced
and a same-ratio test set. The decision threshold is live: a run that differs only in the
threshold reuses the trained models' probabilities (:data:`training.PREDICTIONS`).
"""

from __future__ import annotations

import time
from typing import Iterator, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cnnbp import plots
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choices, gflop_seconds
from cnnbp.lessons.imbalance.data import ImbalancedData, build_data, class_counts, empty_class_message, pool_counts
from cnnbp.lessons.imbalance.metrics import (BinaryReport, CurveMetrics, ThresholdMetrics, as_dict, binary_report,
                                             curve_metrics, majority_probs, threshold_metrics)
from cnnbp.lessons.imbalance.training import (BASELINE, CNN_DEPTH, CNN_WIDTH, METHODS, PREDICTIONS, History,
                                              MethodTrainer, TrainedRun, train_methods)
from cnnbp.plots import imbalance as imb_plots
from cnnbp.train import RunControl

# Fixed before any run, never tuned to a result:
PARADOX_ACCURACY = 0.9  # "high accuracy": the always-majority model is right on 90% or more
RECALL_GAIN = 0.05  # a fix "raises" the rare recall when it gains 5 points (one seed moves ~2-3)
F1_TOLERANCE = 0.01  # ... and macro-F1 does not fall by more than 1 point (a tie is not a loss)
LECTURE_FIXES = ("oversample", "reweight", "balanced_batches")  # the lecture's three fixes
FRAME_INTERVAL_S = 0.8  # at most ~1 update a second while training streams
STEP_OVERHEAD_S = 0.002  # python + optimiser per step of a tiny CNN on 2 cores (measured ~2 ms)
PIXELS = {"digits": 64, "shapes": 256}
TEST_SETS = ("balanced", "same_ratio")


class ImbalanceConfig(LessonConfig):
    dataset: Literal["digits", "shapes"] = Field(
        "digits", description="digits (8x8, 10 classes) or shapes (16x16 RGB, 4 classes)")
    task: Literal["binary", "multiclass"] = Field(
        "binary", description="binary: the rare class vs the rest (a rare disease); multiclass: a long tail")
    rare_class: int = Field(8, ge=0, le=9, description="binary: the positive, rare class; multiclass: the tail "
                            "(8: it shares strokes with 3, 5, 9 and 0)")
    ratio: float = Field(50.0, ge=1.0, le=500.0, description="majority : minority images (binary: rest : rare; "
                         "multiclass: head : tail). 50: 26 rare digits against 1298")
    test_set: Literal["balanced", "same_ratio"] = Field(
        "balanced", description="the test set of the figures (the table shows both, where the same-ratio one "
                                "leaves every class an image)")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="decide the rare class when its probability is at "
                             "least this; moving it re-scores the trained models at once",
                             json_schema_extra={"step": 0.01})
    methods: choices(METHODS, "method") = Field(list(METHODS), description="fixes to train side by side")
    steps: int = Field(300, ge=10, le=5000, description="optimisation steps per method (the same for all: "
                       "same compute)")
    batch_size: int = Field(64, ge=8, le=512, description="images per step")
    lr: float = Field(0.05, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9)")
    beta: float = Field(0.999, ge=0.0, lt=1.0, description="effective-number beta (Cui et al.: 0.999; 0: no "
                        "reweighting, towards 1: inverse frequency)")
    gamma: float = Field(2.0, ge=0.0, le=5.0, description="focal-loss gamma (Lin et al.: 2; 0: cross-entropy)")

    @model_validator(mode="after")
    def _every_class_has_images(self) -> "ImbalanceConfig":
        train, test, names = pool_counts(self.dataset)
        if self.rare_class >= len(names):
            raise ValueError(f"rare_class: {self.dataset} has classes 0..{len(names) - 1} "
                             f"({', '.join(names)}), got {self.rare_class}")
        message = empty_class_message(self.train_counts(), names, where="training", ratio=self.ratio, pool=train)
        if message is None and self.test_set == "same_ratio":
            counts = class_counts(test, task=self.task, rare=self.rare_class, ratio=self.ratio)
            message = empty_class_message(counts, names, where="same-ratio test", ratio=self.ratio, pool=test)
            message = message and message + " or choose test_set balanced"
        if message:
            raise ValueError(message)
        return self

    def train_counts(self) -> tuple[int, ...]:
        return class_counts(pool_counts(self.dataset)[0], task=self.task, rare=self.rare_class, ratio=self.ratio)

    def training_key(self) -> str:
        """Every setting that changes the trained models: all but the threshold."""
        return self.model_dump_json(exclude={"threshold"})

    def cost_seconds(self) -> float:
        # forward + backward ~ 6 x MACs; ~9 * width^2 MACs per pixel per conv layer
        per_image = 6 * CNN_DEPTH * 9 * CNN_WIDTH**2 * PIXELS[self.dataset]
        per_step = gflop_seconds(per_image * self.batch_size) + STEP_OVERHEAD_S
        return per_step * self.steps * len(self.methods)


def run(cfg: ImbalanceConfig, control: RunControl) -> Iterator[Frame]:
    trained = PREDICTIONS.get(cfg.training_key())
    if trained is not None:
        yield final_frame(trained, cfg, control=control,
                          note=f"the kept test predictions re-scored at threshold {cfg.threshold:g}, no training")
        return
    yield Frame(0.0, f"building the {cfg.task} {cfg.dataset} set at 1:{cfg.ratio:g}")
    data = build_data(cfg.dataset, task=cfg.task, rare=cfg.rare_class, ratio=cfg.ratio, seed=cfg.seed)
    counts = {"train": data.counts("train"), **{t: data.counts(t) for t in data.tests}}
    numbers = {"classes": list(data.classes), "rare": data.rare, "counts": counts}
    yield Frame(0.02, f"training {len(cfg.methods)} methods for {cfg.steps} steps each",
                figures={"histogram": histogram_figure(counts, {}, data.classes, cfg)}, numbers=dict(numbers))
    start, last, histories, trainers, reached = time.perf_counter(), 0.0, [], [], 0.0
    for reached, histories, trainers in train_methods(
            data, cfg.methods, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, beta=cfg.beta, gamma=cfg.gamma,
            seed=cfg.seed, eval_split=eval_split(cfg, data), control=control):
        now = time.perf_counter()
        if reached < 1.0 and now - last < FRAME_INTERVAL_S:
            continue
        last = now
        yield Frame(0.02 + 0.95 * reached, f"training {len(cfg.methods)} methods: {reached:.0%}",
                    figures={"curves": curves_figure(histories, cfg)},
                    numbers={**numbers, "histories": [vars(h) for h in histories]})
    if control.stop_reason():
        yield Frame(0.02 + 0.95 * reached, f"{control.stop_reason()} after {reached:.0%} of the training: no metrics",
                    figures={"curves": curves_figure(histories, cfg)},
                    numbers={**numbers, "histories": [vars(h) for h in histories]}, done=True)
        return
    trained = finish(data, histories, trainers, seconds=time.perf_counter() - start)
    PREDICTIONS.put(cfg.training_key(), trained)
    yield final_frame(trained, cfg, control=control, note=f"{len(cfg.methods)} methods trained")


def trained_run(cfg: ImbalanceConfig, control: RunControl | None = None) -> TrainedRun:
    """The trained comparison for ``cfg``'s training settings: kept, or trained now (no frames)."""
    trained = PREDICTIONS.get(cfg.training_key())
    if trained is not None:
        return trained
    control = control or RunControl()
    data = build_data(cfg.dataset, task=cfg.task, rare=cfg.rare_class, ratio=cfg.ratio, seed=cfg.seed)
    start, histories, trainers = time.perf_counter(), [], []
    for _, histories, trainers in train_methods(
            data, cfg.methods, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, beta=cfg.beta, gamma=cfg.gamma,
            seed=cfg.seed, eval_split=eval_split(cfg, data), control=control):
        pass
    if control.stop_reason():
        raise RuntimeError(f"training {control.stop_reason()}")
    trained = finish(data, histories, trainers, seconds=time.perf_counter() - start)
    PREDICTIONS.put(cfg.training_key(), trained)
    return trained


def eval_split(cfg: ImbalanceConfig, data: ImbalancedData) -> str:
    return cfg.test_set if cfg.test_set in data.tests else "balanced"


def finish(data: ImbalancedData, histories: list[History], trainers: list[MethodTrainer], *,
           seconds: float) -> TrainedRun:
    """Keep each model's test probabilities (and the majority baseline's) for every test set."""
    majority = int(np.argmax(data.counts("train")))
    labels, probs = {}, {}
    for name, (x, y) in data.tests.items():
        labels[name] = y.numpy()
        probs[name] = {BASELINE: majority_probs(len(y), num_classes=data.num_classes, majority=majority)}
        probs[name].update({t.name: t.probabilities(x) for t in trainers})
    counts = {"train": data.counts("train"), **{t: data.counts(t) for t in data.tests}}
    return TrainedRun(classes=data.classes, rare=data.rare, majority=majority, counts=counts,
                      histories=histories, labels=labels, probs=probs, seconds=seconds)


# ---- scoring: every metric at one threshold ------------------------------------------------

def curves_of(trained: TrainedRun) -> dict[str, dict[str, CurveMetrics]]:
    """Threshold-free curves per test set and model, computed once per trained run."""
    if trained.curves is None:
        trained.curves = {t: {m: curve_metrics(trained.labels[t], p, rare=trained.rare) for m, p in by.items()}
                          for t, by in trained.probs.items()}
    return trained.curves


# The majority baseline is a constant classifier: "always the majority class", at any threshold.
# Its p(rare) is 0 (1 where the rare class is the majority), so "p(rare) >= 0" would turn it into
# "always the rare class" at threshold 0; at 1 the rule gives the majority class either way.
BASELINE_THRESHOLD = 1.0


def score(trained: TrainedRun, threshold: float) -> dict[str, dict[str, ThresholdMetrics]]:
    return {t: {m: threshold_metrics(trained.labels[t], p, rare=trained.rare,
                                     threshold=BASELINE_THRESHOLD if m == BASELINE else threshold)
                for m, p in by.items()} for t, by in trained.probs.items()}


def scenarios(trained: TrainedRun, scored: dict, curves: dict) -> dict[str, dict[str, BinaryReport]] | None:
    """The lecture's two scenarios on the same-ratio binary test set, for the majority baseline
    and the plain model: positives the majority (the rest called "positive"; the baseline
    says "1" to everything) and negatives the majority (the rare class positive)."""
    if len(trained.classes) != 2 or "same_ratio" not in scored:
        return None
    models = [m for m in (BASELINE, "none") if m in scored["same_ratio"]]
    return {scenario: {m: binary_report(scored["same_ratio"][m], curves["same_ratio"][m], positive=positive)
                       for m in models}
            for scenario, positive in (("positives_outnumber_negatives", 1 - trained.rare),
                                       ("negatives_outnumber_positives", trained.rare))}


def final_frame(trained: TrainedRun, cfg: ImbalanceConfig, *, note: str, control: RunControl) -> Frame:
    """Every figure, table, verdict and number at ``cfg.threshold`` from a trained run."""
    curves, scored = curves_of(trained), score(trained, cfg.threshold)
    scen = scenarios(trained, scored, curves)
    shown = cfg.test_set if cfg.test_set in scored else "balanced"
    models = [BASELINE, *[h.method for h in trained.histories]]
    numbers = {
        "classes": list(trained.classes), "rare": trained.rare, "majority": trained.majority,
        "counts": trained.counts, "histories": [vars(h) for h in trained.histories], "threshold": cfg.threshold,
        "shown_test_set": shown,
        "metrics": {t: {m: {**as_dict(scored[t][m]), **as_dict(curves[t][m])} for m in models} for t in scored},
        "scenarios": {s: {m: as_dict(r) for m, r in by.items()} for s, by in scen.items()} if scen else None,
    }
    if trained.figures is None:  # threshold-free: built once per trained run
        trained.figures = {
            "histogram": histogram_figure(trained.counts, {h.method: h.seen for h in trained.histories},
                                          trained.classes, cfg),
            "curves": curves_figure(trained.histories, cfg)}
    figures = {
        **trained.figures,
        "metrics": metrics_figure(scored[shown], curves[shown], models, trained, cfg, shown),
        "confusion": confusion_figure(scored[shown], models, trained, cfg, shown),
        "roc": roc_figure(scored[shown], curves[shown], models, cfg, shown),
        "pr": pr_figure(scored[shown], curves[shown], models, cfg, shown),
    }
    tables = {"metrics": metrics_table(scored, curves, models, trained),
              "per_class": per_class_table(scored[shown], models, trained)}
    if scen:
        tables["scenarios"] = scenarios_table(scen)
    verdicts = lesson_verdicts(trained, scored, scen, cfg, shown)
    return Frame(1.0, f"done in {control.elapsed():.2f} s ({note})", figures=figures, tables=tables, verdicts=verdicts,
                 numbers=numbers, done=True)


# ---- verdicts ----------------------------------------------------------------------------

def label(model: str) -> str:
    return "majority baseline" if model == BASELINE else METHODS[model].label


def lesson_verdicts(trained: TrainedRun, scored: dict, scen: dict | None, cfg: ImbalanceConfig,
                    shown: str) -> list[Verdict]:
    out, rare, k = [], trained.rare, len(trained.classes)
    paradox_set = "same_ratio" if "same_ratio" in scored else shown
    base = scored[paradox_set][BASELINE]
    counts = trained.counts[paradox_set]
    text = (f"The always-'{trained.classes[trained.majority]}' baseline on the {paradox_set.replace('_', '-')} test "
            f"set ({', '.join(f'{c} x {n}' for c, n in zip(trained.classes, counts))}): accuracy {base.accuracy:.1%}, "
            f"balanced accuracy {base.balanced_accuracy:.1%}, recall of the rare class "
            f"'{trained.classes[rare]}' {base.recall[rare]:.0%}.")
    if k == 2:
        passed = base.accuracy >= PARADOX_ACCURACY and base.recall[rare] == 0.0
        text += (" High accuracy, no rare case found: the accuracy paradox." if passed else
                 f" Its accuracy is below {PARADOX_ACCURACY:.0%} at 1:{cfg.ratio:g}: no paradox at this ratio.")
    else:
        passed = None
        text += " With a long tail its accuracy is the head class's share; the paradox is starkest in the binary task."
    out.append(Verdict("accuracy paradox", text, passed))

    metrics = scored[shown]
    if "none" in metrics:
        none = metrics["none"]
        parts, ok = [], []
        for m in [m for m in metrics if m not in (BASELINE, "none", "undersample")]:
            d_rec = metrics[m].recall[rare] - none.recall[rare]
            d_f1 = metrics[m].macro_f1 - none.macro_f1
            parts.append(f"{label(m)} {metrics[m].recall[rare]:.0%} ({d_rec:+.0%}), macro-F1 "
                         f"{metrics[m].macro_f1:.3f} ({d_f1:+.3f})")
            if m in LECTURE_FIXES:
                ok.append(d_rec >= RECALL_GAIN and d_f1 >= -F1_TOLERANCE)
        if parts:
            out.append(Verdict(
                "fixes raise the rare recall",
                f"{shown.replace('_', '-')} test set, threshold {cfg.threshold:g}, one seed: rare-class recall of "
                f"plain training {none.recall[rare]:.0%}, macro-F1 {none.macro_f1:.3f}; " + "; ".join(parts)
                + f". 'Raises': +{RECALL_GAIN:.0%} recall or more and macro-F1 down by at most {F1_TOLERANCE:g} "
                  f"(the registered claim averages three seeds).",
                all(ok) if ok else None))
        if "undersample" in metrics:
            u = metrics["undersample"]
            maj = trained.majority
            passed = u.recall[maj] < none.recall[maj] and u.recall[rare] > none.recall[rare]
            out.append(Verdict(
                "under-sampling trades",
                f"Under-sampling kept {min(trained.counts['train'])} images per class: majority-class recall "
                f"{none.recall[maj]:.1%} -> {u.recall[maj]:.1%}, rare-class recall {none.recall[rare]:.0%} -> "
                f"{u.recall[rare]:.0%} (plain -> under-sampled, {shown.replace('_', '-')} test set).", passed))
    if scen:
        out += scenario_verdicts(scen, trained)
    return out


def scenario_verdicts(scen: dict, trained: TrainedRun) -> list[Verdict]:
    out = []
    rare_name, rest_name = trained.classes[trained.rare], trained.classes[1 - trained.rare]

    def words(r: BinaryReport) -> str:
        return (f"accuracy {r.accuracy:.1%}, precision {r.precision:.3f}, recall {r.recall:.3f}, F1 {r.f1:.3f}, "
                f"FPR {r.fpr:.3f}, ROC-AUC {r.roc_auc:.3f}")

    a = scen["positives_outnumber_negatives"]
    b = a[BASELINE]
    out.append(Verdict(
        "positives outnumber negatives",
        f"Call '{rest_name}' positive ({b.positives} positives, {b.negatives} negatives). The model that says "
        f"positive to everything: {words(b)}. "
        + ("Accuracy, precision and F1 look excellent" if b.f1 >= PARADOX_ACCURACY else
           f"At {b.positives}:{b.negatives} even F1 stays below {PARADOX_ACCURACY:g}: the scenario needs a larger "
           f"ratio")
        + f"; FPR = {b.fpr:g} and AUC = {b.roc_auc:g} tell the truth."
        + (f" Plain training: {words(a['none'])}." if "none" in a else ""),
        b.fpr == 1.0 and b.roc_auc == 0.5 and b.f1 >= PARADOX_ACCURACY))
    n = scen["negatives_outnumber_positives"]
    b = n[BASELINE]
    text = (f"Call '{rare_name}' positive ({b.positives} positives, {b.negatives} negatives). The always-negative "
            f"model: {words(b)}: "
            + ("accuracy high, precision, recall and F1 zero." if b.accuracy >= PARADOX_ACCURACY else
               f"precision, recall and F1 zero, but at {b.negatives}:{b.positives} its accuracy is below "
               f"{PARADOX_ACCURACY:.0%} too: the scenario needs a larger ratio."))
    if "none" in n:
        p = n["none"]
        text += (f" Plain training: {words(p)}: "
                 + (f"F1 is {p.accuracy - p.f1:.2f} below the accuracy, the low F1 tells the truth."
                    if p.f1 < p.accuracy else f"F1 is not below the accuracy ({p.f1 - p.accuracy:+.2f})."))
    out.append(Verdict("negatives outnumber positives", text,
                       b.accuracy >= PARADOX_ACCURACY and b.f1 == 0.0 and b.recall == 0.0))
    return out


# ---- tables ------------------------------------------------------------------------------

def metrics_table(scored: dict, curves: dict, models: list[str], trained: TrainedRun) -> pd.DataFrame:
    rare, maj = trained.rare, trained.majority
    rows = []
    for t in scored:
        for m in models:
            s, c = scored[t][m], curves[t][m]
            rows.append({"test set": t, "model": label(m), "accuracy": s.accuracy,
                         "balanced accuracy": s.balanced_accuracy, "macro F1": s.macro_f1,
                         "rare precision": s.precision[rare], "rare recall": s.recall[rare], "rare F1": s.f1[rare],
                         "rare FPR": s.fpr[rare], "majority recall": s.recall[maj], "ROC-AUC": c.roc_auc,
                         "PR-AUC": c.pr_auc})
    return pd.DataFrame(rows)


def per_class_table(metrics: dict[str, ThresholdMetrics], models: list[str], trained: TrainedRun) -> pd.DataFrame:
    return pd.DataFrame([{"model": label(m), "class": cls, "precision": s.precision[i], "recall": s.recall[i],
                          "F1": s.f1[i], "FPR": s.fpr[i], "support": s.support[i]}
                         for m in models for s in [metrics[m]] for i, cls in enumerate(trained.classes)])


def scenarios_table(scen: dict) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": s.replace("_", " "), "model": label(m), **as_dict(r)}
                         for s, by in scen.items() for m, r in by.items()])


# ---- figures -----------------------------------------------------------------------------

def histogram_figure(counts: dict, seen: dict, classes: tuple[str, ...], cfg: ImbalanceConfig):
    names = {"train": "training set", "balanced": "balanced test set", "same_ratio": "same-ratio test set"}
    return imb_plots.class_histogram({names[k]: v for k, v in counts.items()}, classes=classes,
                                     seen={label(m): s for m, s in seen.items()},
                                     order=[label(m) for m in METHODS],
                                     title=f"{cfg.dataset}, {cfg.task}, 1:{cfg.ratio:g}: images per class")


def curves_figure(histories: list[History], cfg: ImbalanceConfig):
    return imb_plots.training_curves(
        [dict(name=label(h.method), steps=h.steps, loss=h.loss, eval_steps=h.eval_steps,
              balanced_accuracy=h.balanced_accuracy, rare_recall=h.rare_recall) for h in histories],
        order=[label(m) for m in METHODS],
        title=f"Training, {cfg.steps} steps per method (test metrics: argmax decisions)")


def metrics_figure(metrics: dict, curves: dict, models: list[str], trained: TrainedRun, cfg: ImbalanceConfig,
                   shown: str):
    rare = trained.rare
    groups = [dict(name="accuracy", values=[metrics[m].accuracy for m in models]),
              dict(name="balanced accuracy", values=[metrics[m].balanced_accuracy for m in models]),
              dict(name="macro F1", values=[metrics[m].macro_f1 for m in models]),
              dict(name="rare recall", values=[metrics[m].recall[rare] for m in models]),
              dict(name="rare precision", values=[metrics[m].precision[rare] for m in models]),
              dict(name="ROC-AUC", values=[curves[m].roc_auc for m in models]),
              dict(name="PR-AUC", values=[curves[m].pr_auc for m in models])]
    fig = plots.grouped_bars(groups, categories=[label(m) for m in models], y_title="score",
                             title=f"Metrics on the {shown.replace('_', '-')} test set at threshold {cfg.threshold:g}")
    fig.update_traces(text=None, hovertemplate="%{x}: %{y:.3f}", selector=dict(type="bar"))  # 56 bars: no labels
    return imb_plots.legend_below(fig, height=460)


def confusion_figure(metrics: dict, models: list[str], trained: TrainedRun, cfg: ImbalanceConfig, shown: str):
    return imb_plots.confusion_grid(
        [dict(name=label(m), counts=metrics[m].confusion, normalised=metrics[m].confusion_normalised) for m in models],
        classes=trained.classes,
        title=f"Confusion matrices, {shown.replace('_', '-')} test set, threshold {cfg.threshold:g} "
              f"(colour: share of the true class)")


def roc_figure(metrics: dict, curves: dict, models: list[str], cfg: ImbalanceConfig, shown: str):
    return imb_plots.roc_curves(
        [dict(name=label(m), fpr=curves[m].roc_fpr, tpr=curves[m].roc_tpr, auc=curves[m].roc_auc,
              point=metrics[m].rare_point) for m in models],
        threshold=cfg.threshold, order=[label(m) for m in METHODS],
        title=f"ROC of the rare class vs the rest, {shown.replace('_', '-')} test set (circles: threshold "
              f"{cfg.threshold:g})")


def pr_figure(metrics: dict, curves: dict, models: list[str], cfg: ImbalanceConfig, shown: str):
    first = curves[models[0]]
    return imb_plots.pr_curves(
        [dict(name=label(m), precision=curves[m].pr_precision, recall=curves[m].pr_recall, ap=curves[m].pr_auc,
              point=metrics[m].rare_point) for m in models],
        prevalence=first.prevalence, threshold=cfg.threshold, order=[label(m) for m in METHODS],
        title=f"Precision-recall of the rare class, {shown.replace('_', '-')} test set (circles: threshold "
              f"{cfg.threshold:g})")
