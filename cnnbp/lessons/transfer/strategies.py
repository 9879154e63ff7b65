"""The ways to use a source on a target, trained side by side on the same target images.

Every SGD strategy starts from a fresh copy of the source (or, for *scratch*, from a seeded
random init), gets a new head drawn from the same named stream, sees the same minibatches
in the same order, and is evaluated on the same target test set. The linear probe (DeCAF:
frozen embeddings + a linear classifier) is fitted by scikit-learn, not by SGD.

>>> sorted(STRATEGIES)
['discriminative', 'finetune', 'freeze', 'linear_probe', 'lora', 'scratch']
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cnnbp.device import cpu_cores, derive_seed, make_generator, pick_device, torch_threads
from cnnbp.lessons.transfer.adapters import adapt_images
from cnnbp.lessons.transfer.lora import apply_lora
from cnnbp.lessons.transfer.models import (
    build_cnn,
    count_params,
    embed,
    embed_stages,
    num_stages,
    replace_head,
    stage_prefixes,
)
from cnnbp.lessons.transfer.sources import Source
from cnnbp.lessons.transfer.tasks import Task
from cnnbp.train import Beat, RunControl, Trainer, evaluate, freeze, lockstep
from cnnbp.train.history import History as BaseHistory

STRATEGIES: dict[str, str] = {
    "linear_probe": "frozen source features + logistic regression (scikit-learn), DeCAF style",
    "freeze": "freeze the bottom n stages, train the rest and a new head",
    "finetune": "fine-tune every layer (new head)",
    "discriminative": "fine-tune every layer, learning rate from lr x ratio (bottom) up to lr (head)",
    "lora": "LoRA on every conv (rank r), frozen weights, new head trained in full",
    "scratch": "the same network from a random init, on the target images only",
}
SGD_STRATEGIES = tuple(s for s in STRATEGIES if s != "linear_probe")
EVALS = 15  # test-set evaluations per run: "steps to a target accuracy" to within steps/15
PROBE_C = 1.0  # logistic regression's inverse L2 strength: scikit-learn's default, not tuned
PROBE_MAX_ITER = 2000


@dataclass(frozen=True)
class Split:
    """Target images for one run, in the source's format (``x_*``) and in their own (``native_*``)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    native_train: torch.Tensor
    native_test: torch.Tensor


def make_split(task: Task, x_train: torch.Tensor, y_train: torch.Tensor, source: Source) -> Split:
    """Adapt the chosen training images and the whole target test set to ``source``'s format."""
    fmt = dict(channels=source.channels, size=source.size)
    return Split(adapt_images(x_train, **fmt), y_train, adapt_images(task.x_test, **fmt), task.y_test,
                 x_train, task.x_test)


@dataclass
class History(BaseHistory):
    """One strategy's run, plain numbers (JSON-able): the step record of every training, and this
    lesson's test accuracy and source-task accuracies."""

    name: str  # display name, e.g. "finetune, lr 0.5"
    strategy: str
    lr: float
    seed: int = 0
    trainable: int = 0
    total: int = 0
    test_accuracy: list[float] = field(default_factory=list)
    source_before: float | None = None  # source-task test accuracy before / after (forgetting)
    source_after: float | None = None

    @property
    def final_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def steps_to(self, target: float) -> int | None:
        """The evaluated step from which the test accuracy stays at or above ``target`` to the end
        of the run; None when it ends below (or diverged). A curve that touches the target and
        falls back has not reached it: the verdicts, the tables and the figures read this number.

        >>> h = History("x", "finetune", 0.1, eval_steps=[0, 10, 20, 30], test_accuracy=[0.1, 0.85, 0.6, 0.9])
        >>> h.steps_to(0.8), h.steps_to(0.5), h.steps_to(0.95)
        (30, 10, None)
        """
        if self.diverged_at is not None or not self.test_accuracy or self.test_accuracy[-1] < target:
            return None
        below = [i for i, a in enumerate(self.test_accuracy) if a < target]
        return self.eval_steps[below[-1] + 1 if below else 0]

    def as_dict(self) -> dict:
        return {**vars(self), "final_accuracy": self.final_accuracy}


