"""Small filters stacked against one large one (the lecture: "smaller filters are preferred"):
two 3x3 convs see the 5x5 window one 5x5 conv sees, with 18C^2 weights instead of 25C^2 and a
nonlinearity more; three 3x3 see 7x7 with 27C^2 instead of 49C^2. Each variant is the same small
net with a different block, trained side by side on the same data, batches and stem weights.

    image -> conv 3x3 (1 -> C) -> ReLU -> [block: C -> C, no biases] -> mean over H, W -> linear

>>> net = StackNet(1, 10, channels=4, block=STACKS["3x3 x2"].block, seed=0)
>>> net(torch.zeros(2, 1, 8, 8)).shape, block_weights(net), STACKS["3x3 x2"].weights(4)
(torch.Size([2, 10]), 288, 288)
>>> [STACKS[n].receptive_field for n in ("3x3 x2", "5x5", "3x3 x3", "7x7")]
[5, 5, 7, 7]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn

from cnnbp.cache import BoundedCache
from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, pick_device
from cnnbp.lessons.architecture.layers import Layer, parse_spec
from cnnbp.nn import init_model
from cnnbp.train import Beat, RunControl, Trainer, evaluate, lockstep
from cnnbp.train.history import History

STEM_KERNEL = 3
THREADS = 1  # nets this small: a second thread costs more than it saves (see cnnbp.device.torch_threads)
EVALS_PER_RUN = 10
MIN_SEEDS = 3  # a comparison of trained nets is decided over at least 3 seeds, or not at all
# Fixed before any run: a stack of 3x3 convs "does no worse" than the one large kernel when, at every
# seed, its test accuracy is at least the large kernel's minus 2 points (about 2 standard errors of an
# accuracy near 95% on 360 test digits); "does worse" when every seed is below that line.
MARGIN = 0.02


@dataclass(frozen=True)
class Stack:
    """A block of C -> C convs: (kernel, ReLU after it) per conv."""

    label: str
    block: tuple[tuple[int, bool], ...]

    def weights(self, channels: int) -> int:
        return sum(k * k for k, _ in self.block) * channels * channels

    @property
    def receptive_field(self) -> int:
        """The block's own receptive field (stride 1): 1 + sum(k - 1)."""
        return 1 + sum(k - 1 for k, _ in self.block)

    @property
    def nonlinearities(self) -> int:
        return sum(relu for _, relu in self.block)

    def spec(self, channels: int) -> str:
        """The whole net up to the block's last conv in the calculator's syntax."""
        convs = [f"conv {channels} k{STEM_KERNEL} p{STEM_KERNEL // 2}"]
        convs += [f"conv {channels} k{k} p{k // 2} nobias" for k, _ in self.block]
        return ", ".join(convs)

    def layers(self, channels: int) -> list[Layer]:
        return parse_spec(self.spec(channels))


STACKS: dict[str, Stack] = {
    "3x3 x2": Stack("two 3x3 convs", ((3, True), (3, True))),
    "5x5": Stack("one 5x5 conv", ((5, True),)),
    "3x3 x3": Stack("three 3x3 convs", ((3, True), (3, True), (3, True))),
    "7x7": Stack("one 7x7 conv", ((7, True),)),
    # the extra nonlinearity taken away: the two convs compose into one 5x5 conv (of lower rank)
    "3x3 x2 linear": Stack("two 3x3 convs, no ReLU between", ((3, False), (3, True))),
}
# (stack of small filters, what it replaces): the comparisons the verdicts read
PAIRS = (("3x3 x2", "5x5"), ("3x3 x3", "7x7"), ("3x3 x2", "3x3 x2 linear"))


class StackNet(nn.Module):
    """Stem conv + ReLU, the block, global average pooling, a linear head. Weights (Kaiming)
    from named streams: the stem's and head's are the same for every block at one seed."""

    def __init__(self, in_channels: int, num_classes: int, *, channels: int, block: tuple[tuple[int, bool], ...],
                 seed: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, STEM_KERNEL, padding=STEM_KERNEL // 2), nn.ReLU())
        convs: list[nn.Module] = []
        for kernel, relu in block:
            convs.append(nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False))
            if relu:
                convs.append(nn.ReLU())
        self.block = nn.Sequential(*convs)
        self.head = nn.Linear(channels, num_classes)
        for name, part in (("stem", self.stem), ("block", self.block), ("head", self.head)):
            key = (name, tuple(k for k, _ in block)) if name == "block" else (name,)  # ReLUs aside
            init_model(part, "kaiming", "relu", generator=make_generator(derive_seed(seed, "architecture", *key)))

    def convs(self) -> list[nn.Conv2d]:
        return [m for m in [*self.stem, *self.block] if isinstance(m, nn.Conv2d)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.stem(x)).mean(dim=(2, 3)))  # (N, C, H, W) -> (N, classes)


