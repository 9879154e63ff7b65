"""Lesson "preprocessing": what centring, standardising, PCA and whitening do to data, the
lecture's three options for images (mean image, per-channel mean, per-channel mean and std),
and why it matters: raw inputs train slower and make the loss sensitive to the weights.

Three parts, streamed in order: a 2-D point cloud, image statistics, training on raw vs
normalised digits with the loss's sensitivity to a small change of the weights.
"""

from __future__ import annotations

import math
import time
from statistics import median
from typing import Iterator, Literal

import pandas as pd
from pydantic import Field

from cnnbp.data import get_dataset
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choices, gflop_seconds
from cnnbp.lessons.preprocessing.analysis import ImageAnalysis, Panel, analyse_images, make_cloud, transform_panels
from cnnbp.lessons.preprocessing.training import (EVAL_EVERY, Sensitivity, TrainingResult,
                                                  raw_inputs, sensitivity, train_variants)
from cnnbp.lessons.preprocessing.transforms import IMAGE_LABELS, IMAGE_TRANSFORMS, VECTOR_LABELS
from cnnbp.plots import preprocessing as pplots
from cnnbp.train import RunControl

Part = Literal["cloud", "images", "training"]
FRAME_INTERVAL_S = 0.4  # at most ~2.5 figure updates a second while training streams
# "Trained": a training-set loss of a fifth of chance's ln(K) (0.46 for 10 classes): the
# classifier is confidently right on most images. Fixed before any run.
TARGET_LOSS_FRACTION = 0.2
TARGET_ACCURACY = 0.9  # reported beside the loss: test accuracy a linear model reaches on digits
# "Faster": the median number of steps to the target is at most 1/1.5 of raw's. Steps are
# counted at evaluations EVAL_EVERY = 5 steps apart, so 1.5x is more than one evaluation's slack.
SPEEDUP = 1.5
# "More sensitive": a random weight perturbation changes the loss at least twice as much, in
# relative terms (the spread over 10 directions is well under 2x).
SENSITIVITY_RATIO = 2.0
SIZES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # relative perturbation sizes of the curve
SLICE_POINTS = 41
SLICE_SPAN = 10  # the 1-D slice covers +-10 x the chosen perturbation size
PAIR_POINTS = 300  # training and test points drawn per pixel-pair panel
N_EXAMPLES = 4  # test images shown after each transform (their pixels go into numbers: ~0.3 MB each)
TRAIN_DATASET = "digits"  # linear / MLP classifiers learn digits in a few epochs; shapes need a CNN
DIGITS_TRAIN = 1437
STEP_OVERHEAD_S = 0.0015  # Python + optimiser time of one tiny step on 2 cores (measured ~0.3-1 ms)


