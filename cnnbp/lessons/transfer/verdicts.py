"""The transfer lesson's verdicts: results in, wording out. Each reads its claim's predicate on
the result object (comparison.py, sweep.py, selection.py), never a test of its own; the figure
titles quote the same sentences (``*_call``)."""

from __future__ import annotations

from typing import Sequence

from cnnbp.data import dataset_label, dataset_shape
from cnnbp.lessons.base import Verdict
from cnnbp.lessons.transfer.comparison import (
    ACCURACY_MARGIN,
    FORGET_MARGIN,
    MIN_SEEDS,
    Comparison,
    Forgetting,
    Lead,
    Scores,
    SeedScores,
)
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.selection import RHO_LINE, SeedSelection
from cnnbp.lessons.transfer.sweep import RuleCell

POINTS = f"{ACCURACY_MARGIN * 100:g} points"


def call(lead: Lead, *, yes: str, no: str, margin: str) -> str:
    """The sentence a Lead allows: what holds at every seed, or why it cannot tell."""
    n = len(lead.values)
    if lead.too_few_seeds:
        return (f"{n} seed{'' if n == 1 else 's'}: too few to tell (a verdict needs {MIN_SEEDS}; "
                "the default run trains 3).")
    if lead.holds:
        return f"{yes} at every seed."
    if lead.holds is False:
        return f"{no} at every seed."
    return f"Too close to call: the lead is inside {margin} or changes side between seeds."


def _per_seed(values: Sequence, fmt: str = "{:.1%}") -> str:
    return " / ".join("never" if v is None else fmt.format(v) for v in values)


def _short(values: Sequence, fmt: str = "{:.0%}") -> str:
    """Per-seed values for a headline: "74%/71%/70%"."""
    return "/".join("never" if v is None else fmt.format(v) for v in values)


def _accuracy(scores: SeedScores, strategy: str) -> str:
    return _short([r.accuracy[strategy] for r in scores.rows])


def _seeds(seeds: Sequence[int]) -> str:
    return f"seed{'s' if len(seeds) > 1 else ''} {' / '.join(map(str, seeds))}"


def convergence_call(scores: SeedScores) -> str:
    return call(scores.convergence, yes="Fine-tuned settles more than one evaluation earlier",
                no="Scratch settles more than one evaluation earlier",
                margin=f"one evaluation ({scores.eval_every} steps)")


def frozen_call(scores: SeedScores) -> str:
    return call(scores.frozen_vs_scratch, yes=f"Frozen features ahead by more than {POINTS}",
                no=f"Scratch ahead by more than {POINTS}", margin=POINTS)


def finetune_call(scores: SeedScores) -> str:
    return call(scores.finetune_vs_frozen, yes=f"Fine-tuning ahead by more than {POINTS}",
                no=f"Freezing ahead by more than {POINTS}", margin=POINTS)


def imagenet_convergence_call(scores: SeedScores) -> str:
    return call(scores.settles_earlier("top"), yes="Fine-tuned from ImageNet settles more than one evaluation earlier",
                no="Scratch settles more than one evaluation earlier",
                margin=f"one evaluation ({scores.eval_every} steps)")


def imagenet_frozen_call(scores: SeedScores) -> str:
    return call(scores.ahead("linear_probe", "scratch"), yes=f"ImageNet features ahead by more than {POINTS}",
                no=f"Scratch ahead by more than {POINTS}", margin=POINTS)


def imagenet_finetune_call(scores: SeedScores) -> str:
    return call(scores.ahead("top", "linear_probe"), yes=f"Fine-tuning the top ahead by more than {POINTS}",
                no=f"The frozen features ahead by more than {POINTS}", margin=POINTS)


def imagenet_finetune_all_call(scores: SeedScores) -> str:
    return call(scores.ahead("finetune_all", "linear_probe"), yes=f"Fine-tuning all ahead by more than {POINTS}",
                no=f"The frozen features ahead by more than {POINTS}", margin=POINTS)


