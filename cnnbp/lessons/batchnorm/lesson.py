"""Lesson "batchnorm": the lecture's batch-normalisation slides, measured.

Four parts, streamed in order: one BN layer up close (running statistics converging, train
vs eval outputs, the two formulas, gamma = sigma and beta = mu giving the identity); the same
CNN with and without BN from a bad init and at a high learning rate (curves side by side,
steps to a target accuracy, and the trained BN net evaluated in train mode: the classic bug);
BN before vs after the nonlinearity; folding BN into the conv before it for inference
(outputs compared, ours against PyTorch's ``fuse_conv_bn_eval``, both timed).
"""

from __future__ import annotations

import time
from typing import Iterator, Literal

import pandas as pd
import torch
from pydantic import Field, model_validator

from cnnbp.data import ImageDataset, get_dataset
from cnnbp.device import pick_device, torch_threads
from cnnbp.lessons.activations.race import matched_init
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choice, gflop_seconds
from cnnbp.lessons.batchnorm.folding import FoldResult, calibrated_model, compare_folding
from cnnbp.lessons.batchnorm.modes import ModeChecks, RunningStats, mode_checks, running_stats
from cnnbp.lessons.batchnorm.training import (EVALS_PER_EPOCH, TRAIN_THREADS, History, Variant, train_mode_bug,
                                              train_variants)
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.nn.inits import INITS
from cnnbp.plots import batchnorm as bn_plots
from cnnbp.train import RunControl

Part = Literal["modes", "robustness", "placement", "folding"]
PARTS: tuple[str, ...] = ("modes", "robustness", "placement", "folding")
Position = Literal["before_act", "after_act"]

# Fixed before any run, never tuned to a result:
CONVERGED = 0.1  # running stats "converged": mean within 0.1 data std and variance within 10%
# "Equal" for a float32 layer against a float64 formula: float32 carries ~7 digits, and the
# statistics of thousands of values whose mean is far from 0 lose up to 3 of them. Relative
# to the larger of 1 and the compared values' scale.
EQUAL_TOL = 1e-4
DIFFER = 1e-3  # train and eval outputs "differ" when they are apart by more than this (relative)
FOLD_TOL = 1e-5  # the claim's line: folded logits within 1e-5 (relative to max(1, max |logit|))
MUCH_SLOWER = 2.0  # "much slower": the plain net needs at least 2x the BN net's steps to the target
BUG_DROP = 0.10  # the train-mode bug "shows" when some train-mode evaluation loses 10 points of accuracy
# Seconds a training step or an evaluation of a tiny net costs whatever its flops (Python and
# kernel-launch overhead; ~5 ms measured per step of the default net on one thread).
STEP_OVERHEAD_S = 0.004
# The single layer's steps are memory-bound, not flop-bound: gathering a shuffled minibatch of
# feature maps and normalising it measured 2-12 ns a value on one thread (the shapes at batch
# 512 and 32-64 channels: 4-7.5 ns, ~0.1-0.2 s a step), not the ~1 ns of 40 flops at NOMINAL_GFLOPS.
MODES_S_PER_VALUE = 5e-9
FRAME_INTERVAL_S = 0.8  # at most ~1 update a second while training streams
LOG_FLOOR = 1e-9  # an exact 0 on the log-scale difference chart
TRAIN_IMAGES = {"digits": 1437, "shapes": 2000}
TEST_IMAGES = {"digits": 360, "shapes": 1000}
PIXELS = {"digits": 64, "shapes": 1024}


