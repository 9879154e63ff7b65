"""The results the transfer lesson's verdicts compare, with the claims' predicates on them.

One training at one seed says little here: at 10 images per class, the step at which a run
settles at 80% moves by 100 steps from seed to seed, and accuracies by several points. So every
comparative verdict reads a :class:`Lead` over several seeds: how far one side is ahead of the
other at each seed, against a margin fixed before any run. It holds when the lead passes the
margin at every seed, it does not when the other side leads by the margin at every seed, and
otherwise (seeds that disagree, a lead inside the margin, fewer than ``MIN_SEEDS`` seeds) it
says it cannot tell. The verdicts, the figure titles and the claims all read these properties.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from cnnbp.lessons.transfer.strategies import History

# Fixed before any run, never tuned to a result:
MIN_SEEDS = 3  # fewer seeds decide nothing: one seed's noise is the size of the effects
# A lead in accuracy must pass 2 points: the digits 5-9 test set has 179 images (one is 0.56 points)
# and an accuracy near 85% on it has a binomial standard error of 2.7 points.
ACCURACY_MARGIN = 0.02
FORGET_MARGIN = 0.05  # "loses source accuracy": the large lr's drop exceeds the small lr's by 5 points
CHANCE_MARGIN = 0.05  # "at chance": within 5 points of 1 / classes


@dataclass(frozen=True)
class Lead:
    """How far one side is ahead at each seed (``values``, in the unit of ``margin``)."""

    values: tuple[float, ...]
    margin: float

    @property
    def holds(self) -> bool | None:
        """True: ahead by more than the margin at every seed; False: behind by more than the
        margin at every seed; None: too few seeds, a lead inside the margin, or seeds that disagree.

        >>> Lead((0.05, 0.04, 0.09), 0.02).holds, Lead((0.05, -0.04, 0.09), 0.02).holds
        (True, None)
        >>> Lead((-0.05, -0.03, -0.09), 0.02).holds, Lead((0.05,), 0.02).holds
        (False, None)
        """
        if len(self.values) < MIN_SEEDS:
            return None
        if all(v > self.margin for v in self.values):
            return True
        if all(v < -self.margin for v in self.values):
            return False
        return None

    @property
    def too_few_seeds(self) -> bool:
        return len(self.values) < MIN_SEEDS

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)


@dataclass
class Scores:
    """The strategies' final test accuracies and steps to the target accuracy on one target set
    at one seed (a row of the size sweep; the compare part's runs). A strategy that did not run
    is absent."""

    per_class: int
    train_images: int
    accuracy: dict[str, float]  # strategy -> final test accuracy (the linear probe's: of its fit)
    steps_to: dict[str, int | None]  # SGD strategy -> step from which it stays at the target (None: never)
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def frozen(self) -> float:
        """The better of the two ways to keep the source's features."""
        return max(self.accuracy["linear_probe"], self.accuracy["freeze"])

    @property
    def pretrained_gap(self) -> float:
        """Fine-tuned minus scratch accuracy."""
        return self.accuracy["finetune"] - self.accuracy["scratch"]


@dataclass
class SeedScores:
    """The same strategies on the same settings at several seeds (the run's seed first), and the
    leads the claims are about."""

    rows: list[Scores]
    steps: int  # every run's length: "never settled" counts as one evaluation past it
    eval_every: int

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.rows]

    @property
    def frozen_vs_scratch(self) -> Lead:
        """Frozen features + a linear classifier ahead of the network trained from scratch (accuracy)."""
        return Lead(tuple(r.accuracy["linear_probe"] - r.accuracy["scratch"] for r in self.rows), ACCURACY_MARGIN)

    @property
    def finetune_vs_frozen(self) -> Lead:
        """Fine-tuning every layer ahead of the better frozen strategy (accuracy)."""
        return Lead(tuple(r.accuracy["finetune"] - r.frozen for r in self.rows), ACCURACY_MARGIN)

    def settled(self, strategy: str) -> list[int | None]:
        return [r.steps_to[strategy] for r in self.rows]

    @property
    def convergence(self) -> Lead:
        """Steps by which fine-tuning settles at the target before scratch does."""
        return self.settles_earlier("finetune")

    def settles_earlier(self, strategy: str, than: str = "scratch") -> Lead:
        """Steps by which ``strategy`` settles at the target before ``than`` does. The evaluations
        are ``eval_every`` steps apart, so a lead must pass one interval to be seen."""
        never = self.steps + self.eval_every
        steps = lambda s: never if s is None else s  # noqa: E731
        return Lead(tuple(steps(r.steps_to[than]) - steps(r.steps_to[strategy]) for r in self.rows),
                    self.eval_every)

    def ahead(self, strategy: str, of: str) -> Lead:
        """``strategy``'s accuracy lead over ``of``'s, seed by seed."""
        return Lead(tuple(r.accuracy[strategy] - r.accuracy[of] for r in self.rows), ACCURACY_MARGIN)


