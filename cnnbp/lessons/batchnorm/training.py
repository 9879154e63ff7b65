"""The same small CNN with and without BatchNorm, trained in lockstep: a bad init, a high
learning rate, and BN before vs after the nonlinearity, each with/without-BN race at several
seeds; then the classic bug of evaluating a BN net in train mode.

At one seed every variant sees the same data in the same order and starts from the same unit
draws (two Gaussian inits, e.g. Kaiming and std 0.01, differ only by their scale); BN variants
differ from plain ones only by the norm (SmallCNN drops the conv bias when a norm follows, as
the norm's beta replaces it). Another seed draws another split, order and init.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, torch_threads
from cnnbp.nn import SmallCNN, init_model
from cnnbp.train import Beat, RunControl, Trainer, evaluate, lockstep
from cnnbp.train.history import History as BaseHistory
from cnnbp.train.stacked_mlp import stack_groups

# One thread: these nets are so small that a second thread costs more than it gives (measured
# on the shared 2-core machine: 17 ms a step on one thread, 250-430 ms on two).
TRAIN_THREADS = 1
# Test accuracy twice an epoch: every 11 steps on the digits at batch 64 (was 4 times, every 5 steps),
# chosen by cost: evaluations were 15% of the default run; steps to the target are read this coarsely.
EVALS_PER_EPOCH = 2
# Fixed before any run, never tuned to a result:
MUCH_SLOWER = 2.0  # "much slower": the plain net needs at least 2x the BN net's steps to the target
MIN_SEEDS = 3  # a with/without-BN race is decided over 3 seeds or more, all agreeing; else "cannot tell"
BUG_DROP = 0.10  # the train-mode bug "shows" when some train-mode evaluation loses 10 points of accuracy


@dataclass(frozen=True)
class Variant:
    scenario: str  # "bad init", "high lr", "placement": the row of the figure it is drawn in
    norm: str  # "none" or "batch"
    init: str  # a key of INITS
    lr: float
    norm_position: str = "before_act"

    @property
    def name(self) -> str:
        bn = "no BN" if self.norm == "none" else f"BN {self.norm_position.replace('_', ' ')}"
        return f"{bn}, {self.init}, lr {self.lr:g}"


@dataclass(frozen=True)
class Run:
    """One net to train: a variant at a seed, to the last step, or (at the seeds that are not
    drawn, where a race reads nothing else) only until the race is decided: until its test
    accuracy reaches ``until``, or, for a plain net raced against its BN ``twin``, until it has
    gone ``MUCH_SLOWER`` x the twin's steps to ``until`` without getting there."""

    variant: Variant
    seed: int
    until: float | None = None
    twin: Variant | None = None


