"""Lesson "transfer": a pretrained source used on a small target every way the lecture names,
side by side on the same target images.

Parts, streamed in order:
- compare: the linear probe on frozen features (from every stage), freeze the bottom n stages,
  fine-tune all, discriminative learning rates, LoRA, scratch: curves, accuracy against
  trainable parameters;
- forgetting: fine-tuning at ``lr`` and at a large ``forget_lr``; the source task's accuracy
  before and after (the source's own head put back);
- sizes: the target-set size slider swept: accuracy per strategy, steps to a target accuracy
  pretrained vs scratch, the gap at small data;
- selection: 002's recipe (mean-feature similarity) for every source against the accuracy it gives.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Iterator, Literal

import pandas as pd
import torch
from pydantic import Field, field_validator, model_validator

from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choice, gflop_seconds
from cnnbp.lessons.transfer import backbones
from cnnbp.lessons.transfer.lora import max_rank
from cnnbp.lessons.transfer.models import DEPTH, build_cnn, embed, num_stages
from cnnbp.lessons.transfer.selection import mean_feature_similarity, spearman
from cnnbp.lessons.transfer.sources import SOURCES, Source, load_source, read_card, source_problem
from cnnbp.lessons.transfer.strategies import (EVALS, SGD_STRATEGIES, STRATEGIES, History, Run, linear_probe,
                                               make_split, stage_probes, train_runs)
from cnnbp.lessons.transfer.tasks import TARGETS, get_source_task, get_target, subsample
from cnnbp.plots import transfer as tplots
from cnnbp.train import RunControl

Part = Literal["compare", "forgetting", "sizes", "rule", "selection"]
PARTS: tuple[str, ...] = ("compare", "forgetting", "sizes", "rule", "selection")
Strategy = Literal["linear_probe", "freeze", "finetune", "discriminative", "lora", "scratch"]
Target = Literal["digits_5to9", "shapes_inverted"]
SOURCE_CHOICES = {**SOURCES, backbones.NAME: None}
# Images per class each target has (tested against the data): the slider's upper end per target.
AVAILABLE = {"digits_5to9": 139, "shapes_inverted": 1000}
SIZE_STRATEGIES = ("linear_probe", "freeze", "finetune", "scratch")  # the sweep: the lecture's 2x2 choices
# The rule-of-thumb table: per target, a source of the same domain and one of another domain.
SIMILAR = {"digits_5to9": "digits_0to4", "shapes_inverted": "shapes_flat"}
DISSIMILAR = {"digits_5to9": "shapes_flat", "shapes_inverted": "digits_0to4"}
# The lecture's advice (000, 001, 002; 001 says "fine-tune all" where 000 says "fine-tune many")
ADVICE = {("similar", "small"): ("freeze", "linear_probe"), ("similar", "large"): ("finetune",),
          ("dissimilar", "small"): ("linear_probe",), ("dissimilar", "large"): ("scratch",)}
ADVICE_TEXT = {("similar", "small"): "freeze", ("similar", "large"): "fine-tune many / all",
               ("dissimilar", "small"): "SVM from low-level features first", ("dissimilar", "large"): "train from scratch"}
FRAME_INTERVAL_S = 0.8  # at most ~1 frame a second while training streams
# Fixed before any run, never tuned to a result:
FORGET_MARGIN = 0.05  # "loses source accuracy": the large lr's drop exceeds the small lr's by 5 points
CHANCE_MARGIN = 0.05  # "at chance": within 5 points of 1 / classes
RHO_LINE = 0.5  # "similarity ranks the sources": Spearman rank correlation of at least 0.5


def _step_seconds(channels: int, size: int, batch: int) -> float:
    """One SGD step of our 4-block net on one idle core (measured: 3.9 ms at 1x8x8, 8.2 ms at
    3x16x16, batch 32): a fixed 2 ms plus a per image-pixel cost."""
    return 0.002 + 0.8e-6 * batch * size * size * (1 + 0.1 * (channels - 1))


class TransferConfig(LessonConfig):
    parts: list[Part] = Field(list(PARTS), min_length=1, description="which experiments to run")
    target: Target = Field("digits_5to9", description="the target task (digits 5-9: new labels, same domain "
                                                      "as the digits sources; shapes: the shapes sources' domain)")
    source: choice(SOURCE_CHOICES, "source") = Field(
        "digits_0to4", description="the pretrained source (assets/sources; self-supervised: digits_rotation; "
                                   "resnet18_imagenet only where its weights are cached)")
    strategies: list[Strategy] = Field(list(STRATEGIES), min_length=1, description="strategies to compare")
    images_per_class: int = Field(10, ge=1, le=1000, description="target training images per class "
                                  "(small data: 10; digits 5-9 have 139 per class)")
    stage: int = Field(DEPTH, ge=1, le=8, description="stage whose frozen embedding the linear probe reads "
                       "(the top: the penultimate layer)")
    freeze_stages: int = Field(2, ge=0, le=8, description="bottom stages frozen by 'freeze' (the source has 4)")
    lr: float = Field(0.05, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9) of every strategy; the "
                      "shapes sources (trained with Adam) collapse at 0.05: fine-tune them at about 0.005")
    lr_ratio: float = Field(0.1, gt=0.0, le=1.0, description="discriminative: lowest / highest layer learning rate")
    forget_lr: float = Field(0.5, gt=0.0, le=5.0, description="the too-large fine-tuning rate (forgetting)")
    lora_rank: int = Field(2, ge=1, le=64, description="LoRA rank (at most 9 for a 1-channel source's first conv)")
    steps: int = Field(150, ge=10, le=2000, description="SGD steps of every run (the same for every set size)")
    batch_size: int = Field(32, ge=4, le=256, description="minibatch size")
    target_accuracy: float = Field(0.8, gt=0.0, le=1.0, description="accuracy for 'steps to reach'")
    sizes: list[Annotated[int, Field(ge=1, le=1000)]] = Field([3, 10, 30, 100], min_length=2, max_length=6,
                             description="images per class swept by the 'sizes' part, e.g. 3,10,30,100")

    @field_validator("sizes", mode="before")
    @classmethod
    def _sizes_as_text(cls, value: Any) -> Any:
        """Accept the UI text box's "[3, 10, 30, 100]" as well as the CLI's "3,10,30,100"."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [v.strip().strip("[]").strip() if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> "TransferConfig":
        resnet = self.source == backbones.NAME
        problem = backbones.unavailable_reason() if resnet else source_problem(self.source)
        if problem:
            raise ValueError(problem)
        if "rule" in self.parts:  # the rule-of-thumb table loads two other sources, whatever was chosen
            for name in dict.fromkeys((SIMILAR[self.target], DISSIMILAR[self.target])):
                problem = source_problem(name)
                if problem:
                    raise ValueError(f"the rule part needs {name}: {problem}")
        if "selection" in self.parts and sum(not source_problem(n) for n in SOURCES) < 2:
            raise ValueError("the selection part ranks the shipped sources and needs at least 2 that load; "
                             "rebuild the others with: python -m cnnbp pretrain NAME")
        if resnet and "forgetting" in self.parts:
            raise ValueError("forgetting needs the source's own test set; ImageNet is not here: "
                             "leave 'forgetting' out of parts for resnet18_imagenet")
        channels = 3 if resnet else read_card(self.source)["input"]["channels"]
        stages = 5 if resnet else DEPTH  # ResNet: stem + 4 layers; every shipped source: DEPTH conv blocks
        if self.freeze_stages > stages:
            raise ValueError(f"freeze_stages ({self.freeze_stages}) is more than the source's {stages} stages; "
                             f"choose 0-{stages}")
        if self.stage > stages:
            raise ValueError(f"stage ({self.stage}) is more than the source's {stages} stages; choose 1-{stages}")
        if resnet and "rule" in self.parts and max(self.stage, self.freeze_stages) > DEPTH:
            raise ValueError(f"the rule part runs stage {self.stage} and freeze_stages {self.freeze_stages} on the "
                             f"shipped sources too, which have {DEPTH} stages: choose at most {DEPTH} for both "
                             "or leave 'rule' out of parts")
        if "lora" in self.strategies and "compare" in self.parts:
            limit = 64 if resnet else lora_rank_limit(channels)  # ResNet-18: 64 channels in its stem and 1x1 convs
            if self.lora_rank > limit:
                raise ValueError(f"lora_rank ({self.lora_rank}) is larger than the smallest wrapped layer allows "
                                 f"({limit}: min(outputs, inputs) of the {self.source} conv with the fewest)")
        have = AVAILABLE[self.target]
        for name, n in [("images_per_class", self.images_per_class), *[("sizes", s) for s in self.sizes]]:
            if n > have:
                raise ValueError(f"{name}: {n} images per class, but {self.target} has {have} per class")
        if "forgetting" in self.parts and self.forget_lr <= self.lr:
            raise ValueError(f"forget_lr ({self.forget_lr:g}) must be larger than lr ({self.lr:g}) to compare "
                             "forgetting at a small and a large fine-tuning rate")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes: duplicates in {self.sizes}")
        return self

    def compare_runs(self) -> list[Run]:
        runs = []
        if "compare" in self.parts:
            runs += [Run(s, self.lr) for s in self.strategies if s in SGD_STRATEGIES]
        if "forgetting" in self.parts:
            if not any(r.strategy == "finetune" for r in runs):
                runs.append(Run("finetune", self.lr))
            runs.append(Run("finetune", self.forget_lr, f"finetune, lr {self.forget_lr:g}"))
        return runs

    def cost_seconds(self) -> float:
        card_in = SOURCE_INPUT.get(self.source, (3, 16))
        native = (1, 8) if self.target == "digits_5to9" else (3, 16)
        step_src, step_nat = _step_seconds(*card_in, self.batch_size), _step_seconds(*native, self.batch_size)
        if self.source == backbones.NAME:  # ~0.22 GFLOP per 32x32 image forward + backward
            step_src = gflop_seconds(0.22e9 * self.batch_size)
        per_run = lambda r: self.steps * (step_nat if r == "scratch" else step_src)  # noqa: E731
        test_images = 180 if self.target == "digits_5to9" else 400
        eval_s = (EVALS + 1) * test_images * step_src / self.batch_size / 3  # a forward is a third of a step
        cost = sum(per_run(r.strategy) + eval_s for r in self.compare_runs())
        if "compare" in self.parts:
            cost += 1.0  # four linear probes
        if "sizes" in self.parts:
            cost += len(self.sizes) * (sum(per_run(s) + eval_s for s in ("freeze", "finetune", "scratch")) + 0.5)
        if "rule" in self.parts:  # the other source's small and large cells, at 3x16x16 at worst
            other = _step_seconds(3, 16, self.batch_size) * self.steps
            cost += 2 * (2 * other + per_run("scratch") + 3 * eval_s + 0.5)
        if "selection" in self.parts:
            cost += 0.6 * len(SOURCES)
        return cost


