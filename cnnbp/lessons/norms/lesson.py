"""Lesson "norms": BatchNorm, LayerNorm, InstanceNorm and GroupNorm compared, each claim measured.

Seven parts, streamed in order: the N x C x H x W picture (which cells share a statistic,
checked against PyTorch), GroupNorm's equivalences, InstanceNorm's contrast invariance, the
same CNN trained with each norm, the batch-size sweep (GroupNorm's paper), batch size 1, and
SyncBatchNorm simulated on one machine.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Iterator, Literal

import pandas as pd
import torch
from pydantic import Field, ValidationInfo, field_validator

from cnnbp.data import ImageDataset, get_dataset
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choices, gflop_seconds
from cnnbp.lessons.norms import axes
from cnnbp.lessons.norms.batch_one import BatchOneResult, batch_one
from cnnbp.lessons.norms.contrast import CHANGED_ABOVE, INVARIANT_BELOW, ContrastResult, contrast_invariance
from cnnbp.lessons.norms.equivalences import equivalences
from cnnbp.lessons.norms.sync import SimulatedDevicesBN2d, statistics_noise
from cnnbp.lessons.norms.training import EVALS_PER_EPOCH, NormRun, RunSpec, build_model, train_final, \
    train_side_by_side
from cnnbp.nn.norms import NORMS
from cnnbp.plots import norms as norm_plots
from cnnbp.plots import training_curves
from cnnbp.train import RunControl

Part = Literal["picture", "equivalences", "contrast", "compare", "sweep", "batch_one", "sync"]
PARTS: tuple[str, ...] = ("picture", "equivalences", "contrast", "compare", "sweep", "batch_one", "sync")
SWEEP_NORMS = {k: NORMS[k] for k in ("batch", "group", "layer", "instance", "none")}
BATCH_SIZES = {str(b): b for b in (64, 32, 16, 8, 4, 2)}  # the sweep's choices, largest first
DEVICE_COUNTS = {str(k): k for k in (1, 2, 4, 8, 16, 32)}
TRAIN_IMAGES = {"digits": 1437, "shapes": 2000}
TEST_IMAGES = {"digits": 360, "shapes": 1000}
IMAGE_SIZE = {"digits": 8, "shapes": 32}
IN_CHANNELS = {"digits": 1, "shapes": 3}

# Fixed before any run, never tuned to a result:
EQUIVALENCE_SHAPE = (8, 16, 8, 8)  # the first feature maps of the default CNN on a batch of 8 digits
SYNC_TOLERANCE = 1e-5  # float32 rounding (~100 ulps), relative to the largest value compared
LOSS_AGREES = 1e-5  # two training losses "agree" (float32 rounding of a loss of order 1)
NOISE_BATCHES = 8  # batches the statistics' noise is averaged over
# Measured: ~3 ms a training step of the default CNN on one thread, whatever the batch (Python
# and autograd overhead); the arithmetic comes on top at NOMINAL_GFLOPS.
STEP_OVERHEAD_S = 0.003
FRAME_INTERVAL_S = 0.8  # at most ~1 update a second while training streams


class NormsConfig(LessonConfig):
    parts: list[Part] = Field(list(PARTS), min_length=1, description="which experiments to run")
    # The picture: a small tensor, so every cell is a visible marker.
    picture_batch: int = Field(4, ge=1, le=8, description="picture: N, the books")
    picture_channels: int = Field(6, ge=1, le=16, description="picture: C, the pages per book (lecture: 6)")
    # At least 2: torch's InstanceNorm refuses a 1 x 1 map in training (one word per page has no
    # spread), and a statistic of one cell has a zero gradient, so the check against torch cannot see it.
    picture_size: int = Field(3, ge=2, le=5, description="picture: H = W; H x W words per page")
    picture_groups: int = Field(3, ge=1, le=16, description="picture: GroupNorm's groups (the lecture's "
                                "GroupNorm(3, 6)); must divide picture_channels")
    cell_sample: int = Field(0, ge=0, le=7, description="picture: the chosen cell's book (sample)")
    cell_channel: int = Field(1, ge=0, le=15, description="picture: the chosen cell's page (channel)")
    # The CNN every training part uses.
    dataset: Literal["digits", "shapes"] = Field(
        "digits", description="training data (shapes: 32x32 RGB, 16x the pixels: fewer epochs)")
    depth: int = Field(4, ge=1, le=6, description="CNN conv layers, a norm after each")
    width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer (doubling at each pooling)")
    groups: int = Field(4, ge=1, le=64, description="GroupNorm's groups in the CNN; must divide width")
    norms: choices(NORMS, "norm") = Field(list(NORMS), description="norms trained side by side")
    epochs: int = Field(3, ge=1, le=20, description="epochs of the side-by-side and SyncBatchNorm runs")
    batch_size: int = Field(32, ge=2, le=256, description="minibatch of the side-by-side runs")
    lr: float = Field(0.05, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9) at batch_size; "
                      "other batch sizes get lr x batch / batch_size (the linear scaling rule)")
    seeds: int = Field(2, ge=1, le=5, description="seeds of the side-by-side runs (differences are small)")
    sweep_norms: choices(SWEEP_NORMS, "norm") = Field(["batch", "group", "layer"],
                                                      description="norms in the batch-size sweep")
    sweep_batches: choices(BATCH_SIZES, "batch size") = Field(["32", "8", "2"],
                                                              description="batch sizes of the sweep")
    sweep_images: int = Field(512, ge=64, le=2000, description="sweep: train on the first so many images "
                              "(batch 2 takes images / 2 steps an epoch)")
    sweep_epochs: int = Field(2, ge=1, le=10, description="sweep (and batch size 1): epochs")
    sweep_seeds: int = Field(1, ge=1, le=5, description="sweep: seeds per point")
    contrast_scale: float = Field(0.5, gt=0.0, le=10.0, description="contrast change x -> a x + b: a")
    contrast_shift: float = Field(0.2, ge=-1.0, le=1.0, description="contrast change x -> a x + b: b")
    sync_batch: int = Field(32, ge=2, le=256, description="SyncBatchNorm: the whole batch over all devices")
    sync_devices: choices(DEVICE_COUNTS, "device count") = Field(
        ["2", "8", "16"], description="SyncBatchNorm: simulated device counts K (per-device batch = sync_batch / K)")

    @field_validator("picture_groups")
    @classmethod
    def _picture_groups_divide(cls, groups: int, info: ValidationInfo) -> int:
        if "picture_channels" in info.data:
            axes.check_groups(info.data["picture_channels"], groups, what="picture_groups")
        return groups

    @field_validator("cell_sample", "cell_channel")
    @classmethod
    def _cell_inside(cls, value: int, info: ValidationInfo) -> int:
        size_field = {"cell_sample": "picture_batch", "cell_channel": "picture_channels"}[info.field_name]
        size = info.data.get(size_field)
        if size is not None and value >= size:
            raise ValueError(f"{info.field_name} ({value}) must be below {size_field} ({size})")
        return value

    @field_validator("groups")
    @classmethod
    def _groups_divide(cls, groups: int, info: ValidationInfo) -> int:
        if "width" in info.data:
            axes.check_groups(info.data["width"], groups)
        return groups

    @field_validator("sweep_images")
    @classmethod
    def _sweep_images_exist(cls, n: int, info: ValidationInfo) -> int:
        dataset = info.data.get("dataset")
        if dataset and n > TRAIN_IMAGES[dataset]:
            raise ValueError(f"sweep_images ({n}) is more than the {TRAIN_IMAGES[dataset]} training images "
                             f"of {dataset}")
        return n

    @field_validator("sync_devices")
    @classmethod
    def _devices_fit(cls, devices: list[str], info: ValidationInfo) -> list[str]:
        batch = info.data.get("sync_batch")
        too_many = [k for k in devices if batch is not None and DEVICE_COUNTS[k] > batch]
        if too_many:
            raise ValueError(f"sync_devices ({', '.join(too_many)}) must not exceed sync_batch ({batch}): "
                             "every device needs an image")
        return devices

    # ---- derived settings ----

    def batch_list(self) -> list[int]:
        """The sweep's batch sizes, largest first."""
        return sorted((BATCH_SIZES[b] for b in self.sweep_batches), reverse=True)

    def device_list(self) -> list[int]:
        return sorted(DEVICE_COUNTS[k] for k in self.sync_devices)

    def lr_at(self, batch: int) -> float:
        """The linear scaling rule (Goyal et al., as the GroupNorm paper trains): lr x b / batch_size."""
        return self.lr * batch / self.batch_size

    def compare_specs(self) -> list[RunSpec]:
        return [RunSpec(n, self.seed + i, self.batch_size, self.lr) for i in range(self.seeds) for n in self.norms]

    def sweep_specs(self) -> list[RunSpec]:
        return [RunSpec(n, self.seed + i, b, self.lr_at(b), label=f"{n}, batch {b}, seed {self.seed + i}")
                for b in self.batch_list() for n in self.sweep_norms for i in range(self.sweep_seeds)]

    def batch_one_spec(self) -> RunSpec:
        return RunSpec("batch", self.seed, 1, self.lr_at(1), label=f"batch, batch 1, seed {self.seed}")

    def sync_specs(self) -> list[RunSpec]:
        b = self.sync_batch
        specs = [RunSpec("batch", self.seed, b, self.lr_at(b), devices=k, sync=False,
                         label=f"{k} devices x {b / k:g} images, own statistics") for k in self.device_list()]
        k = max(self.device_list())
        specs.append(RunSpec("batch", self.seed, b, self.lr_at(b), devices=k, sync=True,
                             label=f"{k} devices, synchronised"))
        return specs

    def train_images(self) -> int:
        return TRAIN_IMAGES[self.dataset]

    def cost_seconds(self) -> float:
        macs = cnn_macs_per_image(depth=self.depth, width=self.width, in_channels=IN_CHANNELS[self.dataset],
                                  size=IMAGE_SIZE[self.dataset])
        n, tests = self.train_images(), TEST_IMAGES[self.dataset]

        def steps(batch: int, images: int, epochs: int) -> float:  # seconds to train one run
            count = math.ceil(images / batch) * epochs
            return count * STEP_OVERHEAD_S + gflop_seconds(6 * macs * images * epochs)

        evaluate = gflop_seconds(2 * macs * tests)  # one test-set forward
        cost = 0.0
        if "compare" in self.parts:
            per_run = steps(self.batch_size, n, self.epochs) + evaluate * (EVALS_PER_EPOCH * self.epochs + 1)
            cost += per_run * len(self.compare_specs())
        if "sweep" in self.parts:
            cost += sum(steps(s.batch_size, self.sweep_images, self.sweep_epochs) + evaluate
                        for s in self.sweep_specs())
        if "batch_one" in self.parts:
            cost += steps(1, self.sweep_images, self.sweep_epochs) + evaluate
        if "sync" in self.parts:
            per_run = steps(self.sync_batch, n, self.epochs) + evaluate * (EVALS_PER_EPOCH * self.epochs + 1)
            cost += per_run * len(self.sync_specs())
        return cost