@dataclass(kw_only=True)
class History(BaseHistory):
    """Everything measured on one variant at one seed, as plain numbers (JSON-able)."""

    variant: Variant
    seed: int = 0
    test_accuracy: list[float] = field(default_factory=list)  # at eval_steps: step 0 (the init itself) and later
    test_loss: list[float | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.variant.name

    def steps_to(self, target: float) -> int | None:
        """The first evaluated step with test accuracy >= ``target``; None if never."""
        return self.first_step_at(self.test_accuracy, target)

    def finished(self, total_steps: int) -> bool:
        """Trained to the end, or stopped by a divergence (not cut short by a Stop)."""
        return self.diverged_at is not None or bool(self.steps and self.steps[-1] >= total_steps)

    def as_dict(self) -> dict:
        v = self.variant
        return {"scenario": v.scenario, "norm": v.norm, "init": v.init, "lr": v.lr, "norm_position": v.norm_position,
                "steps": self.steps, "loss": self.loss, "eval_steps": self.eval_steps,
                "test_accuracy": self.test_accuracy, "test_loss": self.test_loss, "diverged_at": self.diverged_at}


@dataclass
class Race:
    """A plain net and its BN twin racing to a target test accuracy over ``total_steps`` steps."""

    plain: History
    bn: History
    target: float
    total_steps: int

    @property
    def bn_steps(self) -> int | None:
        return self.bn.steps_to(self.target)

    @property
    def plain_steps(self) -> int | None:
        return self.plain.steps_to(self.target)

    @property
    def bn_wins(self) -> bool | None:
        """BN reaches the target and the plain net does not (in the run, or in ``MUCH_SLOWER`` x
        BN's steps), or needs ``MUCH_SLOWER`` x the steps. None while a run cut short by Stop
        leaves it undecided."""
        b, p = self.bn_steps, self.plain_steps
        if b is None:
            return None if not self.bn.finished(self.total_steps) else False
        if p is None:  # not in the whole run, or not in MUCH_SLOWER x BN's steps (where a further seed stops it)
            watched = self.plain.eval_steps[-1] if self.plain.eval_steps else 0
            return True if self.plain.finished(self.total_steps) or watched >= MUCH_SLOWER * b else None
        return p >= MUCH_SLOWER * b and p > b


@dataclass
class SeededRace:
    """One with/without-BN race run at several seeds (the first is the drawn one), read against
    its control: the reference pair (the good init at the base learning rate) at the first seed."""

    races: list[Race]
    seeds: list[int]
    control: Race

    @property
    def control_reaches(self) -> bool:
        """Both reference nets reach the target: the run is long enough for a plain net to get
        there, so when it does not in the race, the init or the learning rate is to blame."""
        return self.control.bn_steps is not None and self.control.plain_steps is not None

    @property
    def wins(self) -> list[bool | None]:
        return [r.bn_wins for r in self.races]

    @property
    def bn_wins(self) -> bool | None:
        """BN wins (or loses) the race at every one of ``MIN_SEEDS`` or more seeds, with a control
        that reaches the target; None for anything less (mixed, too few seeds, a cut-short run)."""
        if not self.control_reaches or len(self.races) < MIN_SEEDS:
            return None
        if all(w is True for w in self.wins):
            return True
        if all(w is False for w in self.wins):
            return False
        return None


def seeded_race(histories: Sequence[History], plain: Variant, bn: Variant, control: tuple[Variant, Variant], *,
                target: float, total_steps: int) -> SeededRace:
    """``plain`` vs ``bn`` at every seed ``histories`` has both at, first seed first, with the
    ``control`` pair (plain, BN) at the first seed."""
    by = {(h.variant, h.seed): h for h in histories}
    seeds = [h.seed for h in histories if h.variant == bn and (plain, h.seed) in by]
    races = [Race(by[(plain, s)], by[(bn, s)], target, total_steps) for s in seeds]
    return SeededRace(races, seeds, Race(by[(control[0], seeds[0])], by[(control[1], seeds[0])], target, total_steps))


def seeded_races(histories: Sequence[History], pairs: Mapping[str, tuple[Variant, Variant]], *, target: float,
                 total_steps: int) -> dict[str, SeededRace]:
    """Every pair but the "reference" one raced at the seeds it ran at, the reference its control."""
    return {name: seeded_race(histories, *pair, pairs["reference"], target=target, total_steps=total_steps)
            for name, pair in pairs.items() if name != "reference" and any(h.variant == pair[1] for h in histories)}


def build(data: ImageDataset, v: Variant, *, depth: int, width: int, activation: str, bn_momentum: float,
          seed: int) -> SmallCNN:
    """A SmallCNN for ``v``; its unit weight draws depend on the seed only."""
    model = SmallCNN(data.in_channels, data.num_classes, depth=depth, width=width, activation=activation,
                     norm=v.norm, norm_position=v.norm_position, image_size=data.image_size[0])
    init_model(model, v.init, activation, generator=make_generator(derive_seed(seed, "bn-cnn-init")),
               sample=data.x_train[:256])
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.momentum = bn_momentum
    return model


def train_runs(runs: Sequence[Run], data: Mapping[int, ImageDataset], *, depth: int, width: int,
               activation: str, epochs: int, batch_size: int, bn_momentum: float, control: RunControl,
               threads: int | None = TRAIN_THREADS, stack: bool = True, beats: bool = False, workers: int = 1
               ) -> Iterator[tuple[float, list[History], list[Trainer]]]:
    """Train every run in lockstep on ``data[run.seed]``; yield (progress, histories, trainers)
    at step 0 and at every evaluation (``EVALS_PER_EPOCH`` times an epoch). A run with ``until``
    stops at the evaluation that reaches it. ``threads``: torch threads while stepping (None:
    leave the process's count). ``stack``: nets of one architecture and learning rate step as one
    stacked model (False: one at a time, bench/batchnorm.py's naive path). ``beats``: also a ``Beat``
    as progress after every round and every net's evaluation (a heartbeat: nothing new). ``workers``: the
    stacks stepped and evaluated side by side on so many cores (``lockstep``'s lanes), the same numbers."""
    trainers = []
    for r in runs:
        d = data[r.seed]
        trainers.append(Trainer(r.variant.name, build(d, r.variant, depth=depth, width=width, activation=activation,
                                                      bn_momentum=bn_momentum, seed=r.seed),
                                (d.x_train, d.y_train), (d.x_test, d.y_test), batch_size=batch_size, epochs=epochs,
                                lr=r.variant.lr, generator=make_generator(derive_seed(r.seed, "bn-data-order"))))
    histories = [History(variant=r.variant, seed=r.seed) for r in runs]
    index = {(r.variant, r.seed): i for i, r in enumerate(runs)}

    def decided(i: int, step: int) -> bool:
        """Run i's race is decided; its twin is read as it stood when the nets were evaluated one by one in
        index order (a twin after i had not been evaluated at this step yet), so the lanes change nothing."""
        run, h = runs[i], histories[i]
        if run.until is None:
            return False
        if h.test_accuracy[-1] >= run.until:
            return True
        j = index[(run.twin, run.seed)] if run.twin is not None else None
        b = histories[j].steps_to(run.until) if j is not None else None
        if j is not None and j > i and b == step:
            b = None
        return b is not None and h.eval_steps[-1] >= MUCH_SLOWER * b

    evaluated: list[int] = []

    def probe(i: int, trainer: Trainer) -> None:  # in a lane: touches only net i
        h = histories[i]
        if h.eval_steps and h.eval_steps[-1] == trainer.step_count:  # stopped early: measured already
            return
        loss, acc = trainer.evaluate()
        h.eval_steps.append(trainer.step_count)
        h.test_loss.append(loss if math.isfinite(loss) else None)
        h.test_accuracy.append(acc)
        evaluated.append(i)

    def stop_decided() -> None:
        """After an evaluation round: a decided run is done (lockstep steps it no more)."""
        for i in sorted(evaluated):
            if decided(i, trainers[i].step_count):
                trainers[i].total_steps = trainers[i].step_count
        evaluated.clear()

    for i, t in enumerate(trainers):
        with torch_threads(threads) if threads else contextlib.nullcontext():
            probe(i, t)
        stop_decided()
        if beats:
            yield Beat(0.0), histories, trainers
    yield 0.0, histories, trainers
    eval_every = max(1, trainers[0].steps_per_epoch // EVALS_PER_EPOCH)
    # nets of one architecture and learning rate step as one stacked model (the same numbers up to
    # float rounding); a run that is decided leaves its stack
    for progress in lockstep(trainers, histories, control, eval_every=eval_every, on_eval=probe, threads=threads,
                             stack=stack_groups if stack else False, beats=beats, workers=workers):
        if not isinstance(progress, Beat):  # an evaluation round is complete
            stop_decided()
        yield progress, histories, trainers


# ---- the classic bug: a BN net evaluated in train mode ----------------------------------------

@torch.no_grad()
def _accuracy_in_train_mode(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Accuracy when every batch is normalised with its own statistics (model.train(), the
    bug), on a copy: a train-mode forward also overwrites the running statistics."""
    model = copy.deepcopy(model).train()
    correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in batches)
    return correct / sum(len(y) for _, y in batches)


class _OwnStatistics(nn.Module):
    """A BatchNorm2d as train mode applies it to a batch of one image: normalised by that image's
    own per-channel statistics (instance norm, with the BN's gamma, beta and eps), so that every
    image of a batch is, in one forward, what it would be alone."""

    def __init__(self, bn: nn.BatchNorm2d):
        super().__init__()
        self.bn = bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x, weight=self.bn.weight, bias=self.bn.bias, eps=self.bn.eps)


def _own_statistics(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose forward of N images is N train-mode forwards of one image each
    (the same numbers up to float rounding: tested)."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, _OwnStatistics(child))
    return model


@torch.no_grad()
def _accuracy_in_batches_of_one(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """:func:`_accuracy_in_train_mode` on batches of one image, in one forward instead of one per image."""
    return int((_own_statistics(model)(x).argmax(1) == y).sum()) / len(y)


def _chunks(x: torch.Tensor, y: torch.Tensor, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


@torch.no_grad()
def train_mode_bug(model: nn.Module, data: ImageDataset, *, small_batch: int, seed: int) -> list[dict]:
    """Test accuracy of one trained BN net evaluated five ways: eval mode (right), train mode on
    the whole test set as one batch, on shuffled batches of ``small_batch``, on batches of 1,
    on single-class batches (each class's test images together); and eval mode again after one
    train-mode pass over the single-class batches (the running statistics it left behind)."""
    device = next(model.parameters()).device
    x, y = data.x_test.to(device), data.y_test.to(device)
    order = torch.randperm(len(x), generator=make_generator(derive_seed(seed, "bn-bug-order"))).to(device)
    xs, ys = x[order], y[order]
    by_class = [(x[y == c], y[y == c]) for c in range(data.num_classes) if bool((y == c).any())]
    rows = [{"evaluation": "eval mode (running statistics)", "mode": "eval", "batch": "any",
             "accuracy": evaluate(model, (x, y))[1]},
            {"evaluation": f"train mode, the whole test set as one batch ({len(x)})", "mode": "train",
             "batch": str(len(x)), "accuracy": _accuracy_in_train_mode(model, [(x, y)])},
            {"evaluation": f"train mode, shuffled batches of {small_batch}", "mode": "train",
             "batch": str(small_batch), "accuracy": _accuracy_in_train_mode(model, _chunks(xs, ys, small_batch))},
            {"evaluation": "train mode, batches of 1", "mode": "train", "batch": "1",
             "accuracy": _accuracy_in_batches_of_one(model, xs, ys)},
            {"evaluation": "train mode, one class per batch", "mode": "train", "batch": "one class",
             "accuracy": _accuracy_in_train_mode(model, by_class)}]
    polluted = copy.deepcopy(model).train()
    for xb, _ in by_class:
        polluted(xb)  # what "forgot model.eval()" does to the running statistics
    rows.append({"evaluation": "eval mode after a train-mode pass over one-class batches", "mode": "eval",
                 "batch": "any", "accuracy": evaluate(polluted, (x, y))[1]})
    return rows


@dataclass
class TrainModeBug:
    """One trained BN net's test accuracy evaluated the ways :func:`train_mode_bug` lists."""

    model: str  # the net's name
    rows: list[dict]  # evaluation, mode, batch, accuracy; eval mode first
    target: float  # the test accuracy a net must reach to be called trained

    @property
    def eval_accuracy(self) -> float:
        return self.rows[0]["accuracy"]

    @property
    def worst(self) -> dict:
        """The train-mode evaluation with the lowest accuracy."""
        return min((r for r in self.rows if r["mode"] == "train"), key=lambda r: r["accuracy"])

    @property
    def trained(self) -> bool:
        return self.eval_accuracy >= self.target

    @property
    def shows(self) -> bool | None:
        """Some train-mode evaluation loses ``BUG_DROP`` of the eval-mode accuracy; None when the
        net did not reach the target (an untrained net has little accuracy to lose)."""
        if not self.trained:
            return None
        return self.worst["accuracy"] <= self.eval_accuracy - BUG_DROP
