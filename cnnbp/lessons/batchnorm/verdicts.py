"""The batchnorm lesson's verdicts: pure functions, result objects -> Verdict (the wording).
The tests they pass or fail are the result objects' own predicates (``RunningStats.converges``,
``ModeChecks.eval_uses_running_stats``, ``SeededRace.bn_wins``, ``TrainModeBug.shows``,
``FoldResult.exact_and_faster``), which the claims read too."""

from __future__ import annotations

from cnnbp.data import dataset_label, lesson_shape
from cnnbp.lessons.base import Verdict
from cnnbp.lessons.batchnorm.config import BatchNormConfig
from cnnbp.lessons.batchnorm.folding import FoldResult
from cnnbp.lessons.batchnorm.modes import CONVERGED, RULE_MARGIN, ModeChecks, RunningStats
from cnnbp.lessons.batchnorm.training import (
    BUG_DROP,
    MIN_SEEDS,
    MUCH_SLOWER,
    TRAIN_THREADS,
    History,
    Race,
    SeededRace,
    TrainModeBug,
)
from cnnbp.nn.inits import INITS


def mode_verdicts(s: RunningStats, c: ModeChecks, cfg: BatchNormConfig) -> list[Verdict]:
    at = s.converged_step
    settle = {True: f"Both within {CONVERGED:g} from step {at} on",
              False: f"Not within {CONVERGED:g} by the last step, {RULE_MARGIN:g}x the {s.rule_steps} steps the "
                     "update rule needs: the batch noise keeps them off",
              None: f"Not within {CONVERGED:g} by the last step: too few steps to tell, the update rule needs "
                    f"{s.rule_steps} (a lower momentum needs more)"}[s.converges]
    return [
        Verdict(label="running statistics", passed=s.converges,
                headline=(f"running mean off by {s.mean_error[-1]:.2g} std, variance by {s.var_error[-1]:.0%} "
                          f"after {cfg.stat_steps} steps"), text=(
            f"A BatchNorm2d with momentum {cfg.bn_momentum:g} fed {cfg.stat_steps} shuffled minibatches of "
            f"{cfg.batch_size} ({cfg.stat_channels} channels of a fixed random conv of the "
            f"{dataset_label(cfg.dataset)} images). "
            f"Largest error over channels: running mean {s.mean_error[0]:.3g} data stds at the start, "
            f"{s.mean_error[-1]:.3g} at the end; running variance {s.var_error[0]:.3g} relative, then "
            f"{s.var_error[-1]:.3g}. {settle} (the error decays as (1 - {cfg.bn_momentum:g})^step: "
            f"{s.rule_steps} steps to {CONVERGED:g} from this start). PyTorch's running variance uses the unbiased "
            "batch variance; normalising uses the biased one.")),
        Verdict(label="train vs eval", passed=c.eval_uses_running_stats,
                claim="batchnorm.train_eval_differ_eval_is_formula",
                headline=(f"eval = running-average formula to {c.eval_vs_formula:.1g}; train differs by "
                          f"{c.train_vs_eval:.2g}"), text=(
            f"The same {c.batch} test maps: train-mode and eval-mode outputs differ by up to {c.train_vs_eval:.3g} "
            f"(outputs up to {c.output_scale:.3g}); eval output vs gamma (x - running_mean) / sqrt(running_var + "
            f"eps) + beta: max abs difference {c.eval_vs_formula:.2g}"
            + (" (equal)." if c.eval_is_formula else f" (NOT within {c.equal_line:.2g}).")
            + f" Train output vs the batch-statistics formula: {c.train_vs_formula:.2g}"
            + (" (equal)." if c.train_is_formula else " (not equal).")
            + f" In train mode one image's output depends on its batch-mates: {c.same_image_other_batch:.3g} "
            f"apart in two batches; in eval mode {c.same_image_other_batch_eval:.3g}.")),
        Verdict(label="gamma, beta recover the identity", passed=c.identity_holds,
                headline=f"gamma = sigma, beta = mu: output = input to {c.identity:.1g}", text=(
            f"With gamma = sqrt(batch var + eps) (the lecture's sigma) and beta = batch mean (mu), BN's output "
            f"equals its input to {c.identity:.2g} (inputs up to {c.input_scale:.3g}): BN can learn to undo "
            "itself, so normalising takes no expressive power away.")),
    ]


def where(h: History, target: float) -> str:
    """Where a net got to: the steps to ``target``, its divergence, or its best accuracy."""
    s = h.steps_to(target)
    if s is not None:
        return f"{s} steps"
    if h.diverged_at is not None:
        return f"diverged at step {h.diverged_at}"
    return f"not reached in {h.steps[-1] if h.steps else 0} steps (best {max(h.test_accuracy):.1%})"


