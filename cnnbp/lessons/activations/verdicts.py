"""The activations lesson's verdicts: pure functions, measured results -> Verdicts in words.

Each reads its predicate from the result object (``PointTable.killed_at_10``, ``SameSign.holds``,
``DeepProfile.normalised``, ``Race.relu_faster_than_sigmoid``, ``Race.high_lr_kills_relus``),
the same one the lesson's claims read.
"""

from __future__ import annotations

import math

from cnnbp.data import dataset_label
from cnnbp.lessons.activations.config import ActivationsConfig
from cnnbp.lessons.activations.functions import QUESTION_POINTS, SATURATED_AT_10, Curve, PointTable, maxout_formula
from cnnbp.lessons.activations.outcome import (
    DEAD_MARGIN,
    FAIL_SPEEDUP,
    LECTURE_SPEEDUP,
    MIN_SEEDS,
    PASS_SPEEDUP,
    Race,
    Speedup,
)
from cnnbp.lessons.activations.race import DEAD_GRAD_RATIO, PROBE_IMAGES
from cnnbp.lessons.activations.selu import MEAN_TOLERANCE, STD_BAND, DeepProfile
from cnnbp.lessons.activations.zero_centred import CLOSE_ENOUGH, MINIBATCH, W_STAR, SameSign, ZigzagPath
from cnnbp.lessons.base import Verdict

# ---- the functions ------------------------------------------------------------------------

def _killed_words(name: str, ratio: float) -> str:
    killed = f" (below {SATURATED_AT_10:g}: killed)" if ratio < SATURATED_AT_10 else ""
    return f"{name}'s gradient at |x| = 10 is {ratio:.2g} of its peak{killed}."


def function_verdicts(curves: list[Curve], rows: PointTable, cfg: ActivationsConfig) -> list[Verdict]:
    names = [c.name for c in curves]
    out = []
    questions = [n for n in ("sigmoid", "tanh", "relu") if n in names]
    if questions:
        parts = []
        for n in questions:
            at = {x: rows.row(n, x) for x in QUESTION_POINTS}
            parts.append(f"{n}: " + ", ".join(f"f({x:g}) = {r['value']:.3g}, f'({x:g}) = {r['grad']:.3g}"
                                              for x, r in at.items()))
        checks = [rows.killed_at_10(n) for n in ("sigmoid", "tanh") if n in questions]
        if "relu" in questions:
            checks.append(rows.row("relu", -10.0)["grad"] == 0.0)
        dead = [f"{n} f'(10) = {rows.row(n, 10.0)['grad_over_peak']:.1g} x peak" for n in ("sigmoid", "tanh")
                if n in questions]
        if "relu" in questions:
            dead.append(f"ReLU f'(-10) = {rows.row('relu', -10.0)['grad']:g}")
        out.append(Verdict(
            label="x = -10, 0, 10",
            passed=all(checks),
            headline="; ".join(dead),
            text=("The lecture's questions. " + "; ".join(parts) + ". "
                  + " ".join(_killed_words(n, rows.row(n, 10.0)["grad_over_peak"])
                             for n in ("sigmoid", "tanh") if n in questions)
                  + (" ReLU passes no gradient at all for x < 0; at x = 0 it is not differentiable and "
                     "PyTorch takes f'(0) = 0." if "relu" in questions else "")),
            claim="activations.saturation_kills_gradients",
        ))
    zero = " (f' exactly 0 there)"
    sat = ", ".join(f"{c.name} {c.frac_saturated:.0%}{zero if c.zero_grad else ''}" for c in curves)
    out.append(Verdict(
        label="saturation",
        headline="saturated share: " + ", ".join(f"{c.name} {c.frac_saturated:.0%}" for c in curves),
        text=(f"Share of [-{cfg.x_range:g}, {cfg.x_range:g}] where |f'(x)| < {cfg.saturation:g} x its peak: "
              f"{sat}."
              + (f" Maxout is drawn with fixed illustrative pieces, {maxout_formula()}: in a network they are "
                 "learned; it is linear piecewise, so it never saturates." if "maxout" in names else "")),
    ))
    return out


# ---- not zero-centred ---------------------------------------------------------------------