SOURCE_INPUT = {"digits_0to4": (1, 8), "digits_rotation": (1, 8), "shapes_flat": (3, 16), "shapes_textured": (3, 16)}


def lora_rank_limit(channels: int) -> int:
    """The largest LoRA rank every conv of a ``channels``-input source can take."""
    net = build_cnn(channels=channels, num_classes=2, size=8, seed=0)
    return min(max_rank(m) for m in net.modules() if isinstance(m, type(net.blocks[0].conv)))


# ---- the run ---------------------------------------------------------------------------------

def run(cfg: TransferConfig, control: RunControl) -> Iterator[Frame]:
    yield Frame(0.0, f"starting: source {cfg.source} -> target {cfg.target}, {len(cfg.parts)} parts")
    source = backbones.load_resnet18() if cfg.source == backbones.NAME else load_source(cfg.source)
    task = get_target(cfg.target)
    x, y = subsample(task, cfg.images_per_class, seed=cfg.seed)
    split = make_split(task, x, y, source)
    numbers: dict = {"source": {k: source.card[k] for k in ("name", "task", "accuracy", "parameters", "sha256")},
                     "target": {"name": cfg.target, "per_class": cfg.images_per_class, "train_images": len(y),
                                "test_images": len(task.y_test)}}
    verdicts: list[Verdict] = []
    weights = {"compare": 0.4, "sizes": 0.3, "rule": 0.2, "selection": 0.1}
    wanted = [p for p in ("compare", "sizes", "rule", "selection")
              if p in cfg.parts or (p == "compare" and "forgetting" in cfg.parts)]
    total = sum(weights[p] for p in wanted)
    done = 0.0

    def stopped() -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(done, f"{reason} after {done:.0%} of the run", verdicts=list(verdicts), numbers=dict(numbers),
                     done=True)

    # The training parts, each streaming its own frames over its share of the progress bar.
    training_parts = (
        ("compare", lambda start, share: compare_part(cfg, source, split, task, control, numbers, verdicts,
                                                      start=start, share=share)),
        ("sizes", lambda start, share: sizes_part(cfg, source, task, control, numbers, verdicts,
                                                  start=start, share=share)),
        ("rule", lambda start, share: rule_part(cfg, source, task, control, numbers, verdicts,
                                                start=start, share=share)),
    )
    for part, frames in training_parts:
        if part not in wanted:
            continue
        share = weights[part] / total
        for frame in frames(done, share):
            frame.progress = min(frame.progress, 1.0)
            yield frame
        done = min(1.0, done + share)  # float sums may pass 1 by a hair
        if control.stop_reason():
            yield stopped()
            return
    if "selection" in wanted:
        rows = selection_rows(x, y, task)
        rho = spearman([r["similarity"] for r in rows], [r["accuracy"] for r in rows])
        numbers["selection"] = {"rows": rows, "spearman": rho}
        verdicts.append(selection_verdict(rows, rho, cfg))
        done = min(1.0, done + weights["selection"] / total)
        yield Frame(done, "sources ranked by feature similarity",
                    figures={"selection": tplots.selection_scatter(rows, rho=rho, title=f"Which source for "
                                                                   f"{cfg.target}? ({cfg.images_per_class} per class)")},
                    tables={"selection": pd.DataFrame(rows)}, verdicts=list(verdicts), numbers=dict(numbers))
    yield Frame(1.0, f"done in {control.elapsed():.1f} s", verdicts=list(verdicts), numbers=dict(numbers), done=True)


