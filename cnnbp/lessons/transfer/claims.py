"""The transfer-learning claims of lectures 000-004, measured on the lesson's defaults
(digits 0-4 -> digits 5-9; several seeds where one run is noisy). Each reads the predicate
its lesson verdict reads, on the same result objects."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.lessons.transfer.comparison import Scores, forgetting, forgetting_rows
from cnnbp.lessons.transfer.config import AVAILABLE, TransferConfig
from cnnbp.lessons.transfer.selection import RHO_LINE, Selection, rank_sources
from cnnbp.lessons.transfer.sources import load_source
from cnnbp.lessons.transfer.strategies import History, Run, make_split, train_runs
from cnnbp.lessons.transfer.sweep import size_scores
from cnnbp.lessons.transfer.tasks import TARGETS, get_source_task, get_target, subsample
from cnnbp.train import RunControl

MAJORITY = 2  # a claim over 3 seeds holds when it holds on at least 2 of them (fixed before any run)
LARGE = AVAILABLE["digits_5to9"]  # "large": every training image of digits 5-9 (139 per class)


@functools.cache
def defaults(seed: int = 0) -> TransferConfig:
    """The lesson's default settings at ``seed``, built on first use: validating them reads the shipped
    source, and a corrupt or missing file must fail that claim's check, not the import of the app."""
    return TransferConfig(seed=seed)


def seeds(seed: int) -> tuple[int, int, int]:
    return seed, seed + 1, seed + 2


@functools.lru_cache(maxsize=8)
def _measure(seed: int, per_class: int) -> Scores:
    """Linear probe, freeze, fine-tune and scratch on the defaults at ``seed``."""
    cfg = defaults(seed)
    return size_scores(cfg, load_source(cfg.source), get_target(cfg.target), per_class,
                       RunControl(budget_s=float("inf")))


@register_claim("transfer.small_similar_frozen_beats_scratch", lesson="transfer", source="000, 001, 003, 004",
                statement="small target similar to the source: frozen features + a linear classifier beat training "
                          "from scratch")
def small_similar_frozen_beats_scratch(seed: int) -> tuple[bool, str]:
    cfg, wins, parts = defaults(), 0, []
    for s in seeds(seed):
        scores = _measure(s, cfg.images_per_class)
        wins += scores.frozen_beats_scratch
        parts.append(f"seed {s}: {scores.accuracy['linear_probe']:.1%} vs {scores.accuracy['scratch']:.1%}")
    return wins >= MAJORITY, (f"{cfg.source} -> {cfg.target}, {cfg.images_per_class} images per class, linear probe "
                              f"vs scratch ({cfg.steps} steps): " + "; ".join(parts) + f"; frozen better on {wins}/3")


@register_claim("transfer.large_finetune_beats_freezing", lesson="transfer", source="000, 001, 004",
                statement="large target: fine-tuning beats freezing the source")
def large_finetune_beats_freezing(seed: int) -> tuple[bool, str]:
    wins, parts = 0, []
    for s in seeds(seed):
        scores = _measure(s, LARGE)
        wins += scores.finetune_beats_freezing
        parts.append(f"seed {s}: fine-tune {scores.accuracy['finetune']:.1%}, linear probe "
                     f"{scores.accuracy['linear_probe']:.1%}, bottom {defaults().freeze_stages} frozen "
                     f"{scores.accuracy['freeze']:.1%}")
    return wins >= MAJORITY, (f"{LARGE} images per class (all of {defaults().target}): " + "; ".join(parts)
                              + f"; fine-tuning best on {wins}/3")


@register_claim("transfer.large_lr_forgets", lesson="transfer", source="000, 002",
                statement="a larger fine-tuning learning rate moves the model away from its learnt weights: it "
                          "forgets the source task")
def large_lr_forgets(seed: int) -> tuple[bool, str]:
    cfg = defaults(seed)
    source, task = load_source(cfg.source), get_target(cfg.target)
    x, y = subsample(task, cfg.images_per_class, seed=seed)
    src = get_source_task(cfg.source)
    histories: list[History] = []
    for _, histories in train_runs([Run("finetune", cfg.lr), Run("finetune", cfg.forget_lr, "high")],
                                   make_split(task, x, y, source), control=RunControl(budget_s=float("inf")),
                                   source_test=(src.x_test, src.y_test), **cfg.train_kwargs(source, task.num_classes)):
        pass
    result = forgetting(forgetting_rows(histories), lr=cfg.lr, forget_lr=cfg.forget_lr, chance=1 / task.num_classes)
    low, high = result.low, result.high
    return result.forgets, (
        f"{cfg.source}'s own test accuracy {low['before']:.1%} before; after {cfg.steps} fine-tuning steps on "
        f"{cfg.target}: {low['after']:.1%} at lr {cfg.lr:g}, {high['after']:.1%} at lr {cfg.forget_lr:g} (target "
        f"accuracy {low['target']:.1%} vs {high['target']:.1%}"
        + ("; at chance: the large rate wrecks the network)" if result.wrecked else ")"))


@register_claim("transfer.pretrained_converges_faster", lesson="transfer", source="000, 002",
                statement="a pretrained network reaches a target accuracy in fewer steps than one trained from scratch")
def pretrained_converges_faster(seed: int) -> tuple[bool, str]:
    cfg, wins, parts = defaults(), 0, []
    for s in seeds(seed):
        scores = _measure(s, cfg.images_per_class)
        wins += scores.pretrained_faster
        f, sc = scores.steps_to["finetune"], scores.steps_to["scratch"]
        parts.append(f"seed {s}: fine-tuned {f if f is not None else 'never'}, scratch "
                     f"{sc if sc is not None else 'never'}")
    return wins >= MAJORITY, (f"steps to {cfg.target_accuracy:.0%} test accuracy, {cfg.images_per_class} images per "
                              f"class of {cfg.target}: " + "; ".join(parts) + f" (of {cfg.steps}); pretrained faster "
                              f"on {wins}/3")


@register_claim("transfer.similarity_ranks_sources", lesson="transfer", source="002",
                statement="the similarity of the mean feature vectors of source and target data ranks the sources "
                          "in the order of their transfer accuracy")
def similarity_ranks_sources(seed: int) -> tuple[bool, str]:
    rows, parts = [], []
    for target in TARGETS:
        task = get_target(target)
        x, y = subsample(task, defaults().images_per_class, seed=seed)
        these = rank_sources(x, y, task)
        rows += these.rows
        parts.append(f"{target}: Spearman {these.spearman:.2f}")
    pooled = Selection(rows)
    return pooled.ranks_sources, (f"{len(rows)} source-target pairs, {defaults().images_per_class} images per class, "
                                  f"linear probe: Spearman {pooled.spearman:.2f} pooled (" + "; ".join(parts)
                                  + f"; line {RHO_LINE:g})")
