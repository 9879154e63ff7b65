"""The transfer-learning claims of lectures 000-004, measured on the lesson's defaults (digits 0-4
-> digits 5-9) at the seeds its verdicts use: ``check(seed)`` decides over seed, seed+1, seed+2
with the same result objects, predicates and sentences as the lesson's verdicts."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.lessons.transfer import imagenet_source, verdicts
from cnnbp.lessons.transfer.comparison import Scores, SeedScores, forgetting, forgetting_rows
from cnnbp.lessons.transfer.config import AVAILABLE, TransferConfig
from cnnbp.lessons.transfer.selection import SeedSelection, Selection, rank_sources
from cnnbp.lessons.transfer.sources import load_source
from cnnbp.lessons.transfer.strategies import EVALS, History, Run, make_split, train_runs
from cnnbp.lessons.transfer.sweep import SGD_SIZE_STRATEGIES, measure_scores
from cnnbp.lessons.transfer.tasks import TARGETS, get_source_task, get_target, subsample
from cnnbp.train import RunControl

LARGE = AVAILABLE["digits_5to9"]  # "large": every training image of digits 5-9 (139 per class)


@functools.cache
def defaults(seed: int = 0) -> TransferConfig:
    """The lesson's default settings at ``seed``, built on first use: validating them reads the shipped
    source, and a corrupt or missing file must fail that claim's check, not the import of the app."""
    return TransferConfig(seed=seed)


def _unbounded() -> RunControl:
    return RunControl(budget_s=float("inf"))


@functools.lru_cache(maxsize=32)
def _scores(seed: int, per_class: int) -> Scores:
    """Linear probe, freeze, fine-tune and scratch on the defaults at one seed (claims over
    overlapping seed ranges share them)."""
    cfg = defaults(seed)
    return measure_scores(cfg, load_source(cfg.source), get_target(cfg.target), per_class, _unbounded(),
                          {seed: SGD_SIZE_STRATEGIES})[seed]