def forgetting_call(result: Forgetting) -> str:
    margin = f"{FORGET_MARGIN * 100:g} points"
    return call(result.lead, yes=f"The larger rate loses more than {margin} more of the source task",
                no=f"The smaller rate loses more than {margin} more", margin=margin)


def selection_call(result: SeedSelection) -> str:
    return call(result.ranks_sources, yes=f"Spearman above {RHO_LINE:g}", no=f"Spearman below {RHO_LINE:g}",
                margin="the line")


def compare_verdicts(cfg: TransferConfig, result: Comparison, scores: SeedScores) -> list[Verdict]:
    out = []
    has = scores.rows[0].accuracy.keys()
    where = f"{cfg.images_per_class} images per class of {cfg.target_label}, {_seeds(scores.seeds)}"
    if {"linear_probe", "scratch"} <= has:
        out.append(Verdict(
            label="frozen features beat scratch (small target)", claim="transfer.small_similar_frozen_beats_scratch",
            passed=scores.frozen_vs_scratch.holds,
            headline=f"frozen features {_accuracy(scores, 'linear_probe')}, scratch {_accuracy(scores, 'scratch')}",
            text=f"Frozen {cfg.source_label} features (stage {cfg.stage}) + logistic regression: "
                 f"{_per_seed([r.accuracy['linear_probe'] for r in scores.rows])} test accuracy; scratch after "
                 f"{cfg.steps} steps: {_per_seed([r.accuracy['scratch'] for r in scores.rows])} ({where}). "
                 + frozen_call(scores)))
    if {"finetune", "scratch"} <= has:
        out.append(Verdict(
            label="pretrained converges faster", claim="transfer.pretrained_converges_faster",
            passed=scores.convergence.holds,
            headline=(f"steps to stay at {cfg.target_accuracy:.0%}: fine-tuned "
                      f"{_short(scores.settled('finetune'), '{}')}, scratch {_short(scores.settled('scratch'), '{}')}"),
            text=f"Steps until the test accuracy stays at or above {cfg.target_accuracy:.0%} to the end (evaluated "
                 f"every {scores.eval_every} of {cfg.steps} steps; a curve that touches it and falls back has not "
                 f"reached it): fine-tuned {_per_seed(scores.settled('finetune'), '{}')}, scratch "
                 f"{_per_seed(scores.settled('scratch'), '{}')} ({where}). " + convergence_call(scores)))
    finetune, lora = result.run("finetune"), result.run("lora")
    if lora is not None and finetune is not None:
        out.append(Verdict(
            label="LoRA", passed=None,
            headline=(f"LoRA {lora.final_accuracy:.0%} training {lora.trainable / lora.total:.0%} of the weights; full "
                      f"fine-tuning {finetune.final_accuracy:.0%}"),
            text=f"LoRA rank {cfg.lora_rank}: {lora.final_accuracy:.1%} with {lora.trainable:,} trainable parameters "
                 f"({lora.trainable / lora.total:.0%}); full fine-tuning {finetune.final_accuracy:.1%} with "
                 f"{finetune.trainable:,} (100%); seed {cfg.seed}."))
    return out


def forgetting_verdict(cfg: TransferConfig, result: Forgetting) -> Verdict:
    wrecked = (f" At lr {cfg.forget_lr:g} the target accuracy is at chance too: the large rate wrecked the network, "
               "it did not trade the source task for the target." if result.wrecked else "")
    seeds = [r["seed"] for r in result.low]
    return Verdict(
        label="a larger fine-tuning rate forgets", claim="transfer.large_lr_forgets", passed=result.lead.holds,
        headline=(f"source task kept: {_short([r['after'] for r in result.low])} at lr {cfg.lr:g}, "
                  f"{_short([r['after'] for r in result.high])} at lr {cfg.forget_lr:g}"),
        text=f"Source-task accuracy of {cfg.source}: {_per_seed([r['before'] for r in result.low])} before; after "
             f"fine-tuning at lr {cfg.lr:g}: {_per_seed([r['after'] for r in result.low])}, at lr {cfg.forget_lr:g}: "
             f"{_per_seed([r['after'] for r in result.high])} (target accuracy "
             f"{_per_seed([r['target'] for r in result.low])} vs {_per_seed([r['target'] for r in result.high])}; "
             f"{_seeds(seeds)}). " + forgetting_call(result) + wrecked)


