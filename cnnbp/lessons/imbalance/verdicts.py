"""The label-imbalance lesson's verdicts: a scored comparison -> Verdicts (the wording; each
predicate lives on its result object or in scoring.py, where the claims read it too)."""

from __future__ import annotations

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.metrics import PARADOX_ACCURACY, BinaryReport
from cnnbp.lessons.imbalance.scoring import F1_TOLERANCE, RECALL_GAIN, Scored, raises, trades
from cnnbp.lessons.imbalance.training import BASELINE, TrainedRun, method_label

LECTURE_FIXES = ("oversample", "reweight", "balanced_batches")  # the lecture's three fixes


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
    return Verdict("accuracy paradox", text, passed, claim="imbalance.accuracy_paradox")


def fixes(trained: TrainedRun, scored: Scored, cfg: ImbalanceConfig, shown: str) -> list[Verdict]:
    """The fixes against plain training, and under-sampling's trade (when "none" was trained)."""
    metrics, rare = scored[shown], trained.rare
    if "none" not in metrics:
        return []
    out, none = [], metrics["none"]
    parts, ok = [], []
    for m in [m for m in metrics if m not in (BASELINE, "none", "undersample")]:
        d_rec = metrics[m].recall[rare] - none.recall[rare]
        d_f1 = metrics[m].macro_f1 - none.macro_f1
        parts.append(f"{method_label(m)} {metrics[m].recall[rare]:.0%} ({d_rec:+.0%}), macro-F1 "
                     f"{metrics[m].macro_f1:.3f} ({d_f1:+.3f})")
        if m in LECTURE_FIXES:
            ok.append(raises(metrics[m], none))
    if parts:
        out.append(Verdict(
            "fixes raise the rare recall",
            f"{_set(shown)} test set, threshold {cfg.threshold:g}, one seed: rare-class recall of "
            f"plain training {none.recall[rare]:.0%}, macro-F1 {none.macro_f1:.3f}; " + "; ".join(parts)
            + f". 'Raises': +{RECALL_GAIN:.0%} recall or more and macro-F1 down by at most {F1_TOLERANCE:g} "
              f"(the registered claim averages three seeds).",
            all(ok) if ok else None))
    if "undersample" in metrics:
        u, maj = metrics["undersample"], trained.majority
        out.append(Verdict(
            "under-sampling trades",
            f"Under-sampling kept {min(trained.counts['train'])} images per class: majority-class recall "
            f"{none.recall[maj]:.1%} -> {u.recall[maj]:.1%}, rare-class recall {none.recall[rare]:.0%} -> "
            f"{u.recall[rare]:.0%} (plain -> under-sampled, {_set(shown)} test set).",
            trades(u, none, majority=maj), claim="imbalance.undersampling_trades"))
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
        b.fpr_and_auc_expose, claim="imbalance.fpr_auc_when_positives_dominate")
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
                        claim="imbalance.f1_when_negatives_dominate")
    return [positives, negatives]
