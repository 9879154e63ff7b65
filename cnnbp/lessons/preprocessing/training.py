"""Raw vs normalised inputs: the same classifier, optimiser and learning rate, trained on the
digits as they come (pixel x scale + offset) and after each of the lecture's image steps.

Every variant of a run starts from the same weights and sees the same batches (common random
numbers): curves differ by the preprocessing alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median
from typing import Iterator, Literal, Sequence

import torch
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, pick_device, torch_threads
from cnnbp.lessons.preprocessing.transforms import ImageTransform, fit_image_transform
from cnnbp.train import RunControl, Trainer, evaluate, lockstep
from cnnbp.train.history import History

ModelKind = Literal["linear", "mlp"]
TRAIN_DATASET = "digits"  # linear / MLP classifiers learn digits in a few epochs; shapes need a CNN
EVAL_EVERY = 5  # steps between two full-set evaluations: the resolution of "steps to target"
# "Trained": a training-set loss of a fifth of chance's ln(K) (0.46 for 10 classes): the
# classifier is confidently right on most images. Fixed before any run.
TARGET_LOSS_FRACTION = 0.2
TARGET_ACCURACY = 0.9  # reported beside the loss: test accuracy a linear model reaches on digits
# "Faster": the median number of steps to the target is at most 1/1.5 of raw's. Steps are
# counted at evaluations EVAL_EVERY = 5 steps apart, so 1.5x is more than one evaluation's slack.
SPEEDUP = 1.5
# Our models are 64 x 10 matmuls: a second intra-op thread buys nothing, and when another
# process busies a core, torch's two threads wait on each other (measured: 0.26 ms a step on one
# thread, 55 ms on two, with one core busy). Set only between two yields, always restored.
SMALL_MODEL_THREADS = 1


def build_model(kind: ModelKind, in_features: int, num_classes: int, *, hidden: int,
                generator: torch.Generator) -> nn.Sequential:
    """A linear classifier (flatten -> linear) or a one-hidden-layer ReLU MLP, with PyTorch's
    default uniform(+-1/sqrt(fan_in)) init drawn from ``generator`` (never the global RNG).

    >>> m = build_model("mlp", 64, 10, hidden=32, generator=torch.Generator().manual_seed(0))
    >>> m(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    sizes = [in_features, num_classes] if kind == "linear" else [in_features, hidden, num_classes]
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = torch.nn.utils.skip_init(nn.Linear, d_in, d_out)
        bound = 1 / math.sqrt(d_in)
        with torch.no_grad():
            layer.weight.copy_(torch.rand(d_out, d_in, generator=generator) * 2 * bound - bound)
            layer.bias.copy_(torch.rand(d_out, generator=generator) * 2 * bound - bound)
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass(kw_only=True)
class RunHistory(History):
    """One (transform, run) training, as plain numbers."""

    transform: str
    run: int
    train_loss: list[float] = field(default_factory=list)  # whole training set, at eval_steps
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.transform}, run {self.run + 1}"

    def steps_to_loss(self, target: float) -> int | None:
        """The first evaluated step whose training-set loss is <= ``target``."""
        return next((s for s, l in zip(self.eval_steps, self.train_loss) if l <= target), None)

    def steps_to_accuracy(self, target: float) -> int | None:
        return self.first_step_at(self.test_accuracy, target)


