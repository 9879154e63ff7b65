"""The transfer lesson's parts, in run order: the source and the target sets; the strategies side by
side (with the two fine-tunings forgetting needs, and at the other verdict seeds the runs the
verdicts compare, all in one lockstep); forgetting; the target-set size sweep; the rule-of-thumb
table; source selection."""

from __future__ import annotations

from typing import Iterator

import pandas as pd
import torch

from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats
from cnnbp.lessons.redraw import Redraw
from cnnbp.lessons.transfer import backbones, domain_shift, figures, imagenet_parts
from cnnbp.lessons.transfer.comparison import Comparison, Scores, SeedScores, forgetting_rows
from cnnbp.lessons.transfer.comparison import forgetting as measure_forgetting
from cnnbp.lessons.transfer.config import DISSIMILAR, SIMILAR, TransferConfig
from cnnbp.lessons.transfer.model_file import adaptation_note, load_file_source
from cnnbp.lessons.transfer.models import embed, num_stages
from cnnbp.lessons.transfer.selection import ranking_steps
from cnnbp.lessons.transfer.sources import Source, load_source
from cnnbp.lessons.transfer.strategies import EVALS, linear_probe, make_split, stage_probes, train_runs
from cnnbp.lessons.transfer.sweep import SGD_SIZE_STRATEGIES, SIZE_STRATEGIES, RuleCell, score_steps
from cnnbp.lessons.transfer.tasks import get_source_task, get_target, subsample
from cnnbp.lessons.transfer.verdicts import (
    compare_verdicts,
    forgetting_verdict,
    rule_verdicts,
    selection_verdict,
    size_verdicts,
)
from cnnbp.train import Beat


def chosen_source(cfg: TransferConfig) -> Source:
    """The source of this run: the model file, the ImageNet ResNet-18 or a shipped source (hash-checked)."""
    if cfg.model_file:
        return load_file_source(cfg.model_file)
    return backbones.load_resnet18() if cfg.source == backbones.NAME else load_source(cfg.source)


def source(state: RunState) -> Iterator[Update]:
    """Load the source and draw each verdict seed's target images; say how the target is adapted to it."""
    cfg: TransferConfig = state.cfg
    state.source = chosen_source(cfg)
    state.task = get_target(cfg.target)
    state.samples = {s: subsample(state.task, cfg.images_per_class, seed=s) for s in cfg.verdict_seeds()}
    card = state.source.card
    note = adaptation_note(state.source, state.task, target=cfg.target_label)
    if cfg.model_file:
        note = "; ".join(filter(None, [note, f"a new {state.task.num_classes}-class head replaces its "
                                             f"{len(card['classes'])}-class one"]))
    yield Update(1.0, f"{cfg.source_label} loaded" + (f" ({note})" if note else ""), numbers={
        "source": {k: card[k] for k in ("name", "task", "accuracy", "parameters", "sha256")},
        "target": {"name": cfg.target_label, "per_class": cfg.images_per_class,
                   "train_images": len(state.samples[cfg.seed][1]), "test_images": len(state.task.y_test),
                   **({"adapted": note} if note else {})},
        "verdict_seeds": cfg.verdict_seeds()})


