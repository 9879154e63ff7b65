"""The transfer verdicts on results made by hand: the call a Lead allows over seeds, the step a run
settles at the target (the verdict, the figure and its title read the same one), the rule-of-thumb
cells' ties, a collapse told apart from negative transfer."""

from __future__ import annotations

import pytest

from cnnbp.lessons.transfer import figures
from cnnbp.lessons.transfer.comparison import (
    ACCURACY_MARGIN,
    MIN_SEEDS,
    Comparison,
    Forgetting,
    Lead,
    Scores,
    SeedScores,
)
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.selection import RHO_LINE, SeedSelection, Selection
from cnnbp.lessons.transfer.strategies import History
from cnnbp.lessons.transfer.sweep import RuleCell
from cnnbp.lessons.transfer.verdicts import (
    compare_verdicts,
    convergence_call,
    forgetting_verdict,
    rule_verdicts,
    selection_verdict,
)

CFG = TransferConfig.model_construct(**{name: f.default for name, f in TransferConfig.model_fields.items()})
STEPS = [0, 10, 20, 30, 40, 50]


@pytest.mark.parametrize("values, holds", [
    ((0.05, 0.03, 0.021), True),  # past the margin at every seed
    ((0.05, 0.03, 0.02), None),  # one seed on the margin
    ((-0.05, -0.03, -0.09), False),
    ((0.05, -0.04, 0.09), None),  # the seeds disagree
    ((0.0, 0.0, 0.0), None),  # a tie is not a loss
    ((0.5, 0.5), None),  # too few seeds, however large
])
def test_a_lead_decides_only_when_every_seed_agrees_past_the_margin(values, holds):
    lead = Lead(values, ACCURACY_MARGIN)
    assert lead.holds is holds
    assert lead.too_few_seeds == (len(values) < MIN_SEEDS)


def run(name: str, strategy: str, seed: int, accuracy: list[float]) -> History:
    return History(name, strategy, 0.05, seed, 100, 100, eval_steps=STEPS[:len(accuracy)], test_accuracy=accuracy)


def comparison(finetune: list[list[float]], scratch: list[list[float]], probes: list[float]) -> Comparison:
    histories = []
    for seed, (f, s) in enumerate(zip(finetune, scratch)):
        suffix = f", seed {seed}" if seed else ""
        histories += [run(f"finetune{suffix}", "finetune", seed, f), run(f"scratch{suffix}", "scratch", seed, s)]
    return Comparison(histories, probe=dict(enumerate(probes)))


def seed_scores(result: Comparison) -> SeedScores:
    return SeedScores([result.scores(s, lr=0.05, per_class=10, train_images=50, target_accuracy=0.8)
                       for s in sorted(result.probe)], steps=50, eval_every=10)


def verdicts_of(result: Comparison) -> dict:
    return {v.claim: v for v in compare_verdicts(CFG, result, seed_scores(result))}


def test_the_issue_case_touching_the_target_is_not_reaching_it():
    """Fine-tuning touches 80% at step 20 and ends at 65%; scratch stays above 80% from step 30 and
    ends at 97%. The old verdict passed "fine-tuned reaches 80% in 20 steps" beside that figure."""
    touched, steady = [0.1, 0.5, 0.8, 0.7, 0.66, 0.65], [0.2, 0.4, 0.6, 0.85, 0.9, 0.97]
    result = comparison([touched] * 3, [steady] * 3, [0.7] * 3)
    scores = seed_scores(result)
    assert scores.settled("finetune") == [None] * 3 and scores.settled("scratch") == [30] * 3
    assert scores.convergence.values == (30 - 60,) * 3 and scores.convergence.holds is False
    verdict = verdicts_of(result)["transfer.pretrained_converges_faster"]
    assert verdict.passed is False and "fine-tuned never / never / never, scratch 30 / 30 / 30" in verdict.text
    fig = figures.curves_figure(result.histories, 0.7, CFG, scores)
    diamonds = next(t for t in fig.data if t.name == "settles at the target")
    assert list(diamonds.x) == [30, 30, 30] and set(diamonds.text) == {"scratch", "scratch, seed 1", "scratch, seed 2"}
    title = fig.layout.title.text.replace("<br>", " ")  # apply_layout wraps long titles
    assert convergence_call(scores) in title and convergence_call(scores) in verdict.text