def _train_kwargs(cfg: TransferConfig, source: Source, num_classes: int) -> dict:
    return dict(source=source, num_classes=num_classes, steps=cfg.steps, batch_size=cfg.batch_size, seed=cfg.seed,
                freeze_stages=cfg.freeze_stages, lora_rank=cfg.lora_rank, lr_ratio=cfg.lr_ratio)


def compare_part(cfg: TransferConfig, source: Source, split, task, control: RunControl, numbers: dict,
                 verdicts: list[Verdict], *, start: float, share: float) -> Iterator[Frame]:
    probe, probes = None, []
    figures: dict = {}
    if "compare" in cfg.parts and "linear_probe" in cfg.strategies:
        probes = stage_probes(source.model, split)
        probe = probes[cfg.stage - 1]
        numbers["linear_probe"] = {"stage": cfg.stage, "accuracy": probe, "per_stage": probes}
    runs = cfg.compare_runs()
    source_test = None
    if "forgetting" in cfg.parts:  # the validator refused it for the ResNet (no ImageNet here)
        src_task = get_source_task(source.name)
        source_test = (src_task.x_test, src_task.y_test)
    last, histories = 0.0, []
    title = (f"{cfg.source} -> {cfg.target}, {cfg.images_per_class} images per class: "
             "training loss and test accuracy per strategy")
    probe_name = f"linear probe, stage {cfg.stage} (frozen)"
    if runs:
        for progress, histories in train_runs(runs, split, control=control, source_test=source_test,
                                              **_train_kwargs(cfg, source, task.num_classes)):
            now = time.perf_counter()
            if progress < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            rows = [h.as_dict() for h in histories]
            numbers["runs"] = rows
            yield Frame(start + share * progress * 0.95, f"training {len(runs)} runs: {progress:.0%}",
                        figures={"curves": tplots.strategy_curves(rows, probe=probe, probe_name=probe_name,
                                                                  title=title)}, numbers=dict(numbers))
    rows = [h.as_dict() for h in histories]
    numbers["runs"] = rows
    if runs:
        figures["curves"] = tplots.strategy_curves(rows, probe=probe, probe_name=probe_name, title=title)
    by = {h.name: h for h in histories}
    scratch = by.get("scratch")
    if probes:
        figures["stages"] = tplots.stage_probes(probes, chosen=cfg.stage, scratch=scratch.final_accuracy if scratch
                                                else None, title=f"Linear probe from each stage of the frozen "
                                                f"{cfg.source} ({cfg.images_per_class} per class)")
    table = strategy_table(cfg, histories, probe, source)
    numbers["strategies"] = table
    if "compare" in cfg.parts:
        figures["params"] = tplots.params_vs_accuracy(
            [r for r in table if r["strategy"] in cfg.strategies and r["lr"] in (cfg.lr, None)],
            title="Accuracy against trainable parameters (LoRA vs full fine-tuning)")
        verdicts.extend(compare_verdicts(cfg, by, probe))
    if "forgetting" in cfg.parts:
        rows_f = forgetting_rows(cfg, histories)
        numbers["forgetting"] = rows_f
        figures["forgetting"] = tplots.forgetting(rows_f, title=f"Forgetting: {cfg.source}'s own task before and "
                                                  f"after fine-tuning on {cfg.target}")
        verdicts.append(forgetting_verdict(rows_f, cfg))
    yield Frame(start + share, f"{len(runs)} runs trained", figures=figures,
                tables={"strategies": pd.DataFrame(table)}, verdicts=list(verdicts), numbers=dict(numbers))


