"""Lesson "activations": every claim of the lecture's activation-function slides, measured.

Five parts, streamed in order: the functions and their derivatives (and the lecture's
questions at x = -10, 0, 10), "not zero-centred" (same-sign gradients and the zig-zag path),
SELU's self-normalisation in a deep plain MLP, and a small CNN trained with each activation
(the race to a target accuracy) and at a too-large learning rate (dead ReLUs).
"""

from __future__ import annotations

import statistics
import time
from typing import Iterator, Literal

import pandas as pd
from pydantic import AliasChoices, Field

from cnnbp import plots
from cnnbp.data import ImageDataset, get_dataset
from cnnbp.lessons.activations.functions import (QUESTION_POINTS, Curve, activation_curves, maxout_formula,
                                                 peak_grad_with, point_table)
from cnnbp.lessons.activations.race import (DEAD_GRAD_RATIO, EVALS_PER_EPOCH, PROBE_IMAGES, RaceHistory, Variant,
                                            matched_init, train_variants)
from cnnbp.lessons.activations.selu import MEAN_TOLERANCE, STD_BAND, DeepProfile, deep_profiles
from cnnbp.lessons.activations.zero_centred import (CLOSE_ENOUGH, MINIBATCH, W_STAR, SignResult, ZigzagPath,
                                                    same_sign_fractions, zigzag)
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choice, choices, gflop_seconds
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.nn.inits import INITS
from cnnbp.plots import activations as act_plots
from cnnbp.train import RunControl

Part = Literal["functions", "zero_centred", "selu", "race", "dead"]
PARTS: tuple[str, ...] = ("functions", "zero_centred", "selu", "race", "dead")
INIT_CHOICES = {"matched": None, **INITS}  # "matched": Xavier for sigmoid/tanh/SELU, Kaiming otherwise

# Fixed before any run, never tuned to a result:
SATURATED_AT_10 = 1e-3  # "kills the gradient": |f'(+-10)| below 1/1000 of its peak
CENTRED_SAME_SIGN_MAX = 0.05  # zero-mean inputs: at most 5% of per-sample gradients one-signed
LECTURE_SPEEDUP = 6.0  # "converges much faster than sigmoid/tanh in practice (e.g. 6x)"
FRAME_INTERVAL_S = 0.8  # at most ~1 update a second while training streams (3 figures: ~0.2 s to build)
MLP_BATCH = 256  # unit-Gaussian inputs pushed through the deep MLP
GRID_COLUMNS = 4
TRAIN_IMAGES = {"digits": 1437, "shapes": 2000}
TEST_IMAGES = {"digits": 360, "shapes": 1000}
PIXELS = {"digits": 64, "shapes": 1024}


