"""The normalisation lesson's parts, in run order: the N x C x H x W picture (which cells share a
statistic, checked against PyTorch), GroupNorm's equivalences, InstanceNorm's contrast
invariance, the same CNN trained with each norm, the batch-size sweep (GroupNorm's paper),
batch size 1, and SyncBatchNorm simulated on one machine.

Later parts read what earlier ones leave on the state: the sweep's summary (batch size 1 adds
its point to the sweep's figure), the side-by-side runs (SyncBatchNorm compares its losses
with plain BatchNorm's) and the dataset, loaded once by the first part that trains.
"""

from __future__ import annotations

from typing import Iterator

from cnnbp.data import ImageDataset, lesson_dataset
from cnnbp.lessons.base import Part, RunState, Update, heartbeat
from cnnbp.lessons.norms import axes, figures, real_data, verdicts
from cnnbp.lessons.norms.batch_one import batch_one as batch_one_experiment
from cnnbp.lessons.norms.contrast import contrast_on_dataset
from cnnbp.lessons.norms.equivalences import LESSON_SHAPE
from cnnbp.lessons.norms.equivalences import equivalences as equivalences_experiment
from cnnbp.lessons.norms.races import group_vs_batch, side_by_side
from cnnbp.lessons.norms.sync import NOISE_BATCHES, check_against_batchnorm, noise_by_devices
from cnnbp.lessons.norms.training import (
    NormRun,
    first_conv_features,
    summarise_by_batch,
    summarise_by_norm,
    train_final,
    train_side_by_side,
)
from cnnbp.nn import checkpoints
from cnnbp.train import Beat


def _data(state: RunState) -> ImageDataset:
    """The run's dataset, loaded by the first part that needs it."""
    if getattr(state, "data", None) is None:
        state.data = lesson_dataset(state.cfg.dataset, seed=state.cfg.seed)
    return state.data


def _cnn(cfg) -> dict:
    """The CNN every training part builds."""
    return dict(depth=cfg.depth, width=cfg.width, groups=cfg.groups)


