"""The augmentation lesson's verdicts: measured results -> Verdicts (the wording; each predicate
lives on its result object, where the claims read it too)."""

from __future__ import annotations

from typing import Sequence

from cnnbp.lessons.augment.ensemble import ENSEMBLE_MARGIN, EnsembleCurve, all_beat
from cnnbp.lessons.augment.flips import FlipResult
from cnnbp.lessons.augment.gallery import GalleryRow
from cnnbp.lessons.augment.training import MIN_SEEDS, RAISE_MARGIN, ArmHistory, Raise
from cnnbp.lessons.augment.tta import TIE_BAND, TTAResult
from cnnbp.lessons.base import Verdict


def _points(values: Sequence[float]) -> str:
    return "/".join(f"{v * 100:+.1f}" for v in values)


def labels(rows: list[GalleryRow]) -> Verdict:
    changed = [f"{r.name} ({r.label})" for r in rows if not r.label.startswith("keeps") and r.images is not None]
    idle = [r.name for r in rows if r.images is None]
    text = ("Where an augmentation changes the label: " + "; ".join(changed) + "." if changed
            else "Every augmentation shown keeps the label of this image.")
    if idle:
        text += f" Not applicable to a grey image: {', '.join(idle)} (RGB only)."
    shown = [r for r in rows if r.images is not None]
    return Verdict("labels", text, headline=f"{len(changed)} of {len(shown)} augmentations shown change the label")


def raises(histories: Sequence[ArmHistory], result: Raise, names: Sequence[str], train_images: int) -> Verdict:
    label, claim = "augmentation raises test accuracy", "augment.raises_test_accuracy"
    headline = f"test accuracy {_points(result.gains)} points with {' + '.join(names)}"
    by = {(h.seed, h.arm): h for h in histories}
    parts = [f"seed {s}: {by[s, 'plain'].test_accuracy[-1]:.1%} -> {by[s, 'augmented'].test_accuracy[-1]:.1%} "
             f"(gap {by[s, 'plain'].train_accuracy[-1] - by[s, 'plain'].test_accuracy[-1]:.1%} -> "
             f"{by[s, 'augmented'].train_accuracy[-1] - by[s, 'augmented'].test_accuracy[-1]:.1%})"
             for s in dict.fromkeys(h.seed for h in histories) if (s, "plain") in by and (s, "augmented") in by]
    text = (f"{train_images} training images, plain -> {' + '.join(names)}: test accuracy " + "; ".join(parts)
            + f". Change {_points(result.gains)} points; lines fixed before any run: +{RAISE_MARGIN * 100:g} point "
            f"or more on every seed holds, no gain on any seed does not, seeds that disagree are too close to call.")
    if len(result.gains) < MIN_SEEDS:
        return Verdict(label, text + f" {len(result.gains)} seed(s): cannot tell (it needs {MIN_SEEDS}).", None, claim,
                       headline)
    text += {True: " Augmentation raises it on every seed.", False: " Augmentation does not raise it here.",
             None: " Too close to call."}[result.raises]
    return Verdict(label, text, result.raises, claim, headline)


def flips(result: FlipResult, keeps_label: bool) -> Verdict:
    o = result.other_name
    worst = max(range(len(result.classes)), key=lambda i: result.per_class["horizontal"][i])
    text = (f"The plain net calls {o['none']:.0%} of the {result.images} unflipped test images by another name, "
            f"{o['horizontal']:.0%} mirrored, {o['vertical']:.0%} upside down, {o['both (180 deg)']:.0%} turned by "
            f"180 deg; worst mirrored: class {result.classes[worst]} "
            f"({result.per_class['horizontal'][worst]:.0%}, read as {result.read_as['horizontal'][worst]}).")
    text += (" A mirror keeps these labels, so a flip is a fair augmentation here." if keeps_label
             else " A flip makes most of these images another class or none: not an augmentation for them.")
    return Verdict("flips change labels", text, headline=(f"the plain net misnames {o['none']:.0%} upright, "
                                                          f"{o['horizontal']:.0%} mirrored"))


def tta(result: TTAResult) -> Verdict:
    label, claim = "TTA raises it further or ties", "augment.tta_raises_or_ties"
    headline = f"TTA over {result.views} views: {_points(result.changes)} points"
    text = (f"Augmented nets, whole image -> average of {result.views} views "
            f"({result.forward_passes:,} forward passes per net instead of "
            f"{result.forward_passes // result.views:,}): "
            + "; ".join(f"seed {s}: {a:.1%} -> {b:.1%}" for s, a, b in zip(result.seeds, result.single, result.tta))
            + f", change {_points(result.changes)} points (ties within +-{TIE_BAND * 100:g}): {result.outcome}.")
    if len(result.seeds) < MIN_SEEDS:
        return Verdict(label, text + f" {len(result.seeds)} seed(s): cannot tell.", None, claim, headline)
    text += {True: f" TTA {result.outcome} on every seed.", False: " TTA lowers accuracy here: the claim does not "
             "hold on these views.", None: " The seeds disagree: too close to call."}[result.raises_or_ties]
    return Verdict(label, text, result.raises_or_ties, claim, headline)


def ensemble(curves: dict[str, EnsembleCurve]) -> Verdict:
    label, claim = "an ensemble beats its mean member", "augment.ensemble_beats_member"
    parts = [f"{arm}: {len(c.members)} nets average {c.accuracy[-1]:.1%}, the mean member {c.mean_member:.1%} "
             f"(best {max(c.members):.1%}), {c.gain * 100:+.1f} points" for arm, c in curves.items()]
    passed = all_beat(list(curves.values()))
    headline = "over the mean member: " + ", ".join(f"{arm} {c.gain * 100:+.1f}" for arm, c in curves.items()) \
        + " points"
    text = ("; ".join(parts) + f". Line fixed before any run: +{ENSEMBLE_MARGIN * 100:g} point over the mean member "
            f"holds, no gain does not. Cost: K times the training and the forward passes.")
    if any(len(c.members) < 2 for c in curves.values()):
        return Verdict(label, text + " One net: nothing to average, cannot tell.", None, claim, headline)
    text += {True: " The ensemble wins.", False: " The ensemble does not beat its mean member here.",
             None: " Too close to call."}[passed]
    return Verdict(label, text, passed, claim, headline)
