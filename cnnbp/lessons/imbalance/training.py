"""The fixes for label imbalance, trained side by side on the same data, init and step budget.

Every method trains the same small CNN (same initial weights) for the same number of steps,
so they differ only in which images each batch holds (the sampler) and how each image counts
(the loss). Finished runs keep their test-set probabilities in :data:`PREDICTIONS`, a small
bounded cache keyed by every setting except the decision threshold: moving the threshold
recomputes the metrics from them instead of training again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Generator, Iterator, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from cnnbp.cache import BoundedCache
from cnnbp.device import derive_seed, make_generator, pick_device
from cnnbp.lessons.imbalance.data import ImbalancedData, build_data
from cnnbp.lessons.imbalance.losses import effective_number_weights, focal_loss, inverse_frequency_weights
from cnnbp.lessons.imbalance.metrics import argmax_scores, majority_probs
from cnnbp.lessons.imbalance.samplers import BalancedBatchSampler, EpochSampler, oversample, undersample
from cnnbp.nn import SmallCNN, init_model
from cnnbp.train import Beat, RunControl, Trainer, lockstep
from cnnbp.train.history import History
from cnnbp.train.stacked_mlp import stack_groups

if TYPE_CHECKING:  # the Config imports this module for METHODS
    from cnnbp.lessons.imbalance.config import ImbalanceConfig

CNN_DEPTH, CNN_WIDTH = 3, 16  # small: 5 methods x 100 steps x 3 seeds train in ~6 s on 2 cores
EVALS = 15  # curve points per run (evaluations of the test set during training)
TRAIN_THREADS = 1


@dataclass(frozen=True)
class Method:
    label: str
    sampling: Literal["plain", "oversample", "undersample", "balanced_batches"]
    loss: Literal["ce", "inverse", "effective", "focal"]
    summary: str


METHODS: dict[str, Method] = {
    "none": Method("none", "plain", "ce", "the imbalanced data as it is"),
    "oversample": Method("over-sampling", "oversample", "ce", "minority images copied up to the majority count"),
    "undersample": Method("under-sampling", "undersample", "ce", "majority images cut to the minority count"),
    "reweight": Method("reweighted loss", "plain", "inverse", "loss weight N / (K n_k): the inverse class ratio"),
    "effective_number": Method("effective number", "plain", "effective",
                               "loss weight (1 - beta) / (1 - beta^n_k) (Cui et al. 2019)"),
    "balanced_batches": Method("balanced batches", "balanced_batches", "ce", "every batch holds each class equally"),
    "focal": Method("focal loss", "plain", "focal", "-(1 - p_t)^gamma log p_t (Lin et al. 2017)"),
}
BASELINE = "majority"  # the trivial "always the majority class" model, in every table
# The lecture's methods (000, 001): no fix, over- and under-sampling, reweighting, batch sampling.
# Effective-number weights (Cui et al.) and focal loss (Lin et al.) are not in it.
LECTURE_METHODS = ("none", "oversample", "undersample", "reweight", "balanced_batches")


def method_label(model: str) -> str:
    """What tables and figures call a method (or the baseline)."""
    return "majority baseline" if model == BASELINE else METHODS[model].label


@dataclass(kw_only=True)
class MethodHistory(History):
    """One method's run as plain numbers (test metrics: argmax decisions)."""

    method: str
    balanced_accuracy: list[float] = field(default_factory=list)
    rare_recall: list[float] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)  # training images drawn per class


class MethodTrainer(Trainer):
    """One CNN, one sampler, one loss (the engine's Trainer), counting the images each class
    contributes to the batches, and giving test-set probabilities for the metrics."""

    def __init__(self, name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 next_batch: Callable[[], torch.Tensor], loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 steps: int, lr: float, batch_size: int, generator: torch.Generator, device: torch.device):
        super().__init__(name, model, (x, y), None, batch_size=batch_size, epochs=1, lr=lr, generator=generator,
                         device=device, loss=loss, sampler=next_batch, steps=steps)  # SGD, momentum 0.9
        self.seen = torch.zeros(int(y.max()) + 1, dtype=torch.long)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super()._next_batch()
        self.seen += torch.bincount(y.cpu(), minlength=len(self.seen))
        return x, y

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> np.ndarray:
        """Softmax probabilities (N, K) in float64, in eval mode."""
        self.model.eval()
        probs = F.softmax(self.model(x.to(self.device)).double(), dim=1).cpu().numpy()
        self.model.train()
        return probs


