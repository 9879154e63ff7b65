"""The preprocessing lesson's parts, in run order: a 2-D point cloud, image statistics, raw vs
normalised digits trained live, then the loss's sensitivity to the weights for one of the
trained classifiers (part of "training": it needs a trained model)."""

from __future__ import annotations

import math
from typing import Iterator

from cnnbp.data import lesson_dataset
from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats
from cnnbp.lessons.preprocessing import figures
from cnnbp.lessons.preprocessing.analysis import (
    N_EXAMPLES,
    PAIR_POINTS,
    ImageAnalysis,
    Panel,
    analyse_images,
    make_cloud,
    transform_panels,
)
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.sensitivity import SensitivityComparison, sensitivity_steps
from cnnbp.lessons.preprocessing.training import TARGET_ACCURACY, TRAIN_DATASET, TrainingResult, train_variants
from cnnbp.lessons.preprocessing.verdicts import cloud_verdict, image_verdict, sensitivity_verdict, training_verdict
from cnnbp.lessons.redraw import Redraw
from cnnbp.train import Beat


def cloud_numbers(panels: list[Panel]) -> dict:
    return {p.transform: {"points": p.train.tolist(), **p.stats()} for p in panels}


def cloud(state: RunState) -> Iterator[Update]:
    cfg: PreprocessingConfig = state.cfg
    points = make_cloud(cfg.cloud_points, correlation=cfg.correlation, offset=cfg.offset, scale=cfg.scale,
                        seed=cfg.seed)
    panels = transform_panels(points)
    yield Update(1.0, "point cloud done", figures={"cloud": figures.cloud_figure(panels, cfg)},
                 tables={"cloud": figures.cloud_table(panels)}, numbers={"cloud": cloud_numbers(panels)},
                 verdicts=[cloud_verdict(panels)])


def image_numbers(a: ImageAnalysis) -> dict:
    return {
        "dataset": a.dataset, "pixels": [list(p) for p in a.pixels],
        "pixel_pairs": {p.transform: {"train": p.train.tolist(), "test": p.test.tolist()} for p in a.pair_panels},
        "pooled_grid": a.grid, "covariance": a.covariances, "test_variance": a.test_covariance_diag,
        "mean_image": a.mean_image, "channel_mean": a.channel_mean, "channel_std": a.channel_std,
        "after": a.after, "examples": a.examples, "example_labels": a.example_labels,
    }


def images(state: RunState) -> Iterator[Update]:
    cfg: PreprocessingConfig = state.cfg
    data = lesson_dataset(cfg.dataset, seed=cfg.seed)
    yield heartbeat(0.0)  # the data (0.1-0.25 s), then the analysis: the page hears from the run between them
    analysis = yield from heartbeats(analyse_images(
        data, raw_scale=cfg.input_scale, raw_offset=cfg.input_offset, transforms=list(cfg.transforms),
        pair_points=PAIR_POINTS, n_examples=N_EXAMPLES, seed=cfg.seed), 0.0, 0.9)
    drawn, draws = {}, figures.image_figures(analysis, cfg)
    for name, draw in draws.items():  # one figure per stretch of work
        drawn[name] = draw()
        yield heartbeat(0.9 + 0.1 * len(drawn) / (len(draws) + 1))
    yield Update(1.0, f"image statistics done ({data.describe()})", figures=drawn,
                 tables={"channels": figures.channel_table(analysis)}, numbers={"images": image_numbers(analysis)},
                 verdicts=[image_verdict(analysis, len(data.x_train))])


def _finite(x: float) -> float | None:
    """JSON has no infinity or NaN: an unbounded or unknown ratio is None."""
    return x if math.isfinite(x) else None


