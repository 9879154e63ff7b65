"""The same small CNN with different activations (and learning rates), trained in lockstep.

Every variant sees the same data in the same order and starts from the same unit draws
(only the init's scale differs between activations); test accuracy is measured every few
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
from typing import Iterator, Mapping, Sequence

import torch
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, pick_device
from cnnbp.nn import SmallCNN, init_model
from cnnbp.nn.activations import create_act, get_act, local_grad
from cnnbp.probes import ForwardHooks
from cnnbp.train import RunControl, Trainer, lockstep
from cnnbp.train.history import History

# 1e-3 of the peak: the gradient is cut 1000x, the line the saturation claim uses at |x| = 10.
# Fixed before any run.
DEAD_GRAD_RATIO = 1e-3
PROBE_IMAGES = 256  # training images a unit must stay silent on to count as dead (as the init lesson's probe)
EVALS_PER_EPOCH = 6  # test accuracy 6 times an epoch: every 3 steps on the digits at batch 64
# "matched" init: the scheme made for each activation (lecture: Xavier for tanh, Kaiming for
# ReLU; SELU's paper asks for LeCun normal = our "xavier"); the rest are ReLU-like.
MATCHED_XAVIER = ("sigmoid", "tanh", "selu")


def matched_init(activation: str) -> str:
    return "xavier" if activation in MATCHED_XAVIER else "kaiming"


@dataclass(frozen=True)
class Variant:
    activation: str
    lr: float
    init: str  # a key of INITS, already resolved from "matched"

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
    def mean_dead(self) -> float:
        """Mean over layers of the dead share at the last probe."""
        return statistics.fmean(self.dead[-1]) if self.dead and self.dead[-1] else 0.0


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


def build_variant(data: ImageDataset, variant: Variant, *, depth: int, width: int, seed: int,
                  act_options: Mapping[str, float]) -> SmallCNN:
    """A SmallCNN for ``variant``; the unit draws depend on the seed only."""
    model = SmallCNN(data.in_channels, data.num_classes, depth=depth, width=width,
                     activation=variant.activation, image_size=data.image_size[0],
                     act_options=dict(act_options))
    init_model(model, variant.init, variant.activation,
               generator=make_generator(derive_seed(seed, "cnn-init")), sample=data.x_train[:256])
    return model


def _probe(trainer: Trainer, history: RaceHistory, x_probe: torch.Tensor | None, peak: float) -> None:
    """Test loss and accuracy; the dead share per layer on ``x_probe`` unless it is None."""
    loss, acc = trainer.evaluate()
    history.eval_steps.append(trainer.step_count)
    history.test_loss.append(loss if math.isfinite(loss) else None)
    history.test_accuracy.append(acc)
    if x_probe is None:
        return
    model = trainer.model
    model.eval()
    with torch.no_grad(), DeadUnitProbe(model, activation=history.activation, peak=peak) as probe:
        model(x_probe)
    model.train()
    history.layer_names = list(probe.dead)
    history.dead.append(list(probe.dead.values()))


def train_variants(
    data: ImageDataset,
    variants: Sequence[Variant],
    *,
    depth: int,
    width: int,
    epochs: int,
    batch_size: int,
    seed: int,
    options: Mapping[str, Mapping[str, float]],
    peaks: Mapping[str, float],
    control: RunControl,
    probe_dead: bool = True,
) -> Iterator[tuple[float, list[RaceHistory]]]:
    """Train every variant in lockstep; yield (progress, histories) at step 0 and at every
    evaluation (``EVALS_PER_EPOCH`` times an epoch). ``options``/``peaks``: per activation;
    ``probe_dead=False`` skips the dead-unit probe (accuracy only)."""
    device = pick_device()
    train, test = (data.x_train, data.y_train), (data.x_test, data.y_test)
    x_probe = data.x_train[:PROBE_IMAGES].to(device) if probe_dead else None
    trainers, histories = [], []
    for v in variants:
        model = build_variant(data, v, depth=depth, width=width, seed=seed, act_options=options.get(v.activation, {}))
        trainers.append(Trainer(v.name, model, train, test, batch_size=batch_size, epochs=epochs, lr=v.lr,
                                generator=make_generator(derive_seed(seed, "data-order"))))
        histories.append(RaceHistory(activation=v.activation, lr=v.lr, init=v.init))
    for trainer, history in zip(trainers, histories):
        _probe(trainer, history, x_probe, peaks[history.activation])
    yield 0.0, histories

    def probe(i: int, trainer: Trainer) -> None:
        _probe(trainer, histories[i], x_probe, peaks[histories[i].activation])

    eval_every = max(1, trainers[0].steps_per_epoch // EVALS_PER_EPOCH)
    for progress in lockstep(trainers, histories, control, eval_every=eval_every, on_eval=probe):
        yield progress, histories


@dataclass
class Race:
    """One run's trained CNNs, read against the race's target: which ones race (``racers`` at
    ``lr``), which pairs show dead units (``dead_activations`` at ``lr`` and ``dead_lr``),
    steps to the target and their ratio to ReLU's. The verdicts, the figures and the claims
    read the same predicates here."""

    histories: list[RaceHistory]
    target: float
    total_steps: int
    lr: float
    racers: Sequence[str] = ()
    dead_activations: Sequence[str] = ()
    dead_lr: float | None = None

    def find(self, activation: str, lr: float | None, among: Sequence[RaceHistory] | None = None
             ) -> RaceHistory | None:
        return next((h for h in (self.histories if among is None else among)
                     if h.activation == activation and h.lr == lr), None)

    @property
    def race(self) -> list[RaceHistory]:
        return [h for h in self.histories if h.lr == self.lr and h.activation in self.racers]

    @property
    def dead(self) -> list[RaceHistory]:
        """The dead-unit variants, each activation's low rate then its high rate (one row each)."""
        dead = [h for h in self.histories if h.activation in self.dead_activations and h.lr in (self.lr, self.dead_lr)]
        return sorted(dead, key=lambda h: (list(self.dead_activations).index(h.activation), h.lr != self.lr))

    def finished(self, h: RaceHistory) -> bool:
        """Diverged, or trained every step (a run cut short by a Stop is neither)."""
        return h.diverged_at is not None or bool(h.steps and h.steps[-1] >= self.total_steps)

    def ratio_to_relu(self) -> dict[str, dict]:
        """name -> steps to target, its ratio to ReLU's at ``lr``, and whether the ratio is only a
        lower bound (the variant trained every step without reaching the target: at least all
        the steps / ReLU's)."""
        relu = self.find("relu", self.lr)
        relu_steps = relu.steps_to(self.target) if relu else None
        out = {}
        for h in self.histories:
            steps = h.steps_to(self.target)
            ratio, lower_bound = None, False
            if relu_steps:
                if steps is not None:
                    ratio = steps / relu_steps
                elif h.diverged_at is None and h.steps and h.steps[-1] >= self.total_steps:
                    ratio, lower_bound = self.total_steps / relu_steps, True
            out[h.name] = {"steps_to_target": steps, "ratio_to_relu": ratio, "ratio_is_lower_bound": lower_bound}
        return out

    def relu_beats_sigmoid(self) -> bool | None:
        """ReLU reached the target in fewer steps than sigmoid (or sigmoid never did); None
        without both, or while sigmoid's run was cut short before it reached the target."""
        race = self.race
        relu, sigmoid = self.find("relu", self.lr, race), self.find("sigmoid", self.lr, race)
        if relu is None or sigmoid is None:
            return None
        r, s = relu.steps_to(self.target), sigmoid.steps_to(self.target)
        if s is None and not self.finished(sigmoid):
            return None
        return r is not None and (s is None or r < s)

    def high_lr_kills_relus(self) -> bool | None:
        """More of ReLU's units dead at ``dead_lr`` than at ``lr`` (None without both, or unless
        ``dead_lr`` is the larger rate)."""
        dead = self.dead
        low, high = self.find("relu", self.lr, dead), self.find("relu", self.dead_lr, dead)
        if low is None or high is None or self.dead_lr <= self.lr:
            return None
        return high.mean_dead > low.mean_dead