def zero_centred_verdicts(signs: SameSign, paths: list[ZigzagPath], cfg: ActivationsConfig) -> list[Verdict]:
    per_sample = ", ".join(f"{s.label} {s.per_sample:.1%}" for s in signs)
    per_batch = ", ".join(f"{s.kind} {s.per_minibatch:.1%}" for s in signs)
    sigmoid = signs.kind("sigmoid")
    out = [Verdict(
        label="same-sign gradients",
        passed=signs.holds,
        headline=(f"one-signed gradients: {sigmoid.per_sample:.0%} with all-positive inputs, "
                  f"{signs.kind('centred').per_sample:.0%} zero-mean"),
        text=(f"A sigmoid neuron with {cfg.fan_in} inputs, {cfg.samples} samples: share of per-sample gradients "
              f"on w with one sign in every component: {per_sample}. Averaged over minibatches of {MINIBATCH} "
              f"({sigmoid.minibatches} of them): {per_batch} (minibatches help, but all-positive inputs "
              f"still leave {sigmoid.per_minibatch:.0%} of the sigmoid-fed ones one-signed)."),
        claim="activations.same_sign_gradients",
    )]
    pos, zero = paths
    reach = lambda p: f"reached 10% of the start distance at step {p.steps_to_reach}" if p.steps_to_reach \
        else f"never within {CLOSE_ENOUGH:.0%} of the start distance"  # noqa: E731
    steps = lambda p: f"step {p.steps_to_reach}" if p.steps_to_reach else "never"  # noqa: E731
    out.append(Verdict(
        label="zig-zag",
        headline=(f"within {CLOSE_ENOUGH:.0%}: {steps(pos)} with all-positive inputs, {steps(zero)} with "
                  "zero-mean"),
        text=(f"SGD on a linear neuron towards w* = {W_STAR}, lr {cfg.zigzag_lr:g}, {cfg.zigzag_steps} steps. "
              f"{pos.label}: {pos.same_sign_updates:.0%} of the updates moved both weights the same way; "
              f"{reach(pos)}; final distance {pos.final_distance:.3g}, path length {pos.path_length:.3g}. "
              f"{zero.label}: {zero.same_sign_updates:.0%} same-sign updates; {reach(zero)}; final distance "
              f"{zero.final_distance:.3g}, path length {zero.path_length:.3g}."),
    ))
    return out


# ---- SELU ----------------------------------------------------------------------------------

def _span(values: list[float]) -> str:
    return f"{min(values):.2f}..{max(values):.2f}"


def selu_verdicts(profiles: list[DeepProfile], cfg: ActivationsConfig) -> list[Verdict]:
    parts = []
    for p in profiles:
        parts.append(f"{p.name}: mean {_span(p.mean)}, std {_span(p.std)} (layer 1: {p.std[0]:.2f}, layer "
                     f"{len(p.std)}: {p.std[-1]:.2f}) - {'normalised' if p.normalised() else 'not normalised'}")
    selu = next((p for p in profiles if p.activation == "selu"), None)
    shown = [selu] + [p for p in profiles if p is not selu][:1] if selu else profiles[:2]
    return [Verdict(
        label="SELU self-normalises",
        passed=selu.normalised() if selu else None,
        headline=f"std over {cfg.mlp_depth} layers: " + "; ".join(f"{p.name} {_span(p.std)}" for p in shown),
        text=(f"Deep plain MLP, {cfg.mlp_depth} layers of {cfg.mlp_width}, no BatchNorm, unit-Gaussian inputs; "
              f"'normalised' = every layer's |mean| <= {MEAN_TOLERANCE:g} and std in [{STD_BAND[0]:g}, "
              f"{STD_BAND[1]:g}]. " + "; ".join(parts) + "."),
        claim="activations.selu_self_normalises",
    )]


# ---- the CNNs: race and dead units ------------------------------------------------------

def _ratio_words(entry: dict) -> str:
    if entry["ratio_to_relu"] is None:
        return "no ratio"
    if entry["ratio_is_lower_bound"]:
        return f"more than {entry['ratio_to_relu']:.2g}x ReLU's steps"
    return f"{entry['ratio_to_relu']:.2g}x ReLU's steps"