def block_weights(net: StackNet) -> int:
    return sum(p.numel() for p in net.block.parameters())


@dataclass(kw_only=True)
class StackHistory(History):
    stack: str
    seed: int
    test_accuracy: list[float] = field(default_factory=list)
    weights: int = 0  # the block's weights (torch's count)

    @property
    def final(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")


@dataclass
class Comparison:
    """A stack of small filters against the block it replaces, over seeds: accuracy differences."""

    small: str
    large: str
    differences: list[float]  # small - large, final test accuracy, per seed

    @property
    def no_worse(self) -> bool | None:
        """True: every seed within MARGIN or better; False: every seed worse by more; None: mixed,
        or fewer than MIN_SEEDS seeds."""
        if len(self.differences) < MIN_SEEDS:
            return None
        if all(d >= -MARGIN for d in self.differences):
            return True
        if all(d < -MARGIN for d in self.differences):
            return False
        return None

    @property
    def better(self) -> bool:
        """Ahead by more than the margin at every seed (reported beside ``no_worse``)."""
        return len(self.differences) >= MIN_SEEDS and all(d > MARGIN for d in self.differences)

    @property
    def median(self) -> float:
        return statistics.median(self.differences)


@dataclass
class StackRun:
    """Every stack trained at every seed; the nets of the first seed are kept (the receptive-field
    part reads their gradients)."""

    histories: list[StackHistory]
    nets: dict[str, StackNet]
    seeds: list[int]
    probe: torch.Tensor | None = None  # (N, C, H, W) test images the receptive part reads
    figures: dict | None = None  # drawn once per run
    # the receptive part's answers per (stack, unit layer, row, column): a live change of the
    # calculator's settings then costs no gradients
    fields: BoundedCache = field(default_factory=lambda: BoundedCache(16))

    def finals(self, stack: str) -> list[float]:
        return [h.final for h in self.histories if h.stack == stack]

    def compare(self, small: str, large: str) -> Comparison:
        return Comparison(small, large, [a - b for a, b in zip(self.finals(small), self.finals(large))])


def train_stacks(data: ImageDataset, *, stacks: list[str], channels: int, epochs: int, batch_size: int, lr: float,
                 seeds: list[int], control: RunControl, beats: bool = False
                 ) -> Iterator[tuple[float, list[StackHistory], StackRun | None]]:
    """Train every stack at every seed (all stacks of one seed in lockstep: the same batches),
    yielding (progress, histories so far, None), and last (1, histories, the run) unless stopped.
    The first seed's nets are evaluated EVALS_PER_RUN times (its curves are drawn), the others' at
    their last step only (only their final accuracy is read).
    ``beats``: also a ``Beat`` as progress after every round and every evaluation (a heartbeat)."""
    device = pick_device()
    histories: list[StackHistory] = []
    kept: dict[str, StackNet] = {}
    for k, seed in enumerate(seeds):
        nets = [StackNet(data.in_channels, data.num_classes, channels=channels, block=STACKS[s].block, seed=seed)
                for s in stacks]
        trainers = [Trainer(s, net, (data.x_train, data.y_train), (data.x_test, data.y_test), batch_size=batch_size,
                            epochs=epochs, lr=lr, optimizer="adam", device=device,
                            generator=make_generator(derive_seed(seed, "architecture", "order")))
                    for s, net in zip(stacks, nets)]
        runs = [StackHistory(stack=s, seed=seed, weights=block_weights(net)) for s, net in zip(stacks, nets)]
        histories += runs
        every = max(1, trainers[0].total_steps // EVALS_PER_RUN)

        def on_eval(i: int, trainer: Trainer) -> None:
            if k > 0 and not trainer.done:  # the figure draws the first seed's curves, only the others' finals
                return
            runs[i].eval_steps.append(trainer.step_count)
            runs[i].test_accuracy.append(evaluate(trainer.model, trainer.test_split)[1])

        for progress in lockstep(trainers, runs, control, eval_every=every, on_eval=on_eval, threads=THREADS,
                                 beats=beats):
            reached = (k + progress) / len(seeds)
            yield Beat(reached) if isinstance(progress, Beat) else reached, histories, None
        if control.stop_reason():
            return
        if k == 0:
            kept = {s: net.to("cpu").eval().requires_grad_(False) for s, net in zip(stacks, nets)}
    yield 1.0, histories, StackRun(histories, kept, list(seeds))
