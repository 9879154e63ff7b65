"""The augmentation claims of lectures 003 and 004, each measured on the lesson's default
settings at the given seed (its subset; the nets at that seed and the next ones, as many as the
lesson's default). The three read one run, so it is computed once per seed."""

from __future__ import annotations

import functools

from cnnbp.claims import register_claim
from cnnbp.lessons.augment.config import AugmentConfig
from cnnbp.lessons.augment.ensemble import ENSEMBLE_MARGIN
from cnnbp.lessons.augment.training import RAISE_MARGIN
from cnnbp.lessons.augment.tta import TIE_BAND
from cnnbp.lessons.base import merge_frames, validate_config
from cnnbp.train import RunControl

MEASURED = ["training", "tta", "ensemble"]


@functools.lru_cache(maxsize=2)
def _numbers(seed: int) -> dict:
    from cnnbp.lessons import get_lesson  # the lesson registers these claims: import it when one runs

    cfg = validate_config(AugmentConfig, {"seed": seed, "parts": MEASURED})
    return merge_frames(get_lesson("augment").run(cfg, RunControl(budget_s=float("inf")))).numbers


def _setting() -> str:
    d = AugmentConfig()
    return (f"{d.dataset}, {d.train_images} training images, {' + '.join(d.augmentations)} at strength "
            f"{d.strength:g}, {d.seeds} seeds, {d.test_images} test images")


@register_claim("augment.raises_test_accuracy", lesson="augment", source="004",
                lecture="augmentation raises test accuracy",
                statement="data augmentation raises test accuracy when the training set is small")
def raises_test_accuracy(seed: int) -> tuple[bool | None, str]:
    over = _numbers(seed)["over_seeds"]
    return over["raises"], (f"{_setting()}: augmented minus plain test accuracy "
                            + "/".join(f"{g * 100:+.1f}" for g in over["gains"])
                            + f" points (line: +{RAISE_MARGIN * 100:g} on every seed)")


@register_claim("augment.tta_raises_or_ties", lesson="augment", source="003",
                lecture="TTA raises accuracy, or ties",
                statement="test-time augmentation (averaging over crops and flips) raises accuracy further, "
                          "or at least ties")
def tta_raises_or_ties(seed: int) -> tuple[bool | None, str]:
    t = _numbers(seed)["tta"]
    return t["raises_or_ties"], (f"{_setting()}, {t['views']} views: "
                                 + "; ".join(f"{a:.1%} -> {b:.1%}" for a, b in zip(t["single"], t["tta"]))
                                 + f" ({t['outcome']}; ties within +-{TIE_BAND * 100:g} points)")


@register_claim("augment.ensemble_beats_member", lesson="augment", source="003",
                lecture="an ensemble beats its average member",
                statement="an ensemble of models trained from different seeds beats its average member")
def ensemble_beats_member(seed: int) -> tuple[bool | None, str]:
    numbers = _numbers(seed)
    e = numbers["ensemble"]
    return numbers["ensembles_beat"], (f"{_setting()}: " + "; ".join(
        f"{arm}: ensemble {c['accuracy'][-1]:.1%} vs mean member {c['mean_member']:.1%}" for arm, c in e.items())
        + f" (line: +{ENSEMBLE_MARGIN * 100:g} points)")