def size_verdicts(cfg: TransferConfig, rows: list[Scores], large: SeedScores) -> list[Verdict]:
    small, top = rows[0], rows[-1]
    return [
        Verdict(label="fine-tuning beats freezing (large target)", claim="transfer.large_finetune_beats_freezing",
                passed=large.finetune_vs_frozen.holds,
                headline=(f"{top.per_class} per class: fine-tune all {_accuracy(large, 'finetune')}, frozen "
                          f"{_short([r.frozen for r in large.rows])}"),
                text=f"{top.per_class} images per class, {_seeds(large.seeds)}: fine-tune all "
                     f"{_per_seed([r.accuracy['finetune'] for r in large.rows])}; the better frozen one (linear "
                     f"probe {_per_seed([r.accuracy['linear_probe'] for r in large.rows])}, bottom "
                     f"{cfg.freeze_stages} stages frozen {_per_seed([r.accuracy['freeze'] for r in large.rows])}) "
                     f"{_per_seed([r.frozen for r in large.rows])}. " + finetune_call(large)),
        Verdict(label="gap at small data", passed=None,
                headline=(f"pretrained minus scratch: {small.pretrained_gap * 100:+.0f} points at {small.per_class} "
                          f"per class, {top.pretrained_gap * 100:+.0f} at {top.per_class}"),
                text=f"Pretrained minus scratch at seed {cfg.seed}: {small.pretrained_gap:+.1%} at {small.per_class} "
                     f"per class, {top.pretrained_gap:+.1%} at {top.per_class} (lecture: 9.9 vs 3.5 AP, a gap that "
                     f"closes with data; one seed, and differences under {POINTS} are within the test set's noise)."),
    ]


def rule_verdicts(cfg: TransferConfig, cells: list[RuleCell]) -> list[Verdict]:
    agree = sum(c.agrees for c in cells)
    parts = [f"{c.similarity} / {c.size}: {', '.join(c.best)} (lecture: {c.lecture})" for c in cells]
    out = [Verdict(label="rule of thumb", passed=None,
                   headline=f"the lecture's advice is among the best in {agree} of {len(cells)} cells",
                   text=f"Best strategy per cell on {cfg.target} (seed {cfg.seed}; strategies within {POINTS} of the "
                        "top count as tied): " + "; ".join(parts)
                        + f". The lecture's advice is among the best in {agree} of 4 cells.")]
    negative = [c for c in cells if c.negative_transfer]
    collapsed = [c for c in cells if c.collapsed]
    found = (("Negative transfer: fine-tuned from the dissimilar source, the network ends more than "
              f"{POINTS} below scratch (" + "; ".join(
                  f"{c.source} at {c.row.per_class}/class: {c.row.accuracy['finetune']:.1%} vs scratch "
                  f"{c.row.accuracy['scratch']:.1%}, its linear probe {c.row.accuracy['linear_probe']:.1%}"
                  for c in negative) + ").") if negative else
             f"No negative transfer found: fine-tuned from the dissimilar source, the network that learnt never "
             f"ended more than {POINTS} below scratch here.")
    if collapsed:
        found += (f" Fine-tuning at lr {cfg.lr:g} collapsed to chance for " + "; ".join(
            f"{c.source} at {c.row.per_class}/class ({c.row.accuracy['finetune']:.1%})" for c in collapsed)
            + ": the rate is too large for that source, which says nothing about its features (its linear probe: "
            + ", ".join(f"{c.row.accuracy['linear_probe']:.1%}" for c in collapsed) + ").")
    out.append(Verdict(label="negative transfer", passed=None, text=found,
                       headline=(f"negative transfer in {len(negative)} of {len(cells)} cells"
                                 + (f"; {len(collapsed)} collapsed to chance" if collapsed else ""))))
    return out


