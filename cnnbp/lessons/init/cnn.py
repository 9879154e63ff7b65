"""The initialisation question on a real task: a small CNN trained on the digits.

Every (init, activation) variant sees the same data in the same order and starts from the
same unit draws (only the scheme's scale differs), so the curves differ by the init alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, pick_device
from cnnbp.nn import SmallCNN, init_model
from cnnbp.probes import ActivationProbe
from cnnbp.train import Beat, RunControl, Trainer, lockstep
from cnnbp.train.history import History

PROBE_BATCH = 256  # test images the per-layer statistics are measured on
EVALS_PER_EPOCH = 2
# A variant has trained when its test accuracy is at least halfway from chance to 100% (55% on
# the ten digits). A run in which no variant of an activation got there is too short to say
# which init suits it. Fixed before any run.
TRAINED_SHARE = 0.5


@dataclass(kw_only=True)
class VariantHistory(History):
    """Everything measured on one variant, as plain numbers (JSON-able)."""

    init: str
    activation: str
    test_loss: list[float] = field(default_factory=list)  # at eval_steps: step 0 (the init itself) and later
    test_accuracy: list[float] = field(default_factory=list)
    layer_names: list[str] = field(default_factory=list)
    layer_std: list[list[float]] = field(default_factory=list)  # [eval][layer]
    layer_dead: list[list[float]] = field(default_factory=list)  # share of units dead/saturated
    layer_saturated: list[list[float]] = field(default_factory=list)  # share of outputs

    @property
    def name(self) -> str:
        return f"{self.init} / {self.activation}"

    @property
    def final_accuracy(self) -> float | None:
        """The last test accuracy, None if it diverged (its accuracy stopped being measured)."""
        return self.test_accuracy[-1] if self.test_accuracy and self.diverged_at is None else None

    def trained(self, num_classes: int) -> bool:
        chance = 1 / num_classes
        return self.final_accuracy is not None and self.final_accuracy >= chance + TRAINED_SHARE * (1 - chance)


def build_cnn(data: ImageDataset, *, activation: str, depth: int, width: int) -> SmallCNN:
    return SmallCNN(data.in_channels, data.num_classes, depth=depth, width=width,
                    activation=activation, image_size=data.image_size[0])


def initialised_cnn(data: ImageDataset, *, init: str, activation: str, depth: int, width: int,
                    seed: int) -> SmallCNN:
    """A CNN with scheme ``init``; the unit draws depend on the seed only, not the scheme."""
    model = build_cnn(data, activation=activation, depth=depth, width=width)
    sample = data.x_train[:PROBE_BATCH]
    init_model(model, init, activation, generator=make_generator(derive_seed(seed, "cnn-init")),
               sample=sample)
    return model


def _probe(trainer: Trainer, history: VariantHistory, x_probe: torch.Tensor) -> None:
    loss, acc = trainer.evaluate()
    model = trainer.model
    model.eval()
    # no histograms: the CNN's figures draw the std and the dead and saturated shares only
    with torch.no_grad(), ActivationProbe(model, activation=history.activation, histograms=False) as probe:
        model(x_probe)
    model.train()
    stats = list(probe.stats.values())
    history.layer_names = [s.layer for s in stats]
    history.eval_steps.append(trainer.step_count)
    history.test_loss.append(loss)
    history.test_accuracy.append(acc)
    history.layer_std.append([s.std for s in stats])
    history.layer_dead.append([s.frac_dead_units for s in stats])
    history.layer_saturated.append([s.frac_saturated for s in stats])


def train_grid(
    data: ImageDataset,
    *,
    inits: Sequence[str],
    activations: Sequence[str],
    depth: int,
    width: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    control: RunControl,
    workers: int = 1,
) -> Iterator[tuple[float, list[VariantHistory]]]:
    """Train every (init, activation) variant in lockstep; yield (progress, histories)
    at step 0 and at every evaluation point (twice per epoch), and in between a ``Beat`` as progress
    after every round and every variant's evaluation (nothing new measured: a heartbeat). ``workers``:
    the stacks stepped and the variants evaluated side by side in so many lanes of one torch thread
    (``lockstep``), the numbers of one thread."""
    device = pick_device()
    train, test = (data.x_train, data.y_train), (data.x_test, data.y_test)
    x_probe = data.x_test[:PROBE_BATCH].to(device)
    trainers, histories = [], []
    for activation in activations:
        for init in inits:
            model = initialised_cnn(data, init=init, activation=activation, depth=depth,
                                    width=width, seed=seed)
            trainers.append(Trainer(f"{init} / {activation}", model, train, test,
                                    batch_size=batch_size, epochs=epochs, lr=lr,
                                    generator=make_generator(derive_seed(seed, "data-order"))))
            histories.append(VariantHistory(init=init, activation=activation))
    for trainer, history in zip(trainers, histories):
        _probe(trainer, history, x_probe)
        yield Beat(0.0), histories
    yield 0.0, histories

    eval_every = max(1, trainers[0].steps_per_epoch // EVALS_PER_EPOCH)
    # stack: the inits of one activation step as one model (train/stacked.py; equal up to float rounding);
    # the stacks (one per activation) in lanes, one core each: OpenMP's 2 threads on these small
    # convs spent about 1.5x the CPU seconds (the activations lesson measured 20.0 -> 13.5 s)
    for progress in lockstep(trainers, histories, control, eval_every=eval_every, stack=True, beats=True,
                             on_eval=lambda i, trainer: _probe(trainer, histories[i], x_probe), workers=workers):
        yield progress, histories
