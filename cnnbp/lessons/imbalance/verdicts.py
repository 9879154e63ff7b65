"""The label-imbalance lesson's verdicts: a scored comparison -> Verdicts (the wording; each
predicate lives on its result object or in scoring.py, where the claims read it too)."""

from __future__ import annotations

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.metrics import PARADOX_ACCURACY, BinaryReport
from cnnbp.lessons.imbalance.scoring import F1_TOLERANCE, MIN_SEEDS, RECALL_GAIN, Scored, SeedComparison
from cnnbp.lessons.imbalance.training import BASELINE, TrainedRun, method_label


def _set(name: str) -> str:
    return name.replace("_", "-")


def paradox(trained: TrainedRun, scored: Scored, cfg: ImbalanceConfig, shown: str) -> Verdict:
    rare, test_set = trained.rare, "same_ratio" if "same_ratio" in scored else shown
    base, counts = scored[test_set][BASELINE], trained.counts[test_set]
    text = (f"The always-'{trained.classes[trained.majority]}' baseline on the {_set(test_set)} test set "
            f"({', '.join(f'{c} x {n}' for c, n in zip(trained.classes, counts))}): accuracy {base.accuracy:.1%}, "
            f"balanced accuracy {base.balanced_accuracy:.1%}, recall of the rare class "
            f"'{trained.classes[rare]}' {base.recall[rare]:.0%}.")
    if len(trained.classes) == 2:
        passed = base.accuracy_paradox
        text += (" High accuracy, no rare case found: the accuracy paradox." if passed else
                 f" Its accuracy is below {PARADOX_ACCURACY:.0%} at 1:{cfg.ratio:g}: no paradox at this ratio.")
    else:
        passed = None
        text += " With a long tail its accuracy is the head class's share; the paradox is starkest in the binary task."
    return Verdict("accuracy paradox", text, passed, claim="imbalance.accuracy_paradox",
                   headline=(f"always '{trained.classes[trained.majority]}': accuracy {base.accuracy:.1%}, rare "
                             f"recall {base.recall[rare]:.0%}"))


CLAIMS = {"oversample": "imbalance.oversampling_helps", "reweight": "imbalance.reweighting_helps",
          "balanced_batches": "imbalance.balanced_batches_help"}  # the lecture's three fixes
LINES = (f"Lines fixed before any run: on every seed {RECALL_GAIN:.0%} of rare recall or more with macro-F1 down by at "
         f"most {F1_TOLERANCE:g} holds, no rare recall gained on any seed does not; seeds that disagree cannot tell.")


def _per_seed(values: list[float], points: bool = True) -> str:
    return "/".join(f"{v * 100:+.0f}" if points else f"{v:+.3f}" for v in values)


def _decided(outcome: bool | None, seeds: list[int]) -> str:
    if len(seeds) < MIN_SEEDS:
        return (f" {len(seeds)} seed{'s' if len(seeds) > 1 else ''}: too few to tell, a comparison of trained models "
                f"needs {MIN_SEEDS} (set seeds).")
    return {True: " It holds on every seed.", False: " It does not hold on any seed.",
            None: " The seeds disagree: cannot tell."}[outcome]


