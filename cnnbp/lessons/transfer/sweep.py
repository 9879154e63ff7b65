"""The target-set size sweep and the lecture's 2x2 rule of thumb ({similar, dissimilar} source x
{small, large} target), measured: linear probe, freeze, fine-tune and scratch per cell."""

from __future__ import annotations

from dataclasses import dataclass

from cnnbp.lessons.transfer.comparison import Scores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.sources import Source
from cnnbp.lessons.transfer.strategies import History, Run, linear_probe, make_split, train_runs
from cnnbp.lessons.transfer.tasks import Task, subsample
from cnnbp.train import RunControl

SIZE_STRATEGIES = ("linear_probe", "freeze", "finetune", "scratch")  # the sweep: the lecture's 2x2 choices
# The lecture's advice (000, 001, 002; 001 says "fine-tune all" where 000 says "fine-tune many")
ADVICE = {("similar", "small"): ("freeze", "linear_probe"), ("similar", "large"): ("finetune",),
          ("dissimilar", "small"): ("linear_probe",), ("dissimilar", "large"): ("scratch",)}
ADVICE_TEXT = {("similar", "small"): "freeze", ("similar", "large"): "fine-tune many / all",
               ("dissimilar", "small"): "SVM from low-level features first",
               ("dissimilar", "large"): "train from scratch"}


def size_scores(cfg: TransferConfig, source: Source, task: Task, per_class: int, control: RunControl, *,
             scratch_from: Scores | None = None) -> Scores | None:
    """Linear probe, freeze, fine-tune and scratch on ``per_class`` target images (None if stopped).

    ``scratch_from``: a row of the same size and seed whose scratch numbers are reused (scratch
    never sees the source, so it would only repeat them)."""
    x, y = subsample(task, per_class, seed=cfg.seed)
    split = make_split(task, x, y, source)
    runs = [Run(s, cfg.lr) for s in ("freeze", "finetune") + (() if scratch_from else ("scratch",))]
    histories: list[History] = []
    for _, histories in train_runs(runs, split, control=control, **cfg.train_kwargs(source, task.num_classes)):
        pass
    if control.stop_reason():
        return None
    by = {h.strategy: h for h in histories}
    probe = linear_probe(source.model, split, stage=cfg.stage)
    row = Scores(per_class, len(y), {"linear_probe": probe, **{s: h.final_accuracy for s, h in by.items()}},
                  {s: h.steps_to(cfg.target_accuracy) for s, h in by.items()})
    if scratch_from:
        row.accuracy["scratch"] = scratch_from.accuracy["scratch"]
        row.steps_to["scratch"] = scratch_from.steps_to["scratch"]
    return row


@dataclass
class RuleCell:
    """One cell of the 2x2 table: a source of one similarity on a target set of one size."""

    similarity: str  # "similar" or "dissimilar"
    source: str
    size: str  # "small" or "large"
    row: Scores

    @property
    def best(self) -> str:
        return max(SIZE_STRATEGIES, key=lambda s: self.row.accuracy[s])

    @property
    def lecture(self) -> str:
        return ADVICE_TEXT[(self.similarity, self.size)]

    @property
    def agrees(self) -> bool:
        """The measured best is (one of) the lecture's advice for this cell."""
        return self.best in ADVICE[(self.similarity, self.size)]

    @property
    def negative_transfer(self) -> bool:
        """Fine-tuned from a dissimilar source, the network ends below scratch."""
        return self.similarity == "dissimilar" and self.row.accuracy["finetune"] < self.row.accuracy["scratch"]

    def as_dict(self) -> dict:
        return {"similarity": self.similarity, "source": self.source, "size": self.size,
                "per_class": self.row.per_class, "accuracy": dict(self.row.accuracy),
                "steps_to": dict(self.row.steps_to), "best": self.best, "lecture": self.lecture,
                "agrees": self.agrees}