@dataclass(frozen=True)
class Run:
    """One SGD run to make: a strategy at a learning rate, at a seed (its target images, its
    init and its minibatch order: a run gives the same numbers whatever it is trained beside)."""

    strategy: str
    lr: float
    name: str = ""
    seed: int = 0

    @property
    def label(self) -> str:
        return self.name or self.strategy


def build_model(run: Run, *, source: Source, num_classes: int, channels: int, size: int, seed: int,
                freeze_stages: int, lora_rank: int, lr_ratio: float) -> tuple[nn.Module, dict[str, float] | None]:
    """The network of ``run`` and its per-prefix learning-rate scales (None: one lr).

    ``channels``/``size``: the target's own format, for *scratch* (no source, no adapter)."""
    head_gen = make_generator(derive_seed(seed, "transfer-head"))
    if run.strategy == "scratch":
        return build_cnn(channels=channels, num_classes=num_classes, size=size, seed=seed, key="scratch-init"), None
    model = copy.deepcopy(source.model)
    replace_head(model, num_classes, generator=head_gen)
    n = num_stages(model)
    if run.strategy == "finetune":
        return model, None
    if run.strategy == "freeze":
        if freeze_stages > n:
            raise ValueError(f"freeze_stages ({freeze_stages}) is more than the source's {n} stages")
        freeze(model, stage_prefixes(model, range(freeze_stages)))
        return model, None
    if run.strategy == "discriminative":
        return model, discriminative_scales(model, lr_ratio)
    if run.strategy == "lora":
        apply_lora(model, rank=lora_rank, generator=make_generator(derive_seed(seed, "lora-a")))
        return model, None
    raise ValueError(f"unknown SGD strategy {run.strategy!r}; choose from {', '.join(SGD_STRATEGIES)}")


def discriminative_scales(model: nn.Module, ratio: float) -> dict[str, float]:
    """Per-stage lr multipliers (discriminative learning rates): stage k (1-based) of n gets
    ratio^((n - k + 1) / n), geometric from exactly ``ratio`` at the bottom to 1 for the head.

    >>> net = build_cnn(channels=1, num_classes=2, size=8, seed=0)
    >>> [round(s, 3) for s in dict.fromkeys(discriminative_scales(net, 0.1).values())]
    [0.1, 0.178, 0.316, 0.562, 1.0]
    """
    n = num_stages(model)
    scales: dict[str, float] = {}
    for k in range(n):  # stage k (0-based) -> ratio^((n - k) / n): ratio at k=0, ratio^(1/n) at the top stage
        for prefix in stage_prefixes(model, [k]):
            scales[prefix] = float(ratio ** ((n - k) / n))
    scales["head."] = 1.0
    return scales