@dataclass
class Comparison:
    """Every SGD run of the compare part (at every seed) and the linear probe (none when it was
    not chosen)."""

    histories: list[History]
    probe: dict[int, float] = field(default_factory=dict)  # seed -> linear-probe accuracy from the chosen stage
    per_stage: list[float] = field(default_factory=list)  # the run's seed: the probe from every stage

    def run(self, name: str) -> History | None:
        return next((h for h in self.histories if h.name == name), None)

    def scores(self, seed: int, *, lr: float, per_class: int, train_images: int, target_accuracy: float) -> Scores:
        """The runs of ``seed`` at the rate ``lr`` and the probe, as one row."""
        runs = [h for h in self.histories if h.seed == seed and h.lr == lr]
        probe = {"linear_probe": self.probe[seed]} if seed in self.probe else {}
        return Scores(per_class, train_images, {**probe, **{h.strategy: h.final_accuracy for h in runs}},
                      {h.strategy: h.steps_to(target_accuracy) for h in runs}, seed)

    def strategy_rows(self, seed: int, *, target_accuracy: float, probe_params: int,
                      source_params: int) -> list[dict]:
        """One row per strategy of ``seed``: accuracy, trainable parameters and their share, steps
        to the target."""
        rows = []
        if seed in self.probe:  # the probe trains a logistic regression on the frozen embedding, nothing else
            rows.append({"name": "linear_probe", "strategy": "linear_probe", "lr": None, "accuracy": self.probe[seed],
                         "trainable": probe_params, "share": probe_params / (source_params + probe_params),
                         "steps_to_target": None})
        for h in self.histories:
            if h.seed == seed:
                rows.append({"name": h.name, "strategy": h.strategy, "lr": h.lr, "accuracy": h.final_accuracy,
                             "trainable": h.trainable, "share": h.trainable / h.total,
                             "steps_to_target": h.steps_to(target_accuracy)})
        return rows


@dataclass(frozen=True)
class Forgetting:
    """The source task's accuracy after fine-tuning at a small and at a large learning rate, per seed."""

    low: list[dict]  # a forgetting row (forgetting_rows) at the small rate, per seed
    high: list[dict]  # ... at the large rate
    chance: float  # 1 / the target's classes

    @property
    def lead(self) -> Lead:
        """How much more of the source task the larger rate loses than the smaller one."""
        return Lead(tuple(h["drop"] - lo["drop"] for lo, h in zip(self.low, self.high)), FORGET_MARGIN)

    @property
    def wrecked(self) -> bool:
        """At the larger rate the target is at chance too, at every seed: a collapse, not a trade."""
        return all(h["target"] <= self.chance + CHANCE_MARGIN for h in self.high)


def forgetting_rows(histories: list[History]) -> list[dict]:
    """Source-task accuracy before and after, for every fine-tuned run that measured it."""
    return [{"name": h.name, "lr": h.lr, "seed": h.seed, "before": h.source_before, "after": h.source_after,
             "drop": h.source_before - h.source_after, "target": h.final_accuracy}
            for h in histories if h.strategy == "finetune" and h.source_before is not None]


def forgetting(rows: list[dict], *, lr: float, forget_lr: float, chance: float) -> Forgetting:
    at = lambda rate: sorted((r for r in rows if r["lr"] == rate), key=lambda r: r["seed"])  # noqa: E731
    return Forgetting(low=at(lr), high=at(forget_lr), chance=chance)