def test_a_faster_pretrained_net_passes_and_one_seed_cannot_tell():
    fast, slow = [0.1, 0.85, 0.9, 0.9, 0.9, 0.9], [0.1, 0.3, 0.5, 0.85, 0.9, 0.9]
    assert verdicts_of(comparison([fast] * 3, [slow] * 3, [0.7] * 3))[
        "transfer.pretrained_converges_faster"].passed is True
    one = verdicts_of(comparison([fast], [slow], [0.7]))["transfer.pretrained_converges_faster"]
    assert one.passed is None and "1 seed: too few to tell" in one.text
    # 10 steps earlier is one evaluation: inside the resolution, not a lead
    nearly = [0.1, 0.3, 0.85, 0.9, 0.9, 0.9]
    assert verdicts_of(comparison([nearly] * 3, [slow] * 3, [0.7] * 3))[
        "transfer.pretrained_converges_faster"].passed is None


def test_frozen_vs_scratch_reads_the_probe_and_scratch_at_every_seed():
    curve = [0.1, 0.5, 0.9, 0.9, 0.9, 0.9]
    result = comparison([curve] * 3, [curve[:-1] + [a] for a in (0.90, 0.80, 0.85)], [0.84, 0.83, 0.86])
    verdict = verdicts_of(result)["transfer.small_similar_frozen_beats_scratch"]
    assert verdict.passed is None  # seed 0: scratch ahead by 6 points; seeds 1, 2: the probe ahead by 3 and 1
    assert "84.0% / 83.0% / 86.0%" in verdict.text and "90.0% / 80.0% / 85.0%" in verdict.text
    assert "Too close to call" in verdict.text


def test_forgetting_over_seeds_and_the_collapse_it_names():
    low = [{"name": "finetune", "lr": 0.05, "seed": s, "before": 1.0, "after": a, "drop": 1.0 - a, "target": 0.9}
           for s, a in enumerate((0.88, 0.39, 0.69))]
    high = [{**r, "lr": 0.5, "after": 0.19, "drop": 0.81, "target": 0.2} for r in low]
    verdict = forgetting_verdict(CFG, Forgetting(low, high, chance=0.2))
    assert verdict.passed is True and "at every seed" in verdict.text and "wrecked" in verdict.text
    mixed = [{**r, "after": a, "drop": 1.0 - a} for r, a in zip(high, (0.19, 0.5, 0.19))]  # seed 1 forgot less
    assert forgetting_verdict(CFG, Forgetting(low, mixed, chance=0.2)).passed is None


def cell(similarity: str, size: str, accuracy: dict[str, float]) -> RuleCell:
    return RuleCell(similarity, "src", size, Scores(3, 15, accuracy, {}), chance=0.2)


def test_rule_cells_tie_within_the_margin_and_a_collapse_is_not_negative_transfer():
    tied = cell("similar", "large", {"linear_probe": 0.86, "freeze": 0.966, "finetune": 0.983, "scratch": 0.989})
    assert tied.best == ["finetune", "scratch"] and tied.agrees  # 0.6 points is one test image
    collapsed = cell("dissimilar", "small", {"linear_probe": 0.68, "freeze": 0.41, "finetune": 0.2, "scratch": 0.73})
    negative = cell("dissimilar", "large", {"linear_probe": 0.89, "freeze": 0.5, "finetune": 0.6, "scratch": 0.9})
    assert collapsed.collapsed and not collapsed.negative_transfer and negative.negative_transfer
    words = rule_verdicts(CFG, [tied, collapsed, negative])[1].text
    assert words.startswith("Negative transfer") and "60.0% vs scratch 90.0%" in words
    assert "collapsed to chance for src at 3/class (20.0%)" in words


def test_selection_needs_every_seed_on_one_side_of_the_line():
    def ranked(accuracies):
        return Selection([{"source": f"s{i}", "similarity": 1.0 - i / 10, "accuracy": a}
                          for i, a in enumerate(accuracies)])

    right, wrong = ranked([0.9, 0.8, 0.7, 0.6]), ranked([0.6, 0.7, 0.8, 0.9])
    assert right.spearman == 1.0 and wrong.spearman == -1.0
    assert SeedSelection([0, 1, 2], [right] * 3).ranks_sources.holds is True
    assert SeedSelection([0, 1, 2], [right, wrong, right]).ranks_sources.holds is None
    verdict = selection_verdict(CFG, SeedSelection([0, 1, 2], [wrong] * 3))
    assert verdict.passed is False and f"Spearman below {RHO_LINE:g} at every seed" in verdict.text
