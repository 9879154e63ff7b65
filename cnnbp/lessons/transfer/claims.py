"""The transfer-learning claims of lectures 000-004, measured on the lesson's defaults
(digits 0-4 -> digits 5-9; several seeds where one run is noisy)."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.lessons.transfer.lesson import AVAILABLE, CHANCE_MARGIN, FORGET_MARGIN, RHO_LINE, TransferConfig, forgetting_rows
from cnnbp.lessons.transfer.selection import spearman
from cnnbp.lessons.transfer.sources import load_source
from cnnbp.lessons.transfer.strategies import History, Run, linear_probe, make_split, train_runs
from cnnbp.lessons.transfer.tasks import TARGETS, get_source_task, get_target, subsample
from cnnbp.train import RunControl



@functools.cache
def defaults() -> TransferConfig:
    """The lesson's default settings, built on first use: validating them reads the shipped source,
    and a corrupt or missing file must fail that claim's check, not the import of the app."""
    return TransferConfig()

SEEDS = (0, 1, 2)
MAJORITY = 2  # a claim over SEEDS holds when it holds on at least 2 of the 3 (fixed before any run)
LARGE = AVAILABLE["digits_5to9"]  # "large": every training image of digits 5-9 (139 per class)


@functools.lru_cache(maxsize=8)
def _measure(seed: int, per_class: int) -> tuple[float, dict[str, History]]:
    """(linear-probe accuracy, {strategy: history}) for finetune/freeze/scratch on the defaults."""
    cfg = defaults()
    source, task = load_source(cfg.source), get_target(cfg.target)
    x, y = subsample(task, per_class, seed=seed)
    split = make_split(task, x, y, source)
    histories: list[History] = []
    for _, histories in train_runs([Run(s, cfg.lr) for s in ("finetune", "freeze", "scratch")], split,
                                   source=source, num_classes=task.num_classes, steps=cfg.steps,
                                   batch_size=cfg.batch_size, seed=seed, freeze_stages=cfg.freeze_stages,
                                   lora_rank=cfg.lora_rank, lr_ratio=cfg.lr_ratio,
                                   control=RunControl(budget_s=float("inf"))):
        pass
    return linear_probe(source.model, split, stage=cfg.stage), {h.strategy: h for h in histories}


@register_claim("transfer.small_similar_frozen_beats_scratch", lesson="transfer", source="000, 001, 003, 004",
                statement="small target similar to the source: frozen features + a linear classifier beat training "
                          "from scratch")
def small_similar_frozen_beats_scratch() -> tuple[bool, str]:
    n, wins, parts = defaults().images_per_class, 0, []
    for seed in SEEDS:
        probe, runs = _measure(seed, n)
        scratch = runs["scratch"].final_accuracy
        wins += probe > scratch
        parts.append(f"seed {seed}: {probe:.1%} vs {scratch:.1%}")
    cfg = defaults()
    return wins >= MAJORITY, (f"{cfg.source} -> {cfg.target}, {n} images per class, linear probe vs scratch "
                              f"({cfg.steps} steps): " + "; ".join(parts) + f"; frozen better on {wins}/{len(SEEDS)}")


@register_claim("transfer.large_finetune_beats_freezing", lesson="transfer", source="000, 001, 004",
                statement="large target: fine-tuning beats freezing the source")
def large_finetune_beats_freezing() -> tuple[bool, str]:
    wins, parts = 0, []
    for seed in SEEDS:
        probe, runs = _measure(seed, LARGE)
        ft, fr = runs["finetune"].final_accuracy, runs["freeze"].final_accuracy
        wins += ft > max(probe, fr)
        parts.append(f"seed {seed}: fine-tune {ft:.1%}, linear probe {probe:.1%}, "
                     f"bottom {defaults().freeze_stages} frozen {fr:.1%}")
    return wins >= MAJORITY, (f"{LARGE} images per class (all of {defaults().target}): " + "; ".join(parts)
                              + f"; fine-tuning best on {wins}/{len(SEEDS)}")


@register_claim("transfer.large_lr_forgets", lesson="transfer", source="000, 002",
                statement="a larger fine-tuning learning rate moves the model away from its learnt weights: it "
                          "forgets the source task")
def large_lr_forgets() -> tuple[bool, str]:
    cfg = defaults()
    source, task = load_source(cfg.source), get_target(cfg.target)
    x, y = subsample(task, cfg.images_per_class, seed=0)
    src = get_source_task(cfg.source)
    histories: list[History] = []
    for _, histories in train_runs([Run("finetune", cfg.lr), Run("finetune", cfg.forget_lr, "high")],
                                   make_split(task, x, y, source), source=source, num_classes=task.num_classes,
                                   steps=cfg.steps, batch_size=cfg.batch_size, seed=0, freeze_stages=cfg.freeze_stages,
                                   lora_rank=cfg.lora_rank, lr_ratio=cfg.lr_ratio,
                                   control=RunControl(budget_s=float("inf")), source_test=(src.x_test, src.y_test)):
        pass
    low, high = forgetting_rows(cfg, histories)
    return high["drop"] > low["drop"] + FORGET_MARGIN, (
        f"{cfg.source}'s own test accuracy {low['before']:.1%} before; after {cfg.steps} fine-tuning steps on "
        f"{cfg.target}: {low['after']:.1%} at lr {cfg.lr:g}, {high['after']:.1%} at lr {cfg.forget_lr:g} (target "
        f"accuracy {low['target']:.1%} vs {high['target']:.1%}"
        + ("; at chance: the large rate wrecks the network)" if high["target"] <= 1 / task.num_classes + CHANCE_MARGIN
           else ")"))


@register_claim("transfer.pretrained_converges_faster", lesson="transfer", source="000, 002",
                statement="a pretrained network reaches a target accuracy in fewer steps than one trained from scratch")
def pretrained_converges_faster() -> tuple[bool, str]:
    target, n, wins, parts = defaults().target_accuracy, defaults().images_per_class, 0, []
    for seed in SEEDS:
        _, runs = _measure(seed, n)
        f, s = runs["finetune"].steps_to(target), runs["scratch"].steps_to(target)
        wins += f is not None and (s is None or f < s)
        parts.append(f"seed {seed}: fine-tuned {f if f is not None else 'never'}, scratch "
                     f"{s if s is not None else 'never'}")
    return wins >= MAJORITY, (f"steps to {target:.0%} test accuracy, {n} images per class of {defaults().target}: "
                              + "; ".join(parts) + f" (of {defaults().steps}); pretrained faster on {wins}/{len(SEEDS)}")


@register_claim("transfer.similarity_ranks_sources", lesson="transfer", source="002",
                statement="the similarity of the mean feature vectors of source and target data ranks the sources "
                          "in the order of their transfer accuracy")
def similarity_ranks_sources() -> tuple[bool, str]:
    from cnnbp.lessons.transfer.lesson import selection_rows

    rows, parts = [], []
    for target in TARGETS:
        task = get_target(target)
        x, y = subsample(task, defaults().images_per_class, seed=0)
        these = selection_rows(x, y, task)
        rows += these
        parts.append(f"{target}: Spearman {spearman([r['similarity'] for r in these], [r['accuracy'] for r in these]):.2f}")
    rho = spearman([r["similarity"] for r in rows], [r["accuracy"] for r in rows])
    return rho >= RHO_LINE, (f"{len(rows)} source-target pairs, {defaults().images_per_class} images per class, "
                             f"linear probe: Spearman {rho:.2f} pooled (" + "; ".join(parts) + f"; line {RHO_LINE:g})")
