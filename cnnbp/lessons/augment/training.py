"""With and without augmentation: one pair of nets per seed, trained side by side on a small subset.

At each seed the two nets start from the same weights and see the same batches in the same
order; the augmented one passes each batch through the chosen augmentations (on the batch
tensor, on the device, from the stream ``(seed, "augment")``) before the forward pass, in
training mode only, as dropout acts only in training. Every seed trains on the same subset (the
run's seed picks it), so the nets of the different seeds also form the ensembles.

>>> net = AugNet(1, 10, (28, 28))
>>> net(torch.zeros(2, 1, 28, 28)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Generator, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.data.subsets import balanced_subset
from cnnbp.device import cpu_cores, derive_seed, make_generator, pick_device, torch_threads
from cnnbp.lessons.augment.augmentations import Mix, augment
from cnnbp.nn import init_model
from cnnbp.train import Beat, RunControl, Trainer, evaluate, lockstep
from cnnbp.train.history import History

ARMS = ("plain", "augmented")
EVALS_PER_RUN = 5  # points on each accuracy curve (each costs a pass over the train and test subsets)
EVAL_BATCH = 1024  # as ``train.evaluate``: the same batches, the same numbers
THREADS = 1  # these nets are tiny: a second thread costs more than it saves while training
CHANNELS = (6, 12)  # conv 3x3 -> ReLU -> max-pool 2, twice, then a linear head (LeNet-5 had 6 and 16)
# Fixed before any run, from the effect seen on MNIST with 300 images (about +2 to +3 points for
# rotations and shifts): augmentation "raises" test accuracy by 1 point (10 of 1,000 test images)
# or more on every seed; "does not" where no seed gains anything.
RAISE_MARGIN = 0.01
MIN_SEEDS = 3  # a comparison of trained nets is decided over at least 3 seeds, or not at all


class AugNet(nn.Module):
    """LeNet's shape: two conv + pool stages and a linear head on the flattened map. (The shared
    SmallCNN ends in global average pooling, which learns far slower from 300 images: 74% against
    90% on MNIST at the same budget, measured.)"""

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int]):
        super().__init__()
        c1, c2 = CHANNELS
        h, w = image_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(c2 * (h // 4) * (w // 4), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (N, C, H, W) -> (N, classes)


def aug_net_macs(in_channels: int, image_size: tuple[int, int], num_classes: int) -> int:
    """Multiply-adds of one image through :class:`AugNet`.

    >>> aug_net_macs(1, (28, 28), 10)  # 9 x 6 x 784 + 9 x 6 x 12 x 196 + 588 x 10
    175224
    """
    c1, c2 = CHANNELS
    h, w = image_size
    return 9 * in_channels * c1 * h * w + 9 * c1 * c2 * (h // 2) * (w // 2) + c2 * (h // 4) * (w // 4) * num_classes


class Augmented(nn.Module):
    """``augment`` in training mode, nothing in eval mode, then ``net``. ``loss`` reads the batch
    mix of the last forward pass (MixUp or CutMix), if any, so the Trainer's loss sees soft labels."""

    def __init__(self, net: nn.Module, names: Sequence[str], *, strength: float, generator: torch.Generator):
        super().__init__()
        self.net, self.names, self.strength, self.generator = net, list(names), strength, generator
        self.last_mix: Mix | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last_mix = None
        if self.training and self.names:
            x, self.last_mix = augment(x, self.names, strength=self.strength, generator=self.generator,
                                       with_mix=True)
        return self.net(x)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.last_mix.loss(logits, y) if self.last_mix is not None else F.cross_entropy(logits, y)