def train_runs(runs: Sequence[Run], splits: Mapping[int, Split], *, source: Source, num_classes: int, steps: int,
               batch_size: int, freeze_stages: int, lora_rank: int, lr_ratio: float,
               control: RunControl, source_test: tuple[torch.Tensor, torch.Tensor] | None = None,
               beats: bool = False) -> Iterator[tuple[float, list[History]]]:
    """Train every run in lockstep, each on the split of its seed (``splits[run.seed]``); yield
    (progress, histories) at step 0 and at each of the ``EVALS`` evaluations. With ``source_test``
    (the source task's test set in its format), fine-tuned runs also get the source-task accuracy
    before and after (the source's own head put back on the fine-tuned body: forgetting). ``beats``:
    also a ``Beat`` as progress after every round and every evaluation (a heartbeat)."""
    device = pick_device()  # CPU vs CUDA measured in bench/gpu.py
    trainers, histories = [], []
    before = None  # the untouched source on its own task: one evaluation, however many runs fine-tune it
    for run in runs:
        seed, split = run.seed, splits[run.seed]
        n = len(split.y_train)
        native = run.strategy == "scratch"
        model, scales = build_model(run, source=source, num_classes=num_classes,
                                    channels=split.native_train.shape[1], size=split.native_train.shape[2],
                                    seed=seed, freeze_stages=freeze_stages, lora_rank=lora_rank, lr_ratio=lr_ratio)
        train = (split.native_train if native else split.x_train, split.y_train)
        test = (split.native_test if native else split.x_test, split.y_test)
        per_epoch = -(-n // min(batch_size, n))
        trainer = Trainer(run.label, model, train, test, batch_size=batch_size, epochs=-(-steps // per_epoch),
                          lr=run.lr, lr_scale=scales, generator=make_generator(derive_seed(seed, "target-order")),
                          device=device)
        trainer.total_steps = steps  # a step budget: every run, whatever the set size, gets as many
        trainable, total = count_params(model)
        history = History(run.label, run.strategy, run.lr, seed, trainable, total)
        if source_test is not None and run.strategy in ("finetune", "discriminative"):
            before = evaluate(source.model, source_test)[1] if before is None else before
            history.source_before = before
        trainers.append(trainer)
        histories.append(history)

    yield from train_evaluated(trainers, histories, control, steps, beats=beats)
    for trainer, history in zip(trainers, histories):
        if history.source_before is not None and not trainer.diverged:
            body = copy.deepcopy(trainer.model).cpu()  # beside the source's head, on the CPU
            body.head = source.model.head  # the source's own head on the fine-tuned body
            history.source_after = evaluate(body, source_test)[1]
            if beats:
                yield Beat(1.0), histories
        elif history.source_before is not None:
            history.source_after = 0.0  # diverged: its weights are NaN, nothing of the source is left


def linear_probe(model: nn.Module, split: Split, *, stage: int) -> float:
    """Test accuracy of a logistic regression on the frozen stage-``stage`` embeddings."""
    with torch_threads(1):
        f_train = embed(model, split.x_train, stage=stage).numpy()  # (N, C_stage)
        f_test = embed(model, split.x_test, stage=stage).numpy()
    return fit_probe(f_train, split.y_train.numpy(), f_test, split.y_test.numpy())


def fit_probe(f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray) -> float:
    """Test accuracy of a logistic regression on frozen features (standardised with the training
    features' mean and std)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # comes with scikit-learn

    # One thread: these fits are tiny, and BLAS threads fighting for two busy cores made them 5x slower.
    with threadpool_limits(1):
        scaler = StandardScaler().fit(f_train)
        clf = LogisticRegression(C=PROBE_C, max_iter=PROBE_MAX_ITER)
        clf.fit(scaler.transform(f_train), y_train)
        return float(np.mean(clf.predict(scaler.transform(f_test)) == y_test))


def stage_probes(model: nn.Module, split: Split) -> list[float]:
    """The linear probe from every stage, bottom to top ("try a linear classifier from
    different stages" for dissimilar data); each set's embeddings from one pass."""
    with torch_threads(1):
        f_train, f_test = embed_stages(model, split.x_train), embed_stages(model, split.x_test)
    return [fit_probe(a.numpy(), split.y_train.numpy(), b.numpy(), split.y_test.numpy())
            for a, b in zip(f_train, f_test)]


def train_evaluated(trainers: list[Trainer], histories: list[History], control: RunControl,
                    steps: int, beats: bool = False) -> Iterator[tuple[float, list[History]]]:
    """Train in lockstep with EVALS test evaluations a run (one before the first step); yield
    (progress, histories) at each, and with ``beats`` a ``Beat`` as progress after every round and
    every evaluation. Shared by the small sources' and ImageNet's strategies."""

    def on_eval(i: int, trainer: Trainer) -> None:
        histories[i].eval_steps.append(trainer.step_count)
        histories[i].test_accuracy.append(trainer.evaluate()[1])

    for i, trainer in enumerate(trainers):
        on_eval(i, trainer)
        if beats:
            yield Beat(0.0), histories
    yield 0.0, histories
    # stack: runs of one network and recipe (a strategy at several seeds) step as one model (train/stacked.py);
    # the groups side by side in a lane per core, one torch thread each (was one lane: the other core idled)
    for progress in lockstep(trainers, histories, control, eval_every=max(1, steps // EVALS), on_eval=on_eval,
                             threads=1, stack=True, beats=beats, workers=cpu_cores()):
        yield progress, histories