class BatchNormConfig(LessonConfig):
    parts: list[Part] = Field(list(PARTS), min_length=1, description="which experiments to run")
    dataset: Literal["digits", "shapes"] = Field(
        "digits", description="data (shapes: 32x32 RGB, 16x the pixels: fewer epochs)")
    bn_momentum: float = Field(0.1, gt=0.0, le=1.0, description="BN running-statistics momentum "
                               "(PyTorch's default 0.1: running = 0.9 running + 0.1 batch)")
    stat_steps: int = Field(100, ge=5, le=2000, description="minibatches fed to the single BN layer")
    stat_channels: int = Field(8, ge=1, le=64, description="channels of the single BN layer")
    depth: int = Field(4, ge=1, le=8, description="CNN conv layers")
    width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer")
    activation: choice(ACTIVATIONS, "activation") = Field("relu", description="CNN activation")
    norm_position: Position = Field(
        "before_act", description="where BN sits in the trained BN nets (lecture: before the nonlinearity); "
                                  "the placement part also trains the other")
    bad_init: choice(INITS, "init") = Field(
        "normal_0.01", description="the bad init (lecture: small random numbers, std 0.01)")
    epochs: int = Field(6, ge=1, le=30, description="training epochs")
    batch_size: int = Field(64, ge=4, le=512, description="training minibatch (and the single layer's batch)")
    lr: float = Field(0.05, gt=0.0, le=2.0, description="SGD learning rate (momentum 0.9)")
    high_lr: float = Field(0.5, gt=0.0, le=5.0, description="the high learning rate (default: 10x lr)")
    target_accuracy: float = Field(0.8, gt=0.0, le=1.0, description="test accuracy to reach")
    bug_batch: int = Field(8, ge=1, le=256, description="small test batch for the evaluate-in-train-mode bug")
    fold_batch: int = Field(256, ge=1, le=4096, description="images per forward when timing the folded net")
    fold_repeats: int = Field(30, ge=3, le=500, description="timed forwards of each net (median reported)")

    @model_validator(mode="after")
    def _robustness_compares_something(self) -> "BatchNormConfig":
        if "robustness" in self.parts and self.high_lr <= self.lr:
            raise ValueError(f"high_lr ({self.high_lr:g}) must be larger than lr ({self.lr:g})")
        if "robustness" in self.parts and f"{self.high_lr:g}" == f"{self.lr:g}":  # nets are named by their rate
            raise ValueError(f"high_lr ({self.high_lr!r}) must differ from lr ({self.lr!r}) in its first 6 digits")
        if "robustness" in self.parts and self.bad_init == self.good_init:
            raise ValueError(f"bad_init ({self.bad_init}) is the good init for {self.activation}, the reference; "
                             "choose another (e.g. normal_0.01)")
        return self

    @property
    def good_init(self) -> str:
        """The init made for the activation (Kaiming for ReLU-like, Xavier for tanh/sigmoid/SELU)."""
        return matched_init(self.activation)

    @property
    def other_position(self) -> str:
        return "after_act" if self.norm_position == "before_act" else "before_act"

    def variants(self) -> list[Variant]:
        """The CNNs to train: a good-init reference pair (no BN, BN), the robustness pairs, and
        BN at the other position."""
        if not {"robustness", "placement"} & set(self.parts):
            return []
        good, pos = self.good_init, self.norm_position
        ref = f"good init ({good}), lr {self.lr:g}"
        out = [Variant(ref, "none", good, self.lr), Variant(ref, "batch", good, self.lr, pos)]
        if "robustness" in self.parts:
            bad, high = f"bad init ({self.bad_init}), lr {self.lr:g}", f"high lr {self.high_lr:g}, {good}"
            out += [Variant(bad, "none", self.bad_init, self.lr), Variant(bad, "batch", self.bad_init, self.lr, pos),
                    Variant(high, "none", good, self.high_lr), Variant(high, "batch", good, self.high_lr, pos)]
        if "placement" in self.parts:
            out.append(Variant(ref, "batch", good, self.lr, self.other_position))
        return out

    def cost_seconds(self) -> float:
        pieces = get_act(self.activation).width_factor
        # forward + backward ~ 6 x MACs; ~(9 * width^2) MACs per pixel per conv layer (as the activations lesson)
        per_image = 6 * self.depth * 9 * self.width**2 * pieces * 2 * PIXELS[self.dataset]
        cost = 0.0
        variants = self.variants()
        if variants:
            train = per_image * TRAIN_IMAGES[self.dataset] * self.epochs
            evals = per_image / 3 * TEST_IMAGES[self.dataset] * (EVALS_PER_EPOCH * self.epochs + 1)
            bug = per_image / 3 * TEST_IMAGES[self.dataset] * 7
            cost += gflop_seconds((train + evals) * len(variants) + bug)
            # small nets are bound by per-call overhead, not flops: a fixed cost per step and evaluation
            steps = -(-TRAIN_IMAGES[self.dataset] // self.batch_size) * self.epochs
            cost += STEP_OVERHEAD_S * len(variants) * (steps + EVALS_PER_EPOCH * self.epochs + 1)
        if "modes" in self.parts:  # a minibatch gathered from the feature maps and one BN on it, every step
            cost += MODES_S_PER_VALUE * self.stat_steps * self.batch_size * PIXELS[self.dataset] * self.stat_channels
        if "folding" in self.parts:  # calibration pass + 3 nets x (repeats + 1) forwards of the batch
            cost += gflop_seconds(per_image / 3 * (TRAIN_IMAGES[self.dataset]
                                                   + 3 * (self.fold_repeats + 1) * self.fold_batch))
        return cost


def run(cfg: BatchNormConfig, control: RunControl) -> Iterator[Frame]:
    variants = cfg.variants()
    yield Frame(0.0, f"starting: {len(cfg.parts)} parts, {len(variants)} CNNs to train")
    weights = {"modes": 0.08, "train": 0.84, "folding": 0.08}
    steps = [p for p in ("modes",) if p in cfg.parts] + (["train"] if variants else []) + \
        [p for p in ("folding",) if p in cfg.parts]
    total = sum(weights[p] for p in steps)
    done, verdicts, numbers = 0.0, [], {}

    def stopped(progress: float) -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(progress, f"{reason} after {progress:.0%} of the run", verdicts=list(verdicts),
                     numbers=dict(numbers), done=True)

    if "modes" in cfg.parts:
        stats = running_stats(batch_size=cfg.batch_size, steps=cfg.stat_steps, momentum=cfg.bn_momentum,
                              channels=cfg.stat_channels, seed=cfg.seed, dataset=cfg.dataset)
        checks = mode_checks(stats, batch_size=cfg.batch_size, channels=cfg.stat_channels, seed=cfg.seed,
                             dataset=cfg.dataset)
        done += weights["modes"] / total
        verdicts += mode_verdicts(stats, checks, cfg)
        numbers["running_stats"] = {**vars(stats), "converged_at": stats.converged_at(CONVERGED)}
        numbers["checks"] = check_rows(checks)
        numbers["modes"] = vars(checks)
        yield Frame(min(done, 1.0), f"one BN layer: {cfg.stat_steps} minibatches fed, train and eval compared",
                    figures=mode_figures(stats, checks, cfg), tables={"checks": pd.DataFrame(numbers["checks"])},
                    verdicts=list(verdicts), numbers=dict(numbers))
    if control.stop_reason():
        yield stopped(done)
        return

    if variants:
        data = get_dataset(cfg.dataset, seed=cfg.seed)
        share, last_frame, histories, trainers, reached = weights["train"] / total, 0.0, [], [], 0.0
        for reached, histories, trainers in train_variants(
                data, variants, depth=cfg.depth, width=cfg.width, activation=cfg.activation, epochs=cfg.epochs,
                batch_size=cfg.batch_size, bn_momentum=cfg.bn_momentum, seed=cfg.seed, control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last_frame < FRAME_INTERVAL_S:
                continue
            last_frame = now
            yield Frame(min(done + share * reached, 1.0),
                        f"training {len(variants)} CNNs on {cfg.dataset}: {reached:.0%}",
                        figures={"curves": curves_figure(histories, cfg)},
                        numbers={**numbers, **training_numbers(histories, cfg, data)})
        done += share * reached
        numbers.update(training_numbers(histories, cfg, data))
        figures = {"curves": curves_figure(histories, cfg), "steps_to_target": steps_figure(histories, cfg, data)}
        tables = {"training": training_table(histories, cfg)}
        if not control.stop_reason():
            reference = trainers[1]  # the good-init BN net at the chosen position
            with torch_threads(TRAIN_THREADS):
                bug = train_mode_bug(reference.model, data, small_batch=cfg.bug_batch, seed=cfg.seed)
            numbers["bug"] = {"model": histories[1].name, "rows": bug}
            figures["bug"] = bn_plots.accuracy_bars(
                bug, title=f"One trained BN net ({histories[1].name}): test accuracy, evaluated in eval vs train mode")
            tables["bug"] = pd.DataFrame(bug)
        verdicts += training_verdicts(histories, numbers.get("bug"), cfg, data)
        yield Frame(min(done, 1.0), f"CNNs trained ({reached:.0%} of the steps)", figures=figures, tables=tables,
                    verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

    if "folding" in cfg.parts:
        data = get_dataset(cfg.dataset, seed=cfg.seed)
        device = pick_device()
        with torch_threads(TRAIN_THREADS):
            model = calibrated_model(data.x_train.to(device), in_channels=data.in_channels,
                                     num_classes=data.num_classes, depth=cfg.depth, width=cfg.width,
                                     activation=cfg.activation, image_size=data.image_size[0], seed=cfg.seed)
            x = fold_inputs(data, cfg.fold_batch).to(device)
            fold = compare_folding(model, x, repeats=cfg.fold_repeats)
        done += weights["folding"] / total
        verdicts.append(fold_verdict(fold, cfg))
        numbers["folding"] = {**vars(fold), "speedup": fold.speedup, "speedup_torch": fold.speedup_torch,
                              "threads": TRAIN_THREADS, "device": str(device)}
        yield Frame(min(done, 1.0), "BN folded into the convs", figures={"folding": folding_figure(fold, cfg)},
                    tables={"folding": folding_table(fold)}, verdicts=list(verdicts), numbers=dict(numbers))

    yield Frame(1.0, f"done in {control.elapsed():.1f} s", verdicts=list(verdicts), numbers=dict(numbers), done=True)


def _tol(scale: float, rel: float) -> float:
    return rel * max(1.0, scale)


# ---- one BN layer -----------------------------------------------------------------------------

def check_rows(c: ModeChecks) -> list[dict]:
    """The measured differences, each with what it compares and the line it is held to."""
    same = _tol(c.output_scale, EQUAL_TOL)
    return [
        {"check": "train vs eval", "compares": "the same batch in train mode and in eval mode",
         "max_abs_diff": c.train_vs_eval, "expected": f"differ (> {_tol(c.output_scale, DIFFER):.2g})"},
        {"check": "eval vs formula", "compares": "eval output vs gamma (x - running_mean) / sqrt(running_var + eps)"
                                                 " + beta, in float64", "max_abs_diff": c.eval_vs_formula,
         "expected": f"equal (<= {same:.2g})"},
        {"check": "train vs formula", "compares": "train output vs the same formula with this batch's mean and "
                                                  "biased variance", "max_abs_diff": c.train_vs_formula,
         "expected": f"equal (<= {same:.2g})"},
        {"check": "identity", "compares": "gamma = sqrt(batch var + eps), beta = batch mean: output vs input",
         "max_abs_diff": c.identity, "expected": f"equal (<= {_tol(c.input_scale, EQUAL_TOL):.2g})"},
        {"check": "other batch, train", "compares": "image 0's output in two different batches, train mode",
         "max_abs_diff": c.same_image_other_batch, "expected": "differ"},
        {"check": "other batch, eval", "compares": "image 0's output in two different batches, eval mode",
         "max_abs_diff": c.same_image_other_batch_eval, "expected": "equal (exactly 0)"},
    ]


def mode_verdicts(s: RunningStats, c: ModeChecks, cfg: BatchNormConfig) -> list[Verdict]:
    at = s.converged_at(CONVERGED)
    differ = c.train_vs_eval > _tol(c.output_scale, DIFFER)
    formula = c.eval_vs_formula <= _tol(c.output_scale, EQUAL_TOL)
    train_formula = c.train_vs_formula <= _tol(c.output_scale, EQUAL_TOL)
    identity = c.identity <= _tol(c.input_scale, EQUAL_TOL)
    return [
        Verdict(label="running statistics", passed=at is not None, text=(
            f"A BatchNorm2d with momentum {cfg.bn_momentum:g} fed {cfg.stat_steps} shuffled minibatches of "
            f"{cfg.batch_size} ({cfg.stat_channels} channels of a fixed random conv of the {cfg.dataset} images). "
            f"Largest error over channels: running mean {s.mean_error[0]:.3g} data stds at the start, "
            f"{s.mean_error[-1]:.3g} at the end; running variance {s.var_error[0]:.3g} relative, then "
            f"{s.var_error[-1]:.3g}. "
            + (f"Both within {CONVERGED:g} from step {at} on (the update rule predicts a decay of "
               f"(1 - {cfg.bn_momentum:g})^step)." if at is not None else
               f"Not within {CONVERGED:g} by the last step: a lower momentum needs more steps "
               f"(the error decays as (1 - {cfg.bn_momentum:g})^step).")
            + " PyTorch's running variance uses the unbiased batch variance; normalising uses the biased one.")),
        Verdict(label="train vs eval", passed=differ and formula, text=(
            f"The same {c.batch} test maps: train-mode and eval-mode outputs differ by up to {c.train_vs_eval:.3g} "
            f"(outputs up to {c.output_scale:.3g}); eval output vs gamma (x - running_mean) / sqrt(running_var + "
            f"eps) + beta: max abs difference {c.eval_vs_formula:.2g}"
            + (" (equal)." if formula else f" (NOT within {_tol(c.output_scale, EQUAL_TOL):.2g}).")
            + f" Train output vs the batch-statistics formula: {c.train_vs_formula:.2g}"
            + (" (equal)." if train_formula else " (not equal).")
            + f" In train mode one image's output depends on its batch-mates: {c.same_image_other_batch:.3g} "
            f"apart in two batches; in eval mode {c.same_image_other_batch_eval:.3g}.")),
        Verdict(label="gamma, beta recover the identity", passed=identity, text=(
            f"With gamma = sqrt(batch var + eps) (the lecture's sigma) and beta = batch mean (mu), BN's output "
            f"equals its input to {c.identity:.2g} (inputs up to {c.input_scale:.3g}): BN can learn to undo "
            "itself, so normalising takes no expressive power away.")),
    ]


def mode_figures(s: RunningStats, c: ModeChecks, cfg: BatchNormConfig) -> dict:
    return {
        "running_stats": bn_plots.running_stats(
            vars(s), title=f"Running statistics of one BatchNorm2d, momentum {cfg.bn_momentum:g}, "
                           f"batch {cfg.batch_size}"),
        "checks": bn_plots.difference_bars(
            [dict(name=r["check"], value=r["max_abs_diff"]) for r in check_rows(c)],
            tolerance=_tol(c.output_scale, EQUAL_TOL), floor=LOG_FLOOR,
            title=f"One BN layer on {c.batch} test maps: max absolute differences"),
        "train_eval": bn_plots.mode_scatter(
            c.sample_eval, c.sample_train,
            title=f"The same inputs, eval mode vs train mode ({len(c.sample_eval)} output values)"),
    }


# ---- training ---------------------------------------------------------------------------------

def total_steps(cfg: BatchNormConfig, data: ImageDataset) -> int:
    return -(-len(data.x_train) // min(cfg.batch_size, len(data.x_train))) * cfg.epochs


def _finished(h: History, cfg: BatchNormConfig, data: ImageDataset) -> bool:
    return h.diverged_at is not None or bool(h.steps and h.steps[-1] >= total_steps(cfg, data))


def training_numbers(histories: list[History], cfg: BatchNormConfig, data: ImageDataset) -> dict:
    return {"cnn": {h.name: {**h.as_dict(), "steps_to_target": h.steps_to(cfg.target_accuracy)} for h in histories},
            "cnn_settings": {"target_accuracy": cfg.target_accuracy, "total_steps": total_steps(cfg, data),
                             "eval_every": max(1, total_steps(cfg, data) // cfg.epochs // EVALS_PER_EPOCH),
                             "good_init": cfg.good_init}}


def training_table(histories: list[History], cfg: BatchNormConfig) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": h.variant.scenario, "net": h.name, "steps": h.steps[-1] if h.steps else 0,
                          "steps_to_target": h.steps_to(cfg.target_accuracy),
                          "best_test_accuracy": max(h.test_accuracy), "final_test_accuracy": h.test_accuracy[-1],
                          "diverged_at": h.diverged_at} for h in histories])


def _where(h: History, cfg: BatchNormConfig) -> str:
    s = h.steps_to(cfg.target_accuracy)
    if s is not None:
        return f"{s} steps"
    if h.diverged_at is not None:
        return f"diverged at step {h.diverged_at}"
    return f"not reached in {h.steps[-1] if h.steps else 0} steps (best {max(h.test_accuracy):.1%})"


def pair_verdict(plain: History, bn: History, cfg: BatchNormConfig, data: ImageDataset) -> tuple[bool | None, str]:
    """BN reaches the target and the plain net does not, or needs ``MUCH_SLOWER`` x the steps.
    None while a run cut short by Stop leaves it undecided."""
    b, p = bn.steps_to(cfg.target_accuracy), plain.steps_to(cfg.target_accuracy)
    words = f"no BN {_where(plain, cfg)}, with BN {_where(bn, cfg)}"
    if b is not None and p is not None:
        # a target at or below an untrained net's accuracy is met at step 0: no ratio, and no
        # advantage for BN unless the plain net needed steps
        words += (f" ({p / b:.2g}x the steps without BN)" if b else
                  " (both at the target before any step: it is too low to tell them apart)" if p == 0 else "")
    if b is None and not _finished(bn, cfg, data):
        return None, words
    if b is None:
        return False, words
    if p is None:
        return (True, words) if _finished(plain, cfg, data) else (None, words)
    return p >= MUCH_SLOWER * b and p > b, words


def training_verdicts(histories: list[History], bug: dict | None, cfg: BatchNormConfig,
                      data: ImageDataset) -> list[Verdict]:
    by = {(h.variant.norm, h.variant.init, h.variant.lr, h.variant.norm_position): h for h in histories}
    good, pos, out = cfg.good_init, cfg.norm_position, []
    target = f"{cfg.target_accuracy:.0%} test accuracy"
    ref_plain, ref_bn = by[("none", good, cfg.lr, "before_act")], by[("batch", good, cfg.lr, pos)]
    ref_passed, ref_words = pair_verdict(ref_plain, ref_bn, cfg, data)
    if "robustness" in cfg.parts:
        bad_passed, bad_words = pair_verdict(by[("none", cfg.bad_init, cfg.lr, "before_act")],
                                             by[("batch", cfg.bad_init, cfg.lr, pos)], cfg, data)
        out.append(Verdict(label="BN is robust to a bad init", passed=bad_passed, text=(
            f"Init {cfg.bad_init} ({INITS[cfg.bad_init].label}), lr {cfg.lr:g}, steps to {target}: {bad_words}. "
            f"Passes when BN gets there and the plain net does not, or needs {MUCH_SLOWER:g}x the steps. "
            f"For reference, the good init ({good}): {ref_words}.")))
        high_passed, high_words = pair_verdict(by[("none", good, cfg.high_lr, "before_act")],
                                               by[("batch", good, cfg.high_lr, pos)], cfg, data)
        out.append(Verdict(label="BN allows a higher learning rate", passed=high_passed, text=(
            f"lr {cfg.high_lr:g} ({cfg.high_lr / cfg.lr:.3g}x lr), init {good}, steps to {target}: {high_words}.")))
    if "placement" in cfg.parts:
        other = by[("batch", good, cfg.lr, cfg.other_position)]
        before, after = (ref_bn, other) if pos == "before_act" else (other, ref_bn)
        out.append(Verdict(label="BN before or after the nonlinearity", text=(
            f"Init {good}, lr {cfg.lr:g}, steps to {target}: BN before the activation {_where(before, cfg)} "
            f"(final {before.test_accuracy[-1]:.1%}), after it {_where(after, cfg)} (final "
            f"{after.test_accuracy[-1]:.1%}), no BN {_where(ref_plain, cfg)} (final "
            f"{ref_plain.test_accuracy[-1]:.1%}). The lecture inserts BN before the nonlinearity; only that "
            "placement can be folded into the conv at test time.")))
    if bug:
        rows = {r["evaluation"]: r["accuracy"] for r in bug["rows"]}
        right = bug["rows"][0]["accuracy"]
        train_rows = [r for r in bug["rows"] if r["mode"] == "train"]
        worst = min(train_rows, key=lambda r: r["accuracy"])
        parts = "; ".join(f"{name}: {acc:.1%}" for name, acc in rows.items())
        shows = worst["accuracy"] <= right - BUG_DROP
        effect = ("harmless on a large mixed batch, wrong on small or one-class batches" if shows else
                  f"the lecture's warning, but here no train-mode evaluation falls {BUG_DROP * 100:.0f} points below "
                  "eval mode")
        out.append(Verdict(label="the train-mode bug", passed=shows, text=(
            f"One trained BN net ({bug['model']}) on the {len(data.x_test)} test images: {parts}. "
            f"Forgetting model.eval() normalises each test batch by its own statistics: {effect} "
            f"(worst: {worst['evaluation']}, {worst['accuracy']:.1%} vs "
            f"{right:.1%}). Every train-mode forward also moves the running statistics: eval mode after one "
            f"train-mode pass over the one-class batches gives {bug['rows'][-1]['accuracy']:.1%}.")))
    return out


def curves_figure(histories: list[History], cfg: BatchNormConfig):
    rows = []
    for scenario in dict.fromkeys(h.variant.scenario for h in histories):
        rows.append({"title": scenario, "histories": [
            dict(name=h.name, color_key="no BN" if h.variant.norm == "none" else
                 f"BN {h.variant.norm_position.replace('_', ' ')}", steps=h.steps, loss=h.loss,
                 eval_steps=h.eval_steps, test_accuracy=h.test_accuracy)
            for h in histories if h.variant.scenario == scenario]})
    return bn_plots.scenario_curves(rows, target=cfg.target_accuracy,
                                    title=f"Small CNN on {cfg.dataset}, with and without BatchNorm "
                                          f"(dotted: target {cfg.target_accuracy:.0%})")


def steps_figure(histories: list[History], cfg: BatchNormConfig, data: ImageDataset):
    return bn_plots.steps_bars(
        [dict(name=h.name, steps=h.steps_to(cfg.target_accuracy)) for h in histories],
        target=cfg.target_accuracy, total_steps=total_steps(cfg, data),
        title=f"Training steps to {cfg.target_accuracy:.0%} test accuracy")


# ---- folding ----------------------------------------------------------------------------------

def fold_inputs(data: ImageDataset, batch: int) -> torch.Tensor:
    """``batch`` test images (the test set repeated if it is smaller)."""
    reps = -(-batch // len(data.x_test))
    return torch.cat([data.x_test] * reps)[:batch]


def fold_verdict(f: FoldResult, cfg: BatchNormConfig) -> Verdict:
    tol = _tol(f.max_abs_logit, FOLD_TOL)
    equal, faster = f.max_abs_diff <= tol, f.speedup > 1.0
    ms = {k: v * 1e3 for k, v in f.seconds.items()}
    return Verdict(label="BN folds into the conv", passed=equal and faster, text=(
        f"{f.batchnorms_before} BN layers folded into the convs before them ({f.batchnorms_after} left); on a batch "
        f"of {f.batch} images the logits (up to {f.max_abs_logit:.3g}) change by at most {f.max_abs_diff:.2g} "
        f"(line {tol:.2g}: " + ("equal" if equal else "NOT equal") + f"), the predicted class of "
        f"{f.argmax_agree:.1%} of the images is unchanged; PyTorch's fuse_conv_bn_eval: {f.max_abs_diff_torch:.2g} "
        f"from the unfolded net, {f.max_abs_diff_ours_vs_torch:.2g} from ours (we compute the new weights in "
        f"float64, it in float32). Median of {cfg.fold_repeats} forwards on {TRAIN_THREADS} thread: unfolded "
        f"{ms['unfolded']:.3g} ms, folded {ms['folded']:.3g} ms ({f.speedup:.2f}x), torch fused "
        f"{ms['torch fused']:.3g} ms ({f.speedup_torch:.2f}x): folding is "
        + ("faster" if faster else "NOT faster here") + ". The net: Kaiming weights, running statistics "
        "from a pass over the training images, gamma and beta drawn away from 1 and 0."
        + (" (The trained nets use BN after the activation, which cannot be folded into the conv before it; "
           "this net has it before.)" if cfg.norm_position == "after_act" else "")))


def folding_table(f: FoldResult) -> pd.DataFrame:
    return pd.DataFrame([{"net": name, "median_ms": s * 1e3, "speedup_vs_unfolded": f.seconds["unfolded"] / s,
                          "max_abs_diff_vs_unfolded": {"unfolded": 0.0, "folded": f.max_abs_diff,
                                                       "torch fused": f.max_abs_diff_torch}[name]}
                         for name, s in f.seconds.items()])


def folding_figure(f: FoldResult, cfg: BatchNormConfig):
    return bn_plots.timing_bars(f.seconds, f.times, title=(
        f"Inference on {f.batch} images: unfolded vs folded (max |logit difference| {f.max_abs_diff:.2g}; "
        f"{f.speedup:.2f}x)"))
