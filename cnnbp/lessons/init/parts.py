"""The init lesson's parts, in run order: the lecture's deep MLP (activation statistics per
layer for each scheme), the same schemes on a small CNN trained live, and constant
initialisation never breaking symmetry."""

from __future__ import annotations

from typing import Iterator

from cnnbp.data import ImageDataset, dataset_label, lesson_dataset
from cnnbp.device import cpu_cores
from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats
from cnnbp.lessons.init import figures
from cnnbp.lessons.init.classic import ClassicResult, classic_experiment
from cnnbp.lessons.init.cnn import VariantHistory, train_grid
from cnnbp.lessons.init.config import InitConfig
from cnnbp.lessons.init.symmetry import SymmetryContrast, symmetry_contrast
from cnnbp.lessons.init.verdicts import classic_verdicts, cnn_verdicts, symmetry_verdict
from cnnbp.lessons.redraw import Redraw
from cnnbp.train import Beat


def start_message(cfg: InitConfig, parts: list[Part]) -> str:
    return f"starting: {len(cfg.inits)} inits x {len(cfg.activations)} activations"


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
            "per_layer_factor": r.per_layer_factor,
            "factor_noise": r.factor_noise,
            "behaviour": r.behaviour,
        }
    return out


def classic(state: RunState) -> Iterator[Update]:
    cfg: InitConfig = state.cfg
    results, configurations = [], len(cfg.activations) * len(cfg.inits)
    for item in classic_experiment(activations=cfg.activations, inits=cfg.inits, width=cfg.width,
                                   depth=cfg.depth, batch_size=cfg.batch_size, seed=cfg.seed, beats=True):
        if isinstance(item, ClassicResult):
            results.append(item)
            item = 0.0
        yield heartbeat(0.9 * (len(results) + item) / configurations)
    drawn, draws = {}, figures.classic_figures(results, cfg)
    for name, draw in draws.items():  # one figure per stretch of work (its grid of panels: 0.3-0.5 s)
        yield heartbeat(0.9 + 0.1 * len(drawn) / (len(draws) + 1), long_work_next=True)
        drawn[name] = draw()
    yield Update(1.0, f"classic MLP done ({cfg.depth} x {cfg.width})", figures=drawn,
                 tables={"classic": figures.classic_table(results)}, numbers={"classic": classic_numbers(results)},
                 verdicts=classic_verdicts(results))


def cnn_numbers(histories: list[VariantHistory], num_classes: int) -> dict:
    return {h.name: {"init": h.init, "activation": h.activation, "eval_steps": h.eval_steps,
                     "test_accuracy": h.test_accuracy, "test_loss": h.test_loss,
                     "layer_names": h.layer_names, "layer_std": h.layer_std,
                     "layer_dead": h.layer_dead, "diverged_at": h.diverged_at,
                     "final_test_accuracy": h.test_accuracy[-1] if h.test_accuracy else None,
                     "trained": h.trained(num_classes)}
            for h in histories}


def _dataset(state: RunState) -> ImageDataset:
    """The CNN's data, built once per run (the cnn and symmetry parts share it)."""
    if not hasattr(state, "data"):
        state.data = lesson_dataset(state.cfg.dataset, seed=state.cfg.seed)
    return state.data


def cnn(state: RunState) -> Iterator[Update]:
    cfg: InitConfig = state.cfg
    data = _dataset(state)
    histories, reached, redraw, drawn_once = [], 0.0, Redraw(), False
    for reached, histories in train_grid(data, inits=cfg.inits, activations=cfg.activations, depth=cfg.cnn_depth,
                                         width=cfg.cnn_width, epochs=cfg.epochs, batch_size=cfg.cnn_batch_size,
                                         lr=cfg.lr, seed=cfg.seed, control=state.control,
                                         workers=cpu_cores()):
        if isinstance(reached, Beat):
            yield heartbeat(reached)
            continue
        if not drawn_once:  # its three figures' first drawing (~0.3 s) after the nets' set-up: a frame first
            drawn_once = True
            yield heartbeat(reached, long_work_next=True)
        yield Update(reached, f"training the CNN on {dataset_label(cfg.dataset)}",
                     figures=redraw(figures.cnn_figures(histories, cfg)),
                     numbers={"cnn": cnn_numbers(histories, data.num_classes)})
    yield Update(reached, f"CNN trained ({reached:.0%} of the steps)", figures=figures.cnn_figures(histories, cfg),
                 tables={"cnn": figures.cnn_table(histories)},
                 numbers={"cnn": cnn_numbers(histories, data.num_classes)},
                 verdicts=cnn_verdicts(histories, data.num_classes))


def symmetry_numbers(contrast: SymmetryContrast) -> dict:
    return {r.init: {"activation": contrast.activation, "steps": r.steps, "test_accuracy": r.test_accuracy,
                     "layers": [s.layer for s in r.after], "units": [s.units for s in r.after],
                     "distinct_before": [s.distinct_units for s in r.before],
                     "distinct_after": [s.distinct_units for s in r.after],
                     "spread_after": [s.spread for s in r.after]} for r in (contrast.constant, contrast.other)}


def symmetry(state: RunState) -> Iterator[Update]:
    cfg: InitConfig = state.cfg
    contrast = yield from heartbeats(symmetry_contrast(
        _dataset(state), activation=cfg.activations[0], depth=cfg.cnn_depth, width=cfg.cnn_width,
        steps=cfg.symmetry_steps, batch_size=cfg.cnn_batch_size, lr=cfg.lr, seed=cfg.seed, control=state.control,
        workers=cpu_cores()),
        0.0, 0.95)
    yield Update(1.0, "symmetry experiment done", figures={"symmetry": figures.symmetry_figure(contrast)},
                 tables={"symmetry": figures.symmetry_table(contrast)},
                 numbers={"symmetry": symmetry_numbers(contrast)},
                 verdicts=[symmetry_verdict(contrast)])


# Shares in powers of two: their running sums are exact, so the last part ends at progress 1, never 1 + 2e-16.
PARTS = (Part("classic", 0.25, classic), Part("cnn", 0.625, cnn), Part("symmetry", 0.125, symmetry))