class ActivationsConfig(LessonConfig):
    parts: list[Part] = Field(list(PARTS), min_length=1, description="which experiments to run")
    functions: choices(ACTIVATIONS, "activation") = Field(
        list(ACTIVATIONS), description="activations to plot with their derivatives")
    x_range: float = Field(12.0, ge=1.0, le=50.0, description="plot x from -x_range to x_range "
                           "(12: the lecture's x = -10 and 10 in view)")
    saturation: float = Field(0.1, gt=0.0, lt=1.0, description="shade where |f'(x)| is below this share "
                              "of its peak (0.1: the gradient is cut 10x, the registry's line)")
    leaky_slope: float = Field(0.01, gt=0.0, le=1.0, description="Leaky ReLU slope for x < 0 (lecture: 0.01)")
    elu_alpha: float = Field(1.0, gt=0.0, le=5.0, description="ELU alpha (lecture: 1)")
    swish_beta: float = Field(1.0, gt=0.0, le=10.0, description="Swish beta (1: SiLU)")
    fan_in: int = Field(16, ge=2, le=1024, description="inputs of the neuron whose gradient signs we count")
    samples: int = Field(1024, ge=MINIBATCH, le=65_536,
                         description=f"samples for the sign count ({MINIBATCH} per minibatch)")
    zigzag_steps: int = Field(60, ge=5, le=1000, description="SGD steps of the 2-weight problem")
    # Per-sample SGD on U(0, 2) inputs is stable while lr < 2 / max|x|^2 = 0.25.
    zigzag_lr: float = Field(0.1, gt=0.0, le=0.25, description="SGD learning rate of the 2-weight problem")
    mlp_depth: int = Field(30, ge=2, le=100, description="layers of the deep MLP (SELU part)")
    mlp_width: int = Field(256, ge=16, le=2048, description="units per layer of the deep MLP",
                           json_schema_extra={"step": 16})
    activations: choices(ACTIVATIONS, "activation") = Field(
        ["sigmoid", "tanh", "relu", "leaky_relu", "elu"],
        validation_alias=AliasChoices("activations", "activation"),
        description="activations racing on the CNN (include relu for the ratios)")
    init: choice(INIT_CHOICES, "init") = Field(
        "matched", description="CNN init; matched: Xavier for sigmoid/tanh/SELU, Kaiming otherwise")
    dataset: Literal["digits", "shapes"] = Field(
        "digits", description="CNN training data (shapes: 32x32 RGB, 16x the pixels: fewer epochs or variants)")
    cnn_depth: int = Field(4, ge=1, le=8, description="CNN conv layers")
    cnn_width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer")
    epochs: int = Field(6, ge=1, le=30, description="CNN training epochs")
    batch_size: int = Field(64, ge=8, le=512, description="CNN minibatch size")
    lr: float = Field(0.05, gt=0.0, le=2.0, description="SGD learning rate (momentum 0.9) of the race")
    target_accuracy: float = Field(0.8, gt=0.0, le=1.0, description="test accuracy the race is to")
    dead_activations: choices(ACTIVATIONS, "activation") = Field(
        ["relu", "leaky_relu", "elu"], description="activations trained at both rates (dead units)")
    dead_lr: float = Field(0.5, gt=0.0, le=5.0, description="the too-large learning rate (default: 10x lr)")

    def variants(self) -> list[Variant]:
        """The CNNs to train: the race at ``lr``; the dead-unit pairs at ``lr`` and ``dead_lr``."""
        wanted = []
        if "race" in self.parts:
            wanted += [(a, self.lr) for a in self.activations]
        if "dead" in self.parts:
            wanted += [(a, lr) for a in self.dead_activations for lr in (self.lr, self.dead_lr)]
        init = lambda a: matched_init(a) if self.init == "matched" else self.init  # noqa: E731
        return [Variant(a, lr, init(a)) for a, lr in dict.fromkeys(wanted)]

    def options(self) -> dict[str, dict[str, float]]:
        """Activation name -> its options (the same in every part)."""
        return {"leaky_relu": {"slope": self.leaky_slope}, "elu": {"alpha": self.elu_alpha},
                "swish": {"beta": self.swish_beta}}

    def cost_seconds(self) -> float:
        cost = 0.0
        if "selu" in self.parts:  # 3 pairs, forward only: 2 flops per weight per sample
            cost += gflop_seconds(3 * 2 * self.mlp_depth * self.mlp_width**2 * MLP_BATCH)
        variants = self.variants()
        if variants:
            pieces = max(get_act(v.activation).width_factor for v in variants)
            # forward + backward ~ 6 x MACs; ~(9 * width^2) MACs per pixel per conv layer
            per_image = 6 * self.cnn_depth * 9 * self.cnn_width**2 * pieces * 2 * PIXELS[self.dataset]
            train = per_image * TRAIN_IMAGES[self.dataset] * self.epochs
            # every evaluation: a forward (a third of a step) of the test set and the probe images
            evals = per_image / 3 * (TEST_IMAGES[self.dataset] + PROBE_IMAGES) * (EVALS_PER_EPOCH + 1) * self.epochs
            cost += gflop_seconds((train + evals) * len(variants))
        return cost