def selection_verdict(cfg: TransferConfig, result: SeedSelection) -> Verdict:
    order = sorted(result.results[0].rows, key=lambda r: -r["similarity"])
    step = 12 / (len(order) ** 3 - len(order))  # Spearman without ties: 1 - 6 sum(d^2) / (n (n^2 - 1))
    return Verdict(
        label="similarity ranks the sources", claim="transfer.similarity_ranks_sources",
        passed=result.ranks_sources.holds,
        headline=(f"Spearman {_short([r.spearman for r in result.results], '{:.2f}')} between similarity and "
                  "probe accuracy"),
        text="Spearman rank correlation of mean-feature cosine similarity and linear-probe accuracy on "
             f"{cfg.target_label}: "
             f"{_per_seed([r.spearman for r in result.results], '{:.2f}')} ({_seeds(result.seeds)}; line "
             f"{RHO_LINE:g}; with {len(order)} sources it moves in steps of {step:.1f}). "
             f"At seed {result.seeds[0]}: " + ", ".join(f"{r['source']} {r['similarity']:.3f} -> {r['accuracy']:.1%}"
                                                       for r in order) + ". " + selection_call(result))


def imagenet_verdicts(cfg: TransferConfig, scores: SeedScores, table: list[dict]) -> list[Verdict]:
    """The ImageNet part: frozen features vs scratch, top vs scratch to the target accuracy, and every
    weight fine-tuned vs frozen features (where both ran) over the verdict seeds; LoRA's accuracy (and the
    whole network's, without the probe) as notes at the run's seed."""
    from cnnbp.lessons.transfer.imagenet_source import target_kind

    out = []
    has = scores.rows[0].accuracy.keys()
    kind, similar = target_kind(cfg.imagenet_target)
    side = dataset_shape(cfg.imagenet_target).size
    where = (f"ImageNet -> {dataset_label(cfg.imagenet_target)} ({kind}), {cfg.imagenet_per_class} images per class at "
             f"{cfg.imagenet_size} px, {_seeds(scores.seeds)}")
    if {"linear_probe", "scratch"} <= has:
        out.append(Verdict(
            label="ImageNet features beat scratch (small target)",
            claim="transfer.imagenet_small_frozen_beats_scratch" if similar else None,
            passed=scores.ahead("linear_probe", "scratch").holds,
            headline=f"ImageNet features {_accuracy(scores, 'linear_probe')}, scratch {_accuracy(scores, 'scratch')}",
            text=f"Frozen ImageNet features + logistic regression: "
                 f"{_per_seed([r.accuracy['linear_probe'] for r in scores.rows])}; scratch (our small CNN on the "
                 f"{side}x{side} images, {cfg.imagenet_steps} steps): "
                 f"{_per_seed([r.accuracy['scratch'] for r in scores.rows])}"
                 f" ({where}). " + imagenet_frozen_call(scores)))
    if {"top", "scratch"} <= has:
        out.append(Verdict(
            label="ImageNet-pretrained converges faster", passed=scores.settles_earlier("top").holds,
            headline=(f"steps to stay at {cfg.imagenet_target_accuracy:.0%}: fine-tuned top "
                      f"{_short(scores.settled('top'), '{}')}, scratch {_short(scores.settled('scratch'), '{}')}"),
            text=f"Steps until the test accuracy stays at or above {cfg.imagenet_target_accuracy:.0%}: fine-tuned "
                 f"top {_per_seed(scores.settled('top'), '{}')}, scratch {_per_seed(scores.settled('scratch'), '{}')} "
                 f"(of {cfg.imagenet_steps}; {where}). " + imagenet_convergence_call(scores)))
    rows = {r["strategy"]: r for r in table}
    if "lora" in rows:
        ref, lora = rows.get("top"), rows["lora"]
        out.append(Verdict(
            label="LoRA from ImageNet", passed=None,
            headline=(f"LoRA {lora['accuracy']:.0%} training {lora['share']:.1%} of the weights"
                      + (f"; the stages in full {ref['accuracy']:.0%}" if ref else "")),
            text=f"LoRA rank {cfg.lora_rank} on the last {cfg.imagenet_stages} stage(s): {lora['accuracy']:.1%} "
                 f"with {lora['trainable']:,} trainable weights ({lora['share']:.1%} of the network)"
                 + (f"; fine-tuning those stages in full: {ref['accuracy']:.1%} with {ref['trainable']:,} "
                    f"({ref['share']:.0%})" if ref else "") + f"; seed {cfg.seed}."))
    if {"finetune_all", "linear_probe"} <= has:
        out.append(_finetune_all_verdict(cfg, scores, rows["finetune_all"], where, large_similar=similar and (
            cfg.imagenet_per_class >= cfg.imagenet_large)))
    elif "finetune_all" in rows:
        out.append(Verdict(
            label="fine-tune all from ImageNet", passed=None,
            headline=f"every weight trained: {rows['finetune_all']['accuracy']:.0%} after {cfg.imagenet_steps} steps",
            text=f"Every weight trained from the {cfg.imagenet_size} px images: {rows['finetune_all']['accuracy']:.1%} "
                 f"after {cfg.imagenet_steps} steps ({rows['finetune_all']['trainable']:,} weights); seed {cfg.seed}."))
    return out


