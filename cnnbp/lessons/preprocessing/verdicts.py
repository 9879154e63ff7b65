"""The preprocessing lesson's verdicts: pure functions, results -> Verdict (the wording). What
they pass or fail is the result objects' own test (``Speedup.holds``,
``SensitivityComparison.raw_more_sensitive``), which the claims read too."""

from __future__ import annotations

import math
from statistics import median

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.preprocessing.analysis import ImageAnalysis, Panel
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.sensitivity import SENSITIVITY_RATIO, SensitivityComparison
from cnnbp.lessons.preprocessing.training import EVAL_EVERY, MIN_RUNS, SPEEDUP, TARGET_ACCURACY, Speedup, TrainingResult
from cnnbp.lessons.preprocessing.transforms import IMAGE_LABELS


def num(x: float, fmt: str = ".3g") -> str:
    """A measured number for a sentence: float round-off (|x| < 1e-9) is written as 0."""
    return "0" if abs(x) < 1e-9 else format(x, fmt)


def _fmt_pair(values: list[float]) -> str:
    return f"({num(values[0])}, {num(values[1])})"


def cloud_verdict(panels: list[Panel]) -> Verdict:
    s = {p.transform: p.stats() for p in panels}
    o, w = s["original"], s["whitened"]
    d = s["decorrelated"]
    return Verdict(label="point cloud", headline=(
        f"correlation {o['correlation']:.2f}; decorrelated {num(d['correlation'], '.2f')}; whitened variances "
        f"{w['cov'][0][0]:.2f}, {w['cov'][1][1]:.2f}"), text=(
        f"Point cloud: mean {_fmt_pair(o['mean'])}, std {_fmt_pair(o['std'])}, correlation {o['correlation']:.3f}. "
        f"Centred: mean {_fmt_pair(s['centered']['mean'])}. Standardised: std {_fmt_pair(s['standardized']['std'])}, "
        f"correlation still {s['standardized']['correlation']:.3f}. Decorrelated (PCA): correlation "
        f"{num(s['decorrelated']['correlation'])}, variances {_fmt_pair([v * v for v in s['decorrelated']['std']])}. "
        f"Whitened: covariance [[{w['cov'][0][0]:.3f}, {num(w['cov'][0][1])}], "
        f"[{num(w['cov'][1][0])}, {w['cov'][1][1]:.3f}]]."))


def image_verdict(a: ImageAnalysis, n_train: int) -> Verdict:
    fmt = lambda v: ", ".join(num(x, ".4g") for x in v)  # noqa: E731
    parts = [f"Statistics fitted on the {n_train} training images of {a.dataset}: per-channel mean "
             f"{fmt(a.channel_mean)}, std {fmt(a.channel_std)}."]
    for t, splits in a.after.items():
        tr, te = splits["train"], splits["test"]
        parts.append(f"{IMAGE_LABELS[t]}: train mean {fmt(tr['mean'])} / std {fmt(tr['std'])}; "
                     f"test mean {fmt(te['mean'])} / std {fmt(te['std'])}.")
    w = a.test_covariance_diag["whitened"]
    parts.append(f"Whitening fitted on train leaves the test pixel-vector variances between {min(w):.3g} and "
                 f"{max(w):.3g} (1 on train).")
    short = lambda v: ", ".join(num(x) for x in v)  # noqa: E731
    return Verdict(label="image statistics", text=" ".join(parts),
                   headline=f"channel mean {short(a.channel_mean)}; std {short(a.channel_std)} ({n_train} images)")


def describe_steps(result: TrainingResult, transform: str) -> str:
    hs = result.runs_of(transform)
    steps = [h.steps_to_loss(result.target_loss) for h in hs]
    acc = [h.steps_to_accuracy(TARGET_ACCURACY) for h in hs]
    show = lambda v: ", ".join("never" if s is None else str(s) for s in v)  # noqa: E731
    final = median(h.train_loss[-1] for h in hs)
    diverged = sum(h.diverged_at is not None for h in hs)
    return (f"{IMAGE_LABELS[transform]}: loss target at step {show(steps)}, {TARGET_ACCURACY:.0%} test accuracy at "
            f"step {show(acc)} (median final loss {final:.3g}" + (f", {diverged} diverged" if diverged else "") + ")")


def steps_headline(result: TrainingResult) -> str:
    """Each input's steps to the loss target, run by run: "steps to loss 0.46: raw never/never, ..."."""
    shown = [t for t in ("raw", "channel_std") if t in result.fitted] or list(result.fitted)[:3]
    names = {"channel_std": "standardised"}
    steps = lambda t: "/".join("never" if s is None else str(s)  # noqa: E731
                               for s in (h.steps_to_loss(result.target_loss) for h in result.runs_of(t)))
    return f"steps to loss {result.target_loss:.2g}: " + ", ".join(f"{names.get(t, t)} {steps(t)}" for t in shown)