def settled(values: Sequence[float]) -> float:
    """The mean of the last quarter of a curve (at least its last point): one evaluation's noise
    does not decide a comparison."""
    return statistics.fmean(values[-max(1, len(values) // 4):])


@dataclass(kw_only=True)
class ArmHistory(History):
    """One net's curves: ``arm`` is plain or augmented."""

    arm: str
    seed: int
    train_accuracy: list[float] = field(default_factory=list)  # eval mode, unaugmented subset
    test_accuracy: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.arm}, seed {self.seed}"

    def numbers(self) -> dict:
        return {**vars(self), "final_train": self.train_accuracy[-1], "final_test": self.test_accuracy[-1],
                "final_gap": self.train_accuracy[-1] - self.test_accuracy[-1]}


@dataclass(frozen=True)
class Splits:
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]


def splits(data: ImageDataset, *, train_images: int, test_images: int, seed: int) -> Splits:
    """Class-balanced subsets of ``train_images`` training and ``test_images`` test images."""
    tr = balanced_subset(data.y_train, train_images, num_classes=data.num_classes, seed=seed)
    te = balanced_subset(data.y_test, test_images, num_classes=data.num_classes, seed=derive_seed(seed, "test"))
    return Splits((data.x_train[tr], data.y_train[tr]), (data.x_test[te], data.y_test[te]))


def _record(trainer: Trainer, history: ArmHistory) -> None:
    history.eval_steps.append(trainer.step_count)
    history.train_accuracy.append(evaluate(trainer.model, trainer.train_split)[1])
    history.test_accuracy.append(trainer.evaluate()[1])


@torch.no_grad()
def _record_final(trainer: Trainer, history: ArmHistory) -> torch.Tensor:
    """The last point of both curves (a diverged net keeps its last one from before, if any);
    returns the test softmax (N, classes) from the same forward pass that counts the test accuracy
    (``evaluate``'s batches, so the same numbers)."""
    trainer.model.eval()
    x, y = trainer.test_split
    logits = torch.cat([trainer.model(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])
    if not (trainer.diverged and history.eval_steps):
        history.eval_steps.append(trainer.step_count)
        history.train_accuracy.append(evaluate(trainer.model, trainer.train_split)[1])
        history.test_accuracy.append(int((logits.argmax(1) == y).sum()) / len(y))
    return F.softmax(logits, dim=1)


def make_trainers(data: ImageDataset, split: Splits, seeds: Sequence[int], names: Sequence[str], *,
                  strength: float, epochs: int, batch_size: int, lr: float) -> tuple[list[Trainer], list[ArmHistory]]:
    """For each seed, a plain and an augmented net (same initial weights, same batch order)."""
    device = pick_device()
    trainers, histories = [], []
    for seed in seeds:
        for arm in ARMS:
            net = AugNet(data.in_channels, data.num_classes, data.image_size)
            init_model(net, "kaiming", "relu", generator=make_generator(derive_seed(seed, "augment-net")))
            model = Augmented(net, names if arm == "augmented" else [], strength=strength,
                              generator=make_generator(derive_seed(seed, "augment")))
            trainers.append(Trainer(f"{arm}, seed {seed}", model, split.train, split.test, batch_size=batch_size,
                                    epochs=epochs, lr=lr, optimizer="adam", loss=model.loss, device=device,
                                    generator=make_generator(derive_seed(seed, "data-order"))))
            histories.append(ArmHistory(arm=arm, seed=seed))
    return trainers, histories


def train_arms(trainers: list[Trainer], histories: list[ArmHistory], control: RunControl, *,
               shown: int, beats: bool = False) -> Iterator[float]:
    """Every net in lockstep; yields the progress at step 0 and at every evaluation. Only the nets
    of seed ``shown`` (the curves on screen) are evaluated on the way; every net's last point is
    :func:`finish`'s. ``beats``: also a ``Beat`` after every round and every evaluation (a heartbeat)."""
    drawn = [h.seed == shown for h in histories]
    for trainer, history, draw in zip(trainers, histories, drawn):
        if draw:
            with torch_threads(THREADS):
                _record(trainer, history)
            if beats:
                yield Beat(0.0)
    yield 0.0
    eval_every = max(1, math.ceil(trainers[0].total_steps / EVALS_PER_RUN))

    def on_eval(i: int, trainer: Trainer) -> None:
        if drawn[i] and not trainer.done:
            _record(trainer, histories[i])

    # the nets side by side, one core and one torch thread each (lockstep's lanes): the numbers of one thread,
    # and the second core no longer idles (Adam nets do not stack: each is a lane's item of its own)
    yield from lockstep(trainers, histories, control, eval_every=eval_every, threads=THREADS, on_eval=on_eval,
                        beats=beats, workers=cpu_cores())


def finish(trainers: list[Trainer], histories: list[ArmHistory]) -> Generator[float, None, list[torch.Tensor]]:
    """Every net's last point, as it is now (finished, stopped or diverged), and its test softmax;
    yields the share of the nets done (a heartbeat), returns the softmaxes."""
    probs = []
    for t, h in zip(trainers, histories):
        with torch_threads(THREADS):
            probs.append(_record_final(t, h))
        yield len(probs) / len(trainers)
    return probs


@dataclass
class Raise:
    """Augmented minus plain final test accuracy, seed by seed (the pair shares weights and batches)."""

    seeds: list[int]
    gains: list[float]

    @property
    def raises(self) -> bool | None:
        """True: up by RAISE_MARGIN or more on every seed; False: up on no seed; None: the seeds
        disagree, or fewer than MIN_SEEDS of them."""
        if len(self.gains) < MIN_SEEDS:
            return None
        if all(d >= RAISE_MARGIN for d in self.gains):
            return True
        if all(d <= 0 for d in self.gains):
            return False
        return None


def gains(histories: Sequence[ArmHistory]) -> Raise:
    """Pairs each seed's augmented net with its plain one; a diverged net leaves its seed out.

    >>> h = lambda arm, seed, acc: ArmHistory(arm=arm, seed=seed, test_accuracy=[acc])
    >>> [round(g, 2) for g in gains([h("plain", 0, 0.9), h("augmented", 0, 0.93)]).gains]
    [0.03]
    """
    by_seed: dict[int, dict[str, ArmHistory]] = {}
    for h in histories:
        by_seed.setdefault(h.seed, {})[h.arm] = h
    out = Raise(seeds=[], gains=[])
    for seed, arms in by_seed.items():
        if len(arms) == 2 and all(h.diverged_at is None for h in arms.values()):
            out.seeds.append(seed)
            out.gains.append(arms["augmented"].test_accuracy[-1] - arms["plain"].test_accuracy[-1])
    return out


@torch.no_grad()
def probabilities(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """(N, C, H, W) -> (N, classes) softmax in eval mode."""
    model.eval()
    return torch.cat([F.softmax(model(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)])
