"""The dropout lesson's parts, in run order: the convention (which p), the masks, the
expectation, regularisation (one net per p trained side by side), MC dropout (averages the
nets regularisation leaves on the state)."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from cnnbp.data import ImageDataset, get_dataset
from cnnbp.device import torch_threads
from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats, on_threads
from cnnbp.lessons.dropout import figures, mechanics, verdicts
from cnnbp.lessons.dropout.config import DIGITS, KEEP_PASSES, MASK_COLS
from cnnbp.lessons.dropout.mc import mc_steps
from cnnbp.lessons.dropout.training import THREADS, GapHistory, GapNarrowing, gap_narrowing, settled, train_gap
from cnnbp.lessons.redraw import Redraw
from cnnbp.train import Beat


def _digits(state: RunState) -> ImageDataset:
    if not hasattr(state, "data"):
        state.data = get_dataset("digits", seed=state.cfg.seed)
    return state.data


def _lecture_net(state: RunState) -> mechanics.LectureNet:
    """The lecture's two-layer net at random weights, shared by the masks and the expectation."""
    if not hasattr(state, "net"):
        state.net = mechanics.lecture_net(inputs=DIGITS.channels * DIGITS.size**2, hidden=state.cfg.hidden,
                                          outputs=DIGITS.classes, seed=state.cfg.seed)
    return state.net


def convention(state: RunState) -> Iterator[Update]:
    """Which p this tab means, said before anything runs."""
    yield Update(1.0, f"p = {state.cfg.p:g} is the drop probability (torch's)",
                 verdicts=[verdicts.convention(state.cfg)])


def masks(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    ps = sorted({*cfg.ps, cfg.p})
    with torch_threads(THREADS):
        demo = mechanics.mask_demo(_lecture_net(state), _digits(state).x_test[0].flatten(), p=cfg.p,
                                   passes=cfg.mask_passes, seed=cfg.seed, cols=MASK_COLS)
    yield heartbeat(0.3)  # the demo, the keep shares, each figure: ~0.1 s each, the page hears between them
    with torch_threads(THREADS):
        keeps = mechanics.keep_fractions(ps, units=cfg.hidden, passes=KEEP_PASSES, seed=cfg.seed)
    keep_numbers = [{**vars(k), "z": k.z} for k in keeps]
    yield heartbeat(0.6)
    drawn = {"masks": figures.masks(demo, cfg)}
    yield heartbeat(0.8)
    drawn["keep_fraction"] = figures.keep_fraction(keeps)
    yield Update(1.0, f"{cfg.mask_passes} masks drawn; keep share measured for {len(ps)} values of p",
                 figures=drawn,
                 tables={"keep_fraction": pd.DataFrame(keep_numbers)},
                 numbers={"masks": vars(demo), "keep_fraction": keep_numbers}, verdicts=[verdicts.masks(demo, keeps)])


def expectation(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    x = _digits(state).x_test[: cfg.images].flatten(1)
    with torch_threads(THREADS):  # one thread: faster for these sizes, and far faster on a busy machine
        exp = mechanics.expectation(_lecture_net(state), x, p=cfg.p, passes=cfg.passes, seed=cfg.seed)
    yield heartbeat(0.8)  # the passes, then the figure
    yield Update(1.0, f"{cfg.passes} training passes averaged on {cfg.images} digits",
                 figures={"expectation": figures.expectation(exp)},
                 tables={"expectation": figures.expectation_table(exp)}, numbers={"expectation": vars(exp)},
                 verdicts=verdicts.expectation(exp))


def regularisation(state: RunState) -> Iterator[Update]:
    """One net per p at each seed, all in lockstep; the curves show the first seed. Leaves
    ``state.histories`` and ``state.trainers`` (the first seed's) for MC dropout."""
    cfg, shown = state.cfg, state.cfg.seed
    datasets = {seed: _digits(state) if seed == shown else get_dataset("digits", seed=seed) for seed in cfg.seed_list}
    reached, histories, trainers = 0.0, {}, {}
    # the curves redrawn within a tenth of the run, not redraw.SHARE's fifth: 0.86x the default run's CPU
    # seconds (median of 5 interleaved pairs, 0.81-1.09; bench/redraw_share.py dropout); they move every 2-3 s
    redraw = Redraw(share=0.1)
    for reached, histories, trainers in train_gap(
            datasets, cfg.ps, arch=cfg.arch, width=cfg.width, depth=cfg.depth, train_images=cfg.train_images,
            epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, control=state.control, beats=True):
        if isinstance(reached, Beat):
            yield heartbeat(reached)
        elif reached < 1.0:
            shown_now = histories[shown]
            yield Update(reached, f"training {len(cfg.ps)} nets at {cfg.seeds} seeds on {cfg.train_images} digits: "
                                  f"{reached:.0%}",
                         figures=redraw({"gap_curves": lambda hs=shown_now: figures.gap_curves(hs, cfg)}),
                         numbers={"regularisation": {h.name: h.numbers() for h in shown_now}})
    state.histories, state.trainers = histories[shown], trainers[shown]
    state.narrowing = narrowing = gap_narrowing(histories)
    yield Update(reached, f"{len(cfg.ps)} nets at {cfg.seeds} seeds trained ({reached:.0%} of the steps)",
                 figures={"gap_curves": figures.gap_curves(histories[shown], cfg),
                          "gap_bars": figures.gap_bars(histories)},
                 tables={"gap": figures.gap_table(histories[shown], narrowing)},
                 numbers={"regularisation": {h.name: h.numbers() for h in histories[shown]},
                          "gap_over_seeds": gap_over_seeds(histories, narrowing)},
                 verdicts=[verdicts.gap(histories, narrowing, cfg)])


def gap_over_seeds(histories: dict[int, list[GapHistory]], narrowing: list[GapNarrowing]) -> dict:
    """Every seed's settled train accuracy, test accuracy and gap per p, and each p's narrowing
    with its decision."""
    by_p: dict[str, dict[str, list[float]]] = {}
    for hs in histories.values():
        for h in hs:
            row = by_p.setdefault(h.name, {"train_accuracy": [], "test_accuracy": [], "gap": []})
            for key in row:
                row[key].append(settled(getattr(h, key)))
    return {"seeds": list(histories), "settled": by_p,
            "narrowing": {f"p = {n.p:g}": {**vars(n), "narrows": n.narrows} for n in narrowing}}


def mc(state: RunState) -> Iterator[Update]:
    cfg, results = state.cfg, {}
    nets = [(h, t) for h, t in zip(state.histories, state.trainers) if h.p > 0 and not t.diverged]
    for i, (h, t) in enumerate(nets):  # a net's passes take 0.2-0.3 s: a heartbeat at every averaged k
        passes = mc_steps(t.model, *t.test_split, passes=cfg.mc_passes, seed=cfg.seed)
        results[h.name] = yield from heartbeats(on_threads(passes, THREADS), i / (len(nets) + 1),
                                                (i + 1) / (len(nets) + 1))
    yield Update(1.0, f"MC dropout: {cfg.mc_passes} stochastic passes averaged for {len(results)} nets",
                 figures={"mc": figures.mc(results)},
                 tables={"gap": figures.gap_table(state.histories, state.narrowing, results)},
                 numbers={"mc": {name: vars(r) for name, r in results.items()}}, verdicts=[verdicts.mc(results, cfg)])


PARTS = (
    Part("convention", 0.0, convention, when=lambda cfg: True),  # before any work, whatever the parts
    Part("masks", 0.05, masks),
    Part("expectation", 0.1, expectation),
    Part("regularisation", 0.75, regularisation),
    Part("mc", 0.1, mc),
)
