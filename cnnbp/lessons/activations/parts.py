"""The activations lesson's parts, in run order: the functions and their derivatives (and the
lecture's questions at x = -10, 0, 10), "not zero-centred" (same-sign gradients and the
zig-zag path), SELU's self-normalisation in a deep plain MLP, then the small CNNs: the race to
a target accuracy and the dead units at a too-large learning rate, trained together in lockstep."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from cnnbp.data import dataset_label
from cnnbp.device import cpu_cores, torch_threads
from cnnbp.lessons.activations import figures
from cnnbp.lessons.activations.config import ActivationsConfig
from cnnbp.lessons.activations.functions import Curve, activation_curves, peak_grad_with, point_table
from cnnbp.lessons.activations.outcome import DEAD_MARGIN, FAIL_SPEEDUP, MIN_SEEDS, PASS_SPEEDUP, Race
from cnnbp.lessons.activations.race import DEAD_GRAD_RATIO, PROBE_IMAGES, RaceHistory, train_variants
from cnnbp.lessons.activations.selu import MLP_BATCH, deep_profiles
from cnnbp.lessons.activations.verdicts import (
    function_verdicts,
    selu_verdicts,
    training_verdicts,
    zero_centred_verdicts,
)
from cnnbp.lessons.activations.zero_centred import same_sign_fractions, zigzag
from cnnbp.lessons.base import Part, RunState, Update, heartbeat
from cnnbp.lessons.redraw import Redraw
from cnnbp.train import Beat


def function_numbers(curves: list[Curve]) -> dict:
    return {"x": curves[0].x, "curves": {c.name: {"label": c.label, "value": c.value, "grad": c.grad, "peak": c.peak,
                                                  "threshold": c.threshold, "saturated": [list(s) for s in c.saturated],
                                                  "frac_saturated": c.frac_saturated, "zero_grad": c.zero_grad}
                                         for c in curves}}


def functions(state: RunState) -> Iterator[Update]:
    cfg: ActivationsConfig = state.cfg
    options = cfg.options()
    curves = activation_curves(cfg.functions, x_range=cfg.x_range, options=options, threshold=cfg.saturation)
    rows = point_table(cfg.functions, options=options, threshold=cfg.saturation)
    yield Update(1.0, f"{len(curves)} activations plotted",
                 figures={"functions": figures.functions_figure(curves, cfg)}, tables={"at_points": pd.DataFrame(rows)},
                 numbers={"functions": function_numbers(curves), "at_points": rows},
                 verdicts=function_verdicts(curves, rows, cfg))


def zero_centred(state: RunState) -> Iterator[Update]:
    cfg: ActivationsConfig = state.cfg
    signs = same_sign_fractions(fan_in=cfg.fan_in, samples=cfg.samples, seed=cfg.seed)
    paths = zigzag(steps=cfg.zigzag_steps, lr=cfg.zigzag_lr, seed=cfg.seed)
    yield Update(1.0, "same-sign gradients counted, zig-zag paths drawn",
                 figures={"same_sign": figures.same_sign_figure(signs, cfg),
                          "zigzag": figures.zigzag_figure(paths, cfg)},
                 tables={"same_sign": figures.same_sign_table(signs, paths)},
                 numbers={"same_sign": [vars(s) for s in signs], "zigzag": [vars(p) for p in paths]},
                 verdicts=zero_centred_verdicts(signs, paths, cfg))


def selu(state: RunState) -> Iterator[Update]:
    cfg: ActivationsConfig = state.cfg
    with torch_threads(1):  # 0.3 s of matmuls: a second OpenMP thread spun on a busy core (0.68 CPU s at load 7)
        profiles = deep_profiles(depth=cfg.mlp_depth, width=cfg.mlp_width, batch=MLP_BATCH, seed=cfg.seed)
    yield Update(1.0, f"deep MLP ({cfg.mlp_depth} x {cfg.mlp_width}) profiled",
                 figures={"selu": figures.selu_figure(profiles, cfg)}, tables={"selu": figures.selu_table(profiles)},
                 numbers={"selu": {p.name: {"activation": p.activation, "init": p.init, "mean": p.mean, "std": p.std,
                                            "normalised": p.normalised()} for p in profiles}},
                 verdicts=selu_verdicts(profiles, cfg))


def race_of(histories: list[RaceHistory], cfg: ActivationsConfig) -> Race:
    """The run's CNNs, read as the Config's race and dead-unit pairs."""
    return Race(histories, target=cfg.target_accuracy, total_steps=cfg.total_steps(), lr=cfg.lr, seed=cfg.seed,
                racers=cfg.activations if "race" in cfg.parts else (),
                dead_activations=cfg.dead_activations if "dead" in cfg.parts else (), dead_lr=cfg.dead_lr)


def race_numbers(race: Race, cfg: ActivationsConfig) -> dict:
    """The nets drawn, curve by curve; what the verdicts read at every seed; the settings."""
    ratios = race.ratio_to_relu()
    return {"cnn": {h.name: {"activation": h.activation, "lr": h.lr, "init": h.init, "steps": h.steps,
                             "loss": h.loss, "eval_steps": h.eval_steps, "test_accuracy": h.test_accuracy,
                             "test_loss": h.test_loss, "layer_names": h.layer_names, "dead": h.dead,
                             "diverged_at": h.diverged_at, **ratios[h.name]} for h in race.drawn},
            "over_seeds": {"seeds": race.seeds,
                           "speedups": [{**vars(s), "side": s.side} for s in race.speedups()],
                           "dead_gaps": [{**vars(g), "difference": g.difference, "side": g.side}
                                         for g in race.dead_gaps()],
                           "lines": {"min_seeds": MIN_SEEDS, "pass_speedup": PASS_SPEEDUP,
                                     "fail_speedup": FAIL_SPEEDUP, "dead_margin": DEAD_MARGIN}},
            "cnn_settings": {"target_accuracy": cfg.target_accuracy, "total_steps": cfg.total_steps(),
                             "eval_every": cfg.eval_every(), "dead_grad_ratio": DEAD_GRAD_RATIO,
                             "probe_images": PROBE_IMAGES}}


def cnns(state: RunState) -> Iterator[Update]:
    """The race and the dead-unit pairs, and at the further seeds the nets the verdicts read: every
    CNN in one lockstep, the drawn ones' curves streamed as they grow."""
    cfg: ActivationsConfig = state.cfg
    variants = cfg.variants()
    options = cfg.options()
    peaks = {a: peak_grad_with(a, options.get(a, {})) for a in dict.fromkeys(v.activation for v in variants)}
    # the curves redrawn within a tenth of the run, not redraw.SHARE's fifth: redrawing them was 14% of
    # the default run's CPU seconds (26 redraws of 0.1 s); they still move about every second
    race, reached, redraw = race_of([], cfg), 0.0, Redraw(share=0.1)
    # the nets side by side, one core each (lockstep's workers): no thread waits on another mid-op
    trained = train_variants(variants, dataset=cfg.dataset, depth=cfg.cnn_depth, width=cfg.cnn_width,
                             epochs=cfg.epochs, batch_size=cfg.batch_size, options=options, peaks=peaks,
                             target=cfg.target_accuracy, evals_per_epoch=cfg.evals_per_epoch,
                             control=state.control, beats=True, workers=cpu_cores())
    for reached, histories in trained:
        if isinstance(reached, Beat):
            yield heartbeat(min(reached, 0.99))
            continue
        race = race_of(histories, cfg)
        if reached < 1.0:
            yield Update(reached, f"training {len(variants)} CNNs on {dataset_label(cfg.dataset)} ({_seeds(cfg)}): "
                                  f"{reached:.0%}",
                         figures=redraw(figures.training_figures(race, cfg)), numbers=race_numbers(race, cfg))
    final = figures.training_figures(race, cfg)
    if race.race:
        final["steps_to_target"] = figures.steps_figure(race, cfg.eval_every())
    yield Update(reached, f"CNNs trained ({reached:.0%} of the steps)", figures=final,
                 tables={"race": figures.race_table(race)}, numbers=race_numbers(race, cfg),
                 verdicts=training_verdicts(race, cfg))


def _seeds(cfg: ActivationsConfig) -> str:
    return "1 seed" if cfg.seeds == 1 else f"{cfg.seeds} seeds"


def start_message(cfg: ActivationsConfig, parts: list[Part]) -> str:
    return f"starting: {len(cfg.parts)} parts, {len(cfg.variants())} CNNs to train ({_seeds(cfg)})"


# Shares of the run in twentieths (0.05 each for the quick parts, 0.85 for the CNNs, as before).
PARTS = (
    Part("functions", 1, functions),
    Part("zero_centred", 1, zero_centred),
    Part("selu", 1, selu),
    Part("cnns", 17, cnns, when=lambda cfg: bool(cfg.variants())),
)
