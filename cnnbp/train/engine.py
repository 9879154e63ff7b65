"""The training engine: one optimisation step at a time, as events a lesson can stream.

A :class:`Trainer` owns one model, its optimiser and its place in the data; lessons step
several trainers in turn (:func:`interleave`) so every variant's curve grows at once on
screen, and stop all of them between two steps when the user presses Stop.

>>> import torch
>>> from cnnbp.nn import SmallCNN
>>> x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 3, (64,))
>>> t = Trainer("demo", SmallCNN(1, 3, depth=2, width=4), (x, y), (x, y),
...             batch_size=16, epochs=1, lr=0.1, generator=torch.Generator().manual_seed(0))
>>> [e.step for e in interleave([t])][-1]
4
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.device import pick_device, torch_threads
from cnnbp.train.control import RunControl

if TYPE_CHECKING:  # history.py imports TrainEvent from here
    from cnnbp.train.history import History

Split = tuple[torch.Tensor, torch.Tensor]  # (x (N, C, H, W), y (N,))


@dataclass
class TrainEvent:
    variant: str
    kind: Literal["step", "diverged"]
    step: int  # optimisation steps done so far (1-based after the first)
    epoch: float  # fractional epochs done
    loss: float  # this batch's training loss
    accuracy: float  # this batch's training accuracy
    lr: float  # the base learning rate (per-layer scales multiply it)
    elapsed: float  # seconds this trainer has spent


def freeze(model: nn.Module, prefixes: Iterable[str]) -> list[str]:
    """Stop gradients for every parameter whose name starts with one of ``prefixes``."""
    frozen = []
    for name, param in model.named_parameters():
        if any(name.startswith(p) for p in prefixes):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


def train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, except normalisation layers whose parameters are all frozen: they stay in
    eval mode, so freezing a stage also freezes its running statistics (a frozen BatchNorm that
    kept updating them would change the features the frozen stage hands on)."""
    model.train()
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        is_norm = isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm))
        if is_norm and params and not any(p.requires_grad for p in params):
            module.eval()
    return model