def _finetune_all_verdict(cfg: TransferConfig, scores: SeedScores, row: dict, where: str, *,
                          large_similar: bool) -> Verdict:
    """Every weight fine-tuned vs frozen features + logistic regression over the verdict seeds: the
    lecture's claim where the target is the similar one and at least as large as the claim's k."""
    from cnnbp.lessons.transfer.imagenet_source import SIMILAR_TARGET

    size = "large target" if large_similar else f"{cfg.imagenet_per_class}/class"
    return Verdict(
        label=f"fine-tuning all beats freezing ({size})",
        claim="transfer.imagenet_large_finetune_all_beats_freezing" if large_similar else None,
        passed=scores.ahead("finetune_all", "linear_probe").holds,
        headline=(f"every weight fine-tuned {_accuracy(scores, 'finetune_all')}, frozen features "
                  f"{_accuracy(scores, 'linear_probe')}"),
        text=f"Every weight fine-tuned ({row['trainable']:,} weights, {cfg.imagenet_steps} SGD steps at lr "
             f"{cfg.imagenet_lr:g}, batch {cfg.batch_size}): "
             f"{_per_seed([r.accuracy['finetune_all'] for r in scores.rows])}; frozen ImageNet features + logistic "
             f"regression: {_per_seed([r.accuracy['linear_probe'] for r in scores.rows])} ({where}"
             + ("" if large_similar else f"; the lecture's claim is about a large similar target: "
                f"{cfg.imagenet_large} or more images per class of {SIMILAR_TARGET}") + "). "
             + imagenet_finetune_all_call(scores))


# The lecture's advice per cell, in the ImageNet part's strategies (000, 001, 002)
IMAGENET_ADVICE = {("similar", "small"): ("linear_probe",), ("similar", "large"): ("top",),
                   ("dissimilar", "small"): ("linear_probe",), ("dissimilar", "large"): ("scratch",)}


