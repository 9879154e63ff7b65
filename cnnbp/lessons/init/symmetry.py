"""Constant initialisation never breaks symmetry: every neuron of a layer gets the same
gradient, takes the same step, and stays a copy of its neighbours, however long it trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator

import torch
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.base import scaled
from cnnbp.lessons.init.classic import BOUNDED
from cnnbp.lessons.init.cnn import initialised_cnn
from cnnbp.train import RunControl, Trainer

# Two units are "the same neuron" when their weights differ by less than this share of
# the layer's mean |weight| (float32 rounding in a summation order can leave ~1e-7).
SAME_NEURON_TOLERANCE = 1e-5


@dataclass
class LayerSymmetry:
    layer: str
    units: int
    distinct_units: int  # neurons that differ from every earlier one
    spread: float  # max |W_i - W_0| over units i, relative to mean |W|


@dataclass
class SymmetryResult:
    init: str
    steps: int
    before: list[LayerSymmetry] = field(default_factory=list)
    after: list[LayerSymmetry] = field(default_factory=list)
    test_accuracy: float = 0.0

    @property
    def symmetric(self) -> bool:
        """Every hidden layer is still one neuron copied."""
        return all(s.distinct_units == 1 for s in self.after)

    @property
    def broken_in_every_layer(self) -> bool:
        return all(s.distinct_units > 1 for s in self.after)


@dataclass
class SymmetryContrast:
    """Constant init against the scheme made for the activation, trained alike."""

    activation: str
    constant: SymmetryResult
    other: SymmetryResult

    @property
    def holds(self) -> bool:
        """The lecture's claim: constant init stays symmetric where a random init does not."""
        return self.constant.symmetric and self.other.broken_in_every_layer


def layer_symmetry(model: nn.Module) -> list[LayerSymmetry]:
    """Per hidden conv/linear layer (the class head excluded: its rows are the classes)."""
    out = []
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for name, module in layers[:-1]:
        rows = module.weight.detach().flatten(1)  # (units, fan_in)
        scale = float(rows.abs().mean()) or 1.0
        diffs = (rows - rows[0]).abs().amax(dim=1) / scale
        distinct: list[torch.Tensor] = []
        for row in rows:
            if all(float((row - d).abs().max()) / scale >= SAME_NEURON_TOLERANCE for d in distinct):
                distinct.append(row)
        out.append(LayerSymmetry(name, rows.shape[0], len(distinct), float(diffs.max())))
    return out


def symmetry_experiment(data: ImageDataset, *, init: str, activation: str, depth: int, width: int,
                        steps: int, batch_size: int, lr: float, seed: int,
                        control: RunControl) -> Generator[float, None, SymmetryResult]:
    """Train ``steps`` steps from ``init`` and measure how many distinct neurons each layer has;
    yields the share of the steps done after each (a heartbeat), returns the result."""
    model = initialised_cnn(data, init=init, activation=activation, depth=depth, width=width, seed=seed)
    result = SymmetryResult(init=init, steps=0, before=layer_symmetry(model))
    n = len(data.x_train)
    epochs = -(-steps * batch_size // n)  # enough epochs to cover the steps
    trainer = Trainer(f"symmetry {init}", model, (data.x_train, data.y_train), (data.x_test, data.y_test),
                      batch_size=batch_size, epochs=epochs, lr=lr,
                      generator=make_generator(derive_seed(seed, "data-order")))
    while trainer.step_count < steps and not trainer.done and not control.stop_reason():
        trainer.step()
        yield trainer.step_count / max(steps, 1)
    result.steps = trainer.step_count
    result.after = layer_symmetry(trainer.model)
    result.test_accuracy = trainer.evaluate()[1]
    return result


def symmetry_contrast(data: ImageDataset, *, activation: str, depth: int, width: int, steps: int,
                      batch_size: int, lr: float, seed: int,
                      control: RunControl) -> Generator[float, None, SymmetryContrast]:
    """Constant init and the scheme made for ``activation`` (Xavier for a bounded one, else
    Kaiming), each trained ``steps`` steps on the same batches; yields the share of the work done."""
    contrast = "xavier" if activation in BOUNDED else "kaiming"
    results = []
    for k, init in enumerate(("constant", contrast)):
        work = symmetry_experiment(data, init=init, activation=activation, depth=depth, width=width, steps=steps,
                                   batch_size=batch_size, lr=lr, seed=seed, control=control)
        results.append((yield from scaled(work, k / 2, (k + 1) / 2)))
    return SymmetryContrast(activation, *results)