def make_optimizer(model: nn.Module, *, name: Literal["sgd", "adam"] = "sgd", lr: float,
                   momentum: float = 0.9, weight_decay: float = 0.0,
                   lr_scale: Mapping[str, float] | None = None) -> torch.optim.Optimizer:
    """An optimiser over the trainable parameters; ``lr_scale`` maps a name prefix to a
    multiplier of ``lr`` (per-layer learning rates; the first matching prefix wins)."""
    groups: dict[float, list[nn.Parameter]] = {}
    for pname, param in model.named_parameters():
        if not param.requires_grad:
            continue
        scale = next((s for p, s in (lr_scale or {}).items() if pname.startswith(p)), 1.0)
        groups.setdefault(scale, []).append(param)
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    param_groups = [{"params": ps, "lr": lr * s} for s, ps in groups.items()]
    if name == "sgd":
        return torch.optim.SGD(param_groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(param_groups, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose from sgd, adam")


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, *, batch_size: int = 1024) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on ``split`` in eval mode; restores the mode after."""
    was_training = model.training
    model.eval()
    x, y = split
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        total_loss += float(F.cross_entropy(logits, y[i : i + batch_size], reduction="sum"))
        correct += int((logits.argmax(1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits (N, K), y (N,)) -> scalar


class Trainer:
    """Train one model on ``train`` for ``epochs``, reshuffling each epoch with ``generator``.

    ``loss`` replaces cross-entropy (a weighted or focal loss); ``sampler`` replaces the epoch
    shuffle: each call returns the next batch's indices into ``train`` (over- or under-sampling,
    balanced batches); ``steps`` then sets the length of the run instead of ``epochs``.
    """

    def __init__(self, name: str, model: nn.Module, train: Split, test: Split | None, *,
                 batch_size: int, epochs: int, lr: float, generator: torch.Generator,
                 optimizer: Literal["sgd", "adam"] = "sgd", momentum: float = 0.9,
                 weight_decay: float = 0.0, lr_scale: Mapping[str, float] | None = None,
                 device: torch.device | None = None, loss: Loss = F.cross_entropy,
                 sampler: Callable[[], torch.Tensor] | None = None, steps: int | None = None):
        self.name = name
        self.device = device or pick_device()
        self.model = model.to(self.device)
        self.train_split = tuple(t.to(self.device) for t in train)
        self.test_split = tuple(t.to(self.device) for t in test) if test is not None else None
        n = len(self.train_split[0])
        if n == 0:
            raise ValueError("the training set is empty")
        self.batch_size = min(batch_size, n)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        self.total_steps = steps if steps is not None else self.steps_per_epoch * epochs
        self.loss, self.sampler = loss, sampler
        self.generator = generator
        self.base_lr = lr
        self.optimizer = make_optimizer(model, name=optimizer, lr=lr, momentum=momentum,
                                        weight_decay=weight_decay, lr_scale=lr_scale)
        self.step_count = 0
        self.diverged = False
        self.elapsed = 0.0
        self._order = torch.empty(0, dtype=torch.long)

    @property
    def done(self) -> bool:
        return self.diverged or self.step_count >= self.total_steps

    def _next_batch(self) -> Split:
        if self.sampler is not None:  # samplers draw on the CPU, where their generators live
            idx = self.sampler().to(self.device)
            return self.train_split[0][idx], self.train_split[1][idx]
        i = self.step_count % self.steps_per_epoch
        if i == 0:  # a new epoch: a new order, from this trainer's own random stream
            self._order = torch.randperm(len(self.train_split[0]), generator=self.generator)
        idx = self._order[i * self.batch_size : (i + 1) * self.batch_size].to(self.device)
        return self.train_split[0][idx], self.train_split[1][idx]

    def step(self, batch: Split | None = None) -> TrainEvent:
        """One optimisation step; a non-finite loss marks the trainer diverged. ``batch``: this
        step's batch if it was drawn already (by the stack this trainer was part of)."""
        start = time.perf_counter()
        train_mode(self.model)
        x, y = batch if batch is not None else self._next_batch()
        logits = self.model(x)
        loss = self.loss(logits, y)
        self.step_count += 1
        loss_value = float(loss.detach())
        kind: Literal["step", "diverged"] = "step"
        if not math.isfinite(loss_value):
            self.diverged, kind = True, "diverged"
        else:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.elapsed += time.perf_counter() - start
        return TrainEvent(
            variant=self.name,
            kind=kind,
            step=self.step_count,
            epoch=self.step_count / self.steps_per_epoch,
            loss=loss_value,
            accuracy=float((logits.argmax(1) == y).float().mean()),
            lr=self.base_lr,
            elapsed=self.elapsed,
        )

    def evaluate(self) -> tuple[float, float]:
        if self.test_split is None:
            raise ValueError(f"trainer {self.name!r} was given no test split")
        return evaluate(self.model, self.test_split)


class Beat(float):
    """A progress :func:`lockstep` yields between two evaluations (``beats=True``): the trainers
    stepped, or one of them was evaluated, and the evaluation round is not complete; a lesson
    passes it on as a heartbeat (``cnnbp.lessons.base.heartbeat``), nothing new to draw."""


