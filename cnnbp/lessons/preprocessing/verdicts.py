"""The preprocessing lesson's verdicts: pure functions, results -> Verdict (the wording). What
they pass or fail is the result objects' own test (``Speedup.holds``,
``SensitivityComparison.raw_more_sensitive``), which the claims read too."""

from __future__ import annotations

from statistics import median

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.preprocessing.analysis import ImageAnalysis, Panel
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.sensitivity import SENSITIVITY_RATIO, SensitivityComparison
from cnnbp.lessons.preprocessing.training import EVAL_EVERY, SPEEDUP, TARGET_ACCURACY, Speedup, TrainingResult
from cnnbp.lessons.preprocessing.transforms import IMAGE_LABELS


def num(x: float, fmt: str = ".3g") -> str:
    """A measured number for a sentence: float round-off (|x| < 1e-9) is written as 0."""
    return "0" if abs(x) < 1e-9 else format(x, fmt)


def _fmt_pair(values: list[float]) -> str:
    return f"({num(values[0])}, {num(values[1])})"


def cloud_verdict(panels: list[Panel]) -> Verdict:
    s = {p.transform: p.stats() for p in panels}
    o, w = s["original"], s["whitened"]
    return Verdict(label="point cloud", text=(
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
    return Verdict(label="image statistics", text=" ".join(parts))


def describe_steps(result: TrainingResult, transform: str) -> str:
    hs = result.runs_of(transform)
    steps = [h.steps_to_loss(result.target_loss) for h in hs]
    acc = [h.steps_to_accuracy(TARGET_ACCURACY) for h in hs]
    show = lambda v: ", ".join("never" if s is None else str(s) for s in v)  # noqa: E731
    final = median(h.train_loss[-1] for h in hs)
    diverged = sum(h.diverged_at is not None for h in hs)
    return (f"{IMAGE_LABELS[transform]}: loss target at step {show(steps)}, {TARGET_ACCURACY:.0%} test accuracy at "
            f"step {show(acc)} (median final loss {final:.3g}" + (f", {diverged} diverged" if diverged else "") + ")")


def sooner(speedup: Speedup) -> str:
    return f"{'at least ' if speedup.lower_bound else ''}{speedup.ratio:.1f}x sooner"


def training_verdict(result: TrainingResult, cfg: PreprocessingConfig) -> Verdict:
    runs = max(h.run for h in result.histories) + 1
    head = (f"{cfg.model} classifier, SGD lr {cfg.lr:g} for every input, {runs} run(s), {result.total_steps} steps; "
            f"target: training-set loss <= {result.target_loss:.3g}. ")
    body = "; ".join(describe_steps(result, t) for t in result.fitted) + "."
    if {"raw", "channel_std"} <= set(result.fitted):
        speedup = result.speedup()
        tail = (f" Standardised inputs reach the target {sooner(speedup)} than raw ones "
                f"(median; 'never' counts as "
                f"{result.total_steps + EVAL_EVERY}): the claim "
                f"{'holds' if speedup.holds else 'does not hold'} (needs {SPEEDUP:g}x).")
        return Verdict(label="standardised inputs train faster", text=head + body + tail, passed=speedup.holds,
                       claim="preprocessing.standardised_trains_faster")
    return Verdict(label="training on preprocessed inputs", text=head + body)


def sensitivity_verdict(sens: SensitivityComparison) -> Verdict:
    parts = "; ".join(f"{IMAGE_LABELS[s.transform]} {sens.change(s.transform):.3g}" for s in sens.inputs)
    reference = next(s for s in sens.inputs if s.transform == sens.reference)
    head = (f"One classifier (trained on {IMAGE_LABELS[sens.reference]} inputs, training loss {reference.loss:.3g}), "
            f"written for each input; a random change of {sens.perturbation:g} x ||W|| to every weight matrix "
            f"changes the loss by (mean |dL|/L over {sens.directions} directions): {parts}.")
    if sens.raw_ratio is None:
        return Verdict(label="loss sensitivity", text=head)
    passed = sens.raw_more_sensitive
    return Verdict(label="loss more sensitive before normalisation", passed=passed,
                   claim="preprocessing.loss_sensitive_before_normalisation", text=(
                       head + f" Raw inputs: {sens.raw_ratio:.2g}x the standardised sensitivity; the claim "
                       f"{'holds' if passed else 'does not hold'} here (needs {SENSITIVITY_RATIO:g}x). A pure scale "
                       f"leaves the relative sensitivity unchanged; an offset (data far from the origin) raises it."))
