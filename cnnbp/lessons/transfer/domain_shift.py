"""The lecture's supervised-pretraining example (train on MNIST, use it on USPS or SVHN: a domain
shift), with what ships: the ``mnist`` source (our small CNN trained on the shipped MNIST) on

- the bundled 8x8 digits: the same ten classes from another scan at another resolution (upsampled
  to 28x28 by the lesson's adapter): the *shifted* target;
- Fashion-MNIST: the same format, other objects: the *dissimilar* target.

First the source as it is on its own test set and on the shifted digits (no training: what the
shift costs), then k images per class of each target: the linear probe on the MNIST features,
fine-tuning, scratch, at every verdict seed."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator

import pandas as pd
import plotly.graph_objects as go

from cnnbp.data import get_dataset
from cnnbp.lessons.base import RunState, Update
from cnnbp.lessons.transfer import imagenet_source
from cnnbp.lessons.transfer.adapters import adapt_images
from cnnbp.lessons.transfer.comparison import ACCURACY_MARGIN, Lead, SeedScores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.sources import Source, load_source
from cnnbp.lessons.transfer.strategies import EVALS
from cnnbp.lessons.transfer.sweep import measure_scores
from cnnbp.lessons.transfer.tasks import DATA_SEED, Task, get_source_task
from cnnbp.plots.common import apply_layout, color_for
from cnnbp.train import evaluate

SOURCE = "mnist"
SHIFTED, DISSIMILAR = "digits", "fashion_mnist"
TRAINED = ("finetune", "scratch")
# Fixed before any run: "the shift costs accuracy" when the source loses more than 10 points on the shifted
# digits against its own test set (the lecture's MNIST -> USPS / SVHN drops are tens of points).
SHIFT_LINE = 0.10


@functools.lru_cache(maxsize=2)
def get_shift_target(name: str) -> Task:
    """The shifted digits (all ten, the lesson's fixed digits split) or Fashion-MNIST (its training pool
    and the 500-image test subset the ImageNet part also uses). Cached: never modify the tensors."""
    if name == SHIFTED:
        ds = get_dataset("digits", seed=DATA_SEED)
        return Task(name, "the bundled 8x8 digits, all ten (another scan, another resolution)", ds.x_train,
                    ds.y_train, ds.x_test, ds.y_test, tuple(ds.classes))
    if name == DISSIMILAR:
        t = imagenet_source.get_target(name)
        return Task(name, "Fashion-MNIST, 28x28 grey (other objects)", t.x_train, t.y_train, t.x_test, t.y_test,
                    t.classes)
    raise ValueError(f"unknown domain-shift target {name!r}; choose from {SHIFTED}, {DISSIMILAR}")


@dataclass
class ShiftResult:
    own: float  # the source on its own test set (MNIST)
    shifted: float  # the source, untouched, on the shifted digits' test set
    scores: dict[str, SeedScores]  # target -> probe / fine-tune / scratch at every verdict seed

    @property
    def drop(self) -> float:
        return self.own - self.shifted

    def gain(self, target: str) -> tuple[float, ...]:
        """Fine-tuned minus scratch accuracy on ``target``, seed by seed."""
        return self.scores[target].ahead("finetune", "scratch").values

    @property
    def helps_less_when_dissimilar(self) -> Lead:
        """How much more fine-tuning from MNIST gains over scratch on the shifted digits than on Fashion-MNIST."""
        return Lead(tuple(a - b for a, b in zip(self.gain(SHIFTED), self.gain(DISSIMILAR))), ACCURACY_MARGIN)


def direct_accuracy(source: Source) -> tuple[float, float]:
    """The source untouched: accuracy on its own test set and on the shifted digits' test set."""
    own = get_source_task(source.name)
    digits = get_shift_target(SHIFTED)
    shifted = adapt_images(digits.x_test, channels=source.channels, size=source.size)
    return evaluate(source.model, (own.x_test, own.y_test))[1], evaluate(source.model, (shifted, digits.y_test))[1]