def _seeds(seeds: list[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"


def _speedup_words(s: Speedup) -> str:
    if s.low is not None and s.low == s.high:
        return f"{s.low:.2g}x"
    if s.low is not None:
        return f"at least {s.low:.2g}x (sigmoid had not reached it)"
    if s.high is not None:
        return f"at most {s.high:.2g}x (ReLU had not reached it)"
    return "no ratio (neither reached it, a net diverged, or the target was met before training)"


def _speedup_short(s: Speedup) -> str:
    if s.low is not None and s.low == s.high:
        return f"{s.low:.2g}x"
    if s.low is not None:
        return f">={s.low:.2g}x"
    if s.high is not None:
        return f"<={s.high:.2g}x"
    return "no ratio"


def race_headline(race: Race) -> str:
    """ReLU's speedup over sigmoid at every seed ("ReLU 2.1x/3.4x/2.9x faster than sigmoid"), or over
    the first other racer with a ratio at the run's seed; where no ratio exists, each net's accuracy."""
    speedups = race.speedups()
    if any((s.low, s.high) != (None, None) for s in speedups):
        if len(speedups) == 1:  # in words: "at least 1.2x"
            return f"ReLU {_speedup_words(speedups[0]).split(' (')[0]} faster than sigmoid (1 seed)"
        return "ReLU " + "/".join(_speedup_short(s) for s in speedups) + f" faster than sigmoid ({len(speedups)} seeds)"
    ratios = race.ratio_to_relu()
    for h in race.race:
        ratio, bound = ratios[h.name]["ratio_to_relu"], ratios[h.name]["ratio_is_lower_bound"]
        if h.activation != "relu" and ratio is not None:
            return (f"ReLU {'at least ' * bound}{ratio:.2g}x faster than {h.activation}" if ratio >= 1
                    else f"{h.activation} {1 / ratio:.2g}x faster than ReLU")
    return "no ratio; final accuracy: " + ", ".join(f"{h.activation} {h.test_accuracy[-1]:.0%}" for h in race.race)


def _too_few_seeds(n: int) -> str:
    return (f"{'One seed decides' if n == 1 else f'{n} seeds decide'} nothing: cannot tell (the verdict is "
            f"decided over {MIN_SEEDS} seeds; set seeds to {MIN_SEEDS} or more).")


def speedup_decision(race: Race, total_steps: int, epochs: int) -> str:
    """The race verdict's last sentence: the speedup at every seed, the lines and the decision."""
    speedups = race.speedups()
    text = (f" ReLU against sigmoid over {_seeds([s.seed for s in speedups])}: "
            + ", ".join(_speedup_words(s) for s in speedups)
            + f". Lines, fixed before any run: 'much faster' holds from {PASS_SPEEDUP:g}x (half the lecture's "
            f"{LECTURE_SPEEDUP:g}x) at every seed and fails below {FAIL_SPEEDUP:g}x at every seed. ")
    if len(speedups) < MIN_SEEDS:
        return text + _too_few_seeds(len(speedups))
    passed = race.relu_faster_than_sigmoid()
    if passed is True:
        return text + f"ReLU was at least {PASS_SPEEDUP:g}x faster at every seed: it holds."
    if passed is False:
        return text + f"Below {FAIL_SPEEDUP:g}x at every seed: it does not hold on this net."
    short = [s for s in speedups if s.side == "between" and s.high is None and s.low is not None]
    if short and len(short) == len([s for s in speedups if s.side != "holds"]):
        need = math.ceil(PASS_SPEEDUP * max(s.relu_steps for s in short))
        per_epoch = total_steps // epochs
        return text + (f"Cannot tell: sigmoid had not reached the target when the run ended, so it shows only a "
                       f"lower bound short of {PASS_SPEEDUP:g}x; telling needs {need} steps "
                       f"({math.ceil(need / per_epoch)} epochs).")
    return text + "The seeds do not agree on a side of the lines: too close to call."


def race_verdict(race: Race, cfg: ActivationsConfig) -> Verdict:
    ratios = race.ratio_to_relu()
    parts = []
    for h in race.race:
        s = h.steps_to(race.target)
        where = f"{s} steps" if s is not None else (f"diverged at step {h.diverged_at}" if h.diverged_at
                                                    else f"not reached in {h.steps[-1] if h.steps else 0} steps")
        ratio = "" if h.activation == "relu" else f"{_ratio_words(ratios[h.name])}; "
        parts.append(f"{h.activation} {where} ({ratio}final {h.test_accuracy[-1]:.1%})")
    text = (f"Steps to {race.target:.0%} test accuracy on {dataset_label(cfg.dataset)} at seed {race.seed} "
            "(same CNN, data and "
            f"order; lr {race.lr:g}, evaluated every {cfg.eval_every()} steps): " + "; ".join(parts) + ".")
    relu = next((h for h in race.race if h.activation == "relu"), None)
    slow = [h for h in race.race if h.activation in ("sigmoid", "tanh")]
    if relu is not None and slow:
        speed = []
        for h in slow:
            e = ratios[h.name]
            if e["ratio_to_relu"] is None:
                why = (f"{h.activation} diverged or was stopped first" if relu.steps_to(race.target) is not None
                       else "ReLU never reached the target")
                speed.append(f"no ratio for {h.activation} ({why})")
            elif e["ratio_to_relu"] >= 1:
                speed.append(f"ReLU {'at least ' if e['ratio_is_lower_bound'] else ''}"
                             f"{e['ratio_to_relu']:.2g}x faster than {h.activation}")
            else:
                speed.append(f"{h.activation} {1 / e['ratio_to_relu']:.2g}x faster than ReLU")
        text += (f" The lecture says ReLU converges about {LECTURE_SPEEDUP:g}x faster than sigmoid/tanh; "
                 f"at seed {race.seed}: " + ", ".join(speed) + ".")
    if race.speedups():
        text += speedup_decision(race, cfg.total_steps(), cfg.epochs)
    return Verdict(label="ReLU converges faster", passed=race.relu_faster_than_sigmoid(), text=text,
                   claim="activations.relu_faster_than_sigmoid", headline=race_headline(race))


def _share(value: float | None) -> str:
    return "no probe" if value is None else f"{value:.0%}"


def dead_decision(race: Race) -> str:
    """The dead-unit verdict's last sentences: the gap at every seed, the line and the decision."""
    gaps = race.dead_gaps()
    text = (f"ReLU's mean dead share after the last step at lr {race.lr:g} vs {race.dead_lr:g}, "
            f"{_seeds([g.seed for g in gaps])}: "
            + ", ".join(f"{_share(g.low)} vs {_share(g.high)}"
                        + (f" ({g.difference * 100:+.0f} points)" if g.difference is not None else "") for g in gaps)
            + f". Line, fixed before any run: it holds when the larger rate leaves at least {DEAD_MARGIN * 100:.0f} "
            "more points of the units dead at every seed, fails when it leaves none more at every seed. ")
    if len(gaps) < MIN_SEEDS:
        return text + _too_few_seeds(len(gaps))
    passed = race.high_lr_kills_relus()
    if passed is True:
        return text + "The larger rate killed many more units at every seed: it holds."
    if passed is False:
        return text + "The larger rate killed no more units at any seed: it does not hold on this net."
    return text + "The seeds do not agree on a side of the line: too close to call."


def dead_verdict(race: Race, cfg: ActivationsConfig) -> Verdict:
    parts = []
    for a in dict.fromkeys(h.activation for h in race.dead):
        for h in (x for x in race.dead if x.activation == a):
            layers = ", ".join(f"{d:.0%}" for d in h.dead[-1])
            peak = max(max(d) for d in h.dead)
            extra = f", diverged at step {h.diverged_at}" if h.diverged_at else ""
            parts.append(f"{a} at lr {h.lr:g}: {layers} per layer at the end (at most {peak:.0%} during "
                         f"training{extra})")
    text = (f"Dead units (local gradient below {DEAD_GRAD_RATIO:g} of the peak on all {PROBE_IMAGES} probe images "
            f"and positions) at seed {race.seed}: " + "; ".join(parts) + ".")
    if race.dead_gaps():
        text += " " + dead_decision(race)
    return Verdict(label="dead units", passed=race.high_lr_kills_relus(), text=text,
                   claim="activations.high_lr_kills_relus", headline=dead_headline(race))


def dead_headline(race: Race) -> str:
    """ReLU's dead share at the two rates (one seed), or the gap at every seed."""
    gaps = race.dead_gaps()
    if len(gaps) > 1:
        return (f"dead ReLUs at lr {race.dead_lr:g} vs {race.lr:g}: "
                + "/".join("?" if g.difference is None else f"{g.difference * 100:+.0f}" for g in gaps) + " points")
    if gaps:
        return f"dead ReLUs: {_share(gaps[0].low)} at lr {race.lr:g}, {_share(gaps[0].high)} at lr {race.dead_lr:g}"
    return "dead: " + ", ".join(f"{h.activation} {_share(h.final_dead)} at lr {h.lr:g}" for h in race.dead[:2])


def training_verdicts(race: Race, cfg: ActivationsConfig) -> list[Verdict]:
    return ([race_verdict(race, cfg)] if race.race else []) + ([dead_verdict(race, cfg)] if race.dead else [])
