"""The batchnorm lesson's parts, in run order: one BN layer up close; the CNNs with and without
BN (the robustness and placement settings train in one lockstep race), then the trained BN net
evaluated in train mode; BN folded into the conv."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from cnnbp.data import get_dataset
from cnnbp.device import pick_device, torch_threads
from cnnbp.lessons.base import Part, RunState, Update
from cnnbp.lessons.batchnorm import figures
from cnnbp.lessons.batchnorm.config import BatchNormConfig
from cnnbp.lessons.batchnorm.folding import measure_folding
from cnnbp.lessons.batchnorm.modes import mode_checks, running_stats
from cnnbp.lessons.batchnorm.training import (
    EVALS_PER_EPOCH,
    TRAIN_THREADS,
    History,
    TrainModeBug,
    train_mode_bug,
    train_variants,
)
from cnnbp.lessons.batchnorm.verdicts import fold_verdict, mode_verdicts, training_verdicts


def modes(state: RunState) -> Iterator[Update]:
    cfg: BatchNormConfig = state.cfg
    stats = running_stats(batch_size=cfg.batch_size, steps=cfg.stat_steps, momentum=cfg.bn_momentum,
                          channels=cfg.stat_channels, seed=cfg.seed, dataset=cfg.dataset)
    checks = mode_checks(stats, batch_size=cfg.batch_size, channels=cfg.stat_channels, seed=cfg.seed,
                         dataset=cfg.dataset)
    rows = figures.check_rows(checks)
    yield Update(1.0, f"one BN layer: {cfg.stat_steps} minibatches fed, train and eval compared",
                 figures=figures.mode_figures(stats, checks, cfg), tables={"checks": pd.DataFrame(rows)},
                 numbers={"running_stats": {**vars(stats), "converged_at": stats.converged_step},
                          "checks": rows, "modes": vars(checks)},
                 verdicts=mode_verdicts(stats, checks, cfg))


def training_numbers(histories: list[History], cfg: BatchNormConfig) -> dict:
    return {"cnn": {h.name: {**h.as_dict(), "steps_to_target": h.steps_to(cfg.target_accuracy)} for h in histories},
            "cnn_settings": {"target_accuracy": cfg.target_accuracy, "total_steps": cfg.total_steps,
                             "eval_every": max(1, cfg.total_steps // cfg.epochs // EVALS_PER_EPOCH),
                             "good_init": cfg.good_init}}


def training(state: RunState) -> Iterator[Update]:
    cfg: BatchNormConfig = state.cfg
    variants = cfg.variants()
    data = get_dataset(cfg.dataset, seed=cfg.seed)
    histories, trainers, reached = [], [], 0.0
    for reached, histories, trainers in train_variants(
            data, variants, depth=cfg.depth, width=cfg.width, activation=cfg.activation, epochs=cfg.epochs,
            batch_size=cfg.batch_size, bn_momentum=cfg.bn_momentum, seed=cfg.seed, control=state.control):
        yield Update(reached, f"training {len(variants)} CNNs on {cfg.dataset}: {reached:.0%}",
                     figures={"curves": figures.curves_figure(histories, cfg)},
                     numbers=training_numbers(histories, cfg))
    found = {"curves": figures.curves_figure(histories, cfg), "steps_to_target": figures.steps_figure(histories, cfg)}
    tables = {"training": figures.training_table(histories, cfg)}
    numbers = training_numbers(histories, cfg)
    bug = None
    if not state.control.stop_reason():
        reference = trainers[1]  # the good-init BN net at the chosen position
        with torch_threads(TRAIN_THREADS):
            bug = TrainModeBug(histories[1].name, train_mode_bug(reference.model, data, small_batch=cfg.bug_batch,
                                                                 seed=cfg.seed))
        numbers["bug"] = vars(bug)
        found["bug"] = figures.bug_figure(bug)
        tables["bug"] = pd.DataFrame(bug.rows)
    yield Update(reached, f"CNNs trained ({reached:.0%} of the steps)", figures=found, tables=tables,
                 numbers=numbers, verdicts=training_verdicts(histories, bug, cfg))


def folding(state: RunState) -> Iterator[Update]:
    cfg: BatchNormConfig = state.cfg
    device = pick_device()
    fold = measure_folding(get_dataset(cfg.dataset, seed=cfg.seed), depth=cfg.depth, width=cfg.width,
                           activation=cfg.activation, batch=cfg.fold_batch, repeats=cfg.fold_repeats, seed=cfg.seed,
                           device=device, threads=TRAIN_THREADS)
    yield Update(1.0, "BN folded into the convs", figures={"folding": figures.folding_figure(fold)},
                 tables={"folding": figures.folding_table(fold)}, verdicts=[fold_verdict(fold, cfg)],
                 numbers={"folding": {**vars(fold), "speedup": fold.speedup, "speedup_torch": fold.speedup_torch,
                                      "threads": TRAIN_THREADS, "device": str(device)}})


def start_message(cfg: BatchNormConfig, parts: list[Part]) -> str:
    return f"starting: {len(cfg.parts)} parts, {len(cfg.variants())} CNNs to train"


# Shares of the run in sixteenths: their sums are exact in floating point, so the last frame's
# progress is 1.0, not 1.0000000000000002 (as 0.08 + 0.84 + 0.08 gave).
PARTS = (
    Part("modes", 1, modes),
    Part("training", 14, training, when=lambda cfg: bool(cfg.variants())),
    Part("folding", 1, folding),
)