def strategy_table(cfg: TransferConfig, histories: list[History], probe: float | None, source: Source) -> list[dict]:
    rows = []
    if probe is not None:  # the probe trains a logistic regression on the frozen embedding, nothing else
        params = _probe_params(cfg, source)
        rows.append({"name": "linear_probe", "strategy": "linear_probe", "lr": None, "accuracy": probe,
                     "trainable": params, "share": params / (sum(p.numel() for p in source.model.parameters()) + params),
                     "steps_to_target": None})
    for h in histories:
        rows.append({"name": h.name, "strategy": h.strategy, "lr": h.lr, "accuracy": h.final_accuracy,
                     "trainable": h.trainable, "share": h.trainable / h.total,
                     "steps_to_target": h.steps_to(cfg.target_accuracy)})
    return rows


def _probe_params(cfg: TransferConfig, source: Source) -> int:
    """Weights of the logistic regression on the stage-``cfg.stage`` embedding (one row per class)."""
    width = embed(source.model, torch.zeros(1, source.channels, source.size, source.size), stage=cfg.stage).shape[1]
    return (width + 1) * get_target(cfg.target).num_classes


def compare_verdicts(cfg: TransferConfig, by: dict[str, History], probe: float | None) -> list[Verdict]:
    out = []
    scratch = by.get("scratch")
    if probe is not None and scratch is not None:
        out.append(Verdict(
            label="transfer.small_similar_frozen_beats_scratch", passed=probe > scratch.final_accuracy,
            text=f"Frozen {cfg.source} features (stage {cfg.stage}) + logistic regression: {probe:.1%} test accuracy; "
                 f"scratch after {cfg.steps} steps: {scratch.final_accuracy:.1%} ({cfg.images_per_class} images per "
                 f"class of {cfg.target})."))
    finetune = by.get("finetune")
    if finetune is not None and scratch is not None:
        f, s = finetune.steps_to(cfg.target_accuracy), scratch.steps_to(cfg.target_accuracy)
        out.append(Verdict(
            label="transfer.pretrained_converges_faster", passed=f is not None and (s is None or f < s),
            text=f"Steps to {cfg.target_accuracy:.0%} test accuracy: fine-tuned {f if f is not None else 'never'}, "
                 f"scratch {s if s is not None else 'never'} (of {cfg.steps}; measured every "
                 f"{max(1, cfg.steps // EVALS)} steps)."))
    lora = by.get("lora")
    if lora is not None and finetune is not None:
        out.append(Verdict(
            label="LoRA", passed=None,
            text=f"LoRA rank {cfg.lora_rank}: {lora.final_accuracy:.1%} with {lora.trainable:,} trainable parameters "
                 f"({lora.trainable / lora.total:.0%}); full fine-tuning {finetune.final_accuracy:.1%} with "
                 f"{finetune.trainable:,} (100%)."))
    return out


