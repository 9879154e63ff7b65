"""The dropout lesson's verdicts: measured results -> Verdicts (the wording; each predicate lives
on its result object, where the claims read it too)."""

from __future__ import annotations

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.dropout.config import MASK_COLS, DropoutConfig
from cnnbp.lessons.dropout.mc import MCResult
from cnnbp.lessons.dropout.mechanics import (
    KEEP_Z_MAX,
    MEAN_RATIO_MAX,
    MIN_EFFECTIVE_ENTRIES,
    SAME_NET_TOL,
    Expectation,
    KeepFraction,
    MaskDemo,
)
from cnnbp.lessons.dropout.training import GAP_MARGIN, MIN_SEEDS, GapHistory, GapNarrowing, settled


def convention(cfg: DropoutConfig) -> Verdict:
    q = 1 - cfg.p
    return Verdict(
        label="which p",
        headline=f"p = {cfg.p:g} is the drop probability: units kept with 1 - p = {q:g}",
        text=(f"This tab's p is the drop probability (torch.nn.Dropout's): each unit is kept with probability "
              f"1 - p = {q:g}. The lecture says 'higher probability means stronger regularization' (p drops) but "
              f"'at test time scale all activations by the probability of dropout', f = W2 * p * max(0, W1 x + b1) "
              f"+ b2, which is right only if p is the keep probability; with the drop probability the factor is "
              f"1 - p = {q:g}. The two readings agree only at p = 0.5. Inverted dropout (torch) scales by "
              f"1/(1 - p) in training instead and does nothing at test time."),
    )


def masks(demo: MaskDemo, keeps: list[KeepFraction]) -> Verdict:
    worst = max(keeps, key=lambda k: abs(k.z))
    distinct = len({str(m) for m in demo.masks})
    parts = ", ".join(f"p = {k.p:g}: {k.kept:.4f} (1 - p = {k.expected:g})" for k in keeps)
    return Verdict(
        label="masks",
        passed=all(k.as_expected for k in keeps) and demo.eval_untouched,
        headline=("kept: " + ", ".join(f"{k.kept:.3f} at p = {k.p:g}" for k in keeps)
                  + f" ({abs(worst.z):.1f} standard errors at most)"),
        text=(f"A new mask every training pass: {distinct} distinct masks in {len(demo.masks)} passes "
              f"(kept {', '.join(f'{k:.0%}' for k in demo.keep_fraction)} of {len(demo.eval_hidden) * MASK_COLS} "
              f"units); in eval mode the layer "
              + ("returned its input unchanged" if demo.eval_is_identity else "changed its input")
              + (" and drew no random number" if demo.eval_draws == 0 else " and drew from the mask stream")
              + f". Share kept over {keeps[0].draws:,} draws: {parts}; the largest "
              f"deviation is {abs(worst.z):.1f} binomial standard errors (line: {KEEP_Z_MAX:g})."),
    )


def expectation(exp: Expectation) -> list[Verdict]:
    ratios = exp.ratios
    mean_text = (f"Inverted dropout keeps the expected activation: over {exp.ks[-1]} training passes on "
                 f"{exp.images} digits (p = {exp.p:g}), the mean of the dropped hidden units is "
                 f"{exp.final['inverted hidden']:.2%} (relative L2) from the eval activations, "
                 f"{ratios['inverted hidden']:.2f}x the {exp.predicted['inverted hidden'][-1]:.2%} the masks' sampling "
                 f"alone gives; the mean output f is {exp.final['inverted']:.2%} from the eval output "
                 f"({ratios['inverted']:.2f}x its sampling error; line: {MEAN_RATIO_MAX:g}x). Without any scaling "
                 f"the mean is off by {exp.final['lecture, no test scaling']:.1%}.")
    conv_text = (f"The lecture's convention (no scaling in training, activations times the keep probability "
                 f"{1 - exp.p:g} at test time) is the same net with W2 scaled by 1/(1 - p): eval outputs differ by "
                 f"at most {exp.max_abs_diff['eval outputs']:.2g}, the means of the same training passes by "
                 f"{exp.max_abs_diff['expected outputs']:.2g} (line: {SAME_NET_TOL:g}); its mean is "
                 f"{exp.final['lecture']:.2%} from its eval output. Scaling by the drop p instead leaves it "
                 f"{exp.final['lecture, scaled by drop p']:.1%} off"
                 + (" (p = 0.5: the two readings coincide)." if exp.p == 0.5 else "."))
    if exp.keeps_mean is None:
        fewest = min(n for n in exp.effective_entries.values() if n is not None)
        mean_text += (f" Too few entries to tell: the errors behave like {fewest:.0f} independent entries, and the "
                      f"ratio is told from {MIN_EFFECTIVE_ENTRIES} or more (more images or hidden units).")
    return [Verdict("inverted dropout keeps the mean", mean_text, passed=exp.keeps_mean,
                    claim="dropout.inverted_keeps_mean",
                    headline=(f"mean output {exp.final['inverted']:.1%} from eval: {ratios['inverted']:.2f}x the "
                              "masks' sampling error")),
            Verdict("test-time scaling is the same net", conv_text, passed=exp.same_net,
                    claim="dropout.test_time_scaling_same_net",
                    headline=(f"outputs differ by {exp.max_abs_diff['eval outputs']:.1g}; scaled by the drop p: "
                              f"{exp.final['lecture, scaled by drop p']:.0%} off"))]


