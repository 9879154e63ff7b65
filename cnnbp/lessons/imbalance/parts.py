"""The label-imbalance lesson's parts: train (every method side by side, or the kept run when
only the threshold moved) and score (every metric, figure, table and verdict at the threshold)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Generator, Iterator

import torch

from cnnbp.data import dataset_label
from cnnbp.device import cpu_cores
from cnnbp.lessons.base import FRAME_INTERVAL_S, Part, RunState, Update, heartbeat
from cnnbp.lessons.imbalance import figures, scoring, verdicts
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.metrics import as_dict
from cnnbp.lessons.imbalance.training import BASELINE, PREDICTIONS, TrainedRun, build, train_and_keep
from cnnbp.lessons.redraw import Redraw
from cnnbp.nn import checkpoints
from cnnbp.train import Beat, RunControl

KEPT = "the kept test predictions re-scored at threshold {:g}, no training"
LIVE = ("threshold",)  # the lesson's live field: moving it re-scores, the same models stay kept


def _noted(cfg: ImbalanceConfig, message: str) -> str:
    note = cfg.rare_note()
    return f"{message} ({note})" if note else message


def start_message(cfg: ImbalanceConfig, parts: list[Part]) -> str:
    if all(PREDICTIONS.get(cfg.run_key(seed)) is not None for seed in cfg.seed_list):
        return _noted(cfg, KEPT.format(cfg.threshold))
    return _noted(cfg, f"building the {cfg.task} {dataset_label(cfg.dataset)} set at 1:{cfg.ratio:g}")


def keep_models(cfg: ImbalanceConfig, trained: TrainedRun) -> None:
    """The first seed's CNNs, one per method, kept for the tab's Download (and the CLI's --save-models)."""
    checkpoints.keep_models(checkpoints.run_key("imbalance", cfg, exclude=LIVE),
                            {f"{m}, seed {cfg.seed}": model for m, model in trained.models.items()},
                            classes=trained.classes,
                            trained_on=f"{dataset_label(cfg.dataset)}, {cfg.task} 1:{cfg.ratio:g}")


def _threshold_free(trained: TrainedRun, cfg: ImbalanceConfig) -> Generator[Update, None, dict]:
    """The figures no threshold changes, drawn once per trained run (~0.1 s each: a heartbeat between)."""
    if trained.figures is None:
        histogram = figures.histogram(trained.counts, {h.method: h.seen for h in trained.histories},
                                      trained.classes, cfg)
        yield heartbeat(1.0)
        trained.figures = {"histogram": histogram, "curves": figures.curves(trained.histories, cfg)}
    return trained.figures


def _train_one(cfg: ImbalanceConfig, seed: int, control: RunControl, *, shown: bool, done: float,
               share: float) -> Generator[Update, None, TrainedRun | None]:
    """Train every method at ``seed`` (the shown seed draws its class counts and curves as it
    goes); returns the run, or None when stopped."""
    data = build(cfg, seed)
    yield heartbeat(done)  # the previous seed's predictions and this seed's data: 0.2-0.3 s each
    if shown:
        counts = {"train": data.counts("train"), **{t: data.counts(t) for t in data.tests}}
        yield Update(done + 0.02 * share, f"training {len(cfg.methods)} methods for {cfg.steps} steps each",
                     figures={"histogram": figures.histogram(counts, {}, data.classes, cfg)},
                     numbers={"classes": list(data.classes), "rare": data.rare, "counts": counts})
    # the curves redrawn within a tenth of the run, not redraw.SHARE's fifth (bench/redraw_share.py imbalance)
    redraw = Redraw(share=0.1)
    for progress, histories, trained in train_and_keep(cfg, seed, data, control, beats=True):
        if trained is not None:
            return trained
        if isinstance(progress, Beat):
            yield heartbeat(done + share * ((0.02 + 0.98 * progress) if shown else progress))
        elif shown:
            yield Update(done + share * (0.02 + 0.98 * progress), f"training {len(cfg.methods)} methods: "
                         f"{progress:.0%}", figures=redraw({"curves": lambda hs=histories: figures.curves(hs, cfg)}),
                         numbers={"histories": [vars(h) for h in histories]})
        else:
            yield Update(done + share * progress, f"training {len(cfg.methods)} methods at seed {seed} "
                                                  f"({seed - cfg.seed + 1} of {cfg.seeds}): {progress:.0%}")
    return None


def train(state: RunState) -> Iterator[Update]:
    """Leaves ``state.runs``, one trained run per seed (kept, or trained now); the first is shown.
    With a second core, the further seeds train there, one at a time, while this thread trains the shown
    one (and then any further seed the other core has not taken yet)."""
    cfg, trained_now = state.cfg, False
    runs = {seed: PREDICTIONS.get(cfg.run_key(seed)) for seed in cfg.seed_list}
    further = [seed for seed in cfg.seed_list[1:] if runs[seed] is None]
    side = SideLane(cfg, further, state.control) if further and cpu_cores() > 1 else None
    try:
        for i, seed in enumerate(cfg.seed_list):
            if runs[seed] is None and (i == 0 or side is None or side.claim(seed)):
                trained_now = True
                runs[seed] = yield from _train_one(cfg, seed, state.control, shown=i == 0, done=i / cfg.seeds,
                                                   share=1 / cfg.seeds)
                if runs[seed] is None:  # stopped: nothing is kept, nothing to score
                    return
        if side is not None:
            runs.update((yield from side.results(done=sum(run is not None for run in runs.values()))))
    finally:
        if side is not None:
            side.close()
    if any(run is None for run in runs.values()):  # stopped on the other core
        return
    state.runs = runs = [runs[seed] for seed in cfg.seed_list]
    keep_models(cfg, runs[0])
    yield heartbeat(1.0)
    drawn = yield from _threshold_free(runs[0], cfg)
    message = f"{len(cfg.methods)} methods trained at {cfg.seeds} seeds" if trained_now else KEPT.format(cfg.threshold)
    yield Update(1.0, _noted(cfg, message), figures=drawn)


class SideLane:
    """Further seeds trained on a second core, one torch thread, in seed order, nothing drawn: each seed's
    run is the one it is on the page's thread (one thread of one torch thread, its own generators). The
    page's thread may ``claim`` a seed the lane has not taken yet and train it itself."""

    def __init__(self, cfg: ImbalanceConfig, seeds: list[int], control: RunControl):
        self.cfg, self.control, self.queue = cfg, control, list(seeds)
        self.runs: dict[int, TrainedRun | None] = {}
        self._taking = threading.Lock()
        self._pool = ThreadPoolExecutor(1, initializer=torch.set_num_threads, initargs=(1,))
        self._work = self._pool.submit(self._drain)

    def claim(self, seed: int) -> bool:
        with self._taking:
            if seed in self.queue:
                self.queue.remove(seed)
                return True
            return False

    def _drain(self) -> None:
        while True:
            with self._taking:
                if not self.queue:
                    return
                seed = self.queue.pop(0)
            trained = None
            for *_, trained in train_and_keep(self.cfg, seed, build(self.cfg, seed), self.control):
                pass
            self.runs[seed] = trained

    def results(self, *, done: int) -> Generator[Update, None, dict[int, TrainedRun | None]]:
        """Heartbeats until the lane is done (``done``: seeds with a run already); then its runs (None where
        stopped)."""
        while not self._work.done():
            yield heartbeat((done + len(self.runs)) / self.cfg.seeds)
            wait([self._work], timeout=FRAME_INTERVAL_S / 2)
        self._work.result()  # an error on the other core is raised here
        return self.runs

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def score(state: RunState) -> Iterator[Update]:
    """Every figure, table, verdict and number at ``cfg.threshold`` from the trained runs: the
    figures show the first seed's, the comparisons read every seed's."""
    cfg, trained = state.cfg, state.runs[0]
    curves = scoring.curves_of(trained)
    scored_by_seed = {seed: scoring.score(run, cfg.threshold) for seed, run in zip(cfg.seed_list, state.runs)}
    scored = scored_by_seed[cfg.seed]
    scen = scoring.scenarios(trained, scored)
    shown = cfg.test_set if cfg.test_set in scored else "balanced"
    models = [BASELINE, *[h.method for h in trained.histories]]
    fixes = [m for m in cfg.methods if m != "none"] if "none" in cfg.methods else []
    comparisons = {m: scoring.compare(scored_by_seed, m, test_set=shown, majority=trained.majority) for m in fixes}
    numbers = {
        "classes": list(trained.classes), "rare": trained.rare, "majority": trained.majority,
        "counts": trained.counts, "histories": [vars(h) for h in trained.histories], "threshold": cfg.threshold,
        "shown_test_set": shown,
        "metrics": {t: {m: {**as_dict(scored[t][m]), **as_dict(curves[t][m])} for m in models} for t in scored},
        "scenarios": {s: {m: as_dict(r) for m, r in by.items()} for s, by in scen.items()} if scen else None,
        "over_seeds": {"seeds": cfg.seed_list, "test_set": shown,
                       "comparisons": {m: {**vars(c), "raises": c.raises, "trades": c.trades}
                                       for m, c in comparisons.items()}},
    }
    tables = {"metrics": figures.metrics_table(scored, curves, models, trained),
              "per_class": figures.per_class_table(scored[shown], models, trained),
              "seeds": figures.seeds_table(scored_by_seed, models, trained, shown)}
    if scen:
        tables["scenarios"] = figures.scenarios_table(scen)
    drawn = {"metrics": lambda: figures.metrics(scored[shown], curves[shown], models, trained, cfg, shown),
             "confusion": lambda: figures.confusion(scored[shown], models, trained, cfg, shown),
             "roc": lambda: figures.roc(scored[shown], curves[shown], models, cfg, shown),
             "pr": lambda: figures.pr(scored[shown], curves[shown], models, cfg, shown)}
    out = {}
    for i, (name, draw) in enumerate(drawn.items()):  # ~0.1 s each: the page hears from the run between them
        yield heartbeat(0.5 + 0.1 * i)
        out[name] = draw()
    yield Update(1.0, f"scored at threshold {cfg.threshold:g}", figures=out, tables=tables, numbers=numbers, verdicts=[
        verdicts.paradox(trained, scored, cfg, shown),
        *verdicts.fixes(comparisons, scored_by_seed, trained, cfg, shown),
        *(verdicts.scenarios(scen, trained) if scen else [])])


PARTS = (Part("train", 0.97, train), Part("score", 0.03, score))