def class_weights(method: Method, counts: Sequence[int], *, beta: float) -> torch.Tensor | None:
    if method.loss == "inverse":
        return inverse_frequency_weights(counts).float()
    if method.loss == "effective":
        return effective_number_weights(counts, beta=beta).float()
    return None


def make_next_batch(method: Method, y: torch.Tensor, *, batch_size: int,
                    generator: torch.Generator) -> Callable[[], torch.Tensor]:
    """The method's sampler as a function: call it for the next batch's indices into ``y``."""
    if method.sampling == "balanced_batches":
        return BalancedBatchSampler(y, batch_size=batch_size, generator=generator).next_batch
    indices = {"plain": lambda: torch.arange(len(y)),
               "oversample": lambda: oversample(y, generator=generator),
               "undersample": lambda: undersample(y, generator=generator)}[method.sampling]()
    return EpochSampler(indices, batch_size=batch_size, generator=generator).next_batch


def make_loss(method: Method, counts: Sequence[int], *, beta: float, gamma: float,
              device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    weight = class_weights(method, counts, beta=beta)
    weight = weight.to(device) if weight is not None else None
    if method.loss == "focal":
        return lambda logits, y: focal_loss(logits, y, gamma=gamma)
    return lambda logits, y: F.cross_entropy(logits, y, weight=weight)


def build_model(data: ImbalancedData, *, seed: int) -> SmallCNN:
    """The same initial weights for every method (the draws depend on the seed only)."""
    model = SmallCNN(data.x_train.shape[1], data.num_classes, depth=CNN_DEPTH, width=CNN_WIDTH,
                     image_size=data.x_train.shape[2])
    return init_model(model, "kaiming", "relu", generator=make_generator(derive_seed(seed, "imbalance", "init")))


def _evaluate(trainer: MethodTrainer, history: MethodHistory, x: torch.Tensor, y: np.ndarray, rare: int) -> None:
    probs = trainer.probabilities(x)
    balanced, rare_recall = argmax_scores(y, probs.argmax(axis=1), rare=rare, num_classes=probs.shape[1])
    history.eval_steps.append(trainer.step_count)
    history.balanced_accuracy.append(balanced)
    history.rare_recall.append(rare_recall)
    history.seen = trainer.seen.tolist()


def train_methods(data: ImbalancedData, methods: Sequence[str], *, steps: int, batch_size: int, lr: float,
                  beta: float, gamma: float, seed: int, eval_split: str, control: RunControl,
                  stack: bool = True, beats: bool = False
                  ) -> Iterator[tuple[float, list[MethodHistory], list[MethodTrainer]]]:
    """Train every method in lockstep; yield (progress, histories, trainers) at step 0 and at
    each of the ``EVALS`` evaluations on the ``eval_split`` test set (argmax decisions).
    ``stack``: the methods step as one stacked model (False: one at a time, bench/imbalance.py's
    naive path). ``beats``: also a ``Beat`` as progress after every round and every evaluation."""
    device = pick_device()
    counts = data.counts("train")
    x_eval, y_eval = data.tests[eval_split]
    y_eval_np = y_eval.numpy()
    trainers, histories = [], []
    for name in methods:
        method = METHODS[name]
        gen = make_generator(derive_seed(seed, "imbalance", "batches", name))
        trainers.append(MethodTrainer(
            name, build_model(data, seed=seed), data.x_train, data.y_train,
            next_batch=make_next_batch(method, data.y_train, batch_size=batch_size, generator=gen),
            loss=make_loss(method, counts, beta=beta, gamma=gamma, device=device),
            steps=steps, lr=lr, batch_size=batch_size, generator=gen, device=device))
        histories.append(MethodHistory(method=name))
    for trainer, history in zip(trainers, histories):
        _evaluate(trainer, history, x_eval, y_eval_np, data.rare)
        if beats:
            yield Beat(0.0), histories, trainers
    yield 0.0, histories, trainers

    def on_eval(i: int, trainer: MethodTrainer) -> None:
        _evaluate(trainer, histories[i], x_eval, y_eval_np, data.rare)

    # One torch thread: for a CNN this small, a second thread costs more than it saves (10x slower
    # measured with another process on the other core). Every method steps in one stacked model,
    # each with its own sampler and loss (the same numbers up to float rounding).
    for progress in lockstep(trainers, histories, control, eval_every=max(1, steps // EVALS), on_eval=on_eval,
                             threads=TRAIN_THREADS, stack=stack_groups if stack else False, beats=beats):
        yield progress, histories, trainers


@dataclass
class TrainedRun:
    """What a finished comparison keeps: enough to recompute every metric at any threshold."""

    classes: tuple[str, ...]
    rare: int
    majority: int
    counts: dict[str, list[int]]  # "train" and each test set -> images per class
    histories: list[MethodHistory]
    labels: dict[str, np.ndarray]  # test set -> (M,) true classes
    probs: dict[str, dict[str, np.ndarray]]  # test set -> method (and the baseline) -> (M, K)
    seconds: float
    models: dict[str, SmallCNN] = field(default_factory=dict)  # method -> its trained CNN (for the Download)
    curves: dict | None = None  # test set -> model -> CurveMetrics, filled on first use
    figures: dict | None = None  # the threshold-free figures, built on first use


def finish(data: ImbalancedData, histories: list[MethodHistory], trainers: list[MethodTrainer], *,
           seconds: float) -> Generator[float, None, TrainedRun]:
    """Keep each model's test probabilities (and the majority baseline's) for every test set; yields
    how far it is after each model's forward on a test set (all of them together are a 0.3-0.5 s stretch)."""
    majority = int(np.argmax(data.counts("train")))
    labels, probs = {}, {}
    for i, (name, (x, y)) in enumerate(data.tests.items()):
        labels[name] = y.numpy()
        probs[name] = {BASELINE: majority_probs(len(y), num_classes=data.num_classes, majority=majority)}
        for j, t in enumerate(trainers):
            probs[name][t.name] = t.probabilities(x)
            yield (i * len(trainers) + j + 1) / (len(data.tests) * len(trainers))
    counts = {"train": data.counts("train"), **{t: data.counts(t) for t in data.tests}}
    return TrainedRun(classes=data.classes, rare=data.rare, majority=majority, counts=counts,
                      histories=histories, labels=labels, probs=probs, seconds=seconds,
                      models={t.name: t.model.eval() for t in trainers})


def eval_split(cfg: ImbalanceConfig, data: ImbalancedData) -> str:
    """The test set the curves are measured on: the chosen one where it exists."""
    return cfg.test_set if cfg.test_set in data.tests else "balanced"


def build(cfg: ImbalanceConfig, seed: int) -> ImbalancedData:
    return build_data(cfg.dataset, task=cfg.task, rare=cfg.rare, ratio=cfg.ratio, seed=seed)


def train_and_keep(cfg: ImbalanceConfig, seed: int, data: ImbalancedData, control: RunControl, *,
                   beats: bool = False) -> Iterator[tuple[float, list[MethodHistory], TrainedRun | None]]:
    """Train ``cfg``'s methods at ``seed`` on ``data`` (built at that seed), yielding (progress,
    histories, None) at each evaluation (and a ``Beat`` between them with ``beats``); at the end,
    unless stopped, keep the run in :data:`PREDICTIONS` and yield it."""
    start, histories, trainers = time.perf_counter(), [], []
    for progress, histories, trainers in train_methods(
            data, cfg.methods, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, beta=cfg.beta, gamma=cfg.gamma,
            seed=seed, eval_split=eval_split(cfg, data), control=control, beats=beats):
        yield progress, histories, None
    if control.stop_reason():
        return
    finishing = finish(data, histories, trainers, seconds=time.perf_counter() - start)
    while True:
        try:
            next(finishing)
        except StopIteration as finished:
            trained = finished.value
            break
        if beats:
            yield Beat(1.0), histories, None
    PREDICTIONS.put(cfg.run_key(seed), trained)
    yield 1.0, histories, trained


def trained_runs(cfg: ImbalanceConfig) -> list[TrainedRun]:
    """The trained comparison at each of ``cfg``'s seeds: kept, or trained now in full (no
    wall-clock budget: a claim is measured in full or not at all)."""
    runs = []
    for seed in cfg.seed_list:
        trained = PREDICTIONS.get(cfg.run_key(seed))
        if trained is None:
            for *_, trained in train_and_keep(cfg, seed, build(cfg, seed), RunControl(budget_s=math.inf)):
                pass
        runs.append(trained)
    return runs


# One entry per seed of a comparison. A run keeps 8 methods x (72 + 332) x 2..10 float64
# probabilities and its curves, and its 8 CNNs (~25k weights, 100 KB each): 32 runs stay under 40 MB.
PREDICTIONS: BoundedCache[TrainedRun] = BoundedCache(32)