class PreprocessingConfig(LessonConfig):
    parts: list[Part] = Field(["cloud", "images", "training"], min_length=1, description="which experiments to run")
    cloud_points: int = Field(400, ge=10, le=5000, description="points in the 2-D cloud")
    correlation: float = Field(0.8, gt=-1.0, lt=1.0, description="correlation of the cloud's two coordinates")
    offset: float = Field(6.0, ge=-100.0, le=100.0,
                          description="the cloud's centre is (offset, offset): data away from the origin")
    scale: float = Field(3.0, gt=0.0, le=100.0, description="std of the cloud's first coordinate (the second has 1)")
    dataset: Literal["shapes", "digits"] = Field(
        "shapes", description="images for the statistics (shapes: RGB 32x32, so per-channel numbers mean something)")
    input_scale: float = Field(255.0, gt=0.0, le=1000.0,
                               description="raw pixel = value in [0, 1] x scale + offset "
                                           "(255: 8-bit pixels, as CIFAR-10)")
    input_offset: float = Field(0.0, ge=-1000.0, le=1000.0,
                                description="added to every raw pixel (data far from the origin)")
    transforms: choices(IMAGE_TRANSFORMS, "transform") = Field(
        list(IMAGE_TRANSFORMS),
        description="preprocessing of the images: raw, - mean image, - channel mean, channel mean & std")
    model: Literal["linear", "mlp"] = Field("linear", description="classifier trained on the digits")
    hidden: int = Field(64, ge=4, le=512, description="hidden units of the MLP")
    epochs: int = Field(3, ge=1, le=30, description="training epochs on the digits")
    batch_size: int = Field(64, ge=8, le=512, description="minibatch size")
    lr: float = Field(0.05, gt=0.0, le=2.0, description="SGD learning rate (momentum 0.9), the same for every input")
    runs: int = Field(3, ge=1, le=10, description="training runs (seeds) per preprocessing")
    perturbation: float = Field(0.01, gt=0.0, le=1.0,
                                description="relative size ||dW|| / ||W|| of the weight perturbation")
    directions: int = Field(10, ge=1, le=100, description="random perturbation directions averaged over")

    def cost_seconds(self) -> float:
        cost = 0.0
        if "cloud" in self.parts:
            cost += 0.05 + 2e-6 * self.cloud_points
        if "images" in self.parts:
            cost += 1.0 if self.dataset == "shapes" else 0.3  # rendering shapes, eigen-decompositions
        if "training" in self.parts:
            d, k = 64, 10
            params = d * k if self.model == "linear" else d * self.hidden + self.hidden * k
            variants = len(self.transforms) * self.runs
            steps = math.ceil(DIGITS_TRAIN / self.batch_size) * self.epochs
            step_s = STEP_OVERHEAD_S + gflop_seconds(6 * params * self.batch_size)
            evals = steps // EVAL_EVERY + 2
            eval_s = 2 * STEP_OVERHEAD_S + gflop_seconds(2 * params * 1797)
            forwards = (len(SIZES) + 1) * self.directions + SLICE_POINTS + 1
            sens_s = len(self.transforms) * forwards * (0.0005 + gflop_seconds(2 * params * DIGITS_TRAIN))
            cost += 1.0 + variants * (steps * step_s + evals * eval_s) + sens_s
        return cost