def measure(cfg: TransferConfig, control) -> Iterator[tuple[str, ShiftResult | None]]:
    """Yields (message, None) after each step, then ("", the result); returns early when stopped."""
    source = load_source(SOURCE)
    own, shifted = direct_accuracy(source)
    yield f"MNIST source: {own:.1%} on MNIST, {shifted:.1%} on the 8x8 digits untouched", None
    scores = {}
    for target in (SHIFTED, DISSIMILAR):
        measured = measure_scores(cfg.model_copy(update={"steps": cfg.shift_steps}), source, get_shift_target(target),
                                  cfg.images_per_class, control, {s: TRAINED for s in cfg.verdict_seeds()})
        if measured is None:
            return
        scores[target] = SeedScores(list(measured.values()), steps=cfg.shift_steps,
                                    eval_every=max(1, cfg.shift_steps // EVALS))
        yield f"MNIST source -> {target} done", None
    yield "", ShiftResult(own, shifted, scores)


def domain_shift(state: RunState) -> Iterator[Update]:
    """The part: the shift's cost, then k per class of each target, verdicts over the seeds."""
    from cnnbp.lessons.transfer.verdicts import domain_shift_verdicts

    cfg: TransferConfig = state.cfg
    done = 0
    for message, result in measure(cfg, state.control):
        if result is None:
            done += 1
            yield Update(done / 4, message)
            continue
        rows = shift_rows(result)
        yield Update(1.0, "domain shift measured", figures={"domain_shift": shift_figure(result, cfg)},
                     tables={"domain_shift": pd.DataFrame(rows)},
                     numbers={"domain_shift": {"own": result.own, "shifted": result.shifted, "drop": result.drop,
                                               "per_seed": {t: [r.as_dict() for r in s.rows]
                                                            for t, s in result.scores.items()}}},
                     verdicts=domain_shift_verdicts(cfg, result))


def shift_rows(result: ShiftResult) -> list[dict]:
    """The run's seed: one row per target and strategy."""
    rows = [{"target": "MNIST (own test set)", "strategy": "source as is", "accuracy": result.own},
            {"target": "8x8 digits (shifted)", "strategy": "source as is", "accuracy": result.shifted}]
    for target, scores in result.scores.items():
        for strategy, acc in scores.rows[0].accuracy.items():
            rows.append({"target": target, "strategy": strategy, "accuracy": acc})
    return rows


def shift_figure(result: ShiftResult, cfg: TransferConfig) -> go.Figure:
    """Bars: the source as is on MNIST and on the shifted digits, then per target the linear probe,
    fine-tuning and scratch at the run's seed (the other seeds as dots)."""
    fig = go.Figure(go.Bar(x=["MNIST (own)", "8x8 digits"], y=[result.own, result.shifted], name="MNIST source as is",
                           marker_color="grey", text=[f"{result.own:.0%}", f"{result.shifted:.0%}"],
                           textposition="outside"))
    labels = {SHIFTED: f"8x8 digits,<br>{cfg.images_per_class}/class", DISSIMILAR:
              f"Fashion-MNIST,<br>{cfg.images_per_class}/class"}
    for i, strategy in enumerate(("linear_probe", *TRAINED)):
        xs = [labels[t] for t in result.scores]
        ys = [s.rows[0].accuracy[strategy] for s in result.scores.values()]
        fig.add_trace(go.Bar(x=xs, y=ys, name=strategy, marker_color=color_for(i), text=[f"{y:.0%}" for y in ys],
                             textposition="outside"))
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.15])
    return apply_layout(fig, f"Domain shift: a CNN trained on MNIST<br><sup>on other digits and on clothes (seed "
                             f"{cfg.seed}); untouched it loses {result.drop:.0%} on the 8x8 digits</sup>", height=440)
