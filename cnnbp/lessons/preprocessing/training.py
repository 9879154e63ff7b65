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
# "Faster": the median number of steps to the target is at most 1/1.5 of raw's, read the way that
# least favours the claim: a run is seen to reach the target only at an evaluation, EVAL_EVERY
# steps apart, so its crossing lies somewhere after the evaluation before. Fixed before any run.
SPEEDUP = 1.5
# A median over three runs (seeds) ignores one odd run; fewer runs cannot decide a comparison.
MIN_RUNS = 3
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

    def crossing_bounds(self, target: float) -> tuple[float, float]:
        """The steps between which the training loss first fell to ``target``: after the evaluation
        before the one that saw it, at the latest at that one. A run that never got there crossed
        after its last evaluation (not at all if it diverged): (last + 1, inf) or (inf, inf)."""
        seen = self.steps_to_loss(target)
        if seen is None:
            return (math.inf if self.diverged_at is not None else self.eval_steps[-1] + 1.0), math.inf
        i = self.eval_steps.index(seen)
        return (self.eval_steps[i - 1] + 1.0 if i else 0.0), float(seen)


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
    """How much sooner ``fast`` inputs reach the target loss than ``slow`` ones, from the medians
    over runs of each run's crossing bounds (:meth:`RunHistory.crossing_bounds`)."""

    fast: str
    slow: str
    runs: int
    fast_steps: tuple[float, float]  # median (earliest, latest) crossing over the runs
    slow_steps: tuple[float, float]

    @property
    def at_least(self) -> float:
        """The ratio read against the claim: slow's earliest crossing over fast's latest."""
        return _ratio(self.slow_steps[0], self.fast_steps[1])

    @property
    def at_most(self) -> float:
        """The ratio read for the claim: slow's latest crossing over fast's earliest."""
        return _ratio(self.slow_steps[1], self.fast_steps[0])

    @property
    def neither_reached(self) -> bool:
        """In most runs neither input reached the target: no ratio can be read."""
        return math.isinf(self.fast_steps[1]) and math.isinf(self.slow_steps[1])

    @property
    def holds(self) -> bool | None:
        """True: even read against it, fast inputs are SPEEDUP x sooner; False: even read for it,
        they are not; None: too few runs, or the evaluations are too coarse to tell."""
        if self.runs < MIN_RUNS:
            return None
        if self.at_least >= SPEEDUP:
            return True
        if self.at_most < SPEEDUP:
            return False
        return None


def _ratio(slow: float, fast: float) -> float:
    """slow / fast where either may be infinite (never reached); nan when neither ratio is known."""
    if math.isinf(slow) and math.isinf(fast) or slow == fast == 0.0:
        return math.nan
    if math.isinf(fast):
        return 0.0
    if math.isinf(slow) or fast == 0.0:
        return math.inf
    return slow / fast


@dataclass
class TrainingResult:
    histories: list[RunHistory]
    models: dict[tuple[str, int], nn.Module]  # (transform, run) -> trained model
    fitted: dict[str, ImageTransform]  # transform -> statistics fitted on the raw training images
    total_steps: int
    target_loss: float  # TARGET_LOSS_FRACTION x ln(classes)

    def runs_of(self, transform: str) -> list[RunHistory]:
        return [h for h in self.histories if h.transform == transform]

    def speedup(self, fast: str = "channel_std", slow: str = "raw") -> Speedup:
        def bounds(transform: str) -> tuple[float, float]:
            pairs = [h.crossing_bounds(self.target_loss) for h in self.runs_of(transform)]
            return median(lo for lo, _ in pairs), median(hi for _, hi in pairs)

        return Speedup(fast, slow, len(self.runs_of(fast)), bounds(fast), bounds(slow))


def train_variants(data: ImageDataset, *, transforms: Sequence[str], model: ModelKind, hidden: int,
                   raw_scale: float, raw_offset: float, runs: int, epochs: int, batch_size: int,
                   lr: float, seed: int, control: RunControl,
                   beats: bool = False) -> Iterator[tuple[float, TrainingResult]]:
    """Train every (transform, run) in lockstep; yield (progress, result) at step 0 and at every
    evaluation (every ``EVAL_EVERY`` steps), and with ``beats`` a ``Beat`` as progress after every
    round and every evaluation. Stops between two steps when ``control`` says so."""
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
    for trainer, history in zip(trainers, histories):
        with torch_threads(SMALL_MODEL_THREADS):
            _record(trainer, history)
    total = trainers[0].total_steps
    result = TrainingResult(histories, models, fitted, total, TARGET_LOSS_FRACTION * math.log(data.num_classes))
    yield 0.0, result

    for progress in lockstep(trainers, histories, control, eval_every=EVAL_EVERY,
                             on_eval=lambda i, trainer: _record(trainer, histories[i]),
                             threads=SMALL_MODEL_THREADS, beats=beats):
        yield progress, result