def forgetting_rows(cfg: TransferConfig, histories: list[History]) -> list[dict]:
    return [{"name": h.name, "lr": h.lr, "before": h.source_before, "after": h.source_after,
             "drop": h.source_before - h.source_after, "target": h.final_accuracy}
            for h in histories if h.strategy == "finetune" and h.source_before is not None]


def forgetting_verdict(rows: list[dict], cfg: TransferConfig) -> Verdict:
    low = next(r for r in rows if r["lr"] == cfg.lr)
    high = next(r for r in rows if r["lr"] == cfg.forget_lr)
    chance = 1 / get_target(cfg.target).num_classes
    wrecked = (f" At lr {cfg.forget_lr:g} the target accuracy is at chance too: the large rate wrecked the network, "
               "it did not trade the source task for the target." if high["target"] <= chance + CHANCE_MARGIN else "")
    return Verdict(
        label="transfer.large_lr_forgets", passed=high["drop"] > low["drop"] + FORGET_MARGIN,
        text=f"Source-task accuracy of {cfg.source}: {low['before']:.1%} before; after fine-tuning at lr {cfg.lr:g}: "
             f"{low['after']:.1%}, at lr {cfg.forget_lr:g}: {high['after']:.1%} (target accuracy {low['target']:.1%} "
             f"vs {high['target']:.1%}; line: the larger rate loses {FORGET_MARGIN:.0%} more).{wrecked}")


