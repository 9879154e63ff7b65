"""The batchnorm lesson's parts, in run order: one BN layer up close; the CNNs with and without
BN (the robustness and placement settings train in one lockstep race), then the trained BN net
evaluated in train mode; BN folded into the conv."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from cnnbp.data import dataset_label, lesson_dataset
from cnnbp.device import cpu_cores, pick_device, torch_threads
from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats
from cnnbp.lessons.batchnorm import figures
from cnnbp.lessons.batchnorm.config import BatchNormConfig
from cnnbp.lessons.batchnorm.folding import folding_steps
from cnnbp.lessons.batchnorm.modes import mode_checks, running_stats_steps
from cnnbp.lessons.batchnorm.training import (
    TRAIN_THREADS,
    History,
    SeededRace,
    TrainModeBug,
    seeded_races,
    train_mode_bug,
    train_runs,
)
from cnnbp.lessons.batchnorm.verdicts import fold_verdict, mode_verdicts, training_verdicts
from cnnbp.lessons.redraw import Redraw
from cnnbp.train import Beat


def modes(state: RunState) -> Iterator[Update]:
    cfg: BatchNormConfig = state.cfg
    stats = yield from heartbeats(running_stats_steps(
        batch_size=cfg.batch_size, steps=cfg.stat_steps, momentum=cfg.bn_momentum, channels=cfg.stat_channels,
        seed=cfg.seed, dataset=cfg.dataset), 0.0, 0.6)
    checks = mode_checks(stats, batch_size=cfg.batch_size, channels=cfg.stat_channels, seed=cfg.seed,
                         dataset=cfg.dataset)
    yield heartbeat(0.8)  # the figures take as long again
    rows = figures.check_rows(checks)
    yield Update(1.0, f"one BN layer: {cfg.stat_steps} minibatches fed, train and eval compared",
                 figures=figures.mode_figures(stats, checks, cfg), tables={"checks": pd.DataFrame(rows)},
                 numbers={"running_stats": {**vars(stats), "converged_at": stats.converged_step},
                          "checks": rows, "modes": vars(checks)},
                 verdicts=mode_verdicts(stats, checks, cfg))


def training_numbers(histories: list[History], cfg: BatchNormConfig) -> dict:
    """The first seed's nets, drawn in the figures."""
    return {"cnn": {h.name: {**h.as_dict(), "steps_to_target": h.steps_to(cfg.target_accuracy)} for h in histories},
            "cnn_settings": {"target_accuracy": cfg.target_accuracy, "total_steps": cfg.total_steps,
                             "eval_every": cfg.eval_every,
                             "good_init": cfg.good_init}}


def race_numbers(races: dict[str, SeededRace]) -> dict:
    return {name: {"seeds": r.seeds, "no_bn_steps": [x.plain_steps for x in r.races],
                   "bn_steps": [x.bn_steps for x in r.races], "bn_wins": r.wins, "decided": r.bn_wins}
            for name, r in races.items()}


def training(state: RunState) -> Iterator[Update]:
    cfg: BatchNormConfig = state.cfg
    runs = cfg.runs()
    drawn = len(cfg.variants())  # the first seed's nets come first
    data = {s: lesson_dataset(cfg.dataset, seed=s) for s in dict.fromkeys(r.seed for r in runs)}
    histories, trainers, reached = [], [], 0.0
    # the curves redrawn within a tenth of the run, not redraw.SHARE's fifth: redrawing them was 15% of
    # the default run's CPU seconds (10 redraws of 0.2 s); they still move about every 2 s
    redraw = Redraw(share=0.1)
    for reached, histories, trainers in train_runs(
            runs, data, depth=cfg.depth, width=cfg.width, activation=cfg.activation, epochs=cfg.epochs,
            batch_size=cfg.batch_size, bn_momentum=cfg.bn_momentum, control=state.control, beats=True,
            workers=cpu_cores()):  # the stacks side by side, one core each
        if isinstance(reached, Beat):
            yield heartbeat(reached)
            continue
        drawn_so_far = histories[:drawn]  # the curves are drawn only when the runner sends a frame
        yield Update(reached, f"training {len(runs)} CNNs on {dataset_label(cfg.dataset)}",
                     figures=redraw({"curves": lambda hs=drawn_so_far: figures.curves_figure(hs, cfg)}),
                     numbers=training_numbers(drawn_so_far, cfg))
    races = seeded_races(histories, cfg.pairs(), target=cfg.target_accuracy, total_steps=cfg.total_steps)
    found = {"curves": figures.curves_figure(histories[:drawn], cfg),
             "steps_to_target": figures.steps_figure(histories[:drawn], races, cfg)}
    tables = {"training": figures.training_table(histories[:drawn], cfg)}
    numbers = {**training_numbers(histories[:drawn], cfg), "races": race_numbers(races)}
    bug = None
    if not state.control.stop_reason():
        yield heartbeat(reached)  # the figures above and the evaluations below take 0.2-0.4 s each
        reference = trainers[1]  # the good-init BN net at the chosen position, first seed
        with torch_threads(TRAIN_THREADS):
            bug = TrainModeBug(histories[1].name, train_mode_bug(reference.model, data[cfg.seed],
                                                                 small_batch=cfg.bug_batch, seed=cfg.seed),
                               cfg.target_accuracy)
        numbers["bug"] = vars(bug)
        found["bug"] = figures.bug_figure(bug)
        tables["bug"] = pd.DataFrame(bug.rows)
    yield Update(reached, f"CNNs trained ({reached:.0%} of the steps)", figures=found, tables=tables,
                 numbers=numbers, verdicts=training_verdicts(histories[:drawn], races, bug, cfg))


def folding(state: RunState) -> Iterator[Update]:
    cfg: BatchNormConfig = state.cfg
    device = pick_device()
    fold = yield from heartbeats(folding_steps(
        lesson_dataset(cfg.dataset, seed=cfg.seed), depth=cfg.depth, width=cfg.width, activation=cfg.activation,
        batch=cfg.fold_batch, repeats=cfg.fold_repeats, seed=cfg.seed, device=device, threads=TRAIN_THREADS), 0.0, 0.9)
    yield Update(1.0, "BN folded into the convs", figures={"folding": figures.folding_figure(fold)},
                 tables={"folding": figures.folding_table(fold)}, verdicts=[fold_verdict(fold, cfg)],
                 numbers={"folding": {**vars(fold), "threads": TRAIN_THREADS, "device": str(device),
                                      # timings: test_recorded leaves "speedup" and what is under it out
                                      "speedup": {"median": fold.speedup, "interval": fold.speedup_interval,
                                                  "torch_fused": fold.speedup_torch}}})


def start_message(cfg: BatchNormConfig, parts: list[Part]) -> str:
    return f"starting: {len(cfg.parts)} parts, {len(cfg.runs())} CNNs to train"


# Shares of the run in sixteenths: their sums are exact in floating point, so the last frame's
# progress is 1.0, not 1.0000000000000002 (as 0.08 + 0.84 + 0.08 gave).
PARTS = (
    Part("modes", 1, modes),
    Part("training", 14, training, when=lambda cfg: bool(cfg.variants())),
    Part("folding", 1, folding),
)