def run(cfg: ActivationsConfig, control: RunControl) -> Iterator[Frame]:
    variants = cfg.variants()
    yield Frame(0.0, f"starting: {len(cfg.parts)} parts, {len(variants)} CNNs to train")
    weights = {"functions": 0.05, "zero_centred": 0.05, "selu": 0.05, "train": 0.85}
    steps = [p for p in PARTS[:3] if p in cfg.parts] + (["train"] if variants else [])
    total = sum(weights[p] for p in steps)
    done, verdicts, numbers = 0.0, [], {}
    options = cfg.options()

    def stopped(progress: float) -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(progress, f"{reason} after {progress:.0%} of the run", verdicts=list(verdicts),
                     numbers=dict(numbers), done=True)

    if "functions" in cfg.parts:
        curves = activation_curves(cfg.functions, x_range=cfg.x_range, options=options, threshold=cfg.saturation)
        rows = point_table(cfg.functions, options=options, threshold=cfg.saturation)
        done += weights["functions"] / total
        verdicts += function_verdicts(curves, rows, cfg)
        numbers["functions"] = function_numbers(curves)
        numbers["at_points"] = rows
        yield Frame(done, f"{len(curves)} activations plotted", figures={"functions": functions_figure(curves, cfg)},
                    tables={"at_points": pd.DataFrame(rows)}, verdicts=list(verdicts), numbers=dict(numbers))

    if "zero_centred" in cfg.parts:
        signs = same_sign_fractions(fan_in=cfg.fan_in, samples=cfg.samples, seed=cfg.seed)
        paths = zigzag(steps=cfg.zigzag_steps, lr=cfg.zigzag_lr, seed=cfg.seed)
        done += weights["zero_centred"] / total
        verdicts += zero_centred_verdicts(signs, paths, cfg)
        numbers["same_sign"] = [vars(s) for s in signs]
        numbers["zigzag"] = [vars(p) for p in paths]
        yield Frame(done, "same-sign gradients counted, zig-zag paths drawn",
                    figures={"same_sign": same_sign_figure(signs, cfg), "zigzag": zigzag_figure(paths, cfg)},
                    tables={"same_sign": same_sign_table(signs, paths)}, verdicts=list(verdicts),
                    numbers=dict(numbers))

    if "selu" in cfg.parts:
        profiles = deep_profiles(depth=cfg.mlp_depth, width=cfg.mlp_width, batch=MLP_BATCH, seed=cfg.seed)
        done += weights["selu"] / total
        verdicts += selu_verdicts(profiles, cfg)
        numbers["selu"] = {p.name: {"activation": p.activation, "init": p.init, "mean": p.mean, "std": p.std,
                                    "normalised": p.normalised()} for p in profiles}
        yield Frame(done, f"deep MLP ({cfg.mlp_depth} x {cfg.mlp_width}) profiled",
                    figures={"selu": selu_figure(profiles, cfg)}, tables={"selu": selu_table(profiles)},
                    verdicts=list(verdicts), numbers=dict(numbers))

    if control.stop_reason():
        yield stopped(done)
        return

    if variants:
        data = get_dataset(cfg.dataset, seed=cfg.seed)
        peaks = {a: peak_grad_with(a, options.get(a, {})) for a in dict.fromkeys(v.activation for v in variants)}
        share, last_frame, histories, reached = weights["train"] / total, 0.0, [], 0.0
        for reached, histories in train_variants(data, variants, depth=cfg.cnn_depth, width=cfg.cnn_width,
                                                 epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                                                 options=options, peaks=peaks, control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last_frame < FRAME_INTERVAL_S:
                continue
            last_frame = now
            yield Frame(done + share * reached, f"training {len(variants)} CNNs on {cfg.dataset}: {reached:.0%}",
                        figures=training_figures(histories, cfg, data, final=False),
                        numbers={**numbers, **race_numbers(histories, cfg, data)})
        done += share * reached
        verdicts += training_verdicts(histories, cfg, data)
        numbers.update(race_numbers(histories, cfg, data))
        yield Frame(done, f"CNNs trained ({reached:.0%} of the steps)", figures=training_figures(histories, cfg, data),
                    tables={"race": race_table(histories, cfg)}, verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

    yield Frame(1.0, f"done in {control.elapsed():.1f} s", verdicts=list(verdicts), numbers=dict(numbers), done=True)


# ---- the functions ------------------------------------------------------------------------

def _row(rows: list[dict], name: str, x: float) -> dict:
    return next(r for r in rows if r["activation"] == name and r["x"] == x)


def function_verdicts(curves: list[Curve], rows: list[dict], cfg: ActivationsConfig) -> list[Verdict]:
    names = [c.name for c in curves]
    out = []
    questions = [n for n in ("sigmoid", "tanh", "relu") if n in names]
    if questions:
        parts = []
        for n in questions:
            at = {x: _row(rows, n, x) for x in QUESTION_POINTS}
            parts.append(f"{n}: " + ", ".join(f"f({x:g}) = {r['value']:.3g}, f'({x:g}) = {r['grad']:.3g}"
                                              for x, r in at.items()))
        checks = []
        for n in ("sigmoid", "tanh"):
            if n in questions:
                checks.append(all(_row(rows, n, x)["grad_over_peak"] < SATURATED_AT_10 for x in (-10.0, 10.0)))
        if "relu" in questions:
            checks.append(_row(rows, "relu", -10.0)["grad"] == 0.0)
        out.append(Verdict(
            label="x = -10, 0, 10",
            passed=all(checks),
            text=("The lecture's questions. " + "; ".join(parts) + ". "
                  + " ".join(_killed_words(n, _row(rows, n, 10.0)["grad_over_peak"])
                             for n in ("sigmoid", "tanh") if n in questions)
                  + (" ReLU passes no gradient at all for x < 0; at x = 0 it is not differentiable and "
                     "PyTorch takes f'(0) = 0." if "relu" in questions else "")),
        ))
    zero = " (f' exactly 0 there)"
    sat = ", ".join(f"{c.name} {c.frac_saturated:.0%}{zero if c.zero_grad else ''}" for c in curves)
    out.append(Verdict(
        label="saturation",
        text=(f"Share of [-{cfg.x_range:g}, {cfg.x_range:g}] where |f'(x)| < {cfg.saturation:g} x its peak: "
              f"{sat}."
              + (f" Maxout is drawn with fixed illustrative pieces, {maxout_formula()}: in a network they are "
                 "learned; it is linear piecewise, so it never saturates." if "maxout" in names else "")),
    ))
    return out


def _killed_words(name: str, ratio: float) -> str:
    killed = f" (below {SATURATED_AT_10:g}: killed)" if ratio < SATURATED_AT_10 else ""
    return f"{name}'s gradient at |x| = 10 is {ratio:.2g} of its peak{killed}."


def function_numbers(curves: list[Curve]) -> dict:
    return {"x": curves[0].x, "curves": {c.name: {"label": c.label, "value": c.value, "grad": c.grad, "peak": c.peak,
                                                  "threshold": c.threshold, "saturated": [list(s) for s in c.saturated],
                                                  "frac_saturated": c.frac_saturated, "zero_grad": c.zero_grad}
                                         for c in curves}}


def functions_figure(curves: list[Curve], cfg: ActivationsConfig):
    return act_plots.activation_grid(
        [dict(name=c.name, label=c.label, x=c.x, value=c.value, grad=c.grad, saturated=c.saturated) for c in curves],
        n_cols=min(GRID_COLUMNS, len(curves)), threshold=cfg.saturation,
        title=f"Activations f(x) and their derivatives f'(x), x in [-{cfg.x_range:g}, {cfg.x_range:g}]")


# ---- not zero-centred ---------------------------------------------------------------------

def zero_centred_verdicts(signs: list[SignResult], paths: list[ZigzagPath], cfg: ActivationsConfig) -> list[Verdict]:
    by = {s.kind: s for s in signs}
    per_sample = ", ".join(f"{s.label} {s.per_sample:.1%}" for s in signs)
    per_batch = ", ".join(f"{s.kind} {s.per_minibatch:.1%}" for s in signs)
    passed = by["sigmoid"].per_sample == 1.0 and by["centred"].per_sample <= CENTRED_SAME_SIGN_MAX
    out = [Verdict(
        label="same-sign gradients",
        passed=passed,
        text=(f"A sigmoid neuron with {cfg.fan_in} inputs, {cfg.samples} samples: share of per-sample gradients "
              f"on w with one sign in every component: {per_sample}. Averaged over minibatches of {MINIBATCH} "
              f"({by['sigmoid'].minibatches} of them): {per_batch} (minibatches help, but all-positive inputs "
              f"still leave {by['sigmoid'].per_minibatch:.0%} of the sigmoid-fed ones one-signed)."),
    )]
    pos, zero = paths
    reach = lambda p: f"reached 10% of the start distance at step {p.steps_to_reach}" if p.steps_to_reach \
        else f"never within {CLOSE_ENOUGH:.0%} of the start distance"  # noqa: E731
    out.append(Verdict(
        label="zig-zag",
        text=(f"SGD on a linear neuron towards w* = {W_STAR}, lr {cfg.zigzag_lr:g}, {cfg.zigzag_steps} steps. "
              f"{pos.label}: {pos.same_sign_updates:.0%} of the updates moved both weights the same way; "
              f"{reach(pos)}; final distance {pos.final_distance:.3g}, path length {pos.path_length:.3g}. "
              f"{zero.label}: {zero.same_sign_updates:.0%} same-sign updates; {reach(zero)}; final distance "
              f"{zero.final_distance:.3g}, path length {zero.path_length:.3g}."),
    ))
    return out


def same_sign_table(signs: list[SignResult], paths: list[ZigzagPath]) -> pd.DataFrame:
    rows = [{"experiment": "sigmoid neuron", "inputs": s.label, "input_mean": s.input_mean,
             "same_sign_per_sample": s.per_sample, "same_sign_per_minibatch": s.per_minibatch} for s in signs]
    rows += [{"experiment": "2-weight SGD", "inputs": p.label, "same_sign_per_sample": p.same_sign_updates,
              "steps_to_reach": p.steps_to_reach, "final_distance": p.final_distance, "path_length": p.path_length}
             for p in paths]
    return pd.DataFrame(rows)


def same_sign_figure(signs: list[SignResult], cfg: ActivationsConfig):
    return plots.grouped_bars(
        [dict(name="per sample", values=[s.per_sample for s in signs]),
         dict(name=f"per minibatch of {MINIBATCH}", values=[s.per_minibatch for s in signs])],
        categories=[s.label for s in signs],
        title=f"Share of weight gradients with one sign in all {cfg.fan_in} components (sigmoid neuron)",
        y_title="share of gradient vectors")


def zigzag_figure(paths: list[ZigzagPath], cfg: ActivationsConfig):
    return act_plots.zigzag_paths([vars(p) for p in paths], w_star=W_STAR,
                                  title=f"SGD towards w* = {W_STAR} (one weight up, one down), "
                                        f"{cfg.zigzag_steps} steps, lr {cfg.zigzag_lr:g}")


# ---- SELU ----------------------------------------------------------------------------------

def _span(values: list[float]) -> str:
    return f"{min(values):.2f}..{max(values):.2f}"


def selu_verdicts(profiles: list[DeepProfile], cfg: ActivationsConfig) -> list[Verdict]:
    parts = []
    for p in profiles:
        parts.append(f"{p.name}: mean {_span(p.mean)}, std {_span(p.std)} (layer 1: {p.std[0]:.2f}, layer "
                     f"{len(p.std)}: {p.std[-1]:.2f}) - {'normalised' if p.normalised() else 'not normalised'}")
    selu = next((p for p in profiles if p.activation == "selu"), None)
    return [Verdict(
        label="SELU self-normalises",
        passed=selu.normalised() if selu else None,
        text=(f"Deep plain MLP, {cfg.mlp_depth} layers of {cfg.mlp_width}, no BatchNorm, unit-Gaussian inputs; "
              f"'normalised' = every layer's |mean| <= {MEAN_TOLERANCE:g} and std in [{STD_BAND[0]:g}, "
              f"{STD_BAND[1]:g}]. " + "; ".join(parts) + "."),
    )]


def selu_table(profiles: list[DeepProfile]) -> pd.DataFrame:
    return pd.DataFrame([{"activation": p.activation, "init": p.init, "layer": i + 1, "mean": m, "std": s}
                         for p in profiles for i, (m, s) in enumerate(zip(p.mean, p.std))])


def selu_figure(profiles: list[DeepProfile], cfg: ActivationsConfig):
    return plots.per_layer_profiles(
        [dict(name=p.name, color_key=p.activation, dash_key="all", mean=p.mean, std=p.std) for p in profiles],
        panels=[("mean", "activation mean", False), ("std", "activation std", False)],
        title=f"Deep plain MLP ({cfg.mlp_depth} x {cfg.mlp_width}, no BatchNorm): mean and std per layer")


# ---- the CNNs: race and dead units ------------------------------------------------------

def _race(histories: list[RaceHistory], cfg: ActivationsConfig) -> list[RaceHistory]:
    return [h for h in histories if h.lr == cfg.lr and h.activation in cfg.activations] if "race" in cfg.parts else []


def _dead(histories: list[RaceHistory], cfg: ActivationsConfig) -> list[RaceHistory]:
    """The dead-unit variants, each activation's low rate then its high rate (one row each)."""
    if "dead" not in cfg.parts:
        return []
    dead = [h for h in histories if h.activation in cfg.dead_activations and h.lr in (cfg.lr, cfg.dead_lr)]
    return sorted(dead, key=lambda h: (cfg.dead_activations.index(h.activation), h.lr != cfg.lr))


def total_steps(cfg: ActivationsConfig, data: ImageDataset) -> int:
    return -(-len(data.x_train) // min(cfg.batch_size, len(data.x_train))) * cfg.epochs


def ratio_to_relu(histories: list[RaceHistory], cfg: ActivationsConfig, data: ImageDataset) -> dict[str, dict]:
    """name -> steps to target, its ratio to ReLU's, and whether the ratio is only a lower bound
    (the variant never reached the target: at least all the steps / ReLU's)."""
    relu = next((h for h in histories if h.activation == "relu" and h.lr == cfg.lr), None)
    relu_steps = relu.steps_to(cfg.target_accuracy) if relu else None
    out = {}
    for h in histories:
        steps = h.steps_to(cfg.target_accuracy)
        ratio, lower_bound = None, False
        if relu_steps:
            if steps is not None:
                ratio = steps / relu_steps
            elif h.diverged_at is None and h.steps and h.steps[-1] >= total_steps(cfg, data):
                ratio, lower_bound = total_steps(cfg, data) / relu_steps, True
        out[h.name] = {"steps_to_target": steps, "ratio_to_relu": ratio, "ratio_is_lower_bound": lower_bound}
    return out


def race_numbers(histories: list[RaceHistory], cfg: ActivationsConfig, data: ImageDataset) -> dict:
    ratios = ratio_to_relu(histories, cfg, data)
    return {"cnn": {h.name: {"activation": h.activation, "lr": h.lr, "init": h.init, "steps": h.steps,
                             "loss": h.loss, "eval_steps": h.eval_steps, "test_accuracy": h.test_accuracy,
                             "test_loss": h.test_loss, "layer_names": h.layer_names, "dead": h.dead,
                             "diverged_at": h.diverged_at, **ratios[h.name]} for h in histories},
            "cnn_settings": {"target_accuracy": cfg.target_accuracy, "total_steps": total_steps(cfg, data),
                             "eval_every": max(1, total_steps(cfg, data) // cfg.epochs // EVALS_PER_EPOCH),
                             "dead_grad_ratio": DEAD_GRAD_RATIO, "probe_images": PROBE_IMAGES}}


def race_table(histories: list[RaceHistory], cfg: ActivationsConfig) -> pd.DataFrame:
    rows = []
    for h in histories:
        row = {"activation": h.activation, "lr": h.lr, "init": h.init, "steps": h.steps[-1] if h.steps else 0,
               "steps_to_target": h.steps_to(cfg.target_accuracy), "final_test_accuracy": h.test_accuracy[-1],
               "diverged_at": h.diverged_at}
        for name, dead in zip(h.layer_names, h.dead[-1]):
            row[f"{name} dead"] = dead
        rows.append(row)
    return pd.DataFrame(rows)


def _ratio_words(entry: dict) -> str:
    if entry["ratio_to_relu"] is None:
        return "no ratio"
    if entry["ratio_is_lower_bound"]:
        return f"more than {entry['ratio_to_relu']:.2g}x ReLU's steps"
    return f"{entry['ratio_to_relu']:.2g}x ReLU's steps"


def training_verdicts(histories: list[RaceHistory], cfg: ActivationsConfig, data: ImageDataset) -> list[Verdict]:
    out = []
    n_total = total_steps(cfg, data)
    race, dead = _race(histories, cfg), _dead(histories, cfg)
    ratios = ratio_to_relu(histories, cfg, data)
    if race:
        parts = []
        for h in race:
            s = h.steps_to(cfg.target_accuracy)
            where = f"{s} steps" if s is not None else (f"diverged at step {h.diverged_at}" if h.diverged_at
                                                        else f"not reached in {h.steps[-1] if h.steps else 0} steps")
            ratio = "" if h.activation == "relu" else f"{_ratio_words(ratios[h.name])}; "
            parts.append(f"{h.activation} {where} ({ratio}final {h.test_accuracy[-1]:.1%})")
        text = (f"Steps to {cfg.target_accuracy:.0%} test accuracy on {cfg.dataset} (same CNN, seed and data order, "
                f"lr {cfg.lr:g}, evaluated every {max(1, n_total // cfg.epochs // EVALS_PER_EPOCH)} steps): "
                + "; ".join(parts) + ".")
        relu = next((h for h in race if h.activation == "relu"), None)
        slow = [h for h in race if h.activation in ("sigmoid", "tanh")]
        passed = None
        if relu is not None and slow:
            speed = []
            for h in slow:
                e = ratios[h.name]
                if e["ratio_to_relu"] is None:
                    relu_reached = relu.steps_to(cfg.target_accuracy) is not None
                    why = (f"{h.activation} diverged or was stopped first" if relu_reached
                           else "ReLU never reached the target")
                    speed.append(f"no ratio for {h.activation} ({why})")
                elif e["ratio_to_relu"] >= 1:
                    speed.append(f"ReLU {'at least ' if e['ratio_is_lower_bound'] else ''}"
                                 f"{e['ratio_to_relu']:.2g}x faster than {h.activation}")
                else:
                    speed.append(f"{h.activation} {1 / e['ratio_to_relu']:.2g}x faster than ReLU")
            text += (f" The lecture says ReLU converges about {LECTURE_SPEEDUP:g}x faster than sigmoid/tanh; "
                     f"we measured: " + ", ".join(speed) + ".")
            sigmoid = next((h for h in race if h.activation == "sigmoid"), None)
            if sigmoid is not None:
                r, sg = relu.steps_to(cfg.target_accuracy), sigmoid.steps_to(cfg.target_accuracy)
                finished = sigmoid.diverged_at is not None or bool(sigmoid.steps and sigmoid.steps[-1] >= n_total)
                if sg is not None or finished:  # a race cut short by Stop decides nothing
                    passed = r is not None and (sg is None or r < sg)
        out.append(Verdict(label="ReLU converges faster", passed=passed, text=text))
    if dead:
        parts = []
        for a in dict.fromkeys(h.activation for h in dead):
            for h in (x for x in dead if x.activation == a):
                layers = ", ".join(f"{d:.0%}" for d in h.dead[-1])
                peak = max(max(d) for d in h.dead)
                extra = f", diverged at step {h.diverged_at}" if h.diverged_at else ""
                parts.append(f"{a} at lr {h.lr:g}: {layers} per layer at the end (at most {peak:.0%} during "
                             f"training{extra})")
        low = next((h for h in dead if h.activation == "relu" and h.lr == cfg.lr), None)
        high = next((h for h in dead if h.activation == "relu" and h.lr == cfg.dead_lr), None)
        passed = None
        if low and high and cfg.dead_lr > cfg.lr:
            passed = mean_dead(high) > mean_dead(low)
            parts.append(f"ReLU's mean dead share {mean_dead(low):.0%} at lr {cfg.lr:g} vs {mean_dead(high):.0%} "
                         f"at lr {cfg.dead_lr:g}: the larger rate "
                         + ("killed more units" if passed else "did not kill more units on this net"))
        out.append(Verdict(
            label="dead units",
            passed=passed,
            text=(f"Dead units (local gradient below {DEAD_GRAD_RATIO:g} of the peak on all {PROBE_IMAGES} "
                  f"probe images and positions): " + "; ".join(parts) + "."),
        ))
    return out


def mean_dead(h: RaceHistory) -> float:
    """Mean over layers of the dead share at the last probe."""
    return statistics.fmean(h.dead[-1]) if h.dead and h.dead[-1] else 0.0


def training_figures(histories: list[RaceHistory], cfg: ActivationsConfig, data: ImageDataset, *,
                     final: bool = True) -> dict:
    """The curves and the dead units (streamed), and the steps to the target (``final`` only)."""
    figs = {}
    curves = plots.training_curves(
        [dict(name=h.name, color_key=h.activation, dash_key=h.lr, steps=h.steps, loss=h.loss,
              eval_steps=h.eval_steps, test_accuracy=h.test_accuracy) for h in histories],
        title=f"Small CNN on {cfg.dataset}: one activation per line (dash: learning rate)")
    curves.update_yaxes(type="log", row=1, col=1)  # a diverging run's loss spans 20 decades
    curves.add_hline(y=cfg.target_accuracy, line_dash="dot", line_color="black", row=1, col=2,
                     annotation_text=f"target {cfg.target_accuracy:.0%}")
    figs["race_curves"] = curves
    race = _race(histories, cfg)
    if race and final:
        figs["steps_to_target"] = act_plots.steps_to_target(
            [dict(name=h.activation, steps=h.steps_to(cfg.target_accuracy)) for h in race],
            target=cfg.target_accuracy, total_steps=total_steps(cfg, data),
            title=f"Training steps to {cfg.target_accuracy:.0%} test accuracy (lr {cfg.lr:g})")
    dead = _dead(histories, cfg)
    if dead:
        panels = [dict(title=h.name, lines=[dict(name=layer, x=h.eval_steps, y=[d[i] for d in h.dead])
                                            for i, layer in enumerate(h.layer_names)]) for h in dead]
        figs["dead"] = plots.small_multiples(
            panels, n_cols=2, x_title="step", y_title="dead share",
            title=f"Dead units per layer during training (no gradient on any of {PROBE_IMAGES} images)")
    return figs
