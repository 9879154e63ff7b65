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
from cnnbp.lessons.init.classic import BOUNDED
from cnnbp.lessons.init.cnn import initialised_cnn
from cnnbp.train import RunControl, Trainer, lockstep
from cnnbp.train.history import History

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


def symmetry_contrast(data: ImageDataset, *, activation: str, depth: int, width: int, steps: int,
                      batch_size: int, lr: float, seed: int, control: RunControl,
                      workers: int = 1) -> Generator[float, None, SymmetryContrast]:
    """Constant init and the scheme made for ``activation`` (Xavier for a bounded one, else
    Kaiming), each trained ``steps`` steps on the same batches, side by side in ``workers`` lanes of
    one torch thread (``lockstep``: the numbers of one thread, one after the other); yields the share
    of the steps done, returns how many distinct neurons each layer has before and after."""
    inits = ("constant", "xavier" if activation in BOUNDED else "kaiming")
    models = [initialised_cnn(data, init=init, activation=activation, depth=depth, width=width, seed=seed)
              for init in inits]
    before = [layer_symmetry(model) for model in models]
    trainers = [Trainer(f"symmetry {init}", model, (data.x_train, data.y_train), (data.x_test, data.y_test),
                        batch_size=batch_size, epochs=1, steps=steps, lr=lr,
                        generator=make_generator(derive_seed(seed, "data-order")))
                for init, model in zip(inits, models)]
    for progress in lockstep(trainers, [History() for _ in trainers], control, eval_every=max(steps, 1),
                             on_eval=lambda i, trainer: None, beats=True, workers=workers):
        yield float(progress)
    results = [SymmetryResult(init=init, steps=t.step_count, before=b, after=layer_symmetry(t.model),
                              test_accuracy=t.evaluate()[1]) for init, b, t in zip(inits, before, trainers)]
    return SymmetryContrast(activation, *results)
