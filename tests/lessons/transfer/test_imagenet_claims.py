"""The ImageNet fine-tune-all claim: registered with the lecture's words, measured on the strategies
it names at the lesson's large k, and decided by the 2-point lead at every seed (the scores are
stand-ins here; a real run takes minutes a seed: `python -m cnnbp claims --lesson transfer --seeds 3`)."""

from __future__ import annotations

import pytest

import cnnbp.lessons.transfer  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons.transfer import claims
from cnnbp.lessons.transfer.comparison import Scores, SeedScores

CLAIM = "transfer.imagenet_large_finetune_all_beats_freezing"


def stand_in(all_: list[float], probe: list[float]):
    asked = []

    def scores(seed, per_class, strategies):
        asked.append((seed, per_class, strategies))
        rows = [Scores(per_class, 10 * per_class, {"finetune_all": a, "linear_probe": p}, {"finetune_all": None}, s)
                for s, a, p in zip(range(seed, seed + 3), all_, probe)]
        return SeedScores(rows, steps=60, eval_every=6)
    return scores, asked


def test_the_claim_is_the_lectures():
    claim = CLAIMS[CLAIM]
    assert claim.lesson == "transfer" and claim.source == "001, 003"
    assert "large target similar to the source" in claim.statement and "fine-tuning all layers" in claim.statement


@pytest.mark.parametrize("all_, probe, passed, words", [
    ([0.73, 0.776, 0.724], [0.80, 0.81, 0.80], False, "The frozen features ahead by more than 2 points at every seed"),
    ([0.85, 0.84, 0.86], [0.80, 0.81, 0.80], True, "Fine-tuning all ahead by more than 2 points at every seed"),
    ([0.81, 0.84, 0.86], [0.80, 0.81, 0.80], None, "Too close to call"),
])
def test_decided_by_a_two_point_lead_at_every_seed(monkeypatch, all_, probe, passed, words):
    scores, asked = stand_in(all_, probe)
    monkeypatch.setattr(claims, "_imagenet_seed_scores", scores)
    result = run_claim(CLAIM, seed=0)
    assert asked == [(0, claims.defaults(0).imagenet_large, ("linear_probe", "finetune_all"))]
    assert result.passed is passed and words in result.measured
    assert f"every weight fine-tuned {all_[0]:.1%} / {all_[1]:.1%} / {all_[2]:.1%}" in result.measured
    assert "100 images per class at 48 px, seeds 0/1/2" in result.measured
