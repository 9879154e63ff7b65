"""The label-imbalance lesson's parts: train (every method side by side, or the kept run when
only the threshold moved) and score (every metric, figure, table and verdict at the threshold)."""

from __future__ import annotations

from typing import Iterator

from cnnbp.lessons.base import Part, RunState, Update
from cnnbp.lessons.imbalance import figures, scoring, verdicts
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.metrics import as_dict
from cnnbp.lessons.imbalance.training import BASELINE, PREDICTIONS, TrainedRun, build, train_and_keep

KEPT = "the kept test predictions re-scored at threshold {:g}, no training"


def start_message(cfg: ImbalanceConfig, parts: list[Part]) -> str:
    if PREDICTIONS.get(cfg.training_key()) is not None:
        return KEPT.format(cfg.threshold)
    return f"building the {cfg.task} {cfg.dataset} set at 1:{cfg.ratio:g}"


def _threshold_free(trained: TrainedRun, cfg: ImbalanceConfig) -> dict:
    """The figures no threshold changes, drawn once per trained run."""
    if trained.figures is None:
        trained.figures = {
            "histogram": figures.histogram(trained.counts, {h.method: h.seen for h in trained.histories},
                                           trained.classes, cfg),
            "curves": figures.curves(trained.histories, cfg)}
    return trained.figures


def train(state: RunState) -> Iterator[Update]:
    """Leaves ``state.trained``: the kept run for these training settings, or a new one."""
    cfg = state.cfg
    trained = PREDICTIONS.get(cfg.training_key())
    if trained is None:
        data = build(cfg)
        counts = {"train": data.counts("train"), **{t: data.counts(t) for t in data.tests}}
        yield Update(0.02, f"training {len(cfg.methods)} methods for {cfg.steps} steps each",
                     figures={"histogram": figures.histogram(counts, {}, data.classes, cfg)},
                     numbers={"classes": list(data.classes), "rare": data.rare, "counts": counts})
        for progress, histories, trained in train_and_keep(cfg, data, state.control):
            if trained is None:
                yield Update(0.02 + 0.98 * progress, f"training {len(cfg.methods)} methods: {progress:.0%}",
                             figures={"curves": figures.curves(histories, cfg)},
                             numbers={"histories": [vars(h) for h in histories]})
        if trained is None:  # stopped: nothing is kept, nothing to score
            return
        message = f"{len(cfg.methods)} methods trained"
    else:
        message = KEPT.format(cfg.threshold)
    state.trained = trained
    yield Update(1.0, message, figures=_threshold_free(trained, cfg))


def score(state: RunState) -> Iterator[Update]:
    """Every figure, table, verdict and number at ``cfg.threshold`` from the trained run."""
    cfg, trained = state.cfg, state.trained
    curves, scored = scoring.curves_of(trained), scoring.score(trained, cfg.threshold)
    scen = scoring.scenarios(trained, scored)
    shown = cfg.test_set if cfg.test_set in scored else "balanced"
    models = [BASELINE, *[h.method for h in trained.histories]]
    numbers = {
        "classes": list(trained.classes), "rare": trained.rare, "majority": trained.majority,
        "counts": trained.counts, "histories": [vars(h) for h in trained.histories], "threshold": cfg.threshold,
        "shown_test_set": shown,
        "metrics": {t: {m: {**as_dict(scored[t][m]), **as_dict(curves[t][m])} for m in models} for t in scored},
        "scenarios": {s: {m: as_dict(r) for m, r in by.items()} for s, by in scen.items()} if scen else None,
    }
    tables = {"metrics": figures.metrics_table(scored, curves, models, trained),
              "per_class": figures.per_class_table(scored[shown], models, trained)}
    if scen:
        tables["scenarios"] = figures.scenarios_table(scen)
    yield Update(1.0, f"scored at threshold {cfg.threshold:g}", figures={
        "metrics": figures.metrics(scored[shown], curves[shown], models, trained, cfg, shown),
        "confusion": figures.confusion(scored[shown], models, trained, cfg, shown),
        "roc": figures.roc(scored[shown], curves[shown], models, cfg, shown),
        "pr": figures.pr(scored[shown], curves[shown], models, cfg, shown),
    }, tables=tables, numbers=numbers, verdicts=[
        verdicts.paradox(trained, scored, cfg, shown), *verdicts.fixes(trained, scored, cfg, shown),
        *(verdicts.scenarios(scen, trained) if scen else [])])


PARTS = (Part("train", 0.97, train), Part("score", 0.03, score))
