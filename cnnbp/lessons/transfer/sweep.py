"""The target-set size sweep and the lecture's 2x2 rule of thumb ({similar, dissimilar} source x
{small, large} target), measured: linear probe, freeze, fine-tune and scratch per cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Mapping, Sequence

from cnnbp.lessons.base import result_of
from cnnbp.lessons.transfer.comparison import ACCURACY_MARGIN, CHANCE_MARGIN, Scores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.sources import Source
from cnnbp.lessons.transfer.strategies import History, Run, linear_probe, make_split, train_runs
from cnnbp.lessons.transfer.tasks import Task, subsample
from cnnbp.train import RunControl

TRAINING_SHARE = 0.9  # of score_steps' work: the SGD runs; the linear probes the rest

SIZE_STRATEGIES = ("linear_probe", "freeze", "finetune", "scratch")  # the sweep: the lecture's 2x2 choices
SGD_SIZE_STRATEGIES = SIZE_STRATEGIES[1:]
# The lecture's advice (000, 001, 002; 001 says "fine-tune all" where 000 says "fine-tune many")
ADVICE = {("similar", "small"): ("freeze", "linear_probe"), ("similar", "large"): ("finetune",),
          ("dissimilar", "small"): ("linear_probe",), ("dissimilar", "large"): ("scratch",)}
ADVICE_TEXT = {("similar", "small"): "freeze", ("similar", "large"): "fine-tune many / all",
               ("dissimilar", "small"): "SVM from low-level features first",
               ("dissimilar", "large"): "train from scratch"}


def measure_scores(cfg: TransferConfig, source: Source, task: Task, per_class: int, control: RunControl,
                   strategies: Mapping[int, Sequence[str]]) -> dict[int, Scores] | None:
    """The linear probe and the SGD ``strategies[seed]`` at each seed, on ``per_class`` target
    images per class drawn at that seed, trained in one lockstep (None if stopped)."""
    return result_of(score_steps(cfg, source, task, per_class, control, strategies))


def score_steps(cfg: TransferConfig, source: Source, task: Task, per_class: int, control: RunControl,
                strategies: Mapping[int, Sequence[str]]) -> Generator[float, None, dict[int, Scores] | None]:
    """:func:`measure_scores`, yielding the share of its work done after every training round and
    every evaluation (a heartbeat); returns the scores."""
    if not strategies:
        return {}
    splits = {s: make_split(task, *subsample(task, per_class, seed=s), source) for s in strategies}
    runs = [Run(st, cfg.lr, seed=s, name=st if s == cfg.seed else f"{st}, seed {s}")
            for s, chosen in strategies.items() for st in chosen]
    histories: list[History] = []
    for reached, histories in train_runs(runs, splits, control=control, beats=True,
                                         **cfg.train_kwargs(source, task.num_classes)):
        yield TRAINING_SHARE * reached
    if control.stop_reason():
        return None
    out = {}
    for s, split in splits.items():
        mine = [h for h in histories if h.seed == s]
        out[s] = Scores(per_class, len(split.y_train),
                        {"linear_probe": linear_probe(source.model, split, stage=cfg.stage),
                         **{h.strategy: h.final_accuracy for h in mine}},
                        {h.strategy: h.steps_to(cfg.target_accuracy) for h in mine}, s)
        yield TRAINING_SHARE + (1 - TRAINING_SHARE) * len(out) / len(splits)
    return out


@dataclass
class RuleCell:
    """One cell of the 2x2 table: a source of one similarity on a target set of one size (one seed)."""

    similarity: str  # "similar" or "dissimilar"
    source: str
    size: str  # "small" or "large"
    row: Scores
    chance: float  # 1 / the target's classes

    @property
    def best(self) -> list[str]:
        """The strategies within the accuracy margin of the top one: one test image more is no winner."""
        top = max(self.row.accuracy[s] for s in SIZE_STRATEGIES)
        return [s for s in SIZE_STRATEGIES if self.row.accuracy[s] >= top - ACCURACY_MARGIN]

    @property
    def lecture(self) -> str:
        return ADVICE_TEXT[(self.similarity, self.size)]

    @property
    def agrees(self) -> bool:
        """The lecture's advice for this cell is among the measured best."""
        return any(s in ADVICE[(self.similarity, self.size)] for s in self.best)

    @property
    def collapsed(self) -> bool:
        """Fine-tuning ended at chance: the learning rate wrecked this source, whatever its features."""
        return self.row.accuracy["finetune"] <= self.chance + CHANCE_MARGIN

    @property
    def negative_transfer(self) -> bool:
        """Fine-tuned from a dissimilar source, the network learnt, yet ends below scratch by the margin."""
        return (self.similarity == "dissimilar" and not self.collapsed
                and self.row.accuracy["finetune"] < self.row.accuracy["scratch"] - ACCURACY_MARGIN)

    def as_dict(self) -> dict:
        return {"similarity": self.similarity, "source": self.source, "size": self.size,
                "per_class": self.row.per_class, "accuracy": dict(self.row.accuracy),
                "steps_to": dict(self.row.steps_to), "best": self.best, "lecture": self.lecture,
                "agrees": self.agrees, "collapsed": self.collapsed}