def _seed_scores(cfg: TransferConfig, rows: list[Scores]) -> SeedScores:
    return SeedScores(rows, steps=cfg.steps, eval_every=max(1, cfg.steps // EVALS))


def compare(state: RunState) -> Iterator[Update]:
    """The linear probe from every stage, then every SGD run in lockstep, curves streaming."""
    cfg: TransferConfig = state.cfg
    src, task = state.source, state.task
    splits = {s: make_split(task, x, y, src) for s, (x, y) in state.samples.items()}
    result = Comparison(histories=[])
    probe_numbers = {}
    if "compare" in cfg.parts and "linear_probe" in cfg.strategies:
        result.per_stage = stage_probes(src.model, splits[cfg.seed])
        result.probe = {}
        for s, split in splits.items():  # ~0.1 s for the stages, ~0.04 s a seed: the page hears between them
            yield heartbeat(0.0)
            result.probe[s] = result.per_stage[cfg.stage - 1] if s == cfg.seed else linear_probe(src.model, split,
                                                                                                 stage=cfg.stage)
        probe_numbers = {"linear_probe": {"stage": cfg.stage, "accuracy": result.probe[cfg.seed],
                                          "per_stage": result.per_stage, "per_seed": list(result.probe.values())}}
    runs = cfg.compare_runs()
    source_test = None
    if "forgetting" in cfg.parts:  # the validator refused it for the ResNet (no ImageNet here)
        src_task = get_source_task(src.name)
        source_test = (src_task.x_test, src_task.y_test)
    training = train_runs(runs, splits, control=state.control, source_test=source_test, beats=True,
                          **cfg.train_kwargs(src, task.num_classes)) if runs else ()
    redraw = Redraw()
    for progress, histories in training:
        if isinstance(progress, Beat):
            yield heartbeat(0.95 * progress)
            continue
        result.histories = histories
        rows = [h.as_dict() for h in histories]
        curves = lambda: figures.curves_figure(histories, result.probe.get(cfg.seed), cfg)  # noqa: E731
        yield Update(0.95 * progress, f"training {len(runs)} runs", figures=redraw({"curves": curves}),
                     numbers={**probe_numbers, "runs": rows})
    if state.control.stop_reason():
        return
    state.comparison = result
    scores = _seed_scores(cfg, [result.scores(s, lr=cfg.lr, per_class=cfg.images_per_class,
                                              train_images=len(splits[s].y_train), target_accuracy=cfg.target_accuracy)
                                for s in splits])
    state.compare_scores = scores
    rows = [h.as_dict() for h in result.histories]
    yield heartbeat(0.96)  # the three figures take ~0.1 s each: the page hears from the run between them
    out = {"curves": figures.curves_figure(result.histories, result.probe.get(cfg.seed), cfg, scores)} if runs else {}
    scratch = result.run("scratch")
    if result.per_stage:
        yield heartbeat(0.97)
        out["stages"] = figures.stages_figure(result.per_stage, scratch.final_accuracy if scratch else None, cfg)
    table = result.strategy_rows(cfg.seed, target_accuracy=cfg.target_accuracy, probe_params=_probe_params(cfg, src),
                                 source_params=sum(p.numel() for p in src.model.parameters()))
    verdicts = []
    if "compare" in cfg.parts:
        yield heartbeat(0.98)
        out["params"] = figures.params_figure(table, cfg)
        verdicts = compare_verdicts(cfg, result, scores)
    yield Update(1.0, f"{len(runs)} runs trained", figures=out, tables={"strategies": pd.DataFrame(table)},
                 numbers={**probe_numbers, "runs": rows, "strategies": table}, verdicts=verdicts)


def _probe_params(cfg: TransferConfig, source: Source) -> int:
    """Weights of the logistic regression on the stage-``cfg.stage`` embedding (one row per class)."""
    width = embed(source.model, torch.zeros(1, source.channels, source.size, source.size), stage=cfg.stage).shape[1]
    return (width + 1) * get_target(cfg.target).num_classes


def forgetting(state: RunState) -> Iterator[Update]:
    """The source task before and after the compare part's two fine-tunings, at every verdict seed."""
    cfg: TransferConfig = state.cfg
    rows = forgetting_rows(state.comparison.histories)
    result = measure_forgetting(rows, lr=cfg.lr, forget_lr=cfg.forget_lr, chance=1 / state.task.num_classes)
    yield Update(1.0, "forgetting measured", figures={"forgetting": figures.forgetting_figure(result, cfg)},
                 numbers={"forgetting": rows}, verdicts=[forgetting_verdict(cfg, result)])


def _reusable(state: RunState, per_class: int) -> Scores | None:
    """The compare part's row at the run's seed, when it trained every strategy the sweep needs."""
    scores = getattr(state, "compare_scores", None)
    row = scores.rows[0] if scores and per_class == state.cfg.images_per_class else None
    if row is None or not set(SIZE_STRATEGIES) <= row.accuracy.keys():
        return None
    return Scores(row.per_class, row.train_images, {s: row.accuracy[s] for s in SIZE_STRATEGIES},
                  {s: row.steps_to[s] for s in SGD_SIZE_STRATEGIES}, row.seed)


def sizes(state: RunState) -> Iterator[Update]:
    """The sweep over target-set sizes at the run's seed, one row at a time; the largest also at
    the other verdict seeds (fine-tuned and frozen: what the large-target verdict compares)."""
    cfg: TransferConfig = state.cfg
    rows: list[Scores] = []
    ordered = sorted(cfg.sizes)
    for i, n in enumerate(ordered):
        last = i == len(ordered) - 1
        seeds = {cfg.seed: SGD_SIZE_STRATEGIES}
        if last:
            seeds |= {s: ("freeze", "finetune") for s in cfg.verdict_seeds()[1:]}
        reused = _reusable(state, n)
        work = score_steps(cfg, state.source, state.task, n, state.control,
                           {s: st for s, st in seeds.items() if not (reused and s == cfg.seed)})
        measured = yield from heartbeats(work, i / len(ordered), (i + 1) / len(ordered))
        if measured is None:
            return
        row = reused or measured[cfg.seed]
        rows.append(row)
        large = _seed_scores(cfg, [row] + [measured[s] for s in cfg.verdict_seeds()[1:]]) if last else None
        yield Update((i + 1) / len(ordered), f"target-set size {n} per class done",
                     figures={"sizes": figures.sizes_figure(rows, cfg, large)},
                     tables={"sizes": figures.sizes_table(rows)} if last else {},
                     numbers={"sizes": [r.as_dict() for r in rows],
                              **({"large_seeds": [r.as_dict() for r in large.rows]} if large else {})},
                     verdicts=size_verdicts(cfg, rows, large) if large else [])
    state.size_rows = rows


def rule(state: RunState) -> Iterator[Update]:
    """The lecture's 2x2 table measured at the run's seed: {similar, dissimilar source} x
    {smallest, largest size}."""
    cfg: TransferConfig = state.cfg
    small, large = min(cfg.sizes), max(cfg.sizes)
    sweep = {r.per_class: r for r in getattr(state, "size_rows", [])}  # the chosen source's rows, if swept
    cells: list[RuleCell] = []
    chance = 1 / state.task.num_classes
    for kind, name in (("similar", SIMILAR[cfg.target]), ("dissimilar", DISSIMILAR[cfg.target])):
        chosen = name == cfg.source and not cfg.model_file  # the swept source's rows serve its cells
        src = state.source if chosen else load_source(name)
        for size_kind, n in (("small", small), ("large", large)):
            row = sweep.get(n) if chosen else None
            if row is None:  # scratch never sees the source: the same size's scratch run is reused
                scratch = sweep.get(n) or next((c.row for c in cells if c.row.per_class == n), None)
                measured = yield from heartbeats(score_steps(cfg, src, state.task, n, state.control, {cfg.seed: (
                    ("freeze", "finetune") if scratch else SGD_SIZE_STRATEGIES)}), len(cells) / 4, (len(cells) + 1) / 4)
                if measured is None:
                    return
                row = measured[cfg.seed]
                if scratch:
                    row.accuracy["scratch"], row.steps_to["scratch"] = scratch.accuracy["scratch"], \
                        scratch.steps_to["scratch"]
            cells.append(RuleCell(kind, name, size_kind, row, chance))
            yield Update(len(cells) / 4, f"rule of thumb: {kind} source, {size_kind} target done")
    yield Update(1.0, "rule-of-thumb table measured", figures={"rule": figures.rule_figure(cells, cfg)},
                 tables={"rule": figures.rule_table(cells)}, numbers={"rule": [c.as_dict() for c in cells]},
                 verdicts=rule_verdicts(cfg, cells))


def selection(state: RunState) -> Iterator[Update]:
    """002's recipe: every shipped source's mean-feature similarity against the accuracy it gives,
    at every verdict seed."""
    cfg: TransferConfig = state.cfg
    comparison = getattr(state, "comparison", None)
    reusable = comparison and not cfg.model_file and cfg.stage == num_stages(state.source.model)
    known = {(cfg.source, s): acc for s, acc in comparison.probe.items()} if reusable else {}
    result = yield from heartbeats(ranking_steps(state.task, state.samples, known), 0.0, 0.9)  # compare's probes reused
    yield heartbeat(0.9)  # the last source's ranking, then the figure (~0.1 s)
    main = result.results[0]
    yield Update(1.0, "sources ranked by feature similarity",
                 figures={"selection": figures.selection_figure(result, cfg)},
                 tables={"selection": pd.DataFrame(main.rows)},
                 numbers={"selection": {"rows": main.rows, "spearman": main.spearman,
                                        "per_seed": [r.spearman for r in result.results]}},
                 verdicts=[selection_verdict(cfg, result)])


def _trains_strategies(cfg: TransferConfig) -> bool:
    return "compare" in cfg.parts or "forgetting" in cfg.parts


PARTS = (
    Part("source", 0.02, source, when=lambda cfg: True),
    Part("compare", 0.4, compare, when=_trains_strategies),
    Part("forgetting", 0.01, forgetting),
    Part("sizes", 0.3, sizes),
    Part("rule", 0.2, rule),
    Part("selection", 0.1, selection),
    Part("imagenet", 0.3, imagenet_parts.imagenet),
    Part("imagenet_rule", 0.3, imagenet_parts.imagenet_rule),
    Part("domain_shift", 0.3, domain_shift.domain_shift),
)


def start_message(cfg: TransferConfig, parts: list[Part]) -> str:
    return f"starting: source {cfg.source_label} -> target {cfg.target_label}, {len(cfg.parts)} parts"