def _n(count: int, word: str) -> str:
    """"1 epoch", "3 epochs"."""
    return f"{count} {word}{'s' * (count != 1)}"


def cfg_pixels(cfg: NormsConfig) -> int:
    """H x W of the first feature maps (same padding keeps the image size)."""
    return IMAGE_SIZE[cfg.dataset] ** 2


def cnn_macs_per_image(*, depth: int, width: int, in_channels: int, size: int, kernel: int = 3) -> float:
    """Multiply-adds of one forward pass of SmallCNN's convs (same schedule: 2x2 pooling after
    every second block while the map is >= 4 px, doubling the width)."""
    macs, c_in, c_out = 0.0, in_channels, width
    for i in range(depth):
        macs += kernel * kernel * c_in * c_out * size * size
        c_in = c_out
        if i % 2 == 1 and size >= 4:
            size //= 2
            c_out *= 2
    return macs


# ---- the run ---------------------------------------------------------------------------------

def run(cfg: NormsConfig, control: RunControl) -> Iterator[Frame]:
    weights = {"picture": 0.01, "equivalences": 0.01, "contrast": 0.02, "compare": 0.35, "sweep": 0.35,
               "batch_one": 0.12, "sync": 0.14}
    total = sum(weights[p] for p in cfg.parts)
    done, verdicts, numbers = 0.0, [], {}
    yield Frame(0.0, f"starting: {len(cfg.parts)} parts")

    def frame(message: str, **kw) -> Frame:
        return Frame(done, message, verdicts=list(verdicts), numbers=dict(numbers), **kw)

    def stopped() -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(done, f"{reason} after {done:.0%} of the run", verdicts=list(verdicts),
                     numbers=dict(numbers), done=True)

    if "picture" in cfg.parts:
        numbers["picture"] = picture_numbers(cfg)
        verdicts.append(picture_verdict(numbers["picture"], cfg))
        done += weights["picture"] / total
        yield frame("the N x C x H x W picture drawn", figures={"picture": picture_figure(numbers["picture"], cfg)},
                    tables={"picture": picture_table(numbers["picture"])})

    if "equivalences" in cfg.parts:
        rows = equivalences(shape=EQUIVALENCE_SHAPE, seed=cfg.seed)
        numbers["equivalences"] = rows
        verdicts.append(equivalence_verdict(rows))
        done += weights["equivalences"] / total
        yield frame("GroupNorm's equivalences measured", tables={"equivalences": pd.DataFrame(rows)})

    data = get_dataset(cfg.dataset, seed=cfg.seed) if set(cfg.parts) - {"picture", "equivalences"} else None

    if "contrast" in cfg.parts:
        result = contrast_invariance(data.x_train[:256], data.x_test[:64], scale=cfg.contrast_scale,
                                     shift=cfg.contrast_shift, seed=cfg.seed)
        numbers["contrast"] = vars(result)
        verdicts.append(contrast_verdict(result))
        done += weights["contrast"] / total
        yield frame("contrast invariance measured", figures={"contrast": contrast_figure(result)},
                    tables={"contrast": contrast_table(result)})

    if "compare" in cfg.parts:
        share, last, runs = weights["compare"] / total, 0.0, []
        specs = cfg.compare_specs()
        reached = 0.0
        for reached, runs in train_side_by_side(data, specs, depth=cfg.depth, width=cfg.width, groups=cfg.groups,
                                                epochs=cfg.epochs, control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            yield Frame(done + share * reached, f"training {len(specs)} CNNs side by side: {reached:.0%}",
                        figures={"compare_curves": compare_curves(runs, cfg)},
                        numbers={**numbers, "compare": compare_numbers(runs, cfg)})
        done += share * reached
        numbers["compare"] = compare_numbers(runs, cfg)
        verdicts.append(compare_verdict(numbers["compare"], cfg))
        yield frame(f"{len(specs)} CNNs trained", figures={"compare_curves": compare_curves(runs, cfg),
                                                          "compare_final": compare_bars(numbers["compare"], cfg)},
                    tables={"compare": pd.DataFrame(numbers["compare"]["summary"])})
        if control.stop_reason():
            yield stopped()
            return

    sweep_runs: list[NormRun] = []
    if "sweep" in cfg.parts:
        share, last, reached = weights["sweep"] / total, 0.0, 0.0
        specs = cfg.sweep_specs()
        for reached, sweep_runs in train_final(data, specs, depth=cfg.depth, width=cfg.width, groups=cfg.groups,
                                               epochs=cfg.sweep_epochs, control=control,
                                               train_images=cfg.sweep_images):
            now = time.perf_counter()
            if reached < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            current = sweep_runs[-1]
            yield Frame(done + share * reached, f"batch-size sweep: {current.name} ({reached:.0%})",
                        numbers=dict(numbers))
        done += share * reached
        numbers["sweep"] = sweep_numbers(sweep_runs, cfg)
        verdicts.append(sweep_verdict(numbers["sweep"], cfg))
        yield frame(f"batch-size sweep done ({len(sweep_runs)} runs)",
                    figures={"sweep": sweep_figure(numbers["sweep"], cfg, None)},
                    tables={"sweep": sweep_table(sweep_runs)})
        if control.stop_reason():
            yield stopped()
            return

    if "batch_one" in cfg.parts:
        result = batch_one(seed=cfg.seed)
        yield frame("batch size 1: PyTorch's answer caught; training a BatchNorm CNN at batch size 1")
        share, last, reached, runs = weights["batch_one"] / total, 0.0, 0.0, []
        for reached, runs in train_final(data, [cfg.batch_one_spec()], depth=cfg.depth, width=cfg.width,
                                         groups=cfg.groups, epochs=cfg.sweep_epochs, control=control,
                                         train_images=cfg.sweep_images):
            now = time.perf_counter()
            if reached < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            yield Frame(done + share * reached, f"BatchNorm CNN at batch size 1: {reached:.0%}", numbers=dict(numbers))
        done += share * reached
        cnn = runs[0] if runs and (runs[0].final_accuracy is not None or runs[0].diverged_at) else None
        numbers["batch_one"] = {**vars(result), "cnn": cnn.as_dict() if cnn else None}
        verdicts.append(batch_one_verdict(result, cnn, numbers.get("sweep"), cfg))
        figures = {"sweep": sweep_figure(numbers["sweep"], cfg, cnn)} if "sweep" in numbers else {}
        yield frame("batch size 1 shown", figures=figures, tables={"batch_one": batch_one_table(result, cnn)})
        if control.stop_reason():
            yield stopped()
            return

    if "sync" in cfg.parts:
        noise = sync_noise(data, cfg)
        check = sync_check(data, cfg)
        share, last, reached, runs = weights["sync"] / total, 0.0, 0.0, []
        specs = cfg.sync_specs()
        for reached, runs in train_side_by_side(data, specs, depth=cfg.depth, width=cfg.width, groups=cfg.groups,
                                                epochs=cfg.epochs, control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            yield Frame(done + share * reached, f"SyncBatchNorm simulation: training {len(specs)} CNNs: "
                        f"{reached:.0%}", numbers=dict(numbers))
        done += share * reached
        numbers["sync"] = {"noise": noise, "check": check,
                           "runs": [dict(r.as_dict(), name=r.name, devices=s.devices, sync=s.sync,
                                         per_device_batch=cfg.sync_batch / s.devices)
                                    for r, s in zip(runs, specs)]}
        verdicts.append(sync_verdict(numbers["sync"], cfg, numbers.get("compare")))
        yield frame("SyncBatchNorm simulated", figures=sync_figures(numbers["sync"], cfg),
                    tables={"sync": sync_table(numbers["sync"])})
        if control.stop_reason():
            yield stopped()
            return

    yield Frame(1.0, f"done in {control.elapsed():.1f} s", verdicts=list(verdicts), numbers=dict(numbers), done=True)


# ---- the picture -----------------------------------------------------------------------------

def picture_numbers(cfg: NormsConfig) -> dict:
    """Per norm: the cells sharing a statistic with the chosen one (from the reduction axes),
    how many statistics the tensor has, and whether torch's own norm reads exactly those cells."""
    shape = (cfg.picture_batch, cfg.picture_channels, cfg.picture_size, cfg.picture_size)
    cell = (cfg.cell_sample, cfg.cell_channel, 0, 0)
    x = torch.randn(shape, generator=make_generator(derive_seed(cfg.seed, "picture")), dtype=torch.float64)
    out = {"shape": list(shape), "chosen": list(cell), "groups": cfg.picture_groups, "norms": {}}
    for kind in axes.KINDS:
        lit = axes.shared_with(kind, shape, cell, groups=cfg.picture_groups)
        from_torch = axes.torch_dependence(x, kind, cell, groups=cfg.picture_groups)
        out["norms"][kind] = {
            "label": axes.LABELS[kind], "axes": axes.AXES[kind], "reading": axes.READING[kind],
            "lit": lit.nonzero().tolist(), "set_size": int(lit.sum()),
            "statistics": int(axes.statistic_index(kind, shape, groups=cfg.picture_groups).unique().numel()),
            "torch_agrees": bool(torch.equal(lit, from_torch)),
        }
    return out


def _picture_title(kind: str, p: dict, cfg: NormsConfig) -> str:
    label = f"GroupNorm, G = {cfg.picture_groups}" if kind == "group" else p["label"]
    return f"{label}: over {p['axes']}, {p['set_size']} cells per statistic<br><sup>{p['reading']}</sup>"


def picture_figure(numbers: dict, cfg: NormsConfig):
    panels = [dict(kind=k, title=_picture_title(k, p, cfg), shape=numbers["shape"], lit=p["lit"],
                   chosen=numbers["chosen"]) for k, p in numbers["norms"].items()]
    n, c, h, w = numbers["shape"]
    return norm_plots.tensor_picture(
        panels, title=f"{n} books x {c} pages x {h * w} words: the cells averaged with book {cfg.cell_sample}, "
                      f"page {cfg.cell_channel} (red)")


def picture_table(numbers: dict) -> pd.DataFrame:
    return pd.DataFrame([{"norm": p["label"], "averages over": p["axes"], "reading": p["reading"],
                          "cells per statistic": p["set_size"], "statistics in the tensor": p["statistics"],
                          "same cells as torch's norm": p["torch_agrees"]} for p in numbers["norms"].values()])


def picture_verdict(numbers: dict, cfg: NormsConfig) -> Verdict:
    n, c, h, w = numbers["shape"]
    parts = [f"{p['label']} {p['set_size']} cells ({p['statistics']} statistics)" for p in numbers["norms"].values()]
    agree = all(p["torch_agrees"] for p in numbers["norms"].values())
    return Verdict(label="N x C x H x W picture", passed=agree, text=(
        f"A {n} x {c} x {h} x {w} tensor ({n} books, {c} pages per book, {h * w} words per page), the cell of book "
        f"{cfg.cell_sample}, page {cfg.cell_channel}: it shares its mean and variance with " + ", ".join(parts)
        + f" (GroupNorm with {cfg.picture_groups} groups). The lit cells are exactly those whose input moves "
        f"torch's own functional norm at that cell (autograd): {'all four agree' if agree else 'MISMATCH'}."))


# ---- equivalences and contrast -----------------------------------------------------------------

def equivalence_verdict(rows: list[dict]) -> Verdict:
    parts = [f"{r['pair']} ({r['dtype']}): max abs diff {r['max_abs_diff']:.2g} (tolerance {r['tolerance']:g})"
             for r in rows]
    return Verdict(label="GroupNorm equivalences", passed=all(r["equal"] for r in rows), text=(
        f"On one N(0, 1) tensor of shape {tuple(rows[0]['shape'])}: " + "; ".join(parts) + "."))


def contrast_table(result: ContrastResult) -> pd.DataFrame:
    return pd.DataFrame([{"norm": n, "max abs change": result.change[n], "change / output std":
                          result.relative_change[n]} for n in result.change])


def contrast_verdict(result: ContrastResult) -> Verdict:
    c = result.change
    passed = c["instance"] < INVARIANT_BELOW and c["batch"] > CHANGED_ABOVE
    others = ", ".join(f"{n} {c[n]:.2g}" for n in c if n not in ("instance", "batch"))
    eps_note = (f"{result.instance_without_eps:.1g} with eps = 0: the rest is eps's doing"
                if result.instance_without_eps is not None else "a flat map: no eps-free figure")
    return Verdict(label="InstanceNorm contrast invariance", passed=passed, text=(
        f"Images x -> {result.scale:g} x + {result.shift:g} (not clipped, so the change stays affine), then one conv "
        f"layer and a norm. Max abs change of the output: InstanceNorm {c['instance']:.2g} (invariant means "
        f"< {INVARIANT_BELOW:g}; {eps_note}), BatchNorm in eval {c['batch']:.2g} (changed means > {CHANGED_ABOVE:g}); "
        f"{others}. LayerNorm and GroupNorm pool channels whose shifts differ, so only the scale cancels."))


def contrast_figure(result: ContrastResult):
    moved = max(abs(a - b) for ra, rb in zip(result.image, result.image_changed) for a, b in zip(ra, rb))
    images = [dict(name="input image", before=result.image, after=result.image_changed, change=moved)]
    for n, label in (("instance", "InstanceNorm"), ("batch", "BatchNorm (eval)")):
        before, after = result.maps[n]
        images.append(dict(name=f"{label}, map 0", before=before, after=after, change=result.change[n]))
    c = result.change  # the title says what was measured: on the shapes InstanceNorm's eps shows
    held = c["instance"] < INVARIANT_BELOW and c["batch"] > CHANGED_ABOVE
    words = ("InstanceNorm's output does not move, BatchNorm's does" if held else
             f"InstanceNorm's output moves by up to {c['instance']:.2g}, BatchNorm's by {c['batch']:.2g}")
    return norm_plots.contrast_maps(images, title=f"Contrast x -> {result.scale:g} x + {result.shift:g}: {words}")


# ---- side by side ------------------------------------------------------------------------------

def compare_numbers(runs: list[NormRun], cfg: NormsConfig) -> dict:
    summary = []
    for norm in cfg.norms:
        mine = [r for r in runs if r.norm == norm]
        accs = [r.final_accuracy for r in mine if r.final_accuracy is not None]
        times = [r.seconds_per_epoch for r in mine if r.seconds_per_epoch]
        summary.append({"norm": norm, "mean": statistics.fmean(accs) if accs else None,
                        "seeds": accs, "min": min(accs) if accs else None, "max": max(accs) if accs else None,
                        "seconds_per_epoch": statistics.fmean(times) if times else 0.0,
                        "diverged": sum(r.diverged_at is not None for r in mine)})
    return {"runs": {r.name: r.as_dict() for r in runs}, "summary": summary}


def compare_curves(runs: list[NormRun], cfg: NormsConfig):
    return training_curves(
        [dict(name=r.name, color_key=r.norm, dash_key=r.seed, steps=r.steps, loss=r.loss, eval_steps=r.eval_steps,
              test_accuracy=r.test_accuracy) for r in runs],
        title=f"Same CNN on {cfg.dataset}, one norm per colour (dash: seed), batch {cfg.batch_size}, lr {cfg.lr:g}")


def compare_bars(numbers: dict, cfg: NormsConfig):
    rows = [r for r in numbers["summary"] if r["mean"] is not None]
    return norm_plots.final_accuracy_bars(
        rows, title=f"Final test accuracy after {_n(cfg.epochs, 'epoch')} ({cfg.seeds} seed{'s' * (cfg.seeds > 1)}), "
                    "time per epoch in the bars")


def compare_verdict(numbers: dict, cfg: NormsConfig) -> Verdict:
    parts = []
    for r in numbers["summary"]:
        if r["mean"] is None:
            parts.append(f"{r['norm']}: diverged or stopped")
            continue
        spread = f" (seeds {', '.join(f'{a:.1%}' for a in r['seeds'])})" if len(r["seeds"]) > 1 else ""
        parts.append(f"{r['norm']} {r['mean']:.1%}{spread}, {r['seconds_per_epoch']:.2f} s/epoch")
    ranked = sorted((r for r in numbers["summary"] if r["mean"] is not None), key=lambda r: -r["mean"])
    top = [r["norm"] for r in ranked if r["mean"] == ranked[0]["mean"]]  # equal accuracies: no single best
    best = (f" Best: {top[0]}." if len(top) == 1 else f" Tied best ({ranked[0]['mean']:.1%}): {', '.join(top)}."
            ) if ranked else ""
    return Verdict(label="norms side by side", text=(
        f"Same CNN ({cfg.depth} convs, width {cfg.width}), same data order and init per seed, "
        f"{_n(cfg.epochs, 'epoch')} at "
        f"batch {cfg.batch_size}, lr {cfg.lr:g}; final test accuracy: " + "; ".join(parts) + "." + best))


# ---- the batch-size sweep ------------------------------------------------------------------------

def sweep_numbers(runs: list[NormRun], cfg: NormsConfig) -> dict:
    summary = {}
    for norm in cfg.sweep_norms:
        batches, means, seeds = [], [], []
        for b in cfg.batch_list():
            accs = [r.final_accuracy for r in runs if r.norm == norm and r.batch_size == b
                    and r.final_accuracy is not None]
            if accs:
                batches.append(b)
                means.append(statistics.fmean(accs))
                seeds.append(accs)
        summary[norm] = {"batch_sizes": batches, "mean": means, "seeds": seeds}
    return {"runs": [dict(r.as_dict(), name=r.name) for r in runs], "summary": summary,
            "train_images": cfg.sweep_images, "epochs": cfg.sweep_epochs}


def sweep_figure(numbers: dict, cfg: NormsConfig, batch_one_run: NormRun | None):
    series = [dict(name=norm, **s) for norm, s in numbers["summary"].items() if s["batch_sizes"]]
    extra = []
    if batch_one_run is not None and batch_one_run.final_accuracy is not None:
        extra.append(dict(name="BatchNorm at batch 1", batch_size=1, accuracy=batch_one_run.final_accuracy))
    return norm_plots.batch_sweep(
        series, extra=extra,
        title=f"Final test accuracy as the batch shrinks ({cfg.sweep_images} training images, "
              f"{_n(cfg.sweep_epochs, 'epoch')}, lr x batch / {cfg.batch_size})")


def sweep_table(runs: list[NormRun]) -> pd.DataFrame:
    return pd.DataFrame([{"norm": r.norm, "batch size": r.batch_size, "seed": r.seed, "lr": r.lr,
                          "steps": r.steps[-1] if r.steps else 0, "final test accuracy": r.final_accuracy,
                          "diverged at": r.diverged_at} for r in runs])


def sweep_verdict(numbers: dict, cfg: NormsConfig) -> Verdict:
    s = numbers["summary"]
    lines = []
    for norm, v in s.items():
        lines.append(f"{norm}: " + ", ".join(f"batch {b} {m:.1%}" for b, m in zip(v["batch_sizes"], v["mean"])))
    smallest = min(cfg.batch_list())
    passed, verdict = None, ""
    if all(n in s and smallest in s[n]["batch_sizes"] for n in ("batch", "group")):
        bn = s["batch"]["mean"][s["batch"]["batch_sizes"].index(smallest)]
        gn = s["group"]["mean"][s["group"]["batch_sizes"].index(smallest)]
        passed = gn > bn
        verdict = (f" At batch {smallest} GroupNorm {'beats' if passed else 'does not beat'} BatchNorm: "
                   f"{gn:.1%} vs {bn:.1%} (mean of {cfg.sweep_seeds} seed{'s' * (cfg.sweep_seeds > 1)}).")
        both = [b for b in s["batch"]["batch_sizes"] if b in s["group"]["batch_sizes"]]
        gaps = [(b, s["batch"]["mean"][s["batch"]["batch_sizes"].index(b)]
                 - s["group"]["mean"][s["group"]["batch_sizes"].index(b)]) for b in both]
        verdict += (" BatchNorm minus GroupNorm: " + ", ".join(f"batch {b} {g * 100:+.1f} points" for b, g in gaps)
                    + f". At batch {smallest} BatchNorm's statistics in the first layers still pool {smallest} x "
                    f"{cfg_pixels(cfg)} positions per channel.")
    return Verdict(label="GroupNorm vs BatchNorm at small batches", passed=passed, text=(
        f"Final test accuracy, {cfg.sweep_images} training images, {_n(cfg.sweep_epochs, 'epoch')} at every batch size "
        f"(lr scaled linearly with the batch, as the GroupNorm paper trains): " + "; ".join(lines) + "." + verdict))


# ---- batch size 1 ----------------------------------------------------------------------------------

def batch_one_table(result: BatchOneResult, cnn: NormRun | None) -> pd.DataFrame:
    rows = [
        {"experiment": "BatchNorm1d(8) training on a (1, 8) batch", "result":
            f"refused: {result.error}" if result.refused else "accepted"},
        {"experiment": "lecture's formula on one sample: max |x - m|", "result": f"{result.centred_max:g}"},
        {"experiment": "its variance (max over features)", "result": f"{result.variance_max:g}"},
        {"experiment": "output range across 4 different samples", "result": f"{result.output_spread:g}"},
        {"experiment": "max |gradient| reaching the input", "result": f"{result.input_grad_max:g}"},
        {"experiment": "BatchNorm2d training on a (1, 8, 4, 4) map", "result":
            (f"accepted; max abs diff from InstanceNorm {result.conv_vs_instance:.2g}" if result.conv_accepted
             else "refused")},
    ]
    if cnn is not None:
        acc = f"{cnn.final_accuracy:.1%}" if cnn.final_accuracy is not None else f"diverged at step {cnn.diverged_at}"
        rows.append({"experiment": "BatchNorm CNN trained at batch 1: test accuracy (eval mode)", "result": acc})
    return pd.DataFrame(rows)


def batch_one_verdict(result: BatchOneResult, cnn: NormRun | None, sweep: dict | None, cfg: NormsConfig) -> Verdict:
    degenerate = result.centred_max == 0.0 and result.variance_max == 0.0 and result.output_spread == 0.0
    text = (f"Fully connected BatchNorm at batch size 1: PyTorch "
            + (f"refuses to train: \"{result.error}\". " if result.refused else "accepts it. ")
            + f"Why: the batch's mean is the sample itself, so x - m = {result.centred_max:g} and the variance is "
              f"{result.variance_max:g} for every feature; four different samples all come out as the same "
              f"vector (range {result.output_spread:g}) and the gradient reaching the input is "
              f"{result.input_grad_max:g}: nothing is learnt. ")
    if result.conv_accepted:
        text += (f"On conv features PyTorch accepts batch size 1 (each channel still has H x W values): the "
                 f"statistics are one image's own, so in training BatchNorm2d is InstanceNorm (max abs diff "
                 f"{result.conv_vs_instance:.2g}), while eval uses running averages of them. ")
    if cnn is not None:
        if cnn.final_accuracy is None:
            text += f"Our BatchNorm CNN at batch 1 diverged at step {cnn.diverged_at}."
        else:
            text += (f"Our BatchNorm CNN trained at batch 1 ({cfg.sweep_images} images, "
                     f"{_n(cfg.sweep_epochs, 'epoch')}): "
                     f"{cnn.final_accuracy:.1%} test accuracy in eval mode")
            bn = (sweep or {}).get("summary", {}).get("batch")
            if bn and bn["batch_sizes"]:
                text += f" (batch {bn['batch_sizes'][-1]}: {bn['mean'][-1]:.1%})"
            text += "."
    return Verdict(label="batch size 1 breaks BatchNorm", passed=result.refused and degenerate, text=text)


# ---- SyncBatchNorm -----------------------------------------------------------------------------------

def _first_features(data: ImageDataset, cfg: NormsConfig) -> torch.Tensor:
    """The first conv's outputs (before its norm) of the seed's BatchNorm CNN on the first
    ``NOISE_BATCHES`` batches of ``sync_batch`` training images: (batches, B, C, H, W)."""
    model = build_model(data, "batch", depth=cfg.depth, width=cfg.width, groups=cfg.groups, seed=cfg.seed)
    n = min(NOISE_BATCHES * cfg.sync_batch, len(data.x_train)) // cfg.sync_batch * cfg.sync_batch
    with torch.no_grad():
        feats = model.blocks[0].conv(data.x_train[:n])
    return feats.reshape(-1, cfg.sync_batch, *feats.shape[1:])


def sync_noise(data: ImageDataset, cfg: NormsConfig) -> list[dict]:
    """Per device count (1 = the whole batch), the per-device statistics' error, averaged
    over the batches."""
    feats = _first_features(data, cfg)
    out = []
    for k in sorted({1, *cfg.device_list()}):
        per_batch = [statistics_noise(f, devices=k) for f in feats]
        out.append({"devices": k, "per_device_batch": cfg.sync_batch / k,
                    "mean_error": statistics.fmean(p["mean_error"] for p in per_batch),
                    "std_error": statistics.fmean(p["std_error"] for p in per_batch), "batches": len(per_batch)})
    return out


def sync_check(data: ImageDataset, cfg: NormsConfig) -> dict:
    """Synchronised simulation vs PyTorch's whole-batch BatchNorm on one batch of real
    features: max abs differences of the output, the input gradient and the running stats."""
    x = _first_features(data, cfg)[0].clone().requires_grad_(True)
    k = max(cfg.device_list())
    sim, ref = SimulatedDevicesBN2d(x.shape[1], devices=k, sync=True), torch.nn.BatchNorm2d(x.shape[1])
    upstream = torch.randn(x.shape, generator=make_generator(derive_seed(cfg.seed, "sync-check")))
    a, b = sim(x), ref(x)
    (ga,) = torch.autograd.grad((a * upstream).sum(), x)
    (gb,) = torch.autograd.grad((b * upstream).sum(), x)
    pairs = {"output": (a.detach(), b.detach()), "input_gradient": (ga, gb),
             "running_mean": (sim.running_mean, ref.running_mean), "running_var": (sim.running_var, ref.running_var)}
    diffs = {k: float((p - q).abs().max()) for k, (p, q) in pairs.items()}
    # float tolerance is relative: the difference over the largest value it is compared with
    relative = {k: diffs[k] / max(float(q.abs().max()), 1e-30) for k, (_, q) in pairs.items()}
    return {"devices": k, "max_abs_diff": diffs, "relative_diff": relative, "tolerance": SYNC_TOLERANCE,
            "equal": all(d <= SYNC_TOLERANCE for d in relative.values())}


def sync_figures(numbers: dict, cfg: NormsConfig) -> dict:
    noise = [n for n in numbers["noise"] if n["devices"] > 1]
    figs = {"sync_noise": norm_plots.lines_over(
        [dict(name="mean: RMS (m_k - m) / s", x=[n["per_device_batch"] for n in noise],
              y=[n["mean_error"] for n in noise]),
         dict(name="std: RMS (s_k - s) / s", x=[n["per_device_batch"] for n in noise],
              y=[n["std_error"] for n in noise])],
        x_title="images per device", y_title="error, in units of the whole batch's std", log_y=True,
        title=f"Per-device statistics vs the whole batch of {cfg.sync_batch} (first conv, "
              f"{noise[0]['batches'] if noise else 0}"
              f" batches; synchronised: 0 by construction)")}
    local = [r for r in numbers["runs"] if not r["sync"] and r["final_accuracy"] is not None]
    synced = next((r for r in numbers["runs"] if r["sync"] and r["final_accuracy"] is not None), None)
    figs["sync_accuracy"] = norm_plots.lines_over(
        [dict(name="own statistics per device", x=[r["per_device_batch"] for r in local],
              y=[r["final_accuracy"] for r in local])],
        x_title="images per device", y_title="final test accuracy",
        reference=dict(name=f"synchronised ({synced['final_accuracy']:.1%})", y=synced["final_accuracy"])
        if synced else None,
        title=f"Test accuracy after {_n(cfg.epochs, 'epoch')}, batch {cfg.sync_batch} split over K devices")
    return figs


def sync_table(numbers: dict) -> pd.DataFrame:
    noise = {n["devices"]: n for n in numbers["noise"]}
    rows = []
    for r in numbers["runs"]:
        n = noise.get(r["devices"], {}) if not r["sync"] else {"mean_error": 0.0, "std_error": 0.0}
        rows.append({"run": r["name"], "devices": r["devices"], "synchronised": r["sync"],
                     "images per device": r["per_device_batch"], "mean error": n.get("mean_error"),
                     "std error": n.get("std_error"), "final test accuracy": r["final_accuracy"]})
    return pd.DataFrame(rows)


def sync_verdict(numbers: dict, cfg: NormsConfig, compare: dict | None = None) -> Verdict:
    check = numbers["check"]
    diffs = ", ".join(f"{k} {v:.2g} ({check['relative_diff'][k]:.1g} of its largest value)"
                      for k, v in check["max_abs_diff"].items())
    noise = "; ".join(f"{n['per_device_batch']:g} images/device: mean off by {n['mean_error']:.2f} std, std off by "
                      f"{n['std_error']:.0%}" for n in numbers["noise"] if n["devices"] > 1)
    accs = "; ".join(f"{r['name']}: " + (f"{r['final_accuracy']:.1%}" if r["final_accuracy"] is not None
                                         else "diverged") for r in numbers["runs"])
    return Verdict(label="SyncBatchNorm", passed=check["equal"], text=(
        f"Synchronised statistics over {check['devices']} simulated devices equal whole-batch BatchNorm: max abs "
        f"diff {diffs} (tolerance {check['tolerance']:g}, relative). "
        f"Per-device statistics of a batch of {cfg.sync_batch}: "
        f"{noise}. Test accuracy after {_n(cfg.epochs, 'epoch')}: {accs}." + _plain_bn_note(numbers, cfg, compare)))


def _plain_bn_note(numbers: dict, cfg: NormsConfig, compare: dict | None) -> str:
    """The synchronised run against plain BatchNorm's side-by-side run of the same seed, where
    the two share the batch size: the same network, so the same losses until float rounding
    (different summation order) sends the two SGD paths apart."""
    plain = (compare or {}).get("runs", {}).get(f"batch, seed {cfg.seed}")
    synced = next((r for r in numbers["runs"] if r["sync"]), None)
    if not plain or not synced or cfg.batch_size != cfg.sync_batch or plain["final_accuracy"] is None \
            or synced["final_accuracy"] is None:
        return ""
    same = 0
    for a, b in zip(plain["loss"], synced["loss"]):
        if a is None or b is None or abs(a - b) > LOSS_AGREES:
            break
        same += 1
    return (f" Plain BatchNorm at batch {cfg.batch_size} (side by side, same seed) and the synchronised simulation: "
            f"training losses within {LOSS_AGREES:g} for the first {same} of {len(synced['loss'])} steps, then "
            f"apart by float rounding; final accuracy {plain['final_accuracy']:.1%} vs {synced['final_accuracy']:.1%}.")
