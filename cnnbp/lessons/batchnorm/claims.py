"""The batch-normalisation claims of lecture 003, each measured on the lesson's default
settings at seed 0, in a few seconds on 2 cores."""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.data import get_dataset
from cnnbp.device import pick_device, torch_threads
from cnnbp.lessons.batchnorm.folding import FoldResult, calibrated_model, compare_folding
from cnnbp.lessons.batchnorm.lesson import (DIFFER, EQUAL_TOL, FOLD_TOL, BatchNormConfig, _tol, fold_inputs,
                                            pair_verdict)
from cnnbp.lessons.batchnorm.modes import mode_checks, running_stats
from cnnbp.lessons.batchnorm.training import TRAIN_THREADS, Variant, train_variants
from cnnbp.train import RunControl

DEFAULTS = BatchNormConfig()


@register_claim("batchnorm.train_eval_differ_eval_is_formula", lesson="batchnorm", source="003",
                statement="BatchNorm behaves differently in training and testing; at test time it uses the running "
                          "averages: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta")
def train_eval_differ_eval_is_formula() -> tuple[bool, str]:
    cfg = DEFAULTS
    stats = running_stats(batch_size=cfg.batch_size, steps=cfg.stat_steps, momentum=cfg.bn_momentum,
                          channels=cfg.stat_channels, seed=0, dataset=cfg.dataset)
    c = mode_checks(stats, batch_size=cfg.batch_size, channels=cfg.stat_channels, seed=0, dataset=cfg.dataset)
    differ = c.train_vs_eval > _tol(c.output_scale, DIFFER)
    equal = c.eval_vs_formula <= _tol(c.output_scale, EQUAL_TOL)
    return differ and equal, (f"same {c.batch} test maps, train vs eval mode: max abs difference "
                              f"{c.train_vs_eval:.3g} (outputs up to {c.output_scale:.3g}); eval vs the "
                              f"running-statistics formula in float64: {c.eval_vs_formula:.2g}")


def bad_init_pair(seed: int = 0) -> tuple:
    """Train the default CNN from the bad init with and without BN; (plain, bn) histories."""
    cfg = DEFAULTS
    data = get_dataset(cfg.dataset, seed=seed)
    pair = [Variant("bad init", "none", cfg.bad_init, cfg.lr),
            Variant("bad init", "batch", cfg.bad_init, cfg.lr, cfg.norm_position)]
    histories = []
    for _, histories, _ in train_variants(data, pair, depth=cfg.depth, width=cfg.width, activation=cfg.activation,
                                          epochs=cfg.epochs, batch_size=cfg.batch_size, bn_momentum=cfg.bn_momentum,
                                          seed=seed, control=RunControl()):
        pass
    return histories[0], histories[1], data


@register_claim("batchnorm.robust_to_bad_init", lesson="batchnorm", source="003",
                statement="networks with BatchNorm are more robust to initialisation: from a bad init (std 0.01) "
                          "the BN net reaches the target accuracy where the plain net does not, or much slower")
def robust_to_bad_init() -> tuple[bool, str]:
    plain, bn, data = bad_init_pair(0)
    passed, words = pair_verdict(plain, bn, DEFAULTS, data)
    return bool(passed), (f"init {DEFAULTS.bad_init}, lr {DEFAULTS.lr:g}, steps to "
                          f"{DEFAULTS.target_accuracy:.0%} test accuracy: {words}")


def measure_folding(seed: int = 0) -> FoldResult:
    """The lesson's folding part on its defaults."""
    cfg = DEFAULTS
    data = get_dataset(cfg.dataset, seed=seed)
    device = pick_device()
    with torch_threads(TRAIN_THREADS):
        model = calibrated_model(data.x_train.to(device), in_channels=data.in_channels, num_classes=data.num_classes,
                                 depth=cfg.depth, width=cfg.width, activation=cfg.activation,
                                 image_size=data.image_size[0], seed=seed)
        return compare_folding(model, fold_inputs(data, cfg.fold_batch).to(device), repeats=cfg.fold_repeats)


@register_claim("batchnorm.folding_preserves_outputs_and_is_faster", lesson="batchnorm", source="003",
                statement="at test time BN is a linear operator: it can be fused with the conv before it, with the "
                          "same outputs (within 1e-5) and zero overhead")
def folding_preserves_outputs_and_is_faster() -> tuple[bool, str]:
    f = measure_folding(0)
    tol = _tol(f.max_abs_logit, FOLD_TOL)
    equal, faster = f.max_abs_diff <= tol, f.speedup > 1.0
    return equal and faster, (f"{f.batchnorms_before} BNs folded; logits (up to {f.max_abs_logit:.3g}) differ by "
                              f"{f.max_abs_diff:.2g} (line {tol:.2g}); vs fuse_conv_bn_eval "
                              f"{f.max_abs_diff_ours_vs_torch:.2g}; inference on {f.batch} images, median of "
                              f"{DEFAULTS.fold_repeats}, this process: unfolded / folded = {f.speedup:.2f}x "
                              f"(torch fused {f.speedup_torch:.2f}x)")