# ---- target-set size -------------------------------------------------------------------------

def size_row(cfg: TransferConfig, source: Source, task, per_class: int, control: RunControl, *,
             scratch_from: dict | None = None) -> dict | None:
    """Linear probe, freeze, fine-tune and scratch on ``per_class`` target images (None if stopped).

    ``scratch_from``: a row of the same size and seed whose scratch numbers are reused (scratch
    never sees the source, so it would only repeat them)."""
    x, y = subsample(task, per_class, seed=cfg.seed)
    split = make_split(task, x, y, source)
    runs = [Run(s, cfg.lr) for s in ("freeze", "finetune") + (() if scratch_from else ("scratch",))]
    histories: list[History] = []
    for _, histories in train_runs(runs, split, control=control, **_train_kwargs(cfg, source, task.num_classes)):
        pass
    if control.stop_reason():
        return None
    by = {h.strategy: h for h in histories}
    probe = linear_probe(source.model, split, stage=cfg.stage)
    row = {"per_class": per_class, "train_images": len(y),
           "accuracy": {"linear_probe": probe, **{s: h.final_accuracy for s, h in by.items()}},
           "steps_to": {s: h.steps_to(cfg.target_accuracy) for s, h in by.items()}}
    if scratch_from:
        row["accuracy"]["scratch"] = scratch_from["accuracy"]["scratch"]
        row["steps_to"]["scratch"] = scratch_from["steps_to"]["scratch"]
    return row


