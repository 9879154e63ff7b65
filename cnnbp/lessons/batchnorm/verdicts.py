"""The batchnorm lesson's verdicts: pure functions, result objects -> Verdict (the wording).
The tests they pass or fail are the result objects' own predicates (``ModeChecks.eval_is_formula``,
``Race.bn_wins``, ``TrainModeBug.shows``, ``FoldResult.exact``), which the claims read too."""

from __future__ import annotations

from cnnbp.data import dataset_shape
from cnnbp.lessons.base import Verdict
from cnnbp.lessons.batchnorm.config import BatchNormConfig
from cnnbp.lessons.batchnorm.folding import FoldResult
from cnnbp.lessons.batchnorm.modes import CONVERGED, ModeChecks, RunningStats
from cnnbp.lessons.batchnorm.training import BUG_DROP, MUCH_SLOWER, TRAIN_THREADS, History, Race, TrainModeBug
from cnnbp.nn.inits import INITS


def mode_verdicts(s: RunningStats, c: ModeChecks, cfg: BatchNormConfig) -> list[Verdict]:
    at = s.converged_step
    return [
        Verdict(label="running statistics", passed=at is not None, text=(
            f"A BatchNorm2d with momentum {cfg.bn_momentum:g} fed {cfg.stat_steps} shuffled minibatches of "
            f"{cfg.batch_size} ({cfg.stat_channels} channels of a fixed random conv of the {cfg.dataset} images). "
            f"Largest error over channels: running mean {s.mean_error[0]:.3g} data stds at the start, "
            f"{s.mean_error[-1]:.3g} at the end; running variance {s.var_error[0]:.3g} relative, then "
            f"{s.var_error[-1]:.3g}. "
            + (f"Both within {CONVERGED:g} from step {at} on (the update rule predicts a decay of "
               f"(1 - {cfg.bn_momentum:g})^step)." if at is not None else
               f"Not within {CONVERGED:g} by the last step: a lower momentum needs more steps "
               f"(the error decays as (1 - {cfg.bn_momentum:g})^step).")
            + " PyTorch's running variance uses the unbiased batch variance; normalising uses the biased one.")),
        Verdict(label="train vs eval", passed=c.modes_differ and c.eval_is_formula,
                claim="batchnorm.train_eval_differ_eval_is_formula", text=(
            f"The same {c.batch} test maps: train-mode and eval-mode outputs differ by up to {c.train_vs_eval:.3g} "
            f"(outputs up to {c.output_scale:.3g}); eval output vs gamma (x - running_mean) / sqrt(running_var + "
            f"eps) + beta: max abs difference {c.eval_vs_formula:.2g}"
            + (" (equal)." if c.eval_is_formula else f" (NOT within {c.equal_line:.2g}).")
            + f" Train output vs the batch-statistics formula: {c.train_vs_formula:.2g}"
            + (" (equal)." if c.train_is_formula else " (not equal).")
            + f" In train mode one image's output depends on its batch-mates: {c.same_image_other_batch:.3g} "
            f"apart in two batches; in eval mode {c.same_image_other_batch_eval:.3g}.")),
        Verdict(label="gamma, beta recover the identity", passed=c.identity_holds, text=(
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


def race_words(r: Race) -> str:
    words = f"no BN {where(r.plain, r.target)}, with BN {where(r.bn, r.target)}"
    b, p = r.bn_steps, r.plain_steps
    if b is not None and p is not None:
        # a target at or below an untrained net's accuracy is met at step 0: no ratio, and no
        # advantage for BN unless the plain net needed steps
        words += (f" ({p / b:.2g}x the steps without BN)" if b else
                  " (both at the target before any step: it is too low to tell them apart)" if p == 0 else "")
    return words


def training_verdicts(histories: list[History], bug: TrainModeBug | None, cfg: BatchNormConfig) -> list[Verdict]:
    by = {(h.variant.norm, h.variant.init, h.variant.lr, h.variant.norm_position): h for h in histories}
    good, pos, out = cfg.good_init, cfg.norm_position, []
    target = f"{cfg.target_accuracy:.0%} test accuracy"

    def race(norm_init: str, lr: float) -> Race:
        return Race(by[("none", norm_init, lr, "before_act")], by[("batch", norm_init, lr, pos)],
                    cfg.target_accuracy, cfg.total_steps)

    ref = race(good, cfg.lr)
    if "robustness" in cfg.parts:
        bad = race(cfg.bad_init, cfg.lr)
        out.append(Verdict(label="BN is robust to a bad init", passed=bad.bn_wins, claim="batchnorm.robust_to_bad_init",
                           text=(
            f"Init {cfg.bad_init} ({INITS[cfg.bad_init].label}), lr {cfg.lr:g}, steps to {target}: {race_words(bad)}. "
            f"Passes when BN gets there and the plain net does not, or needs {MUCH_SLOWER:g}x the steps. "
            f"For reference, the good init ({good}): {race_words(ref)}.")))
        high = race(good, cfg.high_lr)
        out.append(Verdict(label="BN allows a higher learning rate", passed=high.bn_wins, text=(
            f"lr {cfg.high_lr:g} ({cfg.high_lr / cfg.lr:.3g}x lr), init {good}, steps to {target}: "
            f"{race_words(high)}.")))
    if "placement" in cfg.parts:
        other = by[("batch", good, cfg.lr, cfg.other_position)]
        before, after = (ref.bn, other) if pos == "before_act" else (other, ref.bn)
        t = cfg.target_accuracy
        out.append(Verdict(label="BN before or after the nonlinearity", text=(
            f"Init {good}, lr {cfg.lr:g}, steps to {target}: BN before the activation {where(before, t)} "
            f"(final {before.test_accuracy[-1]:.1%}), after it {where(after, t)} (final "
            f"{after.test_accuracy[-1]:.1%}), no BN {where(ref.plain, t)} (final "
            f"{ref.plain.test_accuracy[-1]:.1%}). The lecture inserts BN before the nonlinearity; only that "
            "placement can be folded into the conv at test time.")))
    if bug:
        out.append(bug_verdict(bug, cfg))
    return out


def bug_verdict(bug: TrainModeBug, cfg: BatchNormConfig) -> Verdict:
    parts = "; ".join(f"{r['evaluation']}: {r['accuracy']:.1%}" for r in bug.rows)
    worst = bug.worst
    effect = ("harmless on a large mixed batch, wrong on small or one-class batches" if bug.shows else
              f"the lecture's warning, but here no train-mode evaluation falls {BUG_DROP * 100:.0f} points below "
              "eval mode")
    return Verdict(label="the train-mode bug", passed=bug.shows, text=(
        f"One trained BN net ({bug.model}) on the {dataset_shape(cfg.dataset).n_test} test images: {parts}. "
        f"Forgetting model.eval() normalises each test batch by its own statistics: {effect} "
        f"(worst: {worst['evaluation']}, {worst['accuracy']:.1%} vs "
        f"{bug.eval_accuracy:.1%}). Every train-mode forward also moves the running statistics: eval mode after one "
        f"train-mode pass over the one-class batches gives {bug.rows[-1]['accuracy']:.1%}."))


def fold_verdict(f: FoldResult, cfg: BatchNormConfig) -> Verdict:
    ms = {k: v * 1e3 for k, v in f.seconds.items()}
    return Verdict(label="BN folds into the conv", passed=f.exact and f.faster,
                   claim="batchnorm.folding_preserves_outputs_and_is_faster", text=(
        f"{f.batchnorms_before} BN layers folded into the convs before them ({f.batchnorms_after} left); on a batch "
        f"of {f.batch} images the logits (up to {f.max_abs_logit:.3g}) change by at most {f.max_abs_diff:.2g} "
        f"(line {f.line:.2g}: " + ("equal" if f.exact else "NOT equal") + f"), the predicted class of "
        f"{f.argmax_agree:.1%} of the images is unchanged; PyTorch's fuse_conv_bn_eval: {f.max_abs_diff_torch:.2g} "
        f"from the unfolded net, {f.max_abs_diff_ours_vs_torch:.2g} from ours (we compute the new weights in "
        f"float64, it in float32). Median of {cfg.fold_repeats} forwards on {TRAIN_THREADS} thread: unfolded "
        f"{ms['unfolded']:.3g} ms, folded {ms['folded']:.3g} ms ({f.speedup:.2f}x), torch fused "
        f"{ms['torch fused']:.3g} ms ({f.speedup_torch:.2f}x): folding is "
        + ("faster" if f.faster else "NOT faster here") + ". The net: Kaiming weights, running statistics "
        "from a pass over the training images, gamma and beta drawn away from 1 and 0."
        + (" (The trained nets use BN after the activation, which cannot be folded into the conv before it; "
           "this net has it before.)" if cfg.norm_position == "after_act" else "")))
