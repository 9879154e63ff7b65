"""The ImageNet fine-tune-all claim: registered with the lecture's words, measured on the strategies
it names at the lesson's large k, and decided by the 2-point lead at every seed; the lesson's own
verdict names it at a large similar target and reads the same predicate (the scores are stand-ins
here; a real run takes minutes a seed: `python -m cnnbp claims --lesson transfer --seeds 3`)."""

from __future__ import annotations

import pytest

import cnnbp.lessons.transfer  # noqa: F401  (registers the lesson and its claims)
from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons.base import Verdict, validate_config
from cnnbp.lessons.transfer import claims, verdicts
from cnnbp.lessons.transfer.comparison import Scores, SeedScores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.imagenet_parts import chosen_runs
from cnnbp.lessons.transfer.verdicts import imagenet_verdicts
from tests.lessons.test_headlines import assert_headlines

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


# The lesson's own verdict: the same predicate and sentence as the claim, on the same stand-in scores
def settings(**values) -> TransferConfig:
    return validate_config(TransferConfig, {"parts": ["imagenet"], "imagenet_strategies": ["linear_probe",
                                            "finetune_all"], "imagenet_per_class": 100, **values})


def lesson_verdict(cfg: TransferConfig, scores: SeedScores) -> Verdict:
    table = [{"strategy": "linear_probe", "accuracy": scores.rows[0].accuracy["linear_probe"], "trainable": 12_810,
              "share": 0.004, "steps_to_target": None},
             {"strategy": "finetune_all", "accuracy": scores.rows[0].accuracy["finetune_all"],
              "trainable": 3_384_394, "share": 1.0, "steps_to_target": 30}]
    verdicts = imagenet_verdicts(cfg, scores, table)
    assert_headlines(verdicts)
    return next(v for v in verdicts if v.label.startswith("fine-tuning all beats freezing"))


@pytest.mark.parametrize("all_, probe", [([0.73, 0.776, 0.724], [0.80, 0.81, 0.80]),
                                         ([0.85, 0.84, 0.86], [0.80, 0.81, 0.80]),
                                         ([0.81, 0.84, 0.86], [0.80, 0.81, 0.80])])
def test_the_lessons_verdict_at_a_large_k_is_the_claims(monkeypatch, all_, probe):
    scores, _ = stand_in(all_, probe)
    monkeypatch.setattr(claims, "_imagenet_seed_scores", scores)
    claimed = run_claim(CLAIM, seed=0)
    cfg = settings()
    verdict = lesson_verdict(cfg, scores(0, cfg.imagenet_per_class, ()))
    assert verdict.claim == CLAIM and verdict.label == "fine-tuning all beats freezing (large target)"
    assert verdict.passed is claimed.passed
    assert verdicts.imagenet_finetune_all_call(scores(0, 100, ())) in verdict.text
    assert verdict.text.endswith(claimed.measured.rsplit(". ", 1)[-1])  # the claim's sentence, word for word
    assert verdict.headline == f"every weight fine-tuned {_short(all_)}, frozen features {_short(probe)}"


def _short(values: list[float]) -> str:
    return "/".join(f"{v:.0%}" for v in values)


@pytest.mark.parametrize("values", [{"imagenet_per_class": 10}, {"imagenet_target": "mnist"}])
def test_a_small_or_dissimilar_target_is_measured_without_naming_the_claim(values):
    cfg = settings(**values)
    scores, _ = stand_in([0.85, 0.84, 0.86], [0.80, 0.81, 0.80])
    verdict = lesson_verdict(cfg, scores(0, cfg.imagenet_per_class, ()))
    assert verdict.claim is None and verdict.passed is True
    assert "the lecture's claim is about a large similar target: 100 or more images per class" in verdict.text


def test_every_verdict_seed_fine_tunes_all_where_the_probe_runs_too():
    cfg = settings()
    assert all(set(runs) == {"linear_probe", "finetune_all"} for runs in chosen_runs(cfg).values())
    assert len(chosen_runs(cfg)) == 3
    alone = settings(imagenet_strategies=["finetune_all", "top"])
    assert [set(runs) for runs in chosen_runs(alone).values()] == [{"finetune_all", "top"}, {"top"}, {"top"}]
