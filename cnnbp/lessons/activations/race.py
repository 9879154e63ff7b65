"""The same small CNN with different activations (and learning rates), trained in lockstep.

Every variant of one seed sees the same data in the same order and starts from the same unit
draws (only the init's scale differs between activations); variants at other seeds (those
the verdicts read over several seeds) get their own split, order and draws, and train in the
same lockstep. Test accuracy is measured every few
steps so "steps to reach the target accuracy" has a fine resolution, and a probe counts the
units of every layer that never fire on a fixed set of training images (dead units).

A unit is *dead* when its local gradient is below ``DEAD_GRAD_RATIO`` of the activation's
peak on every probe image and position: no gradient reaches its weights, so nothing can
revive it. ReLU's dead units output 0 everywhere; Leaky ReLU (slope 0.01) never dies by this
definition; ELU only when its input stays below about -7 everywhere.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Iterator, Literal, Mapping, Sequence

import torch
from torch import nn

from cnnbp.data import ImageDataset, lesson_dataset
from cnnbp.device import derive_seed, make_generator, pick_device
from cnnbp.nn import SmallCNN, init_model
from cnnbp.nn.activations import create_act, get_act, local_grad
from cnnbp.probes import ForwardHooks
from cnnbp.train import Beat, RunControl, Trainer, lockstep
from cnnbp.train.history import History

# 1e-3 of the peak: the gradient is cut 1000x, the line the saturation claim uses at |x| = 10.
# Fixed before any run.
DEAD_GRAD_RATIO = 1e-3
PROBE_IMAGES = 256  # training images a unit must stay silent on to count as dead (as the init lesson's probe)
# "matched" init: the scheme made for each activation (lecture: Xavier for tanh, Kaiming for
# ReLU; SELU's paper asks for LeCun normal = our "xavier"); the rest are ReLU-like.
MATCHED_XAVIER = ("sigmoid", "tanh", "selu")


def matched_init(activation: str) -> str:
    return "xavier" if activation in MATCHED_XAVIER else "kaiming"


# When a net is measured: at "every" evaluation (the curves drawn), at every evaluation "until"
# it reaches the target accuracy (its steps to the target), at the "end" (after the last step:
# the final dead share), or "never". Nets measure only what is drawn or read.
When = Literal["every", "until", "end", "never"]


@dataclass(frozen=True)
class Variant:
    activation: str
    lr: float
    init: str  # a key of INITS, already resolved from "matched"
    seed: int  # its data split, data order and unit draws
    accuracy: When = "every"  # test loss and accuracy
    dead: When = "every"  # the dead-unit probe

    @property
    def name(self) -> str:
        return f"{self.activation}, lr {self.lr:g}"


@dataclass
class RaceHistory(History):
    """Everything measured on one variant, as plain numbers (JSON-able); ``eval_steps`` start
    at step 0 (the init itself)."""

    activation: str
    lr: float
    init: str
    seed: int = 0
    test_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    layer_names: list[str] = field(default_factory=list)
    dead: list[list[float]] = field(default_factory=list)  # [eval][layer]: share of dead units

    @property
    def name(self) -> str:
        return f"{self.activation}, lr {self.lr:g}"

    def steps_to(self, target: float) -> int | None:
        """The first evaluated step with test accuracy >= ``target``; None if never."""
        return self.first_step_at(self.test_accuracy, target)

    @property
    def final_dead(self) -> float | None:
        """Mean over layers of the dead share at the last probe (None: never probed)."""
        return statistics.fmean(self.dead[-1]) if self.dead and self.dead[-1] else None


class DeadUnitProbe(ForwardHooks):
    """Per activation layer of ``model``, the share of units (channels) whose local gradient is
    below ``DEAD_GRAD_RATIO`` of ``peak`` at every image and position of the forwards seen.

    A context manager: the hooks are removed on exit, even on error; ``dead`` holds floats.
    """

    def __init__(self, model: nn.Module, *, activation: str, peak: float):
        super().__init__(model)
        self.activation, self.peak = activation, peak
        self.looked_for = activation
        self.dead: dict[str, float] = {}
        self._kind = type(create_act(activation))

    def wants(self, module: nn.Module) -> bool:
        return isinstance(module, self._kind)

    def on_forward(self, name: str, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not get_act(self.activation).elementwise:  # maxout: the winning piece always passes
            self.dead[name] = 0.0
            return
        grad = local_grad(module, inputs[0]).abs()  # (N, C, H, W)
        silent = (grad < DEAD_GRAD_RATIO * self.peak).transpose(0, 1).flatten(1).all(dim=1)  # (C,)
        self.dead[name] = float(silent.float().mean())


def build_variant(data: ImageDataset, variant: Variant, *, depth: int, width: int,
                  act_options: Mapping[str, float]) -> SmallCNN:
    """A SmallCNN for ``variant``; the unit draws depend on its seed only."""
    model = SmallCNN(data.in_channels, data.num_classes, depth=depth, width=width,
                     activation=variant.activation, image_size=data.image_size[0],
                     act_options=dict(act_options))
    init_model(model, variant.init, variant.activation,
               generator=make_generator(derive_seed(variant.seed, "cnn-init")), sample=data.x_train[:256])
    return model


def _due(when: When, trainer: Trainer, history: RaceHistory, target: float) -> bool:
    if when == "until":
        return history.steps_to(target) is None
    return when == "every" or (when == "end" and trainer.step_count >= trainer.total_steps)


def _test(trainer: Trainer, history: RaceHistory) -> None:
    loss, acc = trainer.evaluate()
    history.eval_steps.append(trainer.step_count)
    history.test_loss.append(loss if math.isfinite(loss) else None)
    history.test_accuracy.append(acc)


def _probe(trainer: Trainer, history: RaceHistory, x_probe: torch.Tensor, peak: float) -> None:
    """The dead share per layer on ``x_probe``."""
    model = trainer.model
    model.eval()
    with torch.no_grad(), DeadUnitProbe(model, activation=history.activation, peak=peak) as probe:
        model(x_probe)
    model.train()
    history.layer_names = list(probe.dead)
    history.dead.append(list(probe.dead.values()))


def train_variants(
    variants: Sequence[Variant],
    *,
    dataset: str,
    depth: int,
    width: int,
    epochs: int,
    batch_size: int,
    options: Mapping[str, Mapping[str, float]],
    peaks: Mapping[str, float],
    target: float,
    evals_per_epoch: int,
    control: RunControl,
    beats: bool = False,
    workers: int = 1,
) -> Iterator[tuple[float, list[RaceHistory]]]:
    """Train every variant in lockstep; yield (progress, histories) at step 0 and at every
    evaluation (``evals_per_epoch`` times an epoch), where each variant measures what its
    ``accuracy`` and ``dead`` ask for. ``options``/``peaks``: per activation. ``beats``: also a
    ``Beat`` as progress after every round and every evaluation (a heartbeat); ``workers``: the nets
    stepped side by side on so many cores (``lockstep``), the same numbers as one after another."""
    device = pick_device()
    datasets = {seed: lesson_dataset(dataset, seed=seed) for seed in dict.fromkeys(v.seed for v in variants)}
    probe_images = {seed: data.x_train[:PROBE_IMAGES].to(device) for seed, data in datasets.items()}
    trainers, histories = [], []
    for v in variants:
        data = datasets[v.seed]
        model = build_variant(data, v, depth=depth, width=width, act_options=options.get(v.activation, {}))
        trainers.append(Trainer(v.name, model, (data.x_train, data.y_train), (data.x_test, data.y_test),
                                batch_size=batch_size, epochs=epochs, lr=v.lr,
                                generator=make_generator(derive_seed(v.seed, "data-order"))))
        histories.append(RaceHistory(activation=v.activation, lr=v.lr, init=v.init, seed=v.seed))

    def evaluate(i: int, trainer: Trainer) -> None:
        v, history = variants[i], histories[i]
        if _due(v.accuracy, trainer, history, target):
            _test(trainer, history)
        if _due(v.dead, trainer, history, target):
            _probe(trainer, history, probe_images[v.seed], peaks[v.activation])

    for i, trainer in enumerate(trainers):
        evaluate(i, trainer)
        if beats:
            yield Beat(0.0), histories
    yield 0.0, histories
    eval_every = max(1, trainers[0].steps_per_epoch // evals_per_epoch)
    # stack: the nets of one activation and rate at several seeds step as one model (train/stacked.py)
    for progress in lockstep(trainers, histories, control, eval_every=eval_every, on_eval=evaluate, stack=True,
                             beats=beats, workers=workers):
        yield progress, histories
