"""The architecture lesson's parts: the calculator (arithmetic and torch's count of your stack, in
milliseconds), the real architectures (counted once per process), the stacks of small filters
trained against large ones (kept per training settings), and a unit's receptive field on an image
(gradients of a kept net). Changing the stack, the input, the model shown or the unit re-runs the
lesson without training: every part but the calculator answers from what it kept."""

from __future__ import annotations

import functools
from typing import Iterator

import torch
from torch import nn

from cnnbp.cache import BoundedCache
from cnnbp.data import get_dataset
from cnnbp.lessons.architecture import figures, verdicts
from cnnbp.lessons.architecture.config import ArchitectureConfig
from cnnbp.lessons.architecture.counting import build_stack, count, hwc
from cnnbp.lessons.architecture.figures import plain
from cnnbp.lessons.architecture.layers import parse_spec, stack_rows
from cnnbp.lessons.architecture.models import ARCHITECTURES, summary
from cnnbp.lessons.architecture.receptive import effective_field, gradient_support
from cnnbp.lessons.architecture.stacks import PAIRS, STACKS, StackRun, block_weights, train_stacks
from cnnbp.lessons.base import Part, RunState, Update, Verdict, heartbeat
from cnnbp.lessons.redraw import Redraw
from cnnbp.nn import imagenet as imagenet_net
from cnnbp.train import Beat

# Trained runs (a few nets of a few thousand weights each, and 100 probe images), keyed by the
# training settings: a change of the stack, the input, the model or the unit never retrains.
RUNS: BoundedCache[StackRun] = BoundedCache(8)
PROBE_IMAGES = 100  # test images the effective receptive field is averaged over
# torch counts a tensor's elements in 64 bits, even on the meta device: a larger weight or output is
# beyond what it can build, and the calculator's count stands alone.
TORCH_MAX_ELEMENTS = 2**62


def calculator(state: RunState) -> Iterator[Update]:
    cfg: ArchitectureConfig = state.cfg
    inp, layers = cfg.input_shape, parse_spec(cfg.layers)
    rows = stack_rows(inp, layers)
    lecture = lecture_example()
    numbers = {"input": inp.text, "layers": [_row_numbers(r) for r in rows],
               "totals": {"params": plain(sum(r.params for r in rows)), "macs": plain(sum(r.macs for r in rows)),
                          "as_fc": plain(sum(r.as_fc for r in rows))},
               "torch": None, "lecture_example": vars(lecture)}
    if max(max(r.params, r.out.elements) for r in rows) < TORCH_MAX_ELEMENTS:
        counted = count(build_stack(inp, layers), (inp.channels, inp.height, inp.width))
        numbers["torch"] = {"params": plain(counted.params), "flops": plain(counted.flops),
                            "output": hwc(counted.layers[-1].out_shape)}
        check = verdicts.torch_agrees(rows, counted.params, counted.flops, numbers["torch"]["output"])
    else:
        check = verdicts.too_large_for_torch(rows)
    yield Update(1.0, f"{len(rows)} layer(s) counted", figures={"shapes": figures.shapes(inp, rows)},
                 tables={"layers": figures.layers_table(rows)}, numbers={"calculator": numbers},
                 verdicts=[verdicts.conv_vs_fc(lecture), check, *verdicts.advice(inp, rows)])


def _row_numbers(r) -> dict:
    return {"layer": r.layer.describe(), "output": r.out.text, "params": plain(r.params), "macs": plain(r.macs),
            "as_fc": plain(r.as_fc),
            "rf_size": list(r.rf_size), "rf_jump": list(r.rf_jump), "rf_start": list(r.rf_start), "notes": r.notes}


@functools.lru_cache(maxsize=1)
def lecture_example() -> verdicts.ConvVsFc:
    """The lecture's 90x90x10 example by the calculator and by torch's modules (meta device: no memory)."""
    inp = verdicts.LECTURE_INPUT
    row = stack_rows(inp, parse_spec(verdicts.LECTURE_SPEC))[0]
    with torch.device("meta"):
        conv = nn.Conv2d(inp.channels, 5, 3, stride=1, padding=1)
        fc = nn.Linear(inp.elements, row.out.elements)
    numel = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return verdicts.ConvVsFc(row.params, numel(conv), row.as_fc, numel(fc), row.out.text)


def available_models() -> list[str]:
    """Every architecture that can be built here (EfficientNet-Lite0 needs timm)."""
    missing_timm = imagenet_net.unavailable_reason().startswith("the ImageNet network needs timm")
    return [n for n in ARCHITECTURES if not (n == "efficientnet_lite0" and missing_timm)]


@functools.lru_cache(maxsize=len(ARCHITECTURES))
def _model_figure(name: str):
    return figures.model_layers(summary(name))


