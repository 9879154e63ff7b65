"""The batch-normalisation claims of lecture 003, each measured on the lesson's default
settings at the given seed (the bad-init race, a statistical effect, at it and the seeds after
it, as the lesson does), in a few seconds on 2 cores. Each reads the predicate its lesson's
verdict reads, on the same result object."""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.data import lesson_dataset
from cnnbp.device import pick_device
from cnnbp.lessons.batchnorm.config import BatchNormConfig
from cnnbp.lessons.batchnorm.folding import measure_folding
from cnnbp.lessons.batchnorm.modes import mode_checks, running_stats
from cnnbp.lessons.batchnorm.training import TRAIN_THREADS, Run, SeededRace, seeded_races, train_runs
from cnnbp.lessons.batchnorm.verdicts import seeded_words, speed_words
from cnnbp.train import RunControl

DEFAULTS = BatchNormConfig()


@register_claim("batchnorm.train_eval_differ_eval_is_formula", lesson="batchnorm", source="003",
                lecture="test time uses the running averages",
                statement="BatchNorm behaves differently in training and testing; at test time it uses the running "
                          "averages: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta")
def train_eval_differ_eval_is_formula(seed: int) -> tuple[bool, str]:
    cfg = DEFAULTS
    stats = running_stats(batch_size=cfg.batch_size, steps=cfg.stat_steps, momentum=cfg.bn_momentum,
                          channels=cfg.stat_channels, seed=seed, dataset=cfg.dataset)
    c = mode_checks(stats, batch_size=cfg.batch_size, channels=cfg.stat_channels, seed=seed, dataset=cfg.dataset)
    return c.eval_uses_running_stats, (
        f"same {c.batch} test maps, train vs eval mode: max abs difference {c.train_vs_eval:.3g} (outputs up to "
        f"{c.output_scale:.3g}); eval vs the running-statistics formula in float64: {c.eval_vs_formula:.2g}")


def bad_init_race(seed: int) -> SeededRace:
    """The lesson's robustness part, bad init only: the reference pair and the bad-init pair at
    ``seed``, the bad-init pair again at the further seeds."""
    cfg = BatchNormConfig(seed=seed, parts=["robustness"])
    pairs = cfg.pairs()
    runs = [Run(v, seed) for v in (*pairs["reference"], *pairs["bad init"])] + cfg.further_runs(["bad init"])
    data = {s: lesson_dataset(cfg.dataset, seed=s) for s in dict.fromkeys(r.seed for r in runs)}
    histories = []
    for _, histories, _ in train_runs(runs, data, depth=cfg.depth, width=cfg.width, activation=cfg.activation,
                                      epochs=cfg.epochs, batch_size=cfg.batch_size, bn_momentum=cfg.bn_momentum,
                                      control=RunControl()):
        pass
    return seeded_races(histories, pairs, target=cfg.target_accuracy, total_steps=cfg.total_steps)["bad init"]


@register_claim("batchnorm.robust_to_bad_init", lesson="batchnorm", source="003",
                lecture="BN is robust to a bad init (std 0.01)",
                statement="networks with BatchNorm are more robust to initialisation: from a bad init (std 0.01) "
                          "the BN net reaches the target accuracy where the plain net does not, or much slower, "
                          f"at every one of {DEFAULTS.seeds} seeds")
def robust_to_bad_init(seed: int) -> tuple[bool | None, str]:
    race = bad_init_race(seed)
    return race.bn_wins, (f"init {DEFAULTS.bad_init}, lr {DEFAULTS.lr:g}, steps to "
                          f"{DEFAULTS.target_accuracy:.0%} test accuracy: {seeded_words(race)}")


@register_claim("batchnorm.folding_preserves_outputs_and_is_faster", lesson="batchnorm", source="003",
                lecture="BN folds into the conv: same outputs, no overhead",
                statement="at test time BN is a linear operator: it can be fused with the conv before it, with the "
                          "same outputs (within 1e-5) and zero overhead (the folded net measurably faster)")
def folding_preserves_outputs_and_is_faster(seed: int) -> tuple[bool | None, str]:
    cfg = DEFAULTS
    f = measure_folding(lesson_dataset(cfg.dataset, seed=seed), depth=cfg.depth, width=cfg.width,
                        activation=cfg.activation, batch=cfg.fold_batch, repeats=cfg.fold_repeats, seed=seed,
                        device=pick_device(), threads=TRAIN_THREADS)
    return f.exact_and_faster, (
        f"{f.batchnorms_before} BNs folded; logits (up to {f.max_abs_logit:.3g}) differ by {f.max_abs_diff:.2g} "
        f"(line {f.line:.2g}); vs fuse_conv_bn_eval {f.max_abs_diff_ours_vs_torch:.2g}; inference on {f.batch} "
        f"images, this process: {speed_words(f)}")