def lockstep(trainers: list[Trainer], histories: list[History], control: RunControl, *, eval_every: int,
             on_eval: Callable[[int, Trainer], None], threads: int | None = None,
             stack: bool | Callable[[list[Trainer]], list[tuple[list[int], object]]] = False,
             beats: bool = False, workers: int = 1) -> Iterator[float]:
    """Step every unfinished trainer once per round, so all curves grow together on screen.

    Each step is recorded in ``histories[i]`` (``History.record``); every ``eval_every`` rounds
    (and after the last)
    ``on_eval(i, trainer)`` for each trainer that has not diverged, then yield the progress
    (0, 1]. Returns between two steps once ``control`` says stop. ``threads``: torch
    intra-op threads while stepping (restored before every yield). ``stack``: trainers of one
    architecture and recipe step as one model (``train/stacked.py``: the same numbers up to
    float rounding, fewer ops a step); the others one at a time. A function instead of True
    groups and stacks them itself (``train/stacked_mlp.stack_groups``): it returns (indices, a stack
    with ``step``, ``done`` and ``sync``, or None for one trainer alone) per group.
    ``beats``: also yield a :class:`Beat` after every round without an evaluation and after each
    trainer's evaluation (the page hears from a run at least once a round; nothing computed differs).
    ``workers``: Python threads that step (and evaluate) the groups side by side, each on one torch
    thread: K models on K cores with the numbers of one thread (each model's ops stay on one core, in
    one order); ``threads`` is then 1. ``on_eval`` must touch only trainer ``i``'s own state.
    """
    from cnnbp.train.stacked import StackedTrainers, lockstep_groups

    groups = stack(trainers) if callable(stack) else [
        (idx, StackedTrainers([trainers[i] for i in idx]) if stack and len(idx) > 1 else None)
        for idx in (lockstep_groups(trainers) if stack else [[i] for i in range(len(trainers))])]
    total = max(t.total_steps for t in trainers)
    lanes = Lanes(workers if len(groups) > 1 else 1)
    threads = 1 if lanes.pool else threads
    threaded = (lambda: torch_threads(threads)) if threads else contextlib.nullcontext

    def step_group(group: tuple) -> None:
        idx, stacked = group
        if control.stop_reason():
            return
        if stacked is not None:
            for member, event in stacked.step() if not stacked.done else []:
                histories[idx[member]].record(event)
        elif not trainers[idx[0]].done:
            histories[idx[0]].record(trainers[idx[0]].step())

    def evaluate(i: int) -> None:
        if not trainers[i].diverged:
            on_eval(i, trainers[i])

    try:
        for step in range(1, total + 1):
            with threaded():
                lanes.run(step_group, groups, kind="step")
            if control.stop_reason():  # between two steps: no more steps, evaluations or beats
                return
            if not (step % eval_every == 0 or step == total):
                if beats:
                    yield Beat(step / total)
                continue
            _sync(groups, momentum=False)
            # one lane: a beat after each trainer's evaluation; lanes: every evaluation shared out at once
            for row in lanes.rows(range(len(trainers))):
                with threaded():
                    lanes.run(evaluate, row, kind="evaluate")
                if beats and any(not trainers[i].diverged for i in row):
                    yield Beat((step - 1 + (row[-1] + 1) / (len(trainers) + 1)) / total)
            yield step / total
    finally:  # stopped or finished: every model is its own again for whoever reads it next
        lanes.close()
        _sync(groups, momentum=True)


class Lanes:
    """``workers`` lanes of work run side by side, one Python thread each (the caller's thread runs
    the first), each on one torch thread; with one worker everything runs in the caller's thread, in order.

    Side by side, a lane takes the next item as soon as it is free, the costliest first: an item's cost
    is the CPU seconds it took the last time (a round's groups and evaluations cost about what they did
    the round before). Dealt once by model count, a lane held a stack of 3 and two single nets while the
    other held a stack of 3 and one, and waited for it every round. Which lane runs an item changes no
    number: each item runs whole on one thread of one torch thread."""

    def __init__(self, workers: int):
        self.pool = ThreadPoolExecutor(workers - 1, initializer=torch.set_num_threads, initargs=(1,)) \
            if workers > 1 else None
        self.workers = workers if self.pool else 1
        self.cost: dict[tuple[str, int], float] = {}  # (kind, position) -> thread CPU seconds last time

    def rows(self, items) -> list[list]:
        """One lane: an item per row (a beat after each); lanes: one row of every item."""
        items = list(items)
        return [items] if self.pool else [[item] for item in items]

    def run(self, work: Callable, items: list, *, kind: str = "") -> None:
        """``work(item)`` for each item; side by side, the costliest first as lanes free up (an
        exception in any is raised here)."""
        if self.pool is None:
            for item in items:
                work(item)
            return
        order = iter(sorted(range(len(items)), key=lambda i: -self.cost.get((kind, i), 0.0)))
        taking = threading.Lock()

        def lane() -> None:
            while True:
                with taking:
                    i = next(order, None)
                if i is None:
                    return
                start = time.thread_time()
                work(items[i])
                self.cost[(kind, i)] = time.thread_time() - start

        futures = [self.pool.submit(lane) for _ in range(self.workers - 1)]
        try:
            lane()
        finally:
            wait(futures)
        for future in futures:
            future.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _sync(groups: list, *, momentum: bool) -> None:
    for _, stacked in groups:
        if stacked is not None:
            stacked.sync(momentum=momentum)


def interleave(trainers: list[Trainer], control: RunControl | None = None) -> Iterator[TrainEvent]:
    """Step each unfinished trainer in turn until all are done or ``control`` says stop.

    The caller learns of a stop from ``control.stop_reason()`` after the loop ends.
    """
    control = control or RunControl()
    while True:
        active = [t for t in trainers if not t.done]
        if not active:
            return
        for trainer in active:
            if control.stop_reason():
                return
            yield trainer.step()