def training_numbers(result: TrainingResult) -> dict:
    target = result.target_loss
    numbers = {"target_loss": target, "target_accuracy": TARGET_ACCURACY, "total_steps": result.total_steps,
               "runs": {h.name: {"transform": h.transform, "run": h.run, "eval_steps": h.eval_steps,
                                 "train_loss": h.train_loss, "test_loss": h.test_loss,
                                 "test_accuracy": h.test_accuracy, "diverged_at": h.diverged_at,
                                 "steps_to_target_loss": h.steps_to_loss(target),
                                 "steps_to_target_accuracy": h.steps_to_accuracy(TARGET_ACCURACY)}
                        for h in result.histories}}
    if {"raw", "channel_std"} <= set(result.fitted):
        sp = result.speedup()
        numbers["faster"] = {"runs": sp.runs, "at_least": _finite(sp.at_least), "at_most": _finite(sp.at_most),
                             "holds": sp.holds}
    return numbers


def training(state: RunState) -> Iterator[Update]:
    cfg: PreprocessingConfig = state.cfg
    state.data = lesson_dataset(TRAIN_DATASET, seed=cfg.seed)
    reached, result, redraw = 0.0, None, Redraw()
    for reached, result in train_variants(
            state.data, transforms=cfg.transforms, model=cfg.model, hidden=cfg.hidden, raw_scale=cfg.input_scale,
            raw_offset=cfg.input_offset, runs=cfg.runs, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            seed=cfg.seed, control=state.control, beats=True):
        if isinstance(reached, Beat):
            yield heartbeat(reached)
            continue
        yield Update(reached, "training on raw vs preprocessed digits",
                     figures=redraw({"training": lambda: figures.training_figure(result, cfg)}),  # drawn if sent
                     numbers={"training": training_numbers(result)})
    state.training = result
    yield Update(reached, f"trained ({reached:.0%} of the steps)",
                 figures={"training": figures.training_figure(result, cfg)},
                 tables={"training": figures.training_table(result)}, numbers={"training": training_numbers(result)},
                 verdicts=[training_verdict(result, cfg)])


def sensitivity_numbers(sens: SensitivityComparison) -> dict:
    numbers = {"reference": sens.reference, "perturbation": sens.perturbation, "directions": sens.directions,
               "runs": sens.runs,
               "inputs": {s.transform: {"loss": s.loss, "first_layer_norm": s.first_layer_norm, "sizes": s.sizes,
                                        "relative_change": s.relative_change,
                                        "relative_change_std": s.relative_change_std,
                                        "at_perturbation": sens.change(s.transform),
                                        "at_perturbation_se": math.sqrt(sens.pooled(s.transform).variance),
                                        "per_run": sens.at_perturbation[s.transform],
                                        "slice_t": s.slice_t, "slice_loss": s.slice_loss} for s in sens.inputs}}
    if sens.raw_ratio is not None:
        numbers["raw_ratio"] = sens.raw_ratio
        numbers["raw_ratio_interval"] = list(sens.raw_ratio_interval)
    return numbers


def sensitivity(state: RunState) -> Iterator[Update]:
    cfg: PreprocessingConfig = state.cfg
    sens = yield from heartbeats(sensitivity_steps(
        state.training, state.data, raw_scale=cfg.input_scale, raw_offset=cfg.input_offset,
        perturbation=cfg.perturbation, directions=cfg.directions, seed=cfg.seed), 0.0, 0.9)
    yield Update(1.0, "sensitivity measured", figures={"sensitivity": figures.sensitivity_figure(sens)},
                 tables={"sensitivity": figures.sensitivity_table(sens)},
                 numbers={"sensitivity": sensitivity_numbers(sens)}, verdicts=[sensitivity_verdict(sens)])


def _with_training(cfg: PreprocessingConfig) -> bool:
    return "training" in cfg.parts


PARTS = (
    Part("cloud", 0.05, cloud),
    Part("images", 0.25, images),
    Part("training", 0.63, training),
    Part("sensitivity", 0.07, sensitivity, when=_with_training),  # of a classifier the training part leaves
)