def raw_inputs(data: ImageDataset, *, scale: float, offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The images as they come: pixel in [0, 1] x ``scale`` + ``offset`` (255, 0: 8-bit pixels)."""
    return data.x_train * scale + offset, data.x_test * scale + offset


def _record(trainer: Trainer, history: RunHistory) -> None:
    train_loss, _ = evaluate(trainer.model, trainer.train_split)
    test_loss, test_acc = trainer.evaluate()
    history.eval_steps.append(trainer.step_count)
    history.train_loss.append(train_loss)
    history.test_loss.append(test_loss)
    history.test_accuracy.append(test_acc)


@dataclass(frozen=True)
class Speedup:
    """How much sooner ``fast`` inputs reach the target loss than ``slow`` ones (medians over runs)."""

    fast: str
    slow: str
    ratio: float  # slow's median steps / fast's
    lower_bound: bool  # slow mostly never got there: its steps count as the budget, the ratio is a bound
    fast_mostly_reached: bool

    @property
    def holds(self) -> bool:
        """Fast inputs reach the target in most runs, in at most 1/SPEEDUP of the slow median."""
        return self.fast_mostly_reached and self.ratio >= SPEEDUP


@dataclass
class TrainingResult:
    histories: list[RunHistory]
    models: dict[tuple[str, int], nn.Module]  # (transform, run) -> trained model
    fitted: dict[str, ImageTransform]  # transform -> statistics fitted on the raw training images
    total_steps: int
    target_loss: float  # TARGET_LOSS_FRACTION x ln(classes)

    def runs_of(self, transform: str) -> list[RunHistory]:
        return [h for h in self.histories if h.transform == transform]

    def steps_or_budget(self, steps: int | None) -> float:
        """Steps to a target, a run that never reaches it counting as one evaluation past the end."""
        return float(steps) if steps is not None else float(self.total_steps + EVAL_EVERY)

    def median_steps(self, transform: str) -> tuple[float, int]:
        """(median steps to the target loss over runs, runs that reached it)."""
        steps = [h.steps_to_loss(self.target_loss) for h in self.runs_of(transform)]
        return median(self.steps_or_budget(s) for s in steps), sum(s is not None for s in steps)

    def speedup(self, fast: str = "channel_std", slow: str = "raw") -> Speedup:
        runs = len(self.runs_of(fast))
        f, fast_reached = self.median_steps(fast)
        s, slow_reached = self.median_steps(slow)
        return Speedup(fast, slow, s / f, lower_bound=2 * slow_reached <= runs,
                       fast_mostly_reached=2 * fast_reached > runs)


def train_variants(data: ImageDataset, *, transforms: Sequence[str], model: ModelKind, hidden: int,
                   raw_scale: float, raw_offset: float, runs: int, epochs: int, batch_size: int,
                   lr: float, seed: int, control: RunControl) -> Iterator[tuple[float, TrainingResult]]:
    """Train every (transform, run) in lockstep; yield (progress, result) at step 0 and at every
    evaluation (every ``EVAL_EVERY`` steps). Stops between two steps when ``control`` says so."""
    device = pick_device()
    x_train, x_test = raw_inputs(data, scale=raw_scale, offset=raw_offset)
    fitted = {name: fit_image_transform(name, x_train) for name in transforms}
    in_features = x_train[0].numel()
    trainers, histories, models = [], [], {}
    for run in range(runs):
        for name in transforms:
            t = fitted[name]
            net = build_model(model, in_features, data.num_classes, hidden=hidden,
                              generator=make_generator(derive_seed(seed, "model", run)))
            trainers.append(Trainer(f"{name}, run {run + 1}", net, (t(x_train), data.y_train),
                                     (t(x_test), data.y_test), batch_size=batch_size, epochs=epochs, lr=lr,
                                     generator=make_generator(derive_seed(seed, "order", run)), device=device))
            histories.append(RunHistory(transform=name, run=run))
            models[(name, run)] = net
    with torch_threads(SMALL_MODEL_THREADS):
        for trainer, history in zip(trainers, histories):
            _record(trainer, history)
    total = trainers[0].total_steps
    result = TrainingResult(histories, models, fitted, total, TARGET_LOSS_FRACTION * math.log(data.num_classes))
    yield 0.0, result

    for progress in lockstep(trainers, histories, control, eval_every=EVAL_EVERY,
                             on_eval=lambda i, trainer: _record(trainer, histories[i]),
                             threads=SMALL_MODEL_THREADS):
        yield progress, result