def run(cfg: PreprocessingConfig, control: RunControl) -> Iterator[Frame]:
    yield Frame(0.0, f"starting: {', '.join(cfg.parts)}")
    weights = {"cloud": 0.05, "images": 0.25, "training": 0.7}
    total = sum(weights[p] for p in cfg.parts)
    done, verdicts, numbers = 0.0, [], {}

    def stopped(progress: float) -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(progress, f"{reason} after {progress:.0%} of the run", verdicts=list(verdicts),
                     numbers=dict(numbers), done=True)

    if "cloud" in cfg.parts:
        points = make_cloud(cfg.cloud_points, correlation=cfg.correlation, offset=cfg.offset, scale=cfg.scale,
                            seed=cfg.seed)
        panels = transform_panels(points)
        done += weights["cloud"] / total
        verdicts.append(cloud_verdict(panels))
        numbers["cloud"] = cloud_numbers(panels)
        yield Frame(done, "point cloud done", figures={"cloud": cloud_figure(panels, cfg)},
                    tables={"cloud": cloud_table(panels)}, verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

    if "images" in cfg.parts:
        data = get_dataset(cfg.dataset, seed=cfg.seed)
        analysis = analyse_images(data, raw_scale=cfg.input_scale, raw_offset=cfg.input_offset,
                                  transforms=list(cfg.transforms), pair_points=PAIR_POINTS, n_examples=N_EXAMPLES,
                                  seed=cfg.seed)
        done += weights["images"] / total
        verdicts.append(image_verdict(analysis, len(data.x_train)))
        numbers["images"] = image_numbers(analysis)
        yield Frame(done, f"image statistics done ({data.describe()})", figures=image_figures(analysis, cfg),
                    tables={"channels": channel_table(analysis)}, verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

    if "training" in cfg.parts:
        data = get_dataset(TRAIN_DATASET, seed=cfg.seed)
        target = TARGET_LOSS_FRACTION * math.log(data.num_classes)
        share, last, reached, result = weights["training"] * 0.9 / total, 0.0, 0.0, None
        for reached, result in train_variants(
                data, transforms=cfg.transforms, model=cfg.model, hidden=cfg.hidden, raw_scale=cfg.input_scale,
                raw_offset=cfg.input_offset, runs=cfg.runs, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                seed=cfg.seed, control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            yield Frame(done + share * reached, f"training on raw vs preprocessed digits: {reached:.0%}",
                        figures={"training": training_figure(result, cfg, target)},
                        numbers={**numbers, "training": training_numbers(result, target)})
        done += share * reached
        numbers["training"] = training_numbers(result, target)
        verdicts.append(training_verdict(result, cfg, target))
        figures = {"training": training_figure(result, cfg, target)}
        tables = {"training": training_table(result, target)}
        if control.stop_reason():
            yield Frame(done, "training stopped", figures=figures, tables=tables, verdicts=list(verdicts),
                        numbers=dict(numbers))
            yield stopped(done)
            return
        sens, reference = sensitivity_part(result, data, cfg)
        numbers["sensitivity"] = sensitivity_numbers(sens, reference, cfg)
        verdicts.append(sensitivity_verdict(sens, reference, cfg))
        figures["sensitivity"] = sensitivity_figure(sens, reference, cfg)
        tables["sensitivity"] = sensitivity_table(sens, cfg)
        yield Frame(1.0, "sensitivity measured", figures=figures, tables=tables, verdicts=list(verdicts),
                    numbers=dict(numbers))

    message = control.stop_reason() or f"done in {control.elapsed():.1f} s"
    yield Frame(1.0, message, verdicts=list(verdicts), numbers=dict(numbers), done=True)


# ---- the point cloud --------------------------------------------------------------------------

def num(x: float, fmt: str = ".3g") -> str:
    """A measured number for a sentence: float round-off (|x| < 1e-9) is written as 0."""
    return "0" if abs(x) < 1e-9 else format(x, fmt)


def _fmt_pair(values: list[float]) -> str:
    return f"({num(values[0])}, {num(values[1])})"


def cloud_numbers(panels: list[Panel]) -> dict:
    return {p.transform: {"points": p.train.tolist(), **p.stats()} for p in panels}


def cloud_table(panels: list[Panel]) -> pd.DataFrame:
    rows = []
    for p in panels:
        s = p.stats()
        rows.append({"preprocessing": p.transform, "mean x": s["mean"][0], "mean y": s["mean"][1], "std x": s["std"][0],
                     "std y": s["std"][1], "cov xy": s["cov"][0][1], "correlation": s["correlation"]})
    return pd.DataFrame(rows)


def cloud_verdict(panels: list[Panel]) -> Verdict:
    s = {p.transform: p.stats() for p in panels}
    o, w = s["original"], s["whitened"]
    return Verdict(label="point cloud", text=(
        f"Point cloud: mean {_fmt_pair(o['mean'])}, std {_fmt_pair(o['std'])}, correlation {o['correlation']:.3f}. "
        f"Centred: mean {_fmt_pair(s['centered']['mean'])}. Standardised: std {_fmt_pair(s['standardized']['std'])}, "
        f"correlation still {s['standardized']['correlation']:.3f}. Decorrelated (PCA): correlation "
        f"{num(s['decorrelated']['correlation'])}, variances {_fmt_pair([v * v for v in s['decorrelated']['std']])}. "
        f"Whitened: covariance [[{w['cov'][0][0]:.3f}, {num(w['cov'][0][1])}], "
        f"[{num(w['cov'][1][0])}, {w['cov'][1][1]:.3f}]]."))


def cloud_figure(panels: list[Panel], cfg: PreprocessingConfig):
    return pplots.scatter_panels(
        [dict(title=VECTOR_LABELS[p.transform], train=p.train.tolist(),
              x_title="PC 1" if p.transform in ("decorrelated", "whitened") else "x1",
              y_title="PC 2" if p.transform in ("decorrelated", "whitened") else "x2") for p in panels],
        title=f"{cfg.cloud_points} points, correlation {cfg.correlation:g}, centre ({cfg.offset:g}, {cfg.offset:g}), "
              f"std ({cfg.scale:g}, 1)", x_title="x1", y_title="x2", train_name="points")


# ---- images ----------------------------------------------------------------------------------

def _channel_names(n: int) -> list[str]:
    return ["R", "G", "B"] if n == 3 else [f"channel {i}" for i in range(n)]


def image_numbers(a: ImageAnalysis) -> dict:
    return {
        "dataset": a.dataset, "pixels": [list(p) for p in a.pixels],
        "pixel_pairs": {p.transform: {"train": p.train.tolist(), "test": p.test.tolist()} for p in a.pair_panels},
        "pooled_grid": a.grid, "covariance": a.covariances, "test_variance": a.test_covariance_diag,
        "mean_image": a.mean_image, "channel_mean": a.channel_mean, "channel_std": a.channel_std,
        "after": a.after, "examples": a.examples, "example_labels": a.example_labels,
    }


def channel_table(a: ImageAnalysis) -> pd.DataFrame:
    names = _channel_names(len(a.channel_mean))
    rows = [{"preprocessing": "fitted on train", "split": "train", "channel": c, "mean": m, "std": s}
            for c, m, s in zip(names, a.channel_mean, a.channel_std)]
    rows += [{"preprocessing": t, "split": split, "channel": c, "mean": m, "std": s}
             for t, splits in a.after.items() for split, st in splits.items()
             for c, m, s in zip(names, st["mean"], st["std"])]
    return pd.DataFrame(rows)


def image_verdict(a: ImageAnalysis, n_train: int) -> Verdict:
    fmt = lambda v: ", ".join(num(x, ".4g") for x in v)  # noqa: E731
    parts = [f"Statistics fitted on the {n_train} training images of {a.dataset}: per-channel mean "
             f"{fmt(a.channel_mean)}, std {fmt(a.channel_std)}."]
    for t, splits in a.after.items():
        tr, te = splits["train"], splits["test"]
        parts.append(f"{IMAGE_LABELS[t]}: train mean {fmt(tr['mean'])} / std {fmt(tr['std'])}; "
                     f"test mean {fmt(te['mean'])} / std {fmt(te['std'])}.")
    w = a.test_covariance_diag["whitened"]
    parts.append(f"Whitening fitted on train leaves the test pixel-vector variances between {min(w):.3g} and "
                 f"{max(w):.3g} (1 on train).")
    return Verdict(label="image statistics", text=" ".join(parts))


def image_figures(a: ImageAnalysis, cfg: PreprocessingConfig) -> dict:
    (ca, ra, xa), (cb, rb, xb) = a.pixels
    pixel = lambda c, r, x: f"pixel (c{c}, {r}, {x})"  # noqa: E731
    pairs = pplots.scatter_panels(
        [dict(title=VECTOR_LABELS[p.transform], train=p.train.tolist(), test=p.test.tolist(),
              x_title="PC 1" if p.transform in ("decorrelated", "whitened") else pixel(ca, ra, xa),
              y_title="PC 2" if p.transform in ("decorrelated", "whitened") else pixel(cb, rb, xb))
         for p in a.pair_panels],
        title=f"Two neighbouring pixels of {a.dataset} (statistics fitted on train, applied to test)",
        x_title=pixel(ca, ra, xa), y_title=pixel(cb, rb, xb))
    cov = pplots.covariance_panels(
        [dict(title=VECTOR_LABELS[t], matrix=m) for t, m in a.covariances.items()],
        title=f"Covariance of training pixel vectors ({a.dataset} pooled to {a.grid}x{a.grid}, "
              f"{len(a.covariances['original'])} dims)")
    names = _channel_names(len(a.channel_mean))
    lo, hi = cfg.input_offset, cfg.input_offset + cfg.input_scale
    stats = pplots.image_statistics(
        mean_image=a.mean_image, raw_range=(lo, hi), channels=names,
        bars=[dict(name=IMAGE_LABELS[t], split=split, mean=st["mean"], std=st["std"])
              for t, splits in a.after.items() for split, st in splits.items()],
        title=f"Mean training image (raw range [{lo:g}, {hi:g}]) and per-channel statistics after each step")
    examples = pplots.image_rows(
        [dict(name=IMAGE_LABELS[t], images=imgs) for t, imgs in a.examples.items()],
        col_titles=a.example_labels,
        title="Test images after each step (each row mapped from its [min, max] to black..white)")
    return {"pixel_pairs": pairs, "pixel_covariance": cov, "image_stats": stats, "image_examples": examples}


# ---- training ---------------------------------------------------------------------------------

def training_numbers(result: TrainingResult, target: float) -> dict:
    return {"target_loss": target, "target_accuracy": TARGET_ACCURACY, "total_steps": result.total_steps,
            "runs": {h.name: {"transform": h.transform, "run": h.run, "eval_steps": h.eval_steps,
                              "train_loss": h.train_loss, "test_loss": h.test_loss,
                              "test_accuracy": h.test_accuracy, "diverged_at": h.diverged_at,
                              "steps_to_target_loss": h.steps_to_loss(target),
                              "steps_to_target_accuracy": h.steps_to_accuracy(TARGET_ACCURACY)}
                     for h in result.histories}}


def training_table(result: TrainingResult, target: float) -> pd.DataFrame:
    return pd.DataFrame([{"preprocessing": h.transform, "run": h.run + 1,
                          "steps to loss target": h.steps_to_loss(target),
                          f"steps to {TARGET_ACCURACY:.0%} test accuracy": h.steps_to_accuracy(TARGET_ACCURACY),
                          "final train loss": h.train_loss[-1], "final test accuracy": h.test_accuracy[-1],
                          "diverged at": h.diverged_at} for h in result.histories])


def training_figure(result: TrainingResult, cfg: PreprocessingConfig, target: float):
    return pplots.loss_and_accuracy(
        [dict(name=f"{IMAGE_LABELS[h.transform]}, run {h.run + 1}", color_key=h.transform, dash_key=h.run,
              eval_steps=h.eval_steps, train_loss=h.train_loss, test_accuracy=h.test_accuracy)
         for h in result.histories],
        title=f"{cfg.model} classifier on digits, raw = pixel x {cfg.input_scale:g} + {cfg.input_offset:g}; "
              f"SGD lr {cfg.lr:g}, momentum 0.9", target_loss=target)


def steps_or_budget(steps: int | None, total: int) -> float:
    """Steps to a target, a run that never reaches it counting as one evaluation past the end."""
    return float(steps) if steps is not None else float(total + EVAL_EVERY)


def median_steps(result: TrainingResult, transform: str, target: float) -> tuple[float, int]:
    """(median steps to the target loss over runs, runs that reached it)."""
    hs = [h for h in result.histories if h.transform == transform]
    steps = [h.steps_to_loss(target) for h in hs]
    return median(steps_or_budget(s, result.total_steps) for s in steps), sum(s is not None for s in steps)


def describe_steps(result: TrainingResult, transform: str, target: float) -> str:
    hs = [h for h in result.histories if h.transform == transform]
    steps = [h.steps_to_loss(target) for h in hs]
    acc = [h.steps_to_accuracy(TARGET_ACCURACY) for h in hs]
    show = lambda v: ", ".join("never" if s is None else str(s) for s in v)  # noqa: E731
    final = median(h.train_loss[-1] for h in hs)
    diverged = sum(h.diverged_at is not None for h in hs)
    return (f"{IMAGE_LABELS[transform]}: loss target at step {show(steps)}, {TARGET_ACCURACY:.0%} test accuracy at "
            f"step {show(acc)} (median final loss {final:.3g}" + (f", {diverged} diverged" if diverged else "") + ")")


def speedup_passed(result: TrainingResult, target: float, fast: str = "channel_std",
                   slow: str = "raw") -> tuple[bool, float, bool]:
    """(whether ``fast`` reaches the target in most runs and in at most 1/SPEEDUP of ``slow``'s
    median steps, the ratio of the medians, whether that ratio is only a lower bound because
    ``slow`` mostly never got there)."""
    runs = sum(h.transform == fast for h in result.histories)
    f, fast_reached = median_steps(result, fast, target)
    s, slow_reached = median_steps(result, slow, target)
    return 2 * fast_reached > runs and s >= SPEEDUP * f, s / f, 2 * slow_reached <= runs


def sooner(ratio: float, lower_bound: bool) -> str:
    return f"{'at least ' if lower_bound else ''}{ratio:.1f}x sooner"


def training_verdict(result: TrainingResult, cfg: PreprocessingConfig, target: float) -> Verdict:
    runs = max(h.run for h in result.histories) + 1
    head = (f"{cfg.model} classifier, SGD lr {cfg.lr:g} for every input, {runs} run(s), {result.total_steps} steps; "
            f"target: training-set loss <= {target:.3g}. ")
    body = "; ".join(describe_steps(result, t, target) for t in result.fitted) + "."
    if {"raw", "channel_std"} <= set(result.fitted):
        passed, ratio, bound = speedup_passed(result, target)
        tail = (f" Standardised inputs reach the target {sooner(ratio, bound)} than raw ones "
                f"(median; 'never' counts as "
                f"{result.total_steps + EVAL_EVERY}): the claim {'holds' if passed else 'does not hold'} "
                f"(needs {SPEEDUP:g}x).")
        return Verdict(label="standardised inputs train faster", text=head + body + tail, passed=passed)
    return Verdict(label="training on preprocessed inputs", text=head + body)


# ---- sensitivity -------------------------------------------------------------------------------

def sensitivity_part(result: TrainingResult, data, cfg: PreprocessingConfig) -> tuple[list[Sensitivity], str]:
    """The best classifier of run 1 (lowest final training loss), written for every input."""
    first = [h for h in result.histories if h.run == 0 and h.diverged_at is None] or result.histories
    best = min(first, key=lambda h: h.train_loss[-1] if math.isfinite(h.train_loss[-1]) else math.inf)
    x_raw, _ = raw_inputs(data, scale=cfg.input_scale, offset=cfg.input_offset)
    span = SLICE_SPAN * cfg.perturbation
    slice_t = [span * (2 * i / (SLICE_POINTS - 1) - 1) for i in range(SLICE_POINTS)]
    sizes = sorted({*SIZES, cfg.perturbation})
    sens = sensitivity(result.models[(best.transform, best.run)], result.fitted[best.transform], result.fitted,
                       x_raw, data.y_train, sizes=sizes, n_directions=cfg.directions, slice_t=slice_t, seed=cfg.seed)
    return sens, best.transform


def change_at(s: Sensitivity, size: float) -> float:
    return s.relative_change[s.sizes.index(size)]


def sensitivity_numbers(sens: list[Sensitivity], reference: str, cfg: PreprocessingConfig) -> dict:
    return {"reference": reference, "perturbation": cfg.perturbation, "directions": cfg.directions,
            "inputs": {s.transform: {"loss": s.loss, "first_layer_norm": s.first_layer_norm, "sizes": s.sizes,
                                     "relative_change": s.relative_change,
                                     "relative_change_std": s.relative_change_std,
                                     "at_perturbation": change_at(s, cfg.perturbation),
                                     "slice_t": s.slice_t, "slice_loss": s.slice_loss} for s in sens}}


def sensitivity_table(sens: list[Sensitivity], cfg: PreprocessingConfig) -> pd.DataFrame:
    return pd.DataFrame([{"input": s.transform, "size": size, "mean relative loss change": m, "std over directions": sd,
                          "loss": s.loss, "||W1||": s.first_layer_norm}
                         for s in sens for size, m, sd in zip(s.sizes, s.relative_change, s.relative_change_std)])


def sensitivity_verdict(sens: list[Sensitivity], reference: str, cfg: PreprocessingConfig) -> Verdict:
    by = {s.transform: s for s in sens}
    parts = "; ".join(f"{IMAGE_LABELS[t]} {change_at(s, cfg.perturbation):.3g}" for t, s in by.items())
    head = (f"One classifier (trained on {IMAGE_LABELS[reference]} inputs, training loss {by[reference].loss:.3g}), "
            f"written for each input; a random change of {cfg.perturbation:g} x ||W|| to every weight matrix "
            f"changes the loss by (mean |dL|/L over {cfg.directions} directions): {parts}.")
    if {"raw", "channel_std"} <= set(by):
        ratio = change_at(by["raw"], cfg.perturbation) / max(change_at(by["channel_std"], cfg.perturbation), 1e-300)
        passed = ratio >= SENSITIVITY_RATIO
        return Verdict(label="loss more sensitive before normalisation", passed=passed, text=(
            head + f" Raw inputs: {ratio:.2g}x the standardised sensitivity; the claim "
            f"{'holds' if passed else 'does not hold'} here (needs {SENSITIVITY_RATIO:g}x). A pure scale leaves the "
            f"relative sensitivity unchanged; an offset (data far from the origin) raises it."))
    return Verdict(label="loss sensitivity", text=head)


def sensitivity_figure(sens: list[Sensitivity], reference: str, cfg: PreprocessingConfig):
    return pplots.sensitivity_curves(
        [dict(name=IMAGE_LABELS[s.transform], slice_t=s.slice_t, slice_loss=s.slice_loss, sizes=s.sizes,
              relative_change=s.relative_change) for s in sens],
        perturbation=cfg.perturbation,
        title=f"The same classifier (trained on {IMAGE_LABELS[reference]} inputs) written for each input: "
              f"loss under random weight changes")