def _steps(h: History, target: float) -> str:
    s = h.steps_to(target)
    if s is not None:
        return f"{s} steps"
    return "diverged" if h.diverged_at is not None else f"never (best {max(h.test_accuracy):.0%})"


def race_short(r: Race) -> str:
    """A race in a headline: "no BN 3.1x BN's steps", or where each got."""
    b, p = r.bn_steps, r.plain_steps
    if b and p is not None:
        return f"no BN needs {p / b:.2g}x BN's steps"
    return f"to {r.target:.0%}: BN {_steps(r.bn, r.target)}, no BN {_steps(r.plain, r.target)}"


def seeded_short(r: SeededRace) -> str:
    if len(r.races) == 1:
        return race_short(r.races[0])
    return f"BN wins at {sum(w is True for w in r.wins)} of {len(r.races)} seeds; seed {r.seeds[0]}: " \
        + race_short(r.races[0])


def race_words(r: Race) -> str:
    words = f"no BN {where(r.plain, r.target)}, with BN {where(r.bn, r.target)}"
    b, p = r.bn_steps, r.plain_steps
    if b is not None and p is not None:
        # a target at or below an untrained net's accuracy is met at step 0: no ratio, and no
        # advantage for BN unless the plain net needed steps
        words += (f" ({p / b:.2g}x the steps without BN)" if b else
                  " (both at the target before any step: it is too low to tell them apart)" if p == 0 else "")
    return words


def seeded_words(r: SeededRace) -> str:
    """Each seed's race, then what the seeds decide and why."""
    per_seed = "; ".join(f"seed {s}: {race_words(x)}" for s, x in zip(r.seeds, r.races))
    wins, n = sum(w is True for w in r.wins), len(r.races)
    if not r.control_reaches:
        why = ("Cannot tell: the control (below) does not reach the target either, so a plain net that misses it "
               "here says nothing about the init or the rate (a longer run or a lower target is needed)")
    elif n < MIN_SEEDS:
        why = f"Cannot tell from {n} seed{'s' if n > 1 else ''}: a race is decided over {MIN_SEEDS} or more"
    elif r.bn_wins is None:
        why = f"BN wins at {wins} of {n} seeds: cannot tell"
    else:
        why = f"BN wins at {wins} of {n} seeds"
    return f"{per_seed}. {why}"


def training_verdicts(histories: list[History], races: dict[str, SeededRace], bug: TrainModeBug | None,
                      cfg: BatchNormConfig) -> list[Verdict]:
    """``histories``: the first seed's nets (``cfg.variants()``); ``races``: by name."""
    good, out = cfg.good_init, []
    target = f"{cfg.target_accuracy:.0%} test accuracy"
    rule = (f"BN wins a race when it gets there and the plain net does not, or needs {MUCH_SLOWER:g}x its steps "
            f"or more; at the further seeds each net trains only until its race is decided (a plain net not there "
            f"by {MUCH_SLOWER:g}x BN's steps stops); the verdict needs every one of {MIN_SEEDS} or more seeds to agree")
    if "bad init" in races:
        bad = races["bad init"]
        out.append(Verdict(label="BN is robust to a bad init", passed=bad.bn_wins, claim="batchnorm.robust_to_bad_init",
                           headline=f"init {cfg.bad_init}; " + seeded_short(bad), text=(
            f"Init {cfg.bad_init} ({INITS[cfg.bad_init].label}), lr {cfg.lr:g}, steps to {target}: "
            f"{seeded_words(bad)}. {rule}. The control, the good init ({good}) at seed {bad.seeds[0]}: "
            f"{race_words(bad.control)}.")))
    if "high lr" in races:
        high = races["high lr"]
        out.append(Verdict(label="BN allows a higher learning rate", passed=high.bn_wins,
                           headline=f"lr {cfg.high_lr:g}; " + seeded_short(high), text=(
            f"lr {cfg.high_lr:g} ({cfg.high_lr / cfg.lr:.3g}x lr), init {good}, steps to {target}: "
            f"{seeded_words(high)}. {rule}. The control, lr {cfg.lr:g} at seed {high.seeds[0]}: "
            f"{race_words(high.control)}.")))
    if "placement" in cfg.parts:
        by = {h.variant: h for h in histories}
        plain, bn = (by[v] for v in cfg.pairs()["reference"])
        other = by[cfg.placement_variant()]
        before, after = (bn, other) if cfg.norm_position == "before_act" else (other, bn)
        t = cfg.target_accuracy
        out.append(Verdict(label="BN before or after the nonlinearity",
                           headline=(f"final accuracy: BN before {before.test_accuracy[-1]:.0%}, after "
                                     f"{after.test_accuracy[-1]:.0%}, none {plain.test_accuracy[-1]:.0%}"), text=(
            f"Init {good}, lr {cfg.lr:g}, seed {cfg.seed}, steps to {target}: BN before the activation "
            f"{where(before, t)} (final {before.test_accuracy[-1]:.1%}), after it {where(after, t)} (final "
            f"{after.test_accuracy[-1]:.1%}), no BN {where(plain, t)} (final {plain.test_accuracy[-1]:.1%}). "
            "One seed: an observation, not a race this lesson decides. The lecture inserts BN before the "
            "nonlinearity; only that placement can be folded into the conv at test time.")))
    if bug:
        out.append(bug_verdict(bug, cfg))
    return out