def fixes(comparisons: dict[str, SeedComparison], scored: dict[int, Scored], trained: TrainedRun,
          cfg: ImbalanceConfig, shown: str) -> list[Verdict]:
    """Each fix against plain training over the seeds, and under-sampling's trade."""
    def recall(model: str, cls: int) -> str:
        return "/".join(f"{s[shown][model].recall[cls]:.0%}" for s in scored.values())

    out, rare, maj = [], trained.rare, trained.majority
    seeds = f"seed{'s' if len(scored) > 1 else ''} {'/'.join(map(str, scored))}"
    for method, c in comparisons.items():
        if method == "undersample":
            continue
        never = [seed for seed, s in scored.items() if s[shown][method].recall[rare] == 0]
        out.append(Verdict(
            f"rare recall raised by {method_label(method)}",
            f"On the {_set(shown)} test set at threshold {cfg.threshold:g}, {seeds}: rare-class recall "
            f"{recall(method, rare)} against plain training's {recall('none', rare)} ({_per_seed(c.rare_gain)} "
            f"points), macro-F1 {_per_seed(c.f1_change, points=False)}."
            + (f" On seed {'/'.join(map(str, never))} it never predicts the rare class." if never else "")
            + _decided(c.raises, c.seeds) + " " + LINES,
            c.raises, claim=CLAIMS.get(method),
            headline=f"rare recall {recall(method, rare)}, plain training {recall('none', rare)}"))
    if "undersample" in comparisons:
        c = comparisons["undersample"]
        out.append(Verdict(
            "under-sampling trades",
            f"Under-sampling kept {min(trained.counts['train'])} training images per class. On the {_set(shown)} "
            f"test set, {seeds}, plain -> under-sampled: majority-class recall {recall('none', maj)} -> "
            f"{recall('undersample', maj)}, rare-class recall {recall('none', rare)} -> {recall('undersample', rare)}."
            + _decided(c.trades, c.seeds) + f" Line: on every seed the majority loses recall and the rare class "
              f"gains {RECALL_GAIN:.0%} or more.",
            c.trades, claim="imbalance.undersampling_trades",
            headline=(f"recall: majority {recall('none', maj)} -> {recall('undersample', maj)}, rare "
                      f"{recall('none', rare)} -> {recall('undersample', rare)}")))
    return out


def _words(r: BinaryReport) -> str:
    return (f"accuracy {r.accuracy:.1%}, precision {r.precision:.3f}, recall {r.recall:.3f}, F1 {r.f1:.3f}, "
            f"FPR {r.fpr:.3f}, ROC-AUC {r.roc_auc:.3f}")


def scenarios(scen: dict[str, dict[str, BinaryReport]], trained: TrainedRun) -> list[Verdict]:
    rare_name, rest_name = trained.classes[trained.rare], trained.classes[1 - trained.rare]
    a = scen["positives_outnumber_negatives"]
    b = a[BASELINE]
    positives = Verdict(
        "positives outnumber negatives",
        f"Call '{rest_name}' positive ({b.positives} positives, {b.negatives} negatives). The model that says "
        f"positive to everything: {_words(b)}. "
        + ("Accuracy, precision and F1 look excellent" if b.f1 >= PARADOX_ACCURACY else
           f"At {b.positives}:{b.negatives} even F1 stays below {PARADOX_ACCURACY:g}: the scenario needs a larger "
           f"ratio")
        + f"; FPR = {b.fpr:g} and AUC = {b.roc_auc:g} tell the truth."
        + (f" Plain training: {_words(a['none'])}." if "none" in a else ""),
        b.fpr_and_auc_expose, claim="imbalance.fpr_auc_when_positives_dominate",
        headline=f"all-positive model: F1 {b.f1:.2f}, but FPR {b.fpr:.2f} and AUC {b.roc_auc:.2f}")
    n = scen["negatives_outnumber_positives"]
    b = n[BASELINE]
    text = (f"Call '{rare_name}' positive ({b.positives} positives, {b.negatives} negatives). The always-negative "
            f"model: {_words(b)}: "
            + ("accuracy high, precision, recall and F1 zero." if b.accuracy >= PARADOX_ACCURACY else
               f"precision, recall and F1 zero, but at {b.negatives}:{b.positives} its accuracy is below "
               f"{PARADOX_ACCURACY:.0%} too: the scenario needs a larger ratio."))
    if "none" in n:
        p = n["none"]
        text += (f" Plain training: {_words(p)}: "
                 + (f"F1 is {p.accuracy - p.f1:.2f} below the accuracy, the low F1 tells the truth."
                    if p.f1 < p.accuracy else f"F1 is not below the accuracy ({p.f1 - p.accuracy:+.2f})."))
    negatives = Verdict("negatives outnumber positives", text, b.f1_exposes,
                        claim="imbalance.f1_when_negatives_dominate",
                        headline=f"always-negative model: accuracy {b.accuracy:.1%}, F1 {b.f1:.2f}")
    return [positives, negatives]
