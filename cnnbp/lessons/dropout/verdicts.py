"""The dropout lesson's verdicts: measured results -> Verdicts (the wording; each predicate lives
on its result object, where the claims read it too)."""

from __future__ import annotations

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.dropout.config import MASK_COLS, DropoutConfig
from cnnbp.lessons.dropout.mc import MCResult
from cnnbp.lessons.dropout.mechanics import (
    KEEP_Z_MAX,
    MEAN_RATIO_MAX,
    SAME_NET_TOL,
    Expectation,
    KeepFraction,
    MaskDemo,
)
from cnnbp.lessons.dropout.training import GAP_MARGIN, GapHistory, settled


def convention(cfg: DropoutConfig) -> Verdict:
    q = 1 - cfg.p
    return Verdict(
        label="which p",
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
    return [Verdict("inverted dropout keeps the mean", mean_text, passed=exp.keeps_mean,
                    claim="dropout.inverted_keeps_mean"),
            Verdict("test-time scaling is the same net", conv_text, passed=exp.same_net,
                    claim="dropout.test_time_scaling_same_net")]


def gap(histories: list[GapHistory], cfg: DropoutConfig) -> Verdict:
    parts = [f"p = {h.p:g}: train {settled(h.train_accuracy):.1%}, test {settled(h.test_accuracy):.1%}, "
             f"gap {h.settled_gap:.1%}" for h in histories]
    text = (f"Train/test accuracy on {cfg.train_images} training digits ({cfg.arch}, {cfg.depth} x {cfg.width}, "
            f"{cfg.epochs} epochs; mean of the last quarter of the evaluations): " + "; ".join(parts) + ".")
    diverged = [h for h in histories if h.diverged_at is not None]
    if diverged:  # a net whose loss blew up says nothing about regularisation: left out
        text += (" Diverged (loss not finite), left out of the comparison: "
                 + ", ".join(f"{h.name} at step {h.diverged_at}" for h in diverged) + "; lower the learning rate.")
    plain = next((h for h in histories if h.p == 0 and h.diverged_at is None), None)
    others = [h for h in histories if h.p > 0 and h.diverged_at is None]
    passed = None
    if plain is not None and others:
        narrower = [h for h in others if h.narrows(plain)]
        passed = 2 * len(narrower) >= len(others)
        text += (f" Narrower than without dropout by at least {GAP_MARGIN:.0%} point: "
                 f"{', '.join(f'p = {h.p:g}' for h in narrower) or 'none'} of {len(others)}.")
    return Verdict("dropout narrows the gap", text, passed=passed, claim="dropout.narrows_gap")


def mc(results: dict[str, MCResult], cfg: DropoutConfig) -> Verdict:
    label = "MC dropout approaches the eval pass"
    if not results:  # every net with dropout diverged (MC dropout skips those)
        return Verdict(label, passed=None, text="No net with dropout trained without diverging: nothing to average.")
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
    return Verdict(label, passed=passed, text=(
                   "The ensemble that shares parameters: the softmax averaged over k stochastic passes moves "
                   "towards the eval pass's (mean total variation distance over the test digits): "
                   + "; ".join(parts) + "." + tail))
