"""The normalisation claims of the lectures, each measured on the lesson's default settings at
the given seed (the small-batch race over ``SMALL_BATCH_SEEDS`` seeds from it). Each check reads
the predicate of the result object its lesson's verdict reads."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.data import dataset_label, lesson_dataset
from cnnbp.lessons.norms import real_data
from cnnbp.lessons.norms.batch_one import batch_one
from cnnbp.lessons.norms.config import NormsConfig
from cnnbp.lessons.norms.contrast import INVARIANT_RATIO, contrast_on_dataset
from cnnbp.lessons.norms.equivalences import LESSON_SHAPE, equivalences
from cnnbp.lessons.norms.races import group_vs_batch
from cnnbp.lessons.norms.training import NormRun, train_final
from cnnbp.lessons.norms.verdicts import NAMES, contrast_words, per_seed, race_words
from cnnbp.train import RunControl

DEFAULTS = NormsConfig()
SMALL_BATCH = 2  # the GroupNorm paper's smallest batch per GPU
SMALL_BATCH_SEEDS = 3  # seed, seed + 1, seed + 2: decided as the lesson decides a race (races.py)


@register_claim("norms.group_norm_equivalences", lesson="norms", source="001",
                lecture="GN with 1 group = LN; with C groups = IN",
                statement="GroupNorm with one group is LayerNorm over (C, H, W); GroupNorm with C groups is "
                          "InstanceNorm")
def group_norm_equivalences(seed: int) -> tuple[bool, str]:
    result = equivalences(shape=LESSON_SHAPE, seed=seed)
    parts = [f"{r['pair']}, {r['dtype']}: {r['max_abs_diff']:.2g}" for r in result.rows]
    tol = {r["dtype"]: r["tolerance"] for r in result.rows}
    return result.equal, (
        f"max abs difference on one N(0, 1) tensor {LESSON_SHAPE}: " + "; ".join(parts)
        + f" (tolerance {tol['float32']:g} in float32, {tol['float64']:g} in float64)")


@register_claim("norms.batch_size_one_breaks_batchnorm", lesson="norms", source="000",
                lecture="batch size 1: variance 0, BN does not work",
                statement="with a batch size of 1 the variance is 0 (x_norm = x - m = 0) and batch normalisation "
                          "does not work")
def batch_size_one_breaks_batchnorm(seed: int) -> tuple[bool, str]:
    r = batch_one(seed=seed)
    conv = (f"; on a conv map (1, C, H, W) PyTorch accepts it and it is InstanceNorm in training (max abs diff "
            f"{r.conv_vs_instance:.2g})" if r.conv_accepted else "; refused on conv maps too")
    return r.breaks_batchnorm, (
        f"training refused by PyTorch: \"{r.error}\"; by hand x - m = {r.centred_max:g}, variance "
        f"{r.variance_max:g}, 4 different samples give one output (range {r.output_spread:g}), input gradient "
        f"{r.input_grad_max:g}" + conv)


@functools.lru_cache(maxsize=4)
def _small_batch_runs(seed: int, dataset: str = DEFAULTS.dataset) -> tuple[NormRun, ...]:
    """The lesson's sweep at batch 2 only, BatchNorm and GroupNorm, seeds seed..seed + 2, on ``dataset``."""
    cfg = NormsConfig(seed=seed, dataset=dataset, sweep_norms=["batch", "group"], sweep_batches=[str(SMALL_BATCH)],
                      sweep_seeds=SMALL_BATCH_SEEDS)
    runs: list[NormRun] = []
    for _, runs in train_final(lesson_dataset(cfg.dataset, seed=seed), cfg.sweep_specs(), depth=cfg.depth,
                               width=cfg.width, groups=cfg.groups, epochs=cfg.sweep_epochs,
                               control=RunControl(budget_s=float("inf")), train_images=cfg.sweep_images):
        pass
    return tuple(runs)


@register_claim("norms.group_beats_batch_at_batch_2", lesson="norms", source="001",
                lecture="GroupNorm beats BatchNorm at batch size 2",
                statement="when the batch is small (compute constraints), GroupNorm works where BatchNorm "
                          "degrades: at batch size 2 GroupNorm trains the better network")
def group_beats_batch_at_batch_2(seed: int) -> tuple[bool | None, str]:
    race = group_vs_batch(_small_batch_runs(seed), range(seed, seed + SMALL_BATCH_SEEDS), SMALL_BATCH)
    return race.a_wins, (
        f"test accuracy at batch {SMALL_BATCH} ({DEFAULTS.sweep_images} digits, {DEFAULTS.sweep_epochs} epochs, "
        f"lr {DEFAULTS.lr_at(SMALL_BATCH):g}, {DEFAULTS.groups} groups): {per_seed(race, NAMES)}; "
        f"{race_words(race, NAMES)}")


@register_claim(real_data.CLAIM_ID, lesson="norms", source="001",
                lecture="GroupNorm beats BatchNorm at batch size 2",
                statement="on real images (Fashion-MNIST 28x28): when the batch is small, GroupNorm works where "
                          "BatchNorm degrades: at batch size 2 GroupNorm trains the better network")
def group_beats_batch_at_batch_2_real(seed: int) -> tuple[bool | None, str]:
    dataset = real_data.CLAIM_SET
    race = group_vs_batch(_small_batch_runs(seed, dataset), range(seed, seed + SMALL_BATCH_SEEDS), SMALL_BATCH,
                          margin=real_data.margin_for(dataset))
    return race.a_wins, (
        f"test accuracy at batch {SMALL_BATCH} ({DEFAULTS.sweep_images} {dataset_label(dataset)} images, "
        f"{DEFAULTS.sweep_epochs} epochs, lr {DEFAULTS.lr_at(SMALL_BATCH):g}, {DEFAULTS.groups} groups): "
        f"{per_seed(race, NAMES)}; {race_words(race, NAMES)} (the line fixed before the run; the GroupNorm paper's "
        f"lead on ImageNet: {real_data.PAPER_LEAD * 100:.1f} points)")


@register_claim("norms.instance_norm_contrast_invariance", lesson="norms", source="001",
                lecture="InstanceNorm is invariant to contrast",
                statement="InstanceNorm is invariant to the contrast of the content image")
def instance_norm_contrast_invariance(seed: int) -> tuple[bool | None, str]:
    cfg = DEFAULTS
    r = contrast_on_dataset(lesson_dataset(cfg.dataset, seed=seed), scale=cfg.contrast_scale,
                            shift=cfg.contrast_shift, seed=seed)
    c = r.change
    return r.invariant, (
        f"x -> {r.scale:g} x + {r.shift:g}: {contrast_words(r)} (line {INVARIANT_RATIO:.0%}); with eps = 0 "
        f"InstanceNorm {r.instance_without_eps:.1g}; LayerNorm {c['layer']:.2g}, GroupNorm {c['group']:.2g}")