def _seed_scores(seed: int, per_class: int) -> SeedScores:
    cfg = defaults(seed)
    return SeedScores([_scores(s, per_class) for s in cfg.verdict_seeds()], steps=cfg.steps,
                      eval_every=max(1, cfg.steps // EVALS))


def _values(scores: SeedScores, key: str) -> str:
    return " / ".join(f"{r.accuracy[key]:.1%}" for r in scores.rows)


@register_claim("transfer.small_similar_frozen_beats_scratch", lesson="transfer", source="000, 001, 003, 004",
                lecture="small similar target: frozen beats scratch",
                statement="small target similar to the source: frozen features + a linear classifier beat training "
                          "from scratch")
def small_similar_frozen_beats_scratch(seed: int) -> tuple[bool | None, str]:
    cfg, scores = defaults(seed), _seed_scores(seed, defaults(seed).images_per_class)
    return scores.frozen_vs_scratch.holds, (
        f"{cfg.source} -> {cfg.target}, {cfg.images_per_class} images per class, seeds "
        f"{'/'.join(map(str, scores.seeds))}: linear probe {_values(scores, 'linear_probe')} vs scratch "
        f"{_values(scores, 'scratch')} ({cfg.steps} steps). " + verdicts.frozen_call(scores))


@register_claim("transfer.large_finetune_beats_freezing", lesson="transfer", source="000, 001, 004",
                lecture="large target: fine-tuning beats freezing",
                statement="large target: fine-tuning beats freezing the source")
def large_finetune_beats_freezing(seed: int) -> tuple[bool | None, str]:
    cfg, scores = defaults(seed), _seed_scores(seed, LARGE)
    return scores.finetune_vs_frozen.holds, (
        f"{LARGE} images per class (all of {cfg.target}), seeds {'/'.join(map(str, scores.seeds))}: fine-tune "
        f"{_values(scores, 'finetune')}, linear probe {_values(scores, 'linear_probe')}, bottom "
        f"{cfg.freeze_stages} frozen {_values(scores, 'freeze')}. " + verdicts.finetune_call(scores))


@register_claim("transfer.pretrained_converges_faster", lesson="transfer", source="000, 002",
                lecture="pretrained converges in fewer steps",
                statement="a pretrained network reaches a target accuracy in fewer steps than one trained from scratch")
def pretrained_converges_faster(seed: int) -> tuple[bool | None, str]:
    cfg, scores = defaults(seed), _seed_scores(seed, defaults(seed).images_per_class)
    steps = lambda s: " / ".join("never" if v is None else str(v) for v in scores.settled(s))  # noqa: E731
    return scores.convergence.holds, (
        f"steps until the test accuracy stays at {cfg.target_accuracy:.0%}, {cfg.images_per_class} images per class "
        f"of {cfg.target}, seeds {'/'.join(map(str, scores.seeds))}: fine-tuned {steps('finetune')}, scratch "
        f"{steps('scratch')} (of {cfg.steps}, evaluated every {scores.eval_every}). "
        + verdicts.convergence_call(scores))


@register_claim("transfer.large_lr_forgets", lesson="transfer", source="000, 002",
                lecture="a large fine-tuning rate forgets the source",
                statement="a larger fine-tuning learning rate moves the model away from its learnt weights: it "
                          "forgets the source task")
def large_lr_forgets(seed: int) -> tuple[bool | None, str]:
    cfg = defaults(seed)
    source, task, src = load_source(cfg.source), get_target(cfg.target), get_source_task(cfg.source)
    seeds = cfg.verdict_seeds()
    splits = {s: make_split(task, *subsample(task, cfg.images_per_class, seed=s), source) for s in seeds}
    runs = [Run("finetune", lr, f"lr {lr:g}, seed {s}", s) for s in seeds for lr in (cfg.lr, cfg.forget_lr)]
    histories: list[History] = []
    for _, histories in train_runs(runs, splits, control=_unbounded(), source_test=(src.x_test, src.y_test),
                                   **cfg.train_kwargs(source, task.num_classes)):
        pass
    result = forgetting(forgetting_rows(histories), lr=cfg.lr, forget_lr=cfg.forget_lr, chance=1 / task.num_classes)
    after = lambda rows: " / ".join(f"{r['after']:.1%}" for r in rows)  # noqa: E731
    return result.lead.holds, (
        f"{cfg.source}'s own test accuracy {result.low[0]['before']:.1%} before; after {cfg.steps} fine-tuning steps "
        f"on {cfg.target} (seeds {'/'.join(map(str, seeds))}): {after(result.low)} at lr {cfg.lr:g}, "
        f"{after(result.high)} at lr {cfg.forget_lr:g}. " + verdicts.forgetting_call(result)
        + (" At the large rate the target is at chance too: a collapse, not a trade." if result.wrecked else ""))


@register_claim("transfer.similarity_ranks_sources", lesson="transfer", source="002",
                lecture="feature similarity ranks the sources",
                statement="the similarity of the mean feature vectors of source and target data ranks the sources "
                          "in the order of their transfer accuracy")
def similarity_ranks_sources(seed: int) -> tuple[bool | None, str]:
    cfg = defaults(seed)
    seeds = cfg.verdict_seeds()
    by_target = {}
    for target in TARGETS:
        task = get_target(target)
        by_target[target] = rank_sources(task, {s: subsample(task, cfg.images_per_class, seed=s) for s in seeds})
    pooled = SeedSelection(seeds, [Selection([row for t in TARGETS for row in by_target[t].results[i].rows])
                                   for i in range(len(seeds))])
    rhos = lambda sel: " / ".join(f"{r.spearman:.2f}" for r in sel.results)  # noqa: E731
    return pooled.ranks_sources.holds, (
        f"{len(pooled.results[0].rows)} source-target pairs, {cfg.images_per_class} images per class, linear probe, "
        f"seeds {'/'.join(map(str, seeds))}: Spearman {rhos(pooled)} pooled ("
        + "; ".join(f"{t}: {rhos(sel)}" for t, sel in by_target.items()) + "). " + verdicts.selection_call(pooled))


# The same claims on real data, beside the toy ones: ImageNet (EfficientNet-Lite0) -> Fashion-MNIST (the
# similar target: ImageNet has its kinds of object), the lesson's ImageNet settings; and the MNIST source
# on the bundled 8x8 digits.
@functools.lru_cache(maxsize=16)
def _imagenet_scores(seed: int, per_class: int, strategies: tuple[str, ...]) -> Scores:
    from cnnbp.lessons.transfer import imagenet_parts

    cfg = defaults(seed)
    result = None
    for _, _, result in imagenet_parts.measure(cfg, imagenet_source.SIMILAR_TARGET, per_class, {seed: strategies},
                                               _unbounded()):
        pass
    return result.scores.rows[0]


def _imagenet_seed_scores(seed: int, per_class: int, strategies: tuple[str, ...]) -> SeedScores:
    cfg = defaults(seed)
    return SeedScores([_imagenet_scores(s, per_class, strategies) for s in cfg.verdict_seeds()],
                      steps=cfg.imagenet_steps, eval_every=max(1, cfg.imagenet_steps // EVALS))


@register_claim("transfer.imagenet_small_frozen_beats_scratch", lesson="transfer", source="000, 001, 003, 004",
                lecture="small similar target: frozen beats scratch",
                statement="on real images: a small target similar to the source (ImageNet -> Fashion-MNIST): frozen "
                          "features + a linear classifier beat training from scratch")
def imagenet_small_frozen_beats_scratch(seed: int) -> tuple[bool | None, str]:
    cfg = defaults(seed)
    scores = _imagenet_seed_scores(seed, cfg.imagenet_per_class, ("linear_probe", "scratch"))
    return scores.ahead("linear_probe", "scratch").holds, (
        f"ImageNet (EfficientNet-Lite0) -> {imagenet_source.SIMILAR_TARGET}, {cfg.imagenet_per_class} images per "
        f"class at {cfg.imagenet_size} px, seeds {'/'.join(map(str, scores.seeds))}: linear probe "
        f"{_values(scores, 'linear_probe')} vs scratch {_values(scores, 'scratch')} ({cfg.imagenet_steps} steps). "
        + verdicts.imagenet_frozen_call(scores))


@register_claim("transfer.imagenet_large_finetune_beats_freezing", lesson="transfer", source="000, 001, 004",
                lecture="large target: fine-tuning beats freezing",
                statement="on real images: a large target (ImageNet -> Fashion-MNIST): fine-tuning beats freezing")
def imagenet_large_finetune_beats_freezing(seed: int) -> tuple[bool | None, str]:
    cfg = defaults(seed)
    scores = _imagenet_seed_scores(seed, cfg.imagenet_large, ("linear_probe", "top"))
    return scores.ahead("top", "linear_probe").holds, (
        f"ImageNet -> {imagenet_source.SIMILAR_TARGET}, {cfg.imagenet_large} images per class at {cfg.imagenet_size} "
        f"px, seeds {'/'.join(map(str, scores.seeds))}: the last {cfg.imagenet_stages} stage(s) and head fine-tuned "
        f"{_values(scores, 'top')} vs frozen features + logistic regression {_values(scores, 'linear_probe')} "
        f"({cfg.imagenet_steps} steps; every weight fine-tuned: the claim after this). "
        + verdicts.imagenet_finetune_call(scores))


@register_claim("transfer.imagenet_large_finetune_all_beats_freezing", lesson="transfer", source="001, 003",
                lecture="large similar target: fine-tune all layers",
                statement="on real images: a large target similar to the source (ImageNet -> Fashion-MNIST): "
                          "fine-tuning all layers beats freezing them (frozen features + a linear classifier)")
def imagenet_large_finetune_all_beats_freezing(seed: int) -> tuple[bool | None, str]:
    cfg = defaults(seed)
    scores = _imagenet_seed_scores(seed, cfg.imagenet_large, ("linear_probe", "finetune_all"))
    return scores.ahead("finetune_all", "linear_probe").holds, (
        f"ImageNet -> {imagenet_source.SIMILAR_TARGET}, {cfg.imagenet_large} images per class at {cfg.imagenet_size} "
        f"px, seeds {'/'.join(map(str, scores.seeds))}: every weight fine-tuned {_values(scores, 'finetune_all')} "
        f"vs frozen features + logistic regression {_values(scores, 'linear_probe')} ({cfg.imagenet_steps} SGD steps "
        f"at lr {cfg.imagenet_lr:g}, batch {cfg.batch_size}). "
        + verdicts.imagenet_finetune_all_call(scores))


@register_claim("transfer.domain_shift_costs_accuracy", lesson="transfer", source="001",
                lecture="a domain shift lowers accuracy",
                statement="supervised pretraining under a domain shift (train on MNIST, test on other digits): the "
                          "accuracy drops")
def domain_shift_costs_accuracy(seed: int) -> tuple[bool | None, str]:
    from cnnbp.lessons.transfer import domain_shift

    own, shifted = domain_shift.direct_accuracy(load_source(domain_shift.SOURCE))
    return own - shifted > domain_shift.SHIFT_LINE, (
        f"the shipped MNIST CNN untouched: {own:.1%} on MNIST's test set, {shifted:.1%} on the bundled 8x8 digits "
        f"(upsampled to 28x28): {own - shifted:+.1%}, line {domain_shift.SHIFT_LINE:.0%} (one model: the same at "
        "every seed)")