def models(state: RunState) -> Iterator[Update]:
    cfg: ArchitectureConfig = state.cfg
    names = available_models()
    summaries = []
    for i, name in enumerate(names):
        summaries.append(summary(name))
        yield Update((i + 1) / (len(names) + 1), f"counted {ARCHITECTURES[name].label}")
    shown = summary(cfg.model) if cfg.model in names else summaries[0]
    numbers = {s.name: {"params": s.params, "params_by_recurrence": s.params_by_recurrence, "macs": s.macs,
                        "macs_by_recurrence": s.macs_by_recurrence, "flops": s.flops,
                        "flops_by_op": s.counted.flops_by_op,
                        "fc_params": s.fc_params, "fc_share": s.fc_share, "rf_size": s.rf_size,
                        "reported": list(s.reported) if s.reported else None, "reference_macs": s.reference_macs,
                        "largest": s.largest.name} for s in summaries}
    out = [verdicts.counters(summaries)]
    if "vgg16" in names:
        out.insert(0, verdicts.vgg_fc(summary("vgg16")))
    missing = [n for n in ARCHITECTURES if n not in names]
    if missing:
        out.append(Verdict(label="not counted", headline=f"{len(missing)} network(s) not counted: {', '.join(missing)}",
                           text=f"{', '.join(missing)}: {imagenet_net.unavailable_reason()}"))
    yield Update(1.0, f"{len(summaries)} architectures counted", figures={"model_layers": _model_figure(shown.name)},
                 tables={"models": figures.models_table(summaries), "model_layers": figures.model_layers_table(shown)},
                 numbers={"models": numbers, "model_shown": shown.name}, verdicts=out)


def _exact_pairs(cfg: ArchitectureConfig, run: StackRun) -> list[tuple[str, str, int, int, int, int]]:
    """(small, large, fields by the recurrence, weights by torch) for the chosen pairs; the fields by
    the recurrence are checked against the gradients' reach before they are reported."""
    out = []
    for small, large in PAIRS[:2]:
        if small in cfg.stacks and large in cfg.stacks:
            fields = []
            for name in (small, large):
                kernels = tuple(k for k, _ in STACKS[name].block)
                field = 1 + sum(k - 1 for k in kernels)
                if gradient_support(kernels) != field:
                    raise AssertionError(f"the recurrence says {field} for {name}, the gradients disagree")
                fields.append(field)
            out.append((small, large, *fields, block_weights(run.nets[small]), block_weights(run.nets[large])))
    return out


def stacks(state: RunState) -> Iterator[Update]:
    cfg: ArchitectureConfig = state.cfg
    run = RUNS.get(cfg.training_key())
    if run is None:
        data = get_dataset(cfg.dataset, seed=cfg.seed)
        redraw = Redraw(share=0.1)  # the streaming curves within a tenth of the run (~60 ms a drawing)
        for progress, histories, done in train_stacks(data, stacks=cfg.stacks, channels=cfg.block_channels,
                                                      epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                                                      seeds=cfg.seed_list, control=state.control, beats=True):
            if isinstance(progress, Beat):
                yield heartbeat(progress)
            elif done is None:
                partial = StackRun(histories, {}, cfg.seed_list)
                yield Update(progress, f"training {len(cfg.stacks)} stacks x {cfg.seeds} seed(s)",
                             figures=redraw({"stacks": lambda p=partial: figures.stacks(p, cfg.block_channels)}))
            else:
                run = done
        if run is None:  # stopped: nothing kept
            return
        run.probe = data.x_test[:PROBE_IMAGES].clone()
        RUNS.put(cfg.training_key(), run)
    state.stack_run = run
    if run.figures is None:
        run.figures = {"stacks": figures.stacks(run, cfg.block_channels)}
    pairs = _exact_pairs(cfg, run)
    found = [verdicts.same_field_fewer_weights(pairs, cfg.block_channels)] if pairs else []
    found += [verdicts.trained(run.compare(s, lg)) for s, lg in PAIRS if s in cfg.stacks and lg in cfg.stacks]
    numbers = {"histories": [vars(h) for h in run.histories],
               "pairs": [{"small": s, "large": lg, "field_small": a, "field_large": b, "weights_small": ws,
                          "weights_large": wl} for s, lg, a, b, ws, wl in pairs],
               "differences": {f"{s} - {lg}": run.compare(s, lg).differences for s, lg in PAIRS
                               if s in cfg.stacks and lg in cfg.stacks}}
    yield Update(1.0, f"{len(cfg.stacks)} stacks trained at {cfg.seeds} seed(s)", figures=run.figures,
                 tables={"stacks": figures.stacks_table(run, cfg.block_channels)}, numbers={"stacks": numbers},
                 verdicts=found)


def receptive(state: RunState) -> Iterator[Update]:
    cfg: ArchitectureConfig = state.cfg
    run: StackRun = state.stack_run
    shown = cfg.stacks[0]
    key = (shown, cfg.unit_layer, cfg.unit_row, cfg.unit_col)
    answer = run.fields.get(key)
    if answer is None:
        erf = effective_field(run.nets[shown], run.probe, stack=shown, layer=cfg.unit_layer, row=cfg.unit_row,
                              col=cfg.unit_col)
        answer = erf, figures.receptive(run.probe[0].mean(dim=0).tolist(), erf, shown)
        run.fields.put(key, answer)
    erf, figure = answer
    yield Update(1.0, f"receptive field of unit ({cfg.unit_layer}, {cfg.unit_row}, {cfg.unit_col})",
                 figures={"receptive": figure},
                 numbers={"receptive": {**vars(erf), "rows": list(erf.rows), "cols": list(erf.cols)}},
                 verdicts=[verdicts.effective(erf, shown)])


PARTS = (Part("calculator", 0.02, calculator), Part("models", 0.08, models), Part("stacks", 0.88, stacks),
         Part("receptive", 0.02, receptive))