def sizes_part(cfg: TransferConfig, source: Source, task, control: RunControl, numbers: dict,
               verdicts: list[Verdict], *, start: float, share: float) -> Iterator[Frame]:
    rows: list[dict] = []
    sizes = sorted(cfg.sizes)
    for i, n in enumerate(sizes):
        row = size_row(cfg, source, task, n, control)
        if row is None:
            return
        rows.append(row)
        numbers["sizes"] = rows
        fig = tplots.size_sweep(rows, strategies=SIZE_STRATEGIES, target=cfg.target_accuracy,
                                title=f"{cfg.source} -> {cfg.target}: accuracy and convergence against the target-set size")
        final = i == len(sizes) - 1
        if final:
            verdicts.extend(size_verdicts(cfg, rows))
        yield Frame(start + share * (i + 1) / len(sizes), f"target-set size {n} per class done",
                    figures={"sizes": fig}, tables={"sizes": size_table(rows)} if final else {},
                    verdicts=list(verdicts), numbers=dict(numbers))


def rule_part(cfg: TransferConfig, source: Source, task, control: RunControl, numbers: dict,
              verdicts: list[Verdict], *, start: float, share: float) -> Iterator[Frame]:
    """The lecture's 2x2 table measured: {similar, dissimilar source} x {smallest, largest size}."""
    small, large = min(cfg.sizes), max(cfg.sizes)
    cells = []
    done = 0
    sweep = {r["per_class"]: r for r in numbers.get("sizes", [])}  # the chosen source's rows, if swept
    for kind, name in (("similar", SIMILAR[cfg.target]), ("dissimilar", DISSIMILAR[cfg.target])):
        src = source if name == cfg.source else load_source(name)
        for size_kind, n in (("small", small), ("large", large)):
            scratch = sweep.get(n) or next((c for c in cells if c["per_class"] == n), None)
            row = (sweep.get(n) if name == cfg.source else None) or size_row(cfg, src, task, n, control,
                                                                              scratch_from=scratch)
            if row is None:
                return
            best = max(SIZE_STRATEGIES, key=lambda st: row["accuracy"][st])
            cells.append({"similarity": kind, "source": name, "size": size_kind, "per_class": n,
                          "accuracy": dict(row["accuracy"]), "steps_to": dict(row["steps_to"]), "best": best,
                          "lecture": ADVICE_TEXT[(kind, size_kind)],
                          "agrees": best in ADVICE[(kind, size_kind)]})
            done += 1
            yield Frame(start + share * done / 4, f"rule of thumb: {kind} source, {size_kind} target done",
                        numbers=dict(numbers))
    numbers["rule"] = cells
    verdicts.extend(rule_verdicts(cfg, cells))
    yield Frame(start + share, "rule-of-thumb table measured",
                figures={"rule": tplots.rule_of_thumb(cells, strategies=SIZE_STRATEGIES,
                                                      title=f"The rule of thumb on {cfg.target}: best strategy per cell")},
                tables={"rule": rule_table(cells)}, verdicts=list(verdicts), numbers=dict(numbers))


def rule_table(cells: list[dict]) -> pd.DataFrame:
    """The lecture's 2x2 layout: rows similar/dissimilar, columns small/large target."""
    out = []
    for kind in ("similar", "dissimilar"):
        row = {"source": kind}
        for c in (c for c in cells if c["similarity"] == kind):
            acc = ", ".join(f"{s} {c['accuracy'][s]:.0%}" for s in SIZE_STRATEGIES)
            row[f"{c['size']} ({c['per_class']}/class)"] = (f"best: {c['best']} ({acc}); "
                                                            f"lecture: {c['lecture']}")
            row["source model"] = c["source"]
        out.append(row)
    return pd.DataFrame(out)