def bug_verdict(bug: TrainModeBug, cfg: BatchNormConfig) -> Verdict:
    parts = "; ".join(f"{r['evaluation']}: {r['accuracy']:.1%}" for r in bug.rows)
    worst = bug.worst
    effect = {True: "harmless on a large mixed batch, wrong on small or one-class batches",
              False: f"the lecture's warning, but here no train-mode evaluation falls {BUG_DROP * 100:.0f} points "
                     "below eval mode",
              None: f"too little to tell, as the net itself is not trained to {bug.target:.0%}"}[bug.shows]
    return Verdict(label="the train-mode bug", passed=bug.shows,
                   headline=(f"without eval(): {worst['accuracy']:.0%} on {worst['evaluation'].split(',')[-1].strip()}"
                             f", vs {bug.eval_accuracy:.0%} in eval mode"), text=(
        f"One trained BN net ({bug.model}, seed {cfg.seed}) on the {lesson_shape(cfg.dataset).n_test} test images: "
        f"{parts}. Forgetting model.eval() normalises each test batch by its own statistics: {effect} "
        f"(worst: {worst['evaluation']}, {worst['accuracy']:.1%} vs "
        f"{bug.eval_accuracy:.1%}; the line: {BUG_DROP * 100:.0f} points lost). Every train-mode forward also moves "
        f"the running statistics: eval mode after one train-mode pass over the one-class batches gives "
        f"{bug.rows[-1]['accuracy']:.1%}."))


def speed_words(f: FoldResult) -> str:
    """The folded net's speed: the median ratio, its interval and what they allow us to say."""
    interval = f.speedup_interval
    if interval is None:
        return (f"unfolded / folded time per repeat: median {f.speedup:.2f}x; too few repeats ({len(f.ratios())}) "
                "to call: 6 or more give an interval")
    call = {True: "folding is faster", False: "folding is SLOWER here",
            None: "too close to call (the interval covers 1)"}[f.faster]
    return (f"unfolded / folded time per repeat: median {f.speedup:.2f}x, 95% interval "
            f"{interval[0]:.2f}-{interval[1]:.2f}x over {len(f.ratios())} repeats: {call}")


def fold_verdict(f: FoldResult, cfg: BatchNormConfig) -> Verdict:
    """Passes when the folded logits are equal and the folded net is measurably faster; fails when
    they differ or it is measurably slower; says nothing when the timing is too close to call."""
    ms = {k: v * 1e3 for k, v in f.seconds.items()}
    return Verdict(label="BN folds into the conv", passed=f.exact_and_faster,
                   headline=f"folded: logits within {f.max_abs_diff:.1g}, {f.speedup:.2f}x as fast",
                   claim="batchnorm.folding_preserves_outputs_and_is_faster", text=(
        f"{f.batchnorms_before} BN layers folded into the convs before them ({f.batchnorms_after} left); on a batch "
        f"of {f.batch} images the logits (up to {f.max_abs_logit:.3g}) change by at most {f.max_abs_diff:.2g} "
        f"(line {f.line:.2g}: " + ("equal" if f.exact else "NOT equal") + f"), the predicted class of "
        f"{f.argmax_agree:.1%} of the images is unchanged; PyTorch's fuse_conv_bn_eval: {f.max_abs_diff_torch:.2g} "
        f"from the unfolded net, {f.max_abs_diff_ours_vs_torch:.2g} from ours (we compute the new weights in "
        f"float64, it in float32). Inference timed side by side, {cfg.fold_repeats} repeats on {TRAIN_THREADS} "
        f"thread (medians: unfolded {ms['unfolded']:.3g} ms, folded {ms['folded']:.3g} ms, torch fused "
        f"{ms['torch fused']:.3g} ms, {f.speedup_torch:.2f}x): {speed_words(f)}. The net: Kaiming weights, running "
        "statistics from a pass over the training images, gamma and beta drawn away from 1 and 0."
        + (" (The trained nets use BN after the activation, which cannot be folded into the conv before it; "
           "this net has it before.)" if cfg.norm_position == "after_act" else "")))