def _decision(narrows: bool | None) -> str:
    return {True: "narrower on every seed", False: "narrower on no seed", None: "cannot tell"}[narrows]


def _majority(decided: list[bool | None]) -> bool | None:
    """The outcome most of the drop probabilities share, if more than half share one."""
    return next((outcome for outcome in (True, False) if 2 * decided.count(outcome) > len(decided)), None)


def gap(histories: dict[int, list[GapHistory]], narrowing: list[GapNarrowing], cfg: DropoutConfig) -> Verdict:
    label, claim = "dropout narrows the gap", "dropout.narrows_gap"
    shown = histories[cfg.seed]
    text = (f"Seed {cfg.seed}, {cfg.train_images} training digits ({cfg.arch}, {cfg.depth} x {cfg.width}, "
            f"{cfg.epochs} epochs; mean of the last quarter of the evaluations): "
            + "; ".join(f"p = {h.p:g}: train {settled(h.train_accuracy):.1%}, test {settled(h.test_accuracy):.1%}, "
                        f"gap {h.settled_gap:.1%}" for h in shown) + ".")
    gaps = [f"{h.settled_gap * 100:.1f}" + " points" * (i == 0) + f" at p = {h.p:g}" for i, h in enumerate(shown)]
    headline = "train-test gap: " + ", ".join(gaps) + (f" (seed {cfg.seed})" if len(histories) > 1 else "")
    diverged = [(seed, h) for seed, hs in histories.items() for h in hs if h.diverged_at is not None]
    if diverged:  # a net whose loss blew up says nothing about regularisation: left out
        text += (" Diverged (loss not finite), left out of the comparison: "
                 + ", ".join(f"{h.name} at step {h.diverged_at} (seed {seed})" for seed, h in diverged)
                 + "; lower the learning rate.")
    if not narrowing:
        return Verdict(label, text + " Include p = 0 to compare against no dropout.", None, claim, headline)
    seeds = list(histories)
    text += (f" Gap without dropout minus gap with it, seed{'s' if len(seeds) > 1 else ''} "
             f"{'/'.join(map(str, seeds))}: "
             + "; ".join(f"p = {n.p:g}: {'/'.join(f'{d * 100:+.1f}' for d in n.narrowing) or 'no seed'} points, "
                         f"{_decision(n.narrows)}" for n in narrowing)
             + f". Lines fixed before any run: narrower by {GAP_MARGIN * 100:g} point or more on every seed holds, "
               f"narrower on no seed does not; seeds that disagree cannot tell.")
    if len(seeds) < MIN_SEEDS:
        return Verdict(label, text + f" {len(seeds)} seed{'s' if len(seeds) > 1 else ''}: too few to tell, the "
                                     f"comparison needs {MIN_SEEDS} (set seeds).", None, claim, headline)
    passed = _majority([n.narrows for n in narrowing])
    text += {True: " Dropout narrows the gap for most of the drop probabilities tried.",
             False: " Dropout does not narrow the gap for most of the drop probabilities tried.",
             None: " Within the spread of the seeds: too close to call."}[passed]
    if all(settled(h.train_accuracy) >= 0.99 for h in shown):
        text += " Train accuracy is 99% or more throughout: only test accuracy moves."
    return Verdict(label, text, passed, claim, headline)


def mc(results: dict[str, MCResult], cfg: DropoutConfig) -> Verdict:
    label = "MC dropout approaches the eval pass"
    if not results:  # every net with dropout diverged (MC dropout skips those)
        return Verdict(label, passed=None, text="No net with dropout trained without diverging: nothing to average.",
                       headline="every net with dropout diverged: nothing to average")
    parts = [f"{name}: distance {r.distance[0]:.3f} at k = 1 -> {r.distance[-1]:.3f} at k = {r.ks[-1]}; "
             f"accuracy one pass {r.single_pass_accuracy:.1%}, MC average {r.accuracy[-1]:.1%}, eval "
             f"{r.eval_accuracy:.1%}" for name, r in results.items()]
    # one pass (mc_passes = 1) has nothing to approach from: no verdict either way
    passed = all(r.approaches for r in results.values()) if cfg.mc_passes > 1 else None
    floors = [name for name, r in results.items() if r.levels_off]
    tail = (f" For {', '.join(floors)} it levels off above the 1/sqrt(k) line: the eval pass only approximates "
            f"the ensemble's average (exact for one dropout layer followed by something linear, before the "
            f"softmax)." if floors else " It keeps falling like 1/sqrt(k)." if cfg.mc_passes > 1
            else " One pass only: nothing to compare it with.")
    name, first = next(iter(results.items()))
    return Verdict(label, passed=passed,
                   headline=(f"{name}: distance to eval {first.distance[0]:.3f} at k = 1, {first.distance[-1]:.3f} "
                             f"at k = {first.ks[-1]}"), text=(
                   "The ensemble that shares parameters: the softmax averaged over k stochastic passes moves "
                   "towards the eval pass's (mean total variation distance over the test digits): "
                   + "; ".join(parts) + "." + tail))
