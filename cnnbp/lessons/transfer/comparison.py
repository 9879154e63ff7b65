"""The compare and forgetting parts' results: the strategies trained side by side on one target
set with the linear probe from each stage, and the source task before and after fine-tuning.
The claims' predicates are properties here, read by the verdicts, the figures and the claims."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from cnnbp.lessons.transfer.strategies import History

# Fixed before any run, never tuned to a result:
FORGET_MARGIN = 0.05  # "loses source accuracy": the large lr's drop exceeds the small lr's by 5 points
CHANCE_MARGIN = 0.05  # "at chance": within 5 points of 1 / classes


@dataclass
class Scores:
    """The strategies' final test accuracies and steps to the target accuracy on one target set
    (a row of the size sweep; the compare part's runs). A strategy that did not run is absent."""

    per_class: int
    train_images: int
    accuracy: dict[str, float]  # strategy -> final test accuracy (the linear probe's: of its fit)
    steps_to: dict[str, int | None]  # SGD strategy -> steps to the target accuracy (None: never)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def frozen(self) -> float:
        """The better of the two ways to keep the source's features."""
        return max(self.accuracy["linear_probe"], self.accuracy["freeze"])

    @property
    def frozen_beats_scratch(self) -> bool | None:
        """Frozen features + a linear classifier end above the network trained from scratch."""
        if not {"linear_probe", "scratch"} <= self.accuracy.keys():
            return None
        return self.accuracy["linear_probe"] > self.accuracy["scratch"]

    @property
    def pretrained_faster(self) -> bool | None:
        """Fine-tuned reaches the target accuracy at an earlier evaluation than scratch."""
        if not {"finetune", "scratch"} <= self.steps_to.keys():
            return None
        f, s = self.steps_to["finetune"], self.steps_to["scratch"]
        return f is not None and (s is None or f < s)

    @property
    def finetune_beats_freezing(self) -> bool:
        return self.accuracy["finetune"] > self.frozen

    @property
    def pretrained_gap(self) -> float:
        """Fine-tuned minus scratch accuracy."""
        return self.accuracy["finetune"] - self.accuracy["scratch"]


@dataclass
class Comparison:
    """Every SGD run of the compare part and the linear probe (None when it was not chosen)."""

    histories: list[History]
    probe: float | None = None  # linear-probe test accuracy from the chosen stage
    per_stage: list[float] = field(default_factory=list)  # ... from every stage, bottom to top

    def run(self, name: str) -> History | None:
        return next((h for h in self.histories if h.name == name), None)

    def scores(self, *, per_class: int, train_images: int, target_accuracy: float) -> Scores:
        """The runs at the run's own rate (named by their strategy) and the probe, as one row."""
        runs = [h for h in self.histories if h.name == h.strategy]
        probe = {} if self.probe is None else {"linear_probe": self.probe}
        return Scores(per_class, train_images, {**probe, **{h.strategy: h.final_accuracy for h in runs}},
                      {h.strategy: h.steps_to(target_accuracy) for h in runs})

    def strategy_rows(self, *, target_accuracy: float, probe_params: int, source_params: int) -> list[dict]:
        """One row per strategy: accuracy, trainable parameters and their share, steps to the target."""
        rows = []
        if self.probe is not None:  # the probe trains a logistic regression on the frozen embedding, nothing else
            rows.append({"name": "linear_probe", "strategy": "linear_probe", "lr": None, "accuracy": self.probe,
                         "trainable": probe_params, "share": probe_params / (source_params + probe_params),
                         "steps_to_target": None})
        for h in self.histories:
            rows.append({"name": h.name, "strategy": h.strategy, "lr": h.lr, "accuracy": h.final_accuracy,
                         "trainable": h.trainable, "share": h.trainable / h.total,
                         "steps_to_target": h.steps_to(target_accuracy)})
        return rows


@dataclass(frozen=True)
class Forgetting:
    """The source task's accuracy after fine-tuning at a small and at a large learning rate."""

    low: dict  # a forgetting row (forgetting_rows) at the small rate
    high: dict  # ... at the large rate
    chance: float  # 1 / the target's classes

    @property
    def forgets(self) -> bool:
        """The larger rate loses more of the source task than the smaller one, by the margin."""
        return self.high["drop"] > self.low["drop"] + FORGET_MARGIN

    @property
    def wrecked(self) -> bool:
        """At the larger rate the target is at chance too: a collapse, not a trade."""
        return self.high["target"] <= self.chance + CHANCE_MARGIN


def forgetting_rows(histories: list[History]) -> list[dict]:
    """Source-task accuracy before and after, for every fine-tuned run that measured it."""
    return [{"name": h.name, "lr": h.lr, "before": h.source_before, "after": h.source_after,
             "drop": h.source_before - h.source_after, "target": h.final_accuracy}
            for h in histories if h.strategy == "finetune" and h.source_before is not None]


def forgetting(rows: list[dict], *, lr: float, forget_lr: float, chance: float) -> Forgetting:
    return Forgetting(low=next(r for r in rows if r["lr"] == lr), high=next(r for r in rows if r["lr"] == forget_lr),
                      chance=chance)
