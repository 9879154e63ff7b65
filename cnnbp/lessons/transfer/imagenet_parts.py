"""The transfer lesson's ImageNet parts: the EfficientNet-Lite0 source on MNIST / Fashion-MNIST,
every strategy side by side (``imagenet``), and the lecture's 2x2 rule of thumb with it
(``imagenet_rule``). The experiments live in :mod:`.imagenet_source`; this module runs them at
the verdict seeds and hands their results to the figures and verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import pandas as pd

from cnnbp.data import dataset_label
from cnnbp.lessons.base import RunState, Update
from cnnbp.lessons.transfer import figures
from cnnbp.lessons.transfer import imagenet_source as source
from cnnbp.lessons.transfer.comparison import Scores, SeedScores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.strategies import EVALS, History, Run
from cnnbp.lessons.transfer.verdicts import imagenet_rule_verdicts, imagenet_verdicts
from cnnbp.train import RunControl

VERDICT_STRATEGIES = ("top", "scratch")  # what the other verdict seeds train: the convergence verdict's pair
# every weight fine-tuned: the other verdict seeds train it where the probe runs too (its verdict's pair), ~15 s a seed
ALL_VS_FROZEN = ("finetune_all",)
RULE_STRATEGIES = ("linear_probe", "top", "scratch")


@dataclass
class ImagenetResult:
    """Every run of the part (all seeds), the linear probe per seed, the scores per seed."""

    histories: list[History]
    scores: SeedScores
    computed: int  # images that went through the frozen bottom in this run (the rest came from the cache)


def measure(cfg: TransferConfig, target: str, per_class: int, chosen: Mapping[int, Sequence[str]],
            control: RunControl) -> Iterator[tuple[float, list[History], ImagenetResult | None]]:
    """The linear probe and the SGD runs ``chosen[seed]`` at each seed, in one lockstep; yields
    (progress, histories, None) while training, then (1.0, histories, the result)."""
    task = source.get_target(target, cfg.imagenet_test_per_class)
    before = _computed(cfg, target)
    splits = {s: source.cached_split(task, per_class, s, size=cfg.imagenet_size, train_stages=cfg.imagenet_stages)
              for s in chosen}
    probe = {s: source.linear_probe(splits[s], cfg.imagenet_stages) for s, st in chosen.items()
             if "linear_probe" in st}
    runs = [Run(st, cfg.lr if st == "scratch" else cfg.imagenet_lr, st if s == cfg.seed else f"{st}, seed {s}", s)
            for s, strategies in chosen.items() for st in strategies if st in source.SGD]
    histories: list[History] = []
    if runs:
        for progress, histories in source.train(runs, splits, num_classes=task.num_classes,
                                                train_stages=cfg.imagenet_stages, size=cfg.imagenet_size,
                                                lora_rank=cfg.lora_rank, steps=cfg.imagenet_steps,
                                                batch_size=cfg.batch_size, control=control):
            yield progress, histories, None
        if control.stop_reason():
            return
    rows = []
    for s in chosen:
        mine = [h for h in histories if h.seed == s]
        rows.append(Scores(per_class, len(splits[s].y_train),
                           {**({"linear_probe": probe[s]} if s in probe else {}),
                            **{h.strategy: h.final_accuracy for h in mine}},
                           {h.strategy: h.steps_to(cfg.imagenet_target_accuracy) for h in mine}, s))
    scores = SeedScores(rows, steps=cfg.imagenet_steps, eval_every=max(1, cfg.imagenet_steps // EVALS))
    yield 1.0, histories, ImagenetResult(histories, scores, _computed(cfg, target) - before)


def _computed(cfg: TransferConfig, target: str) -> int:
    """Images put through the bottom so far for ``target`` at the run's size and cut (train and test)."""
    cut = source.cut_for(cfg.imagenet_stages)
    return sum(source.store_for(target, split, cfg.imagenet_size, cut).computed for split in ("train", "test"))


def chosen_runs(cfg: TransferConfig) -> dict[int, tuple[str, ...]]:
    """At the run's seed the chosen strategies; at the other verdict seeds the probe and what the
    verdicts compare."""
    mine = tuple(cfg.imagenet_strategies)
    compared = ALL_VS_FROZEN if "linear_probe" in mine else ()
    others = tuple(s for s in ("linear_probe", *VERDICT_STRATEGIES, *compared) if s in mine)
    return {s: mine if s == cfg.seed else others for s in cfg.verdict_seeds()}


