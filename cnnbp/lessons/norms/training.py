"""The same small CNN trained with each norm: histories of plain numbers, streamed.

Every run of one seed starts from the same unit draws (the conv weights do not depend on the
norm) and sees the same data in the same order; only the norm layers differ. Small models
train on one torch thread: thread hand-offs cost more than they save at this size.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, torch_threads
from cnnbp.lessons.norms.sync import SimulatedDevicesBN2d
from cnnbp.nn import SmallCNN, create_norm, init_model
from cnnbp.train import Beat, RunControl, Trainer, lockstep
from cnnbp.train.history import History
from cnnbp.train.stacked import StackedTrainers, stack_key

THREADS = 1  # see the module docstring
STREAM_EVERY_STEPS = 64  # a sequential run reports progress every 64 steps


@dataclass(frozen=True)
class RunSpec:
    """One training run: a norm, a seed, a batch size and its learning rate."""

    norm: str
    seed: int
    batch_size: int
    lr: float
    label: str = ""  # the name in figures; default "<norm>, seed <seed>"
    devices: int = 0  # > 0: BatchNorm replaced by the simulated multi-device one
    sync: bool = False  # with synchronised statistics

    @property
    def name(self) -> str:
        return self.label or f"{self.norm}, seed {self.seed}"


@dataclass(kw_only=True)
class NormRun(History):
    """Everything measured on one run, as plain numbers (JSON-able)."""

    norm: str
    seed: int
    batch_size: int
    lr: float
    name: str
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0  # time spent in training steps (not evaluation)
    epochs: float = 0.0  # epochs done

    @property
    def final_accuracy(self) -> float | None:
        return self.test_accuracy[-1] if self.test_accuracy else None

    @property
    def seconds_per_epoch(self) -> float | None:
        return self.seconds / self.epochs if self.epochs else None

    def as_dict(self) -> dict:
        return {"norm": self.norm, "seed": self.seed, "batch_size": self.batch_size, "lr": self.lr,
                "steps": self.steps, "loss": self.loss, "eval_steps": self.eval_steps,
                "test_accuracy": self.test_accuracy, "diverged_at": self.diverged_at,
                "final_accuracy": self.final_accuracy, "seconds_per_epoch": self.seconds_per_epoch}


def set_groups(model: nn.Module, groups: int, *, every: bool = False) -> nn.Module:
    """Rebuild every GroupNorm with more than one group (the registry's "group") with exactly
    ``groups`` groups; LayerNorm-as-GroupNorm(1, C) is left alone. ``every``: all GroupNorms,
    for a model whose norm is "group" (the registry's default gives a prime channel count,
    e.g. 11, a single group, which must become ``groups`` too)."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.GroupNorm) and (every or child.num_groups > 1):
                setattr(module, name, create_norm("group", child.num_channels, groups=groups))
    return model


def replace_batchnorms(model: nn.Module, factory: Callable[[int], nn.Module]) -> nn.Module:
    """Swap every BatchNorm2d of ``model`` for ``factory(channels)``."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, factory(child.num_features))
    return model


def build_model(data: ImageDataset, norm: str, *, depth: int, width: int, groups: int, seed: int) -> SmallCNN:
    """The lesson's CNN with ``norm`` after every conv; Kaiming init from the seed's own stream."""
    model = SmallCNN(data.in_channels, data.num_classes, depth=depth, width=width, activation="relu",
                     norm=norm, image_size=data.image_size[0])
    set_groups(model, groups, every=norm == "group")
    init_model(model, "kaiming", "relu", generator=make_generator(derive_seed(seed, "norms-init")))
    return model


def first_conv_features(data: ImageDataset, *, depth: int, width: int, groups: int, seed: int, batch: int,
                        batches: int) -> torch.Tensor:
    """The first conv's outputs (before its norm) of the seed's BatchNorm CNN on the first
    ``batches`` batches of ``batch`` training images (fewer if the set is smaller):
    (batches, batch, C, H, W)."""
    model = build_model(data, "batch", depth=depth, width=width, groups=groups, seed=seed)
    n = min(batches * batch, len(data.x_train)) // batch * batch
    with torch.no_grad():
        feats = model.blocks[0].conv(data.x_train[:n])
    return feats.reshape(-1, batch, *feats.shape[1:])


def make_trainer(data: ImageDataset, spec: RunSpec, *, depth: int, width: int, groups: int, epochs: int,
                 train_images: int | None = None) -> Trainer:
    """A Trainer for ``spec``; ``train_images``: train on the first so many images only."""
    model = build_model(data, spec.norm, depth=depth, width=width, groups=groups, seed=spec.seed)
    if spec.devices:
        replace_batchnorms(model, lambda c: SimulatedDevicesBN2d(c, devices=spec.devices, sync=spec.sync))
    n = len(data.x_train) if train_images is None else min(train_images, len(data.x_train))
    return Trainer(spec.name, model, (data.x_train[:n], data.y_train[:n]), (data.x_test, data.y_test),
                   batch_size=spec.batch_size, epochs=epochs, lr=spec.lr,
                   generator=make_generator(derive_seed(spec.seed, "norms-data-order")))


def _record(run: NormRun, trainer: Trainer, event) -> None:
    run.record(event)
    run.seconds, run.epochs = trainer.elapsed, trainer.step_count / trainer.steps_per_epoch


def _evaluate(run: NormRun, trainer: Trainer) -> None:
    _, acc = trainer.evaluate()
    run.eval_steps.append(trainer.step_count)
    run.test_accuracy.append(acc)


def _new_run(spec: RunSpec) -> NormRun:
    return NormRun(norm=spec.norm, seed=spec.seed, batch_size=spec.batch_size, lr=spec.lr, name=spec.name)


def train_side_by_side(data: ImageDataset, specs: Sequence[RunSpec], *, depth: int, width: int, groups: int,
                       epochs: int, evals_per_epoch: int, control: RunControl, stack: bool = True,
                       keep: Callable[[dict[str, SmallCNN]], None] | None = None, beats: bool = False
                       ) -> Iterator[tuple[float, list[NormRun]]]:
    """Train every spec in lockstep on the whole training set; test accuracy at step 0 and
    ``evals_per_epoch`` times an epoch. Yields (progress, runs) at each evaluation. ``stack``: the
    seeds of one norm step as one model (``cnnbp/train/stacked.py``; measured 1.3-1.8x faster a
    step for 3 seeds on one thread, ``bench/norms.py``), the same numbers up to float rounding.
    ``keep`` receives the trained models by run name at the end, unless stopped (the Download button's).
    ``beats``: also a ``Beat`` as progress after every round and every evaluation (a heartbeat)."""
    trainers = [make_trainer(data, s, depth=depth, width=width, groups=groups, epochs=epochs) for s in specs]
    runs = [_new_run(s) for s in specs]
    for run, trainer in zip(runs, trainers):
        with torch_threads(THREADS):
            _evaluate(run, trainer)
        if beats:
            yield Beat(0.0), runs
    yield 0.0, runs

    def on_eval(i: int, trainer: Trainer) -> None:
        runs[i].seconds, runs[i].epochs = trainer.elapsed, trainer.step_count / trainer.steps_per_epoch
        if not runs[i].eval_steps or runs[i].eval_steps[-1] != trainer.step_count:
            _evaluate(runs[i], trainer)

    eval_every = max(1, trainers[0].steps_per_epoch // evals_per_epoch)
    for progress in lockstep(trainers, runs, control, eval_every=eval_every, on_eval=on_eval, threads=THREADS,
                             stack=stack, beats=beats):
        yield progress, runs
    if keep is not None and not control.stop_reason():
        keep({s.name: t.model for s, t in zip(specs, trainers)})


def train_final(data: ImageDataset, specs: Sequence[RunSpec], *, depth: int, width: int, groups: int, epochs: int,
                control: RunControl, train_images: int | None = None,
                stack: bool = True, beats: bool = False) -> Iterator[tuple[float, list[NormRun]]]:
    """Train the specs one after another (batch sizes differ, so lockstep would not line up);
    test accuracy at the end of each. Yields (share of all steps done, runs so far) every
    ``STREAM_EVERY_STEPS`` steps and after each run. Returns early once ``control`` says stop.
    ``stack``: neighbouring specs that differ only in their seed train as one stacked model
    (``cnnbp/train/stacked.py``), the same numbers up to float rounding. ``beats``: a ``Beat`` as
    progress after every step in between (a heartbeat)."""
    trainers = [make_trainer(data, s, depth=depth, width=width, groups=groups, epochs=epochs,
                             train_images=train_images) for s in specs]
    total = sum(t.total_steps for t in trainers)
    done, runs = 0, []
    for group in _neighbours(trainers) if stack else [[i] for i in range(len(trainers))]:
        members = [trainers[i] for i in group]
        mine = [_new_run(specs[i]) for i in group]
        runs += mine
        stacked = StackedTrainers(members) if len(members) > 1 else None
        with torch_threads(THREADS):
            while not all(t.done for t in members):
                if control.stop_reason():
                    if stacked is not None:
                        stacked.sync()
                    return
                events = stacked.step() if stacked is not None else [(0, members[0].step())]
                for k, event in events:
                    _record(mine[k], members[k], event)
                done, before = done + len(events), done
                if done // STREAM_EVERY_STEPS > before // STREAM_EVERY_STEPS:  # a stack steps K at once
                    yield done / total, runs
                elif beats:
                    yield Beat(done / total), runs
            if stacked is not None:
                stacked.sync()
            for run, trainer in zip(mine, members):
                if not trainer.diverged:
                    _evaluate(run, trainer)
        yield done / total, runs


def _neighbours(trainers: Sequence[Trainer]) -> list[list[int]]:
    """Runs of neighbouring trainers that can step as one stack (stack_key), in order."""
    out: list[list[int]] = []
    for i, t in enumerate(trainers):
        key = stack_key(t)
        if out and key is not None and key == stack_key(trainers[out[-1][0]]):
            out[-1].append(i)
        else:
            out.append([i])
    return out


def summarise_by_norm(runs: Sequence[NormRun], norms: Sequence[str]) -> dict:
    """The side-by-side numbers: every run, and per norm (in ``norms`` order) the final test
    accuracy of each seed, their mean, range and the mean time per epoch."""
    summary = []
    for norm in norms:
        mine = [r for r in runs if r.norm == norm]
        accs = [r.final_accuracy for r in mine if r.final_accuracy is not None]
        times = [r.seconds_per_epoch for r in mine if r.seconds_per_epoch]
        summary.append({"norm": norm, "mean": statistics.fmean(accs) if accs else None,
                        "seeds": accs, "min": min(accs) if accs else None, "max": max(accs) if accs else None,
                        "seconds_per_epoch": statistics.fmean(times) if times else 0.0,
                        "diverged": sum(r.diverged_at is not None for r in mine)})
    return {"runs": {r.name: r.as_dict() for r in runs}, "summary": summary}


def summarise_by_batch(runs: Sequence[NormRun], norms: Sequence[str], batches: Sequence[int]) -> dict:
    """The sweep's numbers per norm: the batch sizes it finished at (in ``batches`` order), the
    mean final test accuracy there and each seed's."""
    summary = {}
    for norm in norms:
        done, means, seeds = [], [], []
        for b in batches:
            accs = [r.final_accuracy for r in runs if r.norm == norm and r.batch_size == b
                    and r.final_accuracy is not None]
            if accs:
                done.append(b)
                means.append(statistics.fmean(accs))
                seeds.append(accs)
        summary[norm] = {"batch_sizes": done, "mean": means, "seeds": seeds}
    return summary
