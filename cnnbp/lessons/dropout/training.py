"""Dropout as a regulariser: one net per drop probability, trained side by side on a small subset.

The nets are the lecture's kind of network: hidden fully connected layers, each followed by
ReLU and dropout (as AlexNet and VGG put dropout in their FC layers), optionally on top of two
conv blocks. Every net starts from the same weights and sees the same batches in the same
order; only ``p`` differs, and each dropout layer draws its masks from its own named stream.
A small, class-balanced training subset makes the plain net overfit: train accuracy reaches
100% while test accuracy stays far below, and the gap is what dropout is said to narrow.

>>> net = DropoutNet((1, 8, 8), 10, arch="mlp", width=32, depth=2, p=0.5, seed=0)
>>> net(torch.zeros(3, 1, 8, 8)).shape
torch.Size([3, 10])
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Iterator, Literal, Mapping, Sequence

import torch
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.data.subsets import balanced_subset
from cnnbp.device import derive_seed, make_generator, pick_device, torch_threads
from cnnbp.lessons.dropout.masks import SeededDropout
from cnnbp.nn import init_model
from cnnbp.train import Beat, RunControl, Trainer, evaluate, lockstep
from cnnbp.train.history import History
from cnnbp.train.stacked_mlp import stack_groups

Arch = Literal["mlp", "cnn"]
EVALS_PER_RUN = 40  # points on each accuracy curve (train and test accuracy on every point)
# One torch thread: these nets are tiny, and a second thread costs more in start-up and
# contention than it saves (device.torch_threads measured 0.26 ms vs 55 ms for one step).
THREADS = 1
CONV_CHANNELS = (16, 32)  # the "cnn" trunk: conv3x3 -> ReLU -> 2x2 max-pool, twice
# Fixed before any run: "narrows the gap" by at least 1 accuracy point (about 4 of the 360 test
# digits) on every seed; "does not narrow it" where no seed narrows it at all.
GAP_MARGIN = 0.01
MIN_SEEDS = 3  # a comparison of trained nets is decided over at least 3 seeds, or not at all


def conv_trunk(in_channels: int) -> nn.Sequential:
    """(N, C, H, W) -> (N, 32, H/4, W/4)."""
    layers: list[nn.Module] = []
    c = in_channels
    for c_out in CONV_CHANNELS:
        layers += [nn.Conv2d(c, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c = c_out
    return nn.Sequential(*layers)


def dropout_net_macs(image_shape: tuple[int, int, int], num_classes: int, *, arch: Arch, width: int,
                     depth: int) -> int:
    """Multiply-adds of one image through :class:`DropoutNet` (its convs, hidden layers and head).

    >>> dropout_net_macs((1, 8, 8), 10, arch="mlp", width=32, depth=2)  # 64 x 32 + 32 x 32 + 32 x 10
    3392
    """
    c, h, w = image_shape
    macs = 0
    if arch == "cnn":
        for c_out in CONV_CHANNELS:  # a 3 x 3 conv at full size, then the 2 x 2 pool halves it
            macs += 9 * c * c_out * h * w
            c, h, w = c_out, h // 2, w // 2
    return macs + c * h * w * width + (depth - 1) * width * width + width * num_classes


class DropoutNet(nn.Module):
    """[conv trunk] -> flatten -> ``depth`` x (Linear -> ReLU -> dropout(p)) -> Linear head.

    Weights: Kaiming from the stream ``(seed, "dropout-net")``, the same for every ``p``;
    the i-th dropout layer's masks: the stream ``(seed, "dropout-masks", p, i)``.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, *, arch: Arch, width: int,
                 depth: int, p: float, seed: int, device: torch.device | None = None):
        super().__init__()
        c, h, w = image_shape
        self.trunk = conv_trunk(c) if arch == "cnn" else nn.Identity()
        d_in = CONV_CHANNELS[-1] * (h // 4) * (w // 4) if arch == "cnn" else c * h * w
        device = device or torch.device("cpu")
        layers: list[nn.Module] = []
        for i in range(depth):
            g = make_generator(derive_seed(seed, "dropout-masks", p, i), device=device)
            layers += [nn.Linear(d_in, width), nn.ReLU(), SeededDropout(p, generator=g)]
            d_in = width
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(d_in, num_classes)
        init_model(self, "kaiming", "relu", generator=make_generator(derive_seed(seed, "dropout-net")))
        self.to(device)

    def dropouts(self) -> list[SeededDropout]:
        return [m for m in self.modules() if isinstance(m, SeededDropout)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(self.trunk(x).flatten(1)))  # (N, C, H, W) -> (N, classes)


def settled(values: list[float]) -> float:
    """The mean of the last quarter of the evaluations (one evaluation is noisy at p > 0).

    >>> settled([0.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    0.5
    """
    tail = values[-max(1, len(values) // 4):]
    return statistics.fmean(tail)


@dataclass(kw_only=True)
class GapHistory(History):
    """One net's curves (``loss``: each batch's, with dropout), plain numbers (JSON-able)."""

    p: float
    train_accuracy: list[float] = field(default_factory=list)  # eval mode, on the whole subset
    test_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"p = {self.p:g}"

    @property
    def gap(self) -> list[float]:
        return [a - b for a, b in zip(self.train_accuracy, self.test_accuracy)]

    @property
    def settled_gap(self) -> float:
        return settled(self.gap)

    def numbers(self) -> dict:
        return {**vars(self), "gap": self.gap, "settled_train": settled(self.train_accuracy),
                "settled_test": settled(self.test_accuracy), "settled_gap": self.settled_gap}


def _evaluate(trainer: Trainer, history: GapHistory, train: tuple[torch.Tensor, torch.Tensor]) -> None:
    _, train_acc = evaluate(trainer.model, train)
    loss, test_acc = trainer.evaluate()
    history.eval_steps.append(trainer.step_count)
    history.train_accuracy.append(train_acc)
    history.test_accuracy.append(test_acc)
    history.test_loss.append(loss if math.isfinite(loss) else None)


def _nets(data: ImageDataset, ps: Sequence[float], *, arch: Arch, width: int, depth: int, train_images: int,
          epochs: int, batch_size: int, lr: float, seed: int) -> tuple[list[Trainer], list[GapHistory]]:
    """One net per ``p`` at ``seed``: the same balanced subset, initial weights and batches."""
    device = pick_device()
    idx = balanced_subset(data.y_train, train_images, num_classes=data.num_classes, seed=seed)
    train = (data.x_train[idx], data.y_train[idx])
    test = (data.x_test, data.y_test)
    trainers = [Trainer(f"p = {p:g}", DropoutNet(tuple(data.x_train.shape[1:]), data.num_classes, arch=arch,
                                                 width=width, depth=depth, p=p, seed=seed, device=device),
                        train, test, batch_size=batch_size, epochs=epochs, lr=lr,
                        generator=make_generator(derive_seed(seed, "data-order")), device=device) for p in ps]
    return trainers, [GapHistory(p=p) for p in ps]


def train_gap(datasets: Mapping[int, ImageDataset], ps: Sequence[float], *, arch: Arch, width: int, depth: int,
              train_images: int, epochs: int, batch_size: int, lr: float, control: RunControl, stack: bool = True,
              threads: int = THREADS, beats: bool = False
              ) -> Iterator[tuple[float, dict[int, list[GapHistory]], dict[int, list[Trainer]]]]:
    """For each seed (a key of ``datasets``, the digits split at that seed), one net per ``p``
    on a balanced subset of ``train_images``; every net of every seed in lockstep (a seed's nets
    are the same whichever other seeds train beside them). Yields (progress, histories by seed,
    trainers by seed) at step 0 and at every evaluation (train and test accuracy). ``stack``: every
    net steps in one stacked model (``train/stacked_mlp.py``; False: one at a time, the naive path
    bench/dropout.py measures against). ``threads``: torch threads while training. ``beats``: also a
    ``Beat`` as progress after every round and every net's evaluation (a heartbeat: nothing new)."""
    trainers, histories = {}, {}
    for seed, data in datasets.items():
        trainers[seed], histories[seed] = _nets(data, ps, arch=arch, width=width, depth=depth,
                                                train_images=train_images, epochs=epochs, batch_size=batch_size,
                                                lr=lr, seed=seed)
    every_trainer = [t for ts in trainers.values() for t in ts]
    every_history = [h for hs in histories.values() for h in hs]
    for trainer, history in zip(every_trainer, every_history):
        with torch_threads(threads):
            _evaluate(trainer, history, trainer.train_split)
        if beats:
            yield Beat(0.0), histories, trainers
    yield 0.0, histories, trainers
    eval_every = max(1, every_trainer[0].total_steps // EVALS_PER_RUN)
    # every net of every seed steps as one stacked model (same numbers up to float rounding)
    for progress in lockstep(every_trainer, every_history, control, eval_every=eval_every, threads=threads,
                             stack=stack_groups if stack else False, beats=beats,
                             on_eval=lambda i, t: _evaluate(t, every_history[i], t.train_split)):
        yield progress, histories, trainers


@dataclass
class GapNarrowing:
    """How much narrower one drop probability leaves the gap than no dropout, seed by seed (at
    each seed both nets share the subset, initial weights and batches; a seed where either
    diverged is left out)."""

    p: float
    seeds: list[int]
    narrowing: list[float]  # the plain net's settled gap minus this p's, per seed

    @property
    def narrows(self) -> bool | None:
        """True: narrower by GAP_MARGIN or more on every seed; False: narrower on no seed at all;
        None: the seeds disagree, or fewer than MIN_SEEDS of them (too few to tell)."""
        if len(self.narrowing) < MIN_SEEDS:
            return None
        if all(d >= GAP_MARGIN for d in self.narrowing):
            return True
        if all(d <= 0 for d in self.narrowing):
            return False
        return None


def gap_narrowing(histories: Mapping[int, list[GapHistory]]) -> list[GapNarrowing]:
    """One GapNarrowing per drop probability above 0, against p = 0 (none if p = 0 was not trained).

    >>> h = lambda p, test: GapHistory(p=p, train_accuracy=[1.0], test_accuracy=[test])
    >>> [[round(d, 3) for d in n.narrowing] for n in gap_narrowing({0: [h(0.0, 0.9), h(0.5, 0.95)],
    ...                                                           1: [h(0.0, 0.9), h(0.5, 0.9)]})]
    [[0.05, 0.0]]
    """
    out: dict[float, GapNarrowing] = {}
    for seed, hs in histories.items():
        plain = next((h for h in hs if h.p == 0), None)
        for h in hs:
            if h.p == 0:
                continue
            n = out.setdefault(h.p, GapNarrowing(p=h.p, seeds=[], narrowing=[]))
            if plain is not None and plain.diverged_at is None and h.diverged_at is None:
                n.seeds.append(seed)
                n.narrowing.append(plain.settled_gap - h.settled_gap)
    return list(out.values()) if any(h.p == 0 for hs in histories.values() for h in hs) else []