def picture(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    numbers = axes.picture((cfg.picture_batch, cfg.picture_channels, cfg.picture_size, cfg.picture_size),
                           (cfg.cell_sample, cfg.cell_channel, 0, 0), groups=cfg.picture_groups, seed=cfg.seed)
    yield Update(1.0, "the N x C x H x W picture drawn", figures={"picture": figures.picture_figure(numbers, cfg)},
                 tables={"picture": figures.picture_table(numbers)}, numbers={"picture": numbers},
                 verdicts=[verdicts.picture_verdict(numbers, cfg)])


def equivalences(state: RunState) -> Iterator[Update]:
    result = equivalences_experiment(shape=LESSON_SHAPE, seed=state.cfg.seed)
    yield Update(1.0, "GroupNorm's equivalences measured", tables={"equivalences": figures.equivalences_table(result)},
                 numbers={"equivalences": result.rows}, verdicts=[verdicts.equivalence_verdict(result)])


def contrast(state: RunState) -> Iterator[Update]:
    cfg, data = state.cfg, _data(state)
    result = contrast_on_dataset(data, scale=cfg.contrast_scale, shift=cfg.contrast_shift, seed=cfg.seed)
    yield Update(1.0, "contrast invariance measured", figures={"contrast": figures.contrast_figure(result)},
                 tables={"contrast": figures.contrast_table(result)}, numbers={"contrast": vars(result)},
                 verdicts=[verdicts.contrast_verdict(result)])


def _keeper(cfg, data: ImageDataset):
    """Keeps the first seed's trained CNNs (one per norm) for the tab's Download button."""
    first = {s.name for s in cfg.compare_specs() if s.seed == cfg.seed}

    def keep(models: dict) -> None:
        checkpoints.keep_models(checkpoints.run_key("norms", cfg), {n: m for n, m in models.items() if n in first},
                                classes=data.classes, trained_on=data.name)
    return keep


def compare(state: RunState) -> Iterator[Update]:
    cfg, data = state.cfg, _data(state)
    specs = cfg.compare_specs()
    runs: list[NormRun] = []
    for reached, runs in train_side_by_side(data, specs, epochs=cfg.epochs, evals_per_epoch=cfg.evals_per_epoch,
                                            control=state.control, keep=_keeper(cfg, data), beats=True, **_cnn(cfg)):
        if isinstance(reached, Beat):
            yield heartbeat(min(reached, 0.99))
            continue
        yield Update(min(reached, 0.99), f"training {len(specs)} CNNs side by side",
                     figures={"compare_curves": figures.compare_curves(runs, cfg)},
                     numbers={"compare": summarise_by_norm(runs, cfg.norms)})
    if state.control.stop_reason():
        return  # no verdict on a comparison cut short
    race = side_by_side(runs, cfg.norms, cfg.seed_list(cfg.seeds))
    state.compare = {**summarise_by_norm(runs, cfg.norms), "race": race.as_dict()}
    yield Update(1.0, f"{len(specs)} CNNs trained",
                 figures={"compare_curves": figures.compare_curves(runs, cfg),
                          "compare_final": figures.compare_bars(state.compare, race, cfg)},
                 tables={"compare": figures.compare_table(state.compare)}, numbers={"compare": state.compare},
                 verdicts=[verdicts.compare_verdict(state.compare, race, cfg)])


def sweep(state: RunState) -> Iterator[Update]:
    cfg, data = state.cfg, _data(state)
    runs: list[NormRun] = []
    for reached, runs in train_final(data, cfg.sweep_specs(), epochs=cfg.sweep_epochs, control=state.control,
                                     train_images=cfg.sweep_images, beats=True, **_cnn(cfg)):
        if isinstance(reached, Beat):
            yield heartbeat(min(reached, 0.99))
            continue
        yield Update(min(reached, 0.99), f"batch-size sweep: {runs[-1].name}")
    if state.control.stop_reason():
        return
    # the lecture's small-batch claim, GroupNorm vs BatchNorm at the smallest batch, where both ran
    state.sweep_race = (group_vs_batch(runs, cfg.seed_list(cfg.sweep_seeds), min(cfg.batch_list()),
                                       margin=real_data.margin_for(cfg.dataset))
                        if {"batch", "group"} <= set(cfg.sweep_norms) else None)
    state.sweep = {"runs": [dict(r.as_dict(), name=r.name) for r in runs],
                   "summary": summarise_by_batch(runs, cfg.sweep_norms, cfg.batch_list()),
                   "group_vs_batch": state.sweep_race and state.sweep_race.as_dict(),
                   "train_images": cfg.sweep_images, "epochs": cfg.sweep_epochs}
    yield Update(1.0, f"batch-size sweep done ({len(runs)} runs)",
                 figures={"sweep": figures.sweep_figure(state.sweep, state.sweep_race, cfg, None)},
                 tables={"sweep": figures.sweep_table(runs)}, numbers={"sweep": state.sweep},
                 verdicts=[verdicts.sweep_verdict(state.sweep["summary"], state.sweep_race, cfg)])


def batch_one(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    result = batch_one_experiment(seed=cfg.seed)
    runs: list[NormRun] = []
    if "sweep" in cfg.parts:  # the CNN at batch 1 is one more point of the sweep's figure: it trains with it
        yield Update(0.0, "batch size 1: PyTorch's answer caught; training a BatchNorm CNN at batch size 1")
        for reached, runs in train_final(_data(state), [cfg.batch_one_spec()], epochs=cfg.sweep_epochs,
                                         control=state.control, train_images=cfg.sweep_images, beats=True,
                                         **_cnn(cfg)):
            if isinstance(reached, Beat):
                yield heartbeat(min(reached, 0.99))
                continue
            yield Update(min(reached, 0.99), "BatchNorm CNN at batch size 1")
        if state.control.stop_reason():
            return
    cnn = runs[0] if runs and (runs[0].final_accuracy is not None or runs[0].diverged_at) else None
    sweep_done = getattr(state, "sweep", None)
    yield Update(1.0, "batch size 1 shown",
                 figures={"sweep": figures.sweep_figure(sweep_done, state.sweep_race, cfg, cnn)} if sweep_done else {},
                 tables={"batch_one": figures.batch_one_table(result, cnn)},
                 numbers={"batch_one": {**vars(result), "cnn": cnn.as_dict() if cnn else None}},
                 verdicts=[verdicts.batch_one_verdict(result, cnn, sweep_done and sweep_done["summary"], cfg)])


def sync(state: RunState) -> Iterator[Update]:
    cfg, data = state.cfg, _data(state)
    features = first_conv_features(data, seed=cfg.seed, batch=cfg.sync_batch, batches=NOISE_BATCHES, **_cnn(cfg))
    noise = noise_by_devices(features, cfg.device_list())
    check = check_against_batchnorm(features[0], devices=max(cfg.device_list()), seed=cfg.seed)
    specs = cfg.sync_specs()
    runs: list[NormRun] = []
    for reached, runs in train_side_by_side(data, specs, epochs=cfg.epochs, evals_per_epoch=cfg.evals_per_epoch,
                                            control=state.control, beats=True, **_cnn(cfg)):
        if isinstance(reached, Beat):
            yield heartbeat(min(reached, 0.99))
            continue
        yield Update(min(reached, 0.99), f"SyncBatchNorm simulation: training {len(specs)} CNNs")
    if state.control.stop_reason():
        return
    numbers = {"noise": noise, "check": check,
               "runs": [dict(r.as_dict(), name=r.name, devices=s.devices, sync=s.sync,
                             per_device_batch=cfg.sync_batch / s.devices) for r, s in zip(runs, specs)]}
    yield Update(1.0, "SyncBatchNorm simulated", figures=figures.sync_figures(numbers, cfg),
                 tables={"sync": figures.sync_table(numbers)}, numbers={"sync": numbers},
                 verdicts=[verdicts.sync_verdict(numbers, cfg, getattr(state, "compare", None))])


PARTS = (
    Part("picture", 0.01, picture),
    Part("equivalences", 0.01, equivalences),
    Part("contrast", 0.02, contrast),
    Part("compare", 0.35, compare),
    Part("sweep", 0.35, sweep),
    Part("batch_one", lambda cfg: 0.12 if "sweep" in cfg.parts else 0.01, batch_one),  # trains with the sweep
    Part("sync", 0.14, sync),
)


def start_message(cfg, parts: list[Part]) -> str:
    return f"starting: {len(parts)} parts"