def _times(x: float) -> str:
    return "unboundedly" if math.isinf(x) else f"{x:.1f}x"


def speedup_text(sp: Speedup, total_steps: int) -> str:
    """How much sooner standardised inputs reach the target, and whether that decides the claim."""
    if sp.runs < MIN_RUNS:
        return (f"{sp.runs} run(s) per input: too few to tell (the comparison is decided over at least {MIN_RUNS} "
                f"runs, the default).")
    if sp.neither_reached:
        return (f"Neither input reaches the target in {total_steps} steps (medians over {sp.runs} runs): too short "
                f"to tell; more epochs can.")
    if sp.holds:
        return (f"Standardised inputs reach the target at least {_times(sp.at_least)} sooner than raw ones (medians "
                f"over {sp.runs} runs, read against the claim: raw's earliest possible step over standardised's "
                f"latest): the claim holds (needs {SPEEDUP:g}x).")
    if sp.holds is False:
        return (f"Standardised inputs reach the target at most {_times(sp.at_most)} sooner than raw ones (medians over "
                f"{sp.runs} runs, read for the claim): the claim does not hold (needs {SPEEDUP:g}x).")
    return (f"Standardised inputs reach the target between {_times(sp.at_least)} and {_times(sp.at_most)} sooner "
            f"than raw ones (medians over {sp.runs} runs; evaluations every {EVAL_EVERY} steps): too close to call "
            f"against the claim's {SPEEDUP:g}x; more epochs can tell.")


def training_verdict(result: TrainingResult, cfg: PreprocessingConfig) -> Verdict:
    runs = max(h.run for h in result.histories) + 1
    head = (f"{cfg.model} classifier, SGD lr {cfg.lr:g} for every input, {runs} run(s), {result.total_steps} steps; "
            f"target: training-set loss <= {result.target_loss:.3g}. ")
    body = "; ".join(describe_steps(result, t) for t in result.fitted) + ". "
    if {"raw", "channel_std"} <= set(result.fitted):
        speedup = result.speedup()
        return Verdict(label="standardised inputs train faster", text=head + body + speedup_text(speedup,
                       result.total_steps), passed=speedup.holds, claim="preprocessing.standardised_trains_faster",
                       headline=steps_headline(result))
    return Verdict(label="training on preprocessed inputs", text=head + body.rstrip(), headline=steps_headline(result))


def sensitivity_text(sens: SensitivityComparison) -> str:
    """The raw/standardised ratio with its interval, and whether that decides the claim."""
    lo, hi = sens.raw_ratio_interval
    measured = (f"Raw inputs: {sens.raw_ratio:.2g}x the standardised sensitivity (+-2 standard errors over "
                f"{sens.runs} run(s) x {sens.directions} directions: {lo:.2g}-{hi:.2g}x); ")
    if sens.runs < MIN_RUNS:
        verdict = (f"{sens.runs} run(s): too few to tell (the claim is decided over at least {MIN_RUNS} runs' "
                   f"classifiers, the default).")
    elif sens.raw_more_sensitive is None:
        verdict = f"too close to call against the claim's {SENSITIVITY_RATIO:g}x; more directions can tell."
    else:
        verdict = (f"the claim {'holds' if sens.raw_more_sensitive else 'does not hold'} here "
                   f"(needs {SENSITIVITY_RATIO:g}x).")
    return measured + verdict


def sensitivity_verdict(sens: SensitivityComparison) -> Verdict:
    parts = "; ".join(f"{IMAGE_LABELS[t]} {sens.change(t):.3g}" for t in sens.at_perturbation)
    reference = next(s for s in sens.inputs if s.transform == sens.reference)
    head = (f"The classifier trained on {IMAGE_LABELS[sens.reference]} inputs (first run's training loss "
            f"{reference.loss:.3g}), written for each input; a random change of {sens.perturbation:g} x ||W|| to "
            f"every weight matrix changes the loss by (mean |dL|/L over {sens.runs} run(s) x {sens.directions} "
            f"directions): {parts}.")
    if sens.raw_ratio is None:
        return Verdict(label="loss sensitivity", text=head, headline=(
            f"loss change at {sens.perturbation:g} x ||W||: "
            + ", ".join(f"{t} {sens.change(t):.2g}" for t in sens.at_perturbation)))
    return Verdict(label="loss more sensitive before normalisation", passed=sens.raw_more_sensitive,
                   headline=f"raw inputs {sens.raw_ratio:.2g}x as sensitive as standardised",
                   claim="preprocessing.loss_sensitive_before_normalisation", text=(
                       head + " " + sensitivity_text(sens) + " A pure scale leaves the relative sensitivity "
                       "unchanged; an offset (data far from the origin) raises it."))