def imagenet(state: RunState) -> Iterator[Update]:
    """Every chosen strategy from the ImageNet network on k images per class, curves streaming."""
    cfg: TransferConfig = state.cfg
    yield Update(0.02, f"ImageNet features of {dataset_label(cfg.imagenet_target)} at {cfg.imagenet_size} px ...")
    result = None
    for progress, histories, result in measure(cfg, cfg.imagenet_target, cfg.imagenet_per_class, chosen_runs(cfg),
                                               state.control):
        if result is None:
            yield Update(0.05 + 0.9 * progress, f"training {len(histories)} runs from ImageNet",
                         figures={"imagenet": lambda h=histories: figures.imagenet_curves(h, None, cfg)})
    if result is None:
        return
    table = strategy_table(cfg, result)
    numbers = {"imagenet": {"target": cfg.imagenet_target, "per_class": cfg.imagenet_per_class,
                            "size": cfg.imagenet_size, "stages": cfg.imagenet_stages,
                            "seeds": result.scores.seeds, "strategies": table,
                            "per_seed": [r.as_dict() for r in result.scores.rows]}}
    # the cache's work is said, not put in the numbers: a second run of the same settings must give the same ones
    yield Update(1.0, f"ImageNet strategies trained ({result.computed} images through the network, the rest from "
                      "the cache)",
                 figures={"imagenet": figures.imagenet_curves(result.histories, result.scores, cfg)},
                 tables={"imagenet": pd.DataFrame(table)}, numbers=numbers,
                 verdicts=imagenet_verdicts(cfg, result.scores, table))


def strategy_table(cfg: TransferConfig, result: ImagenetResult) -> list[dict]:
    """One row per strategy at the run's seed: accuracy, trainable weights and their share of the
    network, steps until it stays at the target accuracy."""
    row = result.scores.rows[0]
    out = []
    if "linear_probe" in row.accuracy:
        classes = source.CLASSES
        trainable = (source.imagenet.FEATURE_DIM + 1) * classes
        out.append({"strategy": "linear_probe", "accuracy": row.accuracy["linear_probe"], "trainable": trainable,
                    "share": trainable / (source.bottom_parameters(cfg.imagenet_stages) + _top_parameters(cfg)),
                    "steps_to_target": None})
    for h in result.histories:
        if h.seed == cfg.seed:
            out.append({"strategy": h.strategy, "accuracy": h.final_accuracy, "trainable": h.trainable,
                        "share": h.trainable / h.total, "steps_to_target": h.steps_to(cfg.imagenet_target_accuracy)})
    return out


def _top_parameters(cfg: TransferConfig) -> int:
    net = source.build("top", num_classes=10, train_stages=cfg.imagenet_stages, size=cfg.imagenet_size,
                       lora_rank=1, seed=0)
    return sum(p.numel() for p in net.parameters())


def imagenet_rule(state: RunState) -> Iterator[Update]:
    """{similar, dissimilar target} x {small, large k}: linear probe, top and scratch at the run's seed."""
    cfg: TransferConfig = state.cfg
    cells = []
    for kind, target in (("similar", source.SIMILAR_TARGET), ("dissimilar", source.DISSIMILAR_TARGET)):
        for size_kind, k in (("small", cfg.imagenet_per_class), ("large", cfg.imagenet_large)):
            result = None
            for _, _, result in measure(cfg, target, k, {cfg.seed: RULE_STRATEGIES}, state.control):
                pass
            if result is None:
                return
            cells.append({"similarity": kind, "target": target, "size": size_kind, "per_class": k,
                          "accuracy": result.scores.rows[0].accuracy})
            yield Update(len(cells) / 4, f"rule of thumb from ImageNet: {kind} target, {size_kind} done")
    for cell in cells:
        cell["best"] = best_strategies(cell["accuracy"])
    yield Update(1.0, "rule-of-thumb table from ImageNet measured",
                 figures={"imagenet_rule": figures.imagenet_rule_figure(cells, cfg)},
                 tables={"imagenet_rule": pd.DataFrame([{**{k: v for k, v in c.items() if k != "accuracy"},
                                                         **c["accuracy"]} for c in cells])},
                 numbers={"imagenet_rule": cells}, verdicts=imagenet_rule_verdicts(cfg, cells))


def best_strategies(accuracy: Mapping[str, float]) -> list[str]:
    """The strategies within the accuracy margin of the top one.

    >>> best_strategies({"linear_probe": 0.80, "top": 0.81, "scratch": 0.5})
    ['linear_probe', 'top']
    """
    from cnnbp.lessons.transfer.comparison import ACCURACY_MARGIN

    top = max(accuracy.values())
    return [s for s, a in accuracy.items() if a >= top - ACCURACY_MARGIN]