def imagenet_rule_verdicts(cfg: TransferConfig, cells: list[dict]) -> list[Verdict]:
    agree = sum(any(s in IMAGENET_ADVICE[(c["similarity"], c["size"])] for s in c["best"]) for c in cells)
    parts = [f"{c['similarity']} ({c['target']}) / {c['size']} ({c['per_class']}/class): {', '.join(c['best'])} "
             f"(lecture: {' or '.join(IMAGENET_ADVICE[(c['similarity'], c['size'])])})" for c in cells]
    return [Verdict(label="rule of thumb from ImageNet", passed=None,
                    headline=f"the lecture's advice is among the best in {agree} of {len(cells)} cells",
                    text=f"Best strategy per cell from ImageNet at {cfg.imagenet_size} px (seed {cfg.seed}; within "
                         f"{POINTS} of the top count as tied; 'similar' is an assumption: Fashion-MNIST's clothes and "
                         "shoes are ImageNet kinds of object, digits are not; the dissimilar/small advice says a "
                         "linear classifier from lower layers, ours reads the top): " + "; ".join(parts)
                         + f". The lecture's advice is among the best in {agree} of 4 cells.")]


def domain_shift_verdicts(cfg: TransferConfig, result) -> list[Verdict]:
    """The domain-shift part (``domain_shift.ShiftResult``): what the shift costs the source untouched,
    MNIST-pretrained vs scratch on the shifted digits, and whether that help shrinks on Fashion-MNIST."""
    from cnnbp.lessons.transfer.domain_shift import DISSIMILAR, SHIFT_LINE, SHIFTED

    digits, fashion = result.scores[SHIFTED], result.scores[DISSIMILAR]
    where = f"{cfg.images_per_class} images per class, {cfg.shift_steps} steps, {_seeds(digits.seeds)}"
    pretrained = call(digits.ahead("finetune", "scratch"), yes=f"Fine-tuned from MNIST ahead by more than {POINTS}",
                      no=f"Scratch ahead by more than {POINTS}", margin=POINTS)
    less = call(result.helps_less_when_dissimilar, yes=f"The gain is larger on the shifted digits by more than "
                f"{POINTS}", no=f"The gain is larger on Fashion-MNIST by more than {POINTS}", margin=POINTS)
    return [
        Verdict(label="a domain shift costs accuracy", claim="transfer.domain_shift_costs_accuracy",
                passed=result.drop > SHIFT_LINE,
                headline=f"MNIST's net: {result.own:.1%} on MNIST, {result.shifted:.1%} on other digits",
                text=f"The MNIST-trained CNN, untouched: {result.own:.1%} on MNIST's test set, {result.shifted:.1%} "
                     f"on the bundled 8x8 digits (the same ten classes from another scan, upsampled to 28x28): "
                     f"{result.drop:+.1%} (line: more than {SHIFT_LINE:.0%} lost; one shipped model, no seed)."),
        Verdict(label="MNIST pretraining helps the shifted digits", passed=digits.ahead("finetune", "scratch").holds,
                headline=(f"8x8 digits: from MNIST {_accuracy(digits, 'finetune')}, scratch "
                          f"{_accuracy(digits, 'scratch')}"),
                text=f"8x8 digits: fine-tuned from MNIST {_per_seed([r.accuracy['finetune'] for r in digits.rows])}, "
                     f"linear probe on its features {_per_seed([r.accuracy['linear_probe'] for r in digits.rows])}, "
                     f"scratch {_per_seed([r.accuracy['scratch'] for r in digits.rows])} ({where}). " + pretrained),
        Verdict(label="less help on a dissimilar target", passed=result.helps_less_when_dissimilar.holds,
                headline=(f"fine-tuned minus scratch: {_short(result.gain(SHIFTED), '{:+.0%}')} on digits, "
                          f"{_short(result.gain(DISSIMILAR), '{:+.0%}')} on Fashion-MNIST"),
                text=f"Fine-tuned minus scratch: {_per_seed(result.gain(SHIFTED), '{:+.1%}')} on the digits, "
                     f"{_per_seed(result.gain(DISSIMILAR), '{:+.1%}')} on Fashion-MNIST (fine-tuned "
                     f"{_per_seed([r.accuracy['finetune'] for r in fashion.rows])}, linear probe "
                     f"{_per_seed([r.accuracy['linear_probe'] for r in fashion.rows])}, scratch "
                     f"{_per_seed([r.accuracy['scratch'] for r in fashion.rows])}; {where}). " + less),
    ]
