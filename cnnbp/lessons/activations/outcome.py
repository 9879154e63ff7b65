"""The trained CNNs read against the lecture's claims: steps to the target and ratios to ReLU,
and the two statistical verdicts, each decided over several seeds by lines fixed before any run.

At each seed a claim's effect is one of three sides of its lines: it *holds* (past the pass
line), it *fails* (past the fail line the other way), or it lies *between* (or the run cannot
say: a lower bound short of the line, a diverged or stopped run). A verdict holds when every
seed holds, fails when every seed fails, and cannot tell otherwise, or with fewer than
``MIN_SEEDS`` seeds (a single seed, as on the Quick settings, decides nothing).

>>> over_seeds(["holds", "holds", "holds"]), over_seeds(["holds", "between", "holds"]), over_seeds(["fails"])
(True, None, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from cnnbp.lessons.activations.race import RaceHistory

Side = Literal["holds", "fails", "between"]
MIN_SEEDS = 3
# "Converges much faster than sigmoid/tanh in practice (e.g. 6x)". Fixed before any run: much
# faster holds from half the lecture's factor and fails below a quarter of it.
LECTURE_SPEEDUP = 6.0
PASS_SPEEDUP = LECTURE_SPEEDUP / 2
FAIL_SPEEDUP = LECTURE_SPEEDUP / 4
# "A too-large learning rate kills ReLUs": it holds when the larger rate leaves at least a
# quarter more of the units dead (the mean over layers of the final shares), fails when it
# leaves none more. Fixed before any run: one dead channel is 3% to 6% of a layer here, so a
# quarter is several channels in every layer, not a unit or two.
DEAD_MARGIN = 0.25


def over_seeds(sides: Sequence[Side]) -> bool | None:
    """True when every seed holds, False when every seed fails, None otherwise or with fewer
    than ``MIN_SEEDS`` seeds."""
    if len(sides) < MIN_SEEDS:
        return None
    if all(s == "holds" for s in sides):
        return True
    if all(s == "fails" for s in sides):
        return False
    return None


@dataclass(frozen=True)
class Speedup:
    """Sigmoid's steps to the target over ReLU's at one seed, as the interval the run allows:
    exact when both reached it; at least (sigmoid's last evaluated step / ReLU's steps) when
    only ReLU did; at most (sigmoid's steps / ReLU's last evaluated step) when only sigmoid did;
    unknown when neither did or one diverged (``low``/``high`` None: no bound).

    >>> h = lambda a, reached: RaceHistory(a, 0.05, "kaiming", eval_steps=[0, 60, 120],
    ...                                    test_accuracy=[0.1, 0.9 if reached == 60 else 0.1, 0.9 if reached else 0.1])
    >>> Speedup.of(h("relu", 60), h("sigmoid", None), 0.8).low, Speedup.of(h("relu", 60), h("sigmoid", 120), 0.8).side
    (2.0, 'between')
    """

    seed: int
    relu_steps: int | None
    sigmoid_steps: int | None
    low: float | None
    high: float | None

    @property
    def side(self) -> Side:
        if self.low is not None and self.low >= PASS_SPEEDUP:
            return "holds"
        if self.high is not None and self.high < FAIL_SPEEDUP:
            return "fails"
        return "between"

    @classmethod
    def of(cls, relu: RaceHistory, sigmoid: RaceHistory, target: float) -> "Speedup":
        r, s = relu.steps_to(target), sigmoid.steps_to(target)
        low = high = None
        # a target met before the first step (r or s = 0) or a diverged net gives no ratio
        if relu.diverged_at is None and sigmoid.diverged_at is None and r != 0 and s != 0:
            if r is not None and s is not None:
                low = high = s / r
            elif r is not None:
                low = sigmoid.eval_steps[-1] / r
            elif s is not None and relu.eval_steps[-1] > 0:
                high = s / relu.eval_steps[-1]
        return cls(relu.seed, r, s, low, high)


@dataclass(frozen=True)
class DeadGap:
    """ReLU's mean dead share after the last step at the larger rate minus at the race's rate,
    at one seed (None where a net has no final probe: it diverged before the end)."""

    seed: int
    low: float | None
    high: float | None

    @property
    def difference(self) -> float | None:
        return None if self.low is None or self.high is None else self.high - self.low

    @property
    def side(self) -> Side:
        d = self.difference
        if d is not None and d >= DEAD_MARGIN:
            return "holds"
        if d is not None and d <= 0.0:
            return "fails"
        return "between"


@dataclass
class Race:
    """One run's trained CNNs: which ones race (``racers`` at ``lr``), which pairs show dead
    units (``dead_activations`` at ``lr`` and ``dead_lr``), at the run's ``seed`` (the one
    drawn); the nets at other seeds are those the verdicts read over seeds. The verdicts, the
    figures and the claims read the same predicates here."""

    histories: list[RaceHistory]
    target: float
    total_steps: int
    lr: float
    seed: int
    racers: Sequence[str] = ()
    dead_activations: Sequence[str] = ()
    dead_lr: float | None = None

    def find(self, activation: str, lr: float | None, seed: int | None = None) -> RaceHistory | None:
        seed = self.seed if seed is None else seed
        return next((h for h in self.histories if h.activation == activation and h.lr == lr and h.seed == seed),
                    None)

    @property
    def drawn(self) -> list[RaceHistory]:
        """The nets of the run's own seed, the ones the figures draw."""
        return [h for h in self.histories if h.seed == self.seed]

    @property
    def seeds(self) -> list[int]:
        return list(dict.fromkeys([self.seed, *(h.seed for h in self.histories)]))

    @property
    def race(self) -> list[RaceHistory]:
        return [h for h in self.drawn if h.lr == self.lr and h.activation in self.racers]

    @property
    def dead(self) -> list[RaceHistory]:
        """The dead-unit variants, each activation's low rate then its high rate (one row each)."""
        dead = [h for h in self.drawn if h.activation in self.dead_activations and h.lr in (self.lr, self.dead_lr)]
        return sorted(dead, key=lambda h: (list(self.dead_activations).index(h.activation), h.lr != self.lr))

    def ratio_to_relu(self) -> dict[str, dict]:
        """name -> steps to target, its ratio to ReLU's at ``lr``, and whether the ratio is only a
        lower bound (the variant trained every step without reaching the target: at least all
        the steps / ReLU's), for the nets drawn."""
        relu = self.find("relu", self.lr)
        relu_steps = relu.steps_to(self.target) if relu else None
        out = {}
        for h in self.drawn:
            steps = h.steps_to(self.target)
            ratio, lower_bound = None, False
            if relu_steps:
                if steps is not None:
                    ratio = steps / relu_steps
                elif h.diverged_at is None and h.steps and h.steps[-1] >= self.total_steps:
                    ratio, lower_bound = self.total_steps / relu_steps, True
            out[h.name] = {"steps_to_target": steps, "ratio_to_relu": ratio, "ratio_is_lower_bound": lower_bound}
        return out

    def speedups(self) -> list[Speedup]:
        """ReLU against sigmoid at ``lr``, at every seed that trained both (none unless both race)."""
        if not {"relu", "sigmoid"} <= set(self.racers):
            return []
        pairs = [(self.find("relu", self.lr, s), self.find("sigmoid", self.lr, s)) for s in self.seeds]
        return [Speedup.of(relu, sigmoid, self.target) for relu, sigmoid in pairs if relu and sigmoid]

    def relu_faster_than_sigmoid(self) -> bool | None:
        return over_seeds([s.side for s in self.speedups()])

    def dead_gaps(self) -> list[DeadGap]:
        """ReLU at ``dead_lr`` against ``lr``, at every seed that trained both (none unless ReLU
        is among the dead-unit activations and ``dead_lr`` is the larger rate)."""
        if "relu" not in self.dead_activations or self.dead_lr is None or self.dead_lr <= self.lr:
            return []
        pairs = [(self.find("relu", self.lr, s), self.find("relu", self.dead_lr, s)) for s in self.seeds]
        return [DeadGap(low.seed, low.final_dead, high.final_dead) for low, high in pairs if low and high]

    def high_lr_kills_relus(self) -> bool | None:
        return over_seeds([g.side for g in self.dead_gaps()])