def rule_verdicts(cfg: TransferConfig, cells: list[dict]) -> list[Verdict]:
    agree = sum(c["agrees"] for c in cells)
    # Negative transfer: starting from the dissimilar source and fine-tuning ends below scratch.
    negative = [c for c in cells if c["similarity"] == "dissimilar"
                and c["accuracy"]["finetune"] < c["accuracy"]["scratch"]]
    parts = [f"{c['similarity']} / {c['size']}: {c['best']} (lecture: {c['lecture']})" for c in cells]
    out = [Verdict(label="rule of thumb", passed=None,
                   text=f"Best strategy per cell on {cfg.target}: " + "; ".join(parts)
                        + f". The measured best agrees with the lecture in {agree} of 4 cells.")]
    if negative:
        out.append(Verdict(label="negative transfer", passed=None, text="Negative transfer: fine-tuned from the "
                           "dissimilar source, the network ends below scratch (" + "; ".join(
                               f"{c['source']} at {c['per_class']}/class: {c['accuracy']['finetune']:.1%} vs scratch "
                               f"{c['accuracy']['scratch']:.1%}, its linear probe {c['accuracy']['linear_probe']:.1%}"
                               for c in negative) + ")."))
    else:
        out.append(Verdict(label="negative transfer", passed=None, text="No negative transfer found: fine-tuned "
                           "from the dissimilar source, the network never ended below scratch here."))
    return out


def size_table(rows: list[dict]) -> pd.DataFrame:
    flat = []
    for r in rows:
        flat.append({"per_class": r["per_class"], **{f"acc_{s}": r["accuracy"][s] for s in SIZE_STRATEGIES},
                     **{f"steps_{s}": r["steps_to"][s] for s in ("finetune", "scratch")}})
    return pd.DataFrame(flat)


def size_verdicts(cfg: TransferConfig, rows: list[dict]) -> list[Verdict]:
    small, large = rows[0], rows[-1]
    gap_small = small["accuracy"]["finetune"] - small["accuracy"]["scratch"]
    gap_large = large["accuracy"]["finetune"] - large["accuracy"]["scratch"]
    frozen_large = max(large["accuracy"]["linear_probe"], large["accuracy"]["freeze"])
    return [
        Verdict(label="transfer.large_finetune_beats_freezing",
                passed=large["accuracy"]["finetune"] > frozen_large,
                text=f"{large['per_class']} images per class: fine-tune all {large['accuracy']['finetune']:.1%}, "
                     f"linear probe {large['accuracy']['linear_probe']:.1%}, bottom {cfg.freeze_stages} stages frozen "
                     f"{large['accuracy']['freeze']:.1%}."),
        Verdict(label="gap at small data", passed=None,
                text=f"Pretrained minus scratch: {gap_small:+.1%} at {small['per_class']} per class, {gap_large:+.1%} "
                     f"at {large['per_class']} (lecture: 9.9 vs 3.5 AP, a gap that closes with data)."),
    ]


# ---- source selection ------------------------------------------------------------------------

def selection_rows(x, y, task) -> list[dict]:
    """For every shipped source: the mean-feature similarity with the target images ``x`` and
    the linear-probe accuracy (top stage) those images give on the target test set."""
    rows = []
    for name in SOURCES:
        if source_problem(name):
            continue
        src = load_source(name)
        split = make_split(task, x, y, src)
        rows.append({"source": name, "similarity": mean_feature_similarity(src, x),
                     "accuracy": linear_probe(src.model, split, stage=num_stages(src.model))})
    return rows


def selection_verdict(rows: list[dict], rho: float, cfg: TransferConfig) -> Verdict:
    order = sorted(rows, key=lambda r: -r["similarity"])
    return Verdict(
        label="transfer.similarity_ranks_sources", passed=rho >= RHO_LINE,
        text="Mean-feature cosine similarity -> linear-probe accuracy on "
             f"{cfg.target}: " + ", ".join(f"{r['source']} {r['similarity']:.3f} -> {r['accuracy']:.1%}" for r in order)
             + f"; Spearman {rho:.2f} (line: {RHO_LINE:g}).")


__all__ = ["AVAILABLE", "PARTS", "TARGETS", "TransferConfig", "run"]
