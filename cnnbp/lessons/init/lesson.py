"""Lesson "init": weight initialisation, from the lecture's deep MLP to a CNN on the digits.

Three parts, streamed in order: the classic experiment (activation statistics per layer of a
6 x 4096 MLP for each scheme), the same schemes on a small CNN trained live, and constant
initialisation never breaking symmetry.
"""

from __future__ import annotations

import math
import time
from typing import Iterator, Literal

import pandas as pd
from pydantic import AliasChoices, Field

from cnnbp import plots
from cnnbp.data import get_dataset
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choices, gflop_seconds
from cnnbp.lessons.init.classic import ClassicResult, classic_experiment, classic_flops
from cnnbp.lessons.init.cnn import VariantHistory, train_grid
from cnnbp.lessons.init.symmetry import SymmetryResult, symmetry_experiment
from cnnbp.nn.activations import ACTIVATIONS, get_act
from cnnbp.nn.inits import INITS, get_init
from cnnbp.train import RunControl

Part = Literal["classic", "cnn", "symmetry"]
# Losing or gaining more than 20% of the activation std per layer compounds to 3x over six
# layers: the scale is not kept. Fixed before any run, never tuned to a result.
COLLAPSE_FACTOR = 0.8
EXPLODE_FACTOR = 1.25
VANISHING_LOCAL_GRAD = 0.5  # mean |f'(z)| below half its peak: the gradient halves per layer
BOUNDED = ("tanh", "sigmoid")  # activations that saturate on both sides
FRAME_INTERVAL_S = 0.4  # at most ~2.5 figure updates a second while training streams
DIGITS_TRAIN_IMAGES = 1437  # 80% of scikit-learn's 1,797 digits


class InitConfig(LessonConfig):
    parts: list[Part] = Field(["classic", "cnn", "symmetry"], min_length=1,
                              description="which experiments to run")
    activations: choices(ACTIVATIONS, "activation") = Field(
        ["tanh", "relu"], validation_alias=AliasChoices("activations", "activation"),
        description="activation functions to compare (also accepted as 'activation')")
    inits: choices(INITS, "init") = Field(
        ["normal_0.01", "normal_0.05", "xavier", "kaiming"], description="initialisation schemes")
    width: int = Field(4096, ge=16, le=8192, description="MLP hidden width (lecture: 4096)",
                       json_schema_extra={"step": 16})
    depth: int = Field(6, ge=2, le=12, description="MLP hidden layers (lecture: 6)")
    batch_size: int = Field(16, ge=2, le=256, description="MLP input batch (lecture: 16)")
    dataset: Literal["digits", "shapes"] = Field("digits", description="CNN training data")
    cnn_depth: int = Field(4, ge=1, le=8, description="CNN conv layers")
    cnn_width: int = Field(16, ge=4, le=64, description="CNN channels in the first layer")
    epochs: int = Field(3, ge=1, le=30, description="CNN training epochs")
    cnn_batch_size: int = Field(64, ge=8, le=512, description="CNN minibatch size")
    lr: float = Field(0.05, gt=0, le=2.0, description="SGD learning rate (momentum 0.9)")
    symmetry_steps: int = Field(60, ge=1, le=1000, description="training steps from constant init")

    def cost_seconds(self) -> float:
        n_variants = len(self.activations) * len(self.inits)
        pieces = max(get_act(a).width_factor for a in self.activations)
        cost = 0.0
        if "classic" in self.parts:
            orthogonal = any(get_init(i).base == "orthogonal" for i in self.inits)
            cost += gflop_seconds(classic_flops(n_configs=n_variants, width=self.width, depth=self.depth,
                                                batch_size=self.batch_size, pieces=pieces,
                                                orthogonal=orthogonal))
        if {"cnn", "symmetry"} & set(self.parts):
            images = DIGITS_TRAIN_IMAGES if self.dataset == "digits" else 2000
            pixels = 64 if self.dataset == "digits" else 1024
            # forward + backward ~ 6 x MACs; ~(9 * width^2) MACs per pixel per conv layer
            per_image = 6 * self.cnn_depth * 9 * self.cnn_width**2 * pieces * 2 * pixels
            if "cnn" in self.parts:
                cost += gflop_seconds(per_image * images * self.epochs * n_variants)
            if "symmetry" in self.parts:
                cost += gflop_seconds(per_image * self.cnn_batch_size * self.symmetry_steps * 2)
        return cost


def run(cfg: InitConfig, control: RunControl) -> Iterator[Frame]:
    yield Frame(0.0, f"starting: {len(cfg.inits)} inits x {len(cfg.activations)} activations")
    weights = {"classic": 0.2, "cnn": 0.7, "symmetry": 0.1}
    total = sum(weights[p] for p in cfg.parts)
    done, verdicts, numbers = 0.0, [], {}

    def stopped(frame_progress: float) -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(frame_progress, f"{reason} after {frame_progress:.0%} of the run", verdicts=list(verdicts),
                     numbers=dict(numbers), done=True)

    if "classic" in cfg.parts:
        results = list(classic_experiment(activations=cfg.activations, inits=cfg.inits, width=cfg.width,
                                          depth=cfg.depth, batch_size=cfg.batch_size, seed=cfg.seed))
        done += weights["classic"] / total
        verdicts += classic_verdicts(results)
        numbers["classic"] = classic_numbers(results)
        yield Frame(done, f"classic MLP done ({cfg.depth} x {cfg.width})", figures=classic_figures(results, cfg),
                    tables={"classic": classic_table(results)}, verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

    if {"cnn", "symmetry"} & set(cfg.parts):
        data = get_dataset(cfg.dataset, seed=cfg.seed)

    if "cnn" in cfg.parts:
        share, last_frame, histories, reached = weights["cnn"] / total, 0.0, [], 0.0
        for reached, histories in train_grid(data, inits=cfg.inits, activations=cfg.activations,
                                             depth=cfg.cnn_depth, width=cfg.cnn_width, epochs=cfg.epochs,
                                             batch_size=cfg.cnn_batch_size, lr=cfg.lr, seed=cfg.seed,
                                             control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last_frame < FRAME_INTERVAL_S:
                continue
            last_frame = now
            yield Frame(done + share * reached, f"training the CNN on {cfg.dataset}: {reached:.0%}",
                        figures=cnn_figures(histories, cfg), numbers={**numbers, "cnn": cnn_numbers(histories)})
        done += share * reached
        verdicts += cnn_verdicts(histories, data.num_classes)
        numbers["cnn"] = cnn_numbers(histories)
        yield Frame(done, f"CNN trained ({reached:.0%} of the steps)", figures=cnn_figures(histories, cfg),
                    tables={"cnn": cnn_table(histories)}, verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

    if "symmetry" in cfg.parts:
        activation = cfg.activations[0]
        contrast = "xavier" if activation in BOUNDED else "kaiming"  # the scheme made for it
        runs = [symmetry_experiment(data, init=init, activation=activation, depth=cfg.cnn_depth,
                                    width=cfg.cnn_width, steps=cfg.symmetry_steps, batch_size=cfg.cnn_batch_size,
                                    lr=cfg.lr, seed=cfg.seed, control=control)
                for init in ("constant", contrast)]
        verdicts += symmetry_verdicts(runs, activation)
        numbers["symmetry"] = symmetry_numbers(runs, activation)
        yield Frame(1.0, "symmetry experiment done", figures={"symmetry": symmetry_figure(runs, activation)},
                    tables={"symmetry": symmetry_table(runs)}, verdicts=list(verdicts), numbers=dict(numbers))

    message = control.stop_reason() or f"done in {control.elapsed():.1f} s"
    yield Frame(1.0, message, verdicts=list(verdicts), numbers=dict(numbers), done=True)


# ---- the classic experiment: verdicts, numbers, figures ---------------------------------

def per_layer_factor(stds: list[float]) -> float:
    """Geometric-mean change of the activation std from one layer to the next."""
    first, last = stds[0], stds[-1]
    if first <= 0 or last <= 0:
        return 0.0
    return (last / first) ** (1 / max(1, len(stds) - 1))


def saturated_layers(result: ClassicResult) -> int:
    """Layers whose mean local gradient is below half its peak."""
    return sum(l.mean_local_grad < VANISHING_LOCAL_GRAD for l in result.layers)


def classify(result: ClassicResult) -> str:
    """collapse / explode / saturate / keep their scale, by the fixed thresholds above.
    Saturation needs a bounded activation and most layers below the local-gradient line."""
    factor = per_layer_factor(result.stds())
    if result.activation in BOUNDED and saturated_layers(result) > len(result.layers) / 2:
        return "saturate"
    if factor < COLLAPSE_FACTOR:
        return "collapse towards zero"
    if factor > EXPLODE_FACTOR:
        return "explode"
    return "keep their scale"


def classic_verdicts(results: list[ClassicResult]) -> list[Verdict]:
    out = []
    for r in results:
        stds = r.stds()
        last = r.layers[-1]
        out.append(Verdict(
            label=f"classic MLP, {r.activation} + {r.init}",
            text=(f"{r.activation} + {get_init(r.init).label}: activation std {stds[0]:.3g} in layer 1 -> "
                  f"{stds[-1]:.3g} in layer {len(stds)} (x{per_layer_factor(stds):.2f} per layer); "
                  f"last layer: {last.frac_saturated:.0%} saturated, mean local gradient "
                  f"{last.mean_local_grad:.2f} of its peak; ||dL/dW|| layer 1: {r.weight_grad_norm[0]:.3g}, "
                  f"layer {len(stds)}: {r.weight_grad_norm[-1]:.3g}. The activations {classify(r)}."),
        ))
    return out


def classic_numbers(results: list[ClassicResult]) -> dict:
    out: dict = {}
    for r in results:
        out.setdefault(r.activation, {})[r.init] = {
            "mean": [l.mean for l in r.layers],
            "std": [l.std for l in r.layers],
            "frac_saturated": [l.frac_saturated for l in r.layers],
            "mean_local_grad": [l.mean_local_grad for l in r.layers],
            "grad_h_norm": [l.grad_norm for l in r.layers],
            "grad_w_norm": list(r.weight_grad_norm),
            "per_layer_factor": per_layer_factor(r.stds()),
            "behaviour": classify(r),
        }
    return out


def classic_table(results: list[ClassicResult]) -> pd.DataFrame:
    rows = [{"activation": r.activation, "init": r.init, "layer": i + 1, "mean": l.mean, "std": l.std,
             "saturated": l.frac_saturated, "mean_local_grad": l.mean_local_grad,
             "grad_h_norm": l.grad_norm, "grad_w_norm": r.weight_grad_norm[i]}
            for r in results for i, l in enumerate(r.layers)]
    return pd.DataFrame(rows)


def classic_figures(results: list[ClassicResult], cfg: InitConfig) -> dict:
    rows = [dict(group=r.activation, row=r.init, layer=i, counts=l.hist_counts, edges=l.hist_edges,
                 mean=l.mean, std=l.std) for r in results for i, l in enumerate(r.layers)]
    hist = plots.layer_histograms(rows, row_labels=list(cfg.inits),
                                  layer_labels=[f"layer {i + 1}" for i in range(cfg.depth)],
                                  groups=list(cfg.activations),
                                  title=f"Activations per layer, {cfg.depth} x {cfg.width} MLP, batch {cfg.batch_size}")
    series = [dict(name=f"{r.init} / {r.activation}", color_key=r.init, dash_key=r.activation,
                   std=r.stds(), mean=[l.mean for l in r.layers], grad_w=r.weight_grad_norm,
                   grad_h=[l.grad_norm for l in r.layers]) for r in results]
    profiles = plots.per_layer_profiles(
        series, panels=[("mean", "activation mean", False), ("std", "activation std", True),
                        ("grad_w", "||dL/dW|| after one backward", True)],
        title="Mean and std of the activations, and the weight gradient, per layer")
    return {"classic_histograms": hist, "classic_profiles": profiles}


# ---- the CNN: verdicts, numbers, figures ----------------------------------------------

def cnn_numbers(histories: list[VariantHistory]) -> dict:
    return {h.name: {"init": h.init, "activation": h.activation, "eval_steps": h.eval_steps,
                     "test_accuracy": h.test_accuracy, "test_loss": h.test_loss,
                     "layer_names": h.layer_names, "layer_std": h.layer_std,
                     "layer_dead": h.layer_dead, "diverged_at": h.diverged_at,
                     "final_test_accuracy": h.test_accuracy[-1] if h.test_accuracy else None}
            for h in histories}


def cnn_table(histories: list[VariantHistory]) -> pd.DataFrame:
    rows = []
    for h in histories:
        row = {"init": h.init, "activation": h.activation, "steps": h.steps[-1] if h.steps else 0,
               "final_test_accuracy": h.test_accuracy[-1], "final_test_loss": h.test_loss[-1],
               "diverged_at": h.diverged_at}
        for name, std, dead in zip(h.layer_names, h.layer_std[-1], h.layer_dead[-1]):
            row[f"{name} std"] = std
            row[f"{name} dead"] = dead
        rows.append(row)
    return pd.DataFrame(rows)


def cnn_verdicts(histories: list[VariantHistory], num_classes: int) -> list[Verdict]:
    out = []
    chance = 1 / num_classes
    for activation in dict.fromkeys(h.activation for h in histories):
        group = [h for h in histories if h.activation == activation]
        ranked = sorted(group, key=lambda h: -(h.test_accuracy[-1] if h.diverged_at is None else -1))
        parts = []
        for h in ranked:
            if h.diverged_at is not None:
                parts.append(f"{h.init} diverged at step {h.diverged_at}")
                continue
            dead = max(h.layer_dead[-1]) if h.layer_dead else 0.0
            parts.append(f"{h.init} {h.test_accuracy[-1]:.1%} (std of the last conv layer "
                         f"{h.layer_std[-1][-1]:.3g}, up to {dead:.0%} of a layer's units dead/saturated)")
        out.append(Verdict(label=f"CNN with {activation}",
                           text=f"CNN with {activation}, test accuracy after training (chance {chance:.0%}): "
                                + "; ".join(parts) + "."))
    return out


def cnn_figures(histories: list[VariantHistory], cfg: InitConfig) -> dict:
    curves = plots.training_curves(
        [dict(name=h.name, color_key=h.init, dash_key=h.activation, steps=h.steps, loss=h.loss,
              eval_steps=h.eval_steps, test_accuracy=h.test_accuracy) for h in histories],
        title=f"Small CNN on {cfg.dataset}: init x activation")
    panels = [dict(title=h.name, lines=[dict(name=layer, x=h.eval_steps, y=[s[i] for s in h.layer_std])
                                        for i, layer in enumerate(h.layer_names)]) for h in histories]
    layer_std = plots.small_multiples(panels, n_cols=len(cfg.inits), title="Activation std per layer during training",
                                      x_title="step", y_title="std", log_y=True)
    last = histories[0].layer_names
    dead = plots.heatmap([h.layer_dead[-1] for h in histories], x_labels=last,
                         y_labels=[h.name for h in histories],
                         title="Dead ReLUs / saturated units per layer (share of units with local gradient "
                               "< 10% of its peak on every probe image)", colorbar="share")
    return {"cnn_curves": curves, "cnn_layer_std": layer_std, "cnn_dead": dead}


# ---- symmetry ---------------------------------------------------------------------------

def symmetry_numbers(runs: list[SymmetryResult], activation: str) -> dict:
    return {r.init: {"activation": activation, "steps": r.steps, "test_accuracy": r.test_accuracy,
                     "layers": [s.layer for s in r.after], "units": [s.units for s in r.after],
                     "distinct_before": [s.distinct_units for s in r.before],
                     "distinct_after": [s.distinct_units for s in r.after],
                     "spread_after": [s.spread for s in r.after]} for r in runs}


def symmetry_table(runs: list[SymmetryResult]) -> pd.DataFrame:
    return pd.DataFrame([{"init": r.init, "layer": a.layer, "units": a.units,
                          "distinct_before": b.distinct_units, "distinct_after": a.distinct_units,
                          "spread_after": a.spread, "steps": r.steps}
                         for r in runs for b, a in zip(r.before, r.after)])


def symmetry_verdicts(runs: list[SymmetryResult], activation: str) -> list[Verdict]:
    const, other = runs
    distinct = lambda r: ", ".join(f"{s.distinct_units}/{s.units}" for s in r.after)  # noqa: E731
    broken = any(s.distinct_units > 1 for s in const.after)
    return [Verdict(
        label="constant init never breaks symmetry",
        passed=not broken and all(s.distinct_units > 1 for s in other.after),
        text=(f"After {const.steps} training steps with {activation}, constant init leaves "
              f"{distinct(const)} distinct neurons per hidden layer (largest spread "
              f"{max(s.spread for s in const.after):.2g} of the mean |w|; test accuracy "
              f"{const.test_accuracy:.1%}); {other.init} has {distinct(other)} "
              f"(test accuracy {other.test_accuracy:.1%}). "
              + ("Symmetry was never broken." if not broken else "Symmetry broke: see the table.")),
    )]


def symmetry_figure(runs: list[SymmetryResult], activation: str):
    layers = [s.layer for s in runs[0].after]
    return plots.grouped_bars(
        [dict(name=f"{r.init} init", values=[s.distinct_units for s in r.after]) for r in runs],
        categories=layers, reference=[s.units for s in runs[0].after], reference_name="units in the layer",
        title=f"Distinct neurons per layer after {runs[0].steps} steps ({activation})",
        y_title="distinct neurons")
