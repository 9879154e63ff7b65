"""The claims ledger: every claim names its source text and holds (or is reported) on our data."""

from pathlib import Path

import pytest

import cnnbp.lessons  # noqa: F401  (registers the claims)
from cnnbp.claims import SEEDS, all_claims, run_claim, run_claims

SEED_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"
INIT_CLAIMS = ["init.small_std_collapses", "init.large_std_saturates", "init.xavier_tanh_scaled_relu_collapses",
               "init.kaiming_relu_scaled", "init.constant_symmetry"]


def test_the_init_claims_of_the_design_table_are_registered():
    assert set(INIT_CLAIMS) <= set(all_claims())


@pytest.mark.parametrize("claim_id", list(all_claims()))
def test_each_claim_names_a_real_seed_text(claim_id):
    claim = all_claims()[claim_id]
    for source in claim.source.split(","):
        assert source.strip() in SEEDS
    if SEED_DIR.exists():
        assert all((SEED_DIR / SEEDS[s.strip()]).exists() for s in claim.source.split(","))


@pytest.mark.parametrize("claim_id", INIT_CLAIMS)
def test_init_claims_hold_on_the_lecture_setting(claim_id):
    result = run_claim(claim_id)
    assert result.passed is True, result.measured
    assert any(ch.isdigit() for ch in result.measured)  # a measured figure, not just a word


def test_a_broken_check_is_reported_not_raised(monkeypatch):
    from cnnbp import claims

    def broken(seed):
        raise RuntimeError("boom")

    monkeypatch.setitem(claims.CLAIMS, "test.broken", claims.Claim("test.broken", "test-only", "x", "003", broken))
    (result,) = list(run_claims("test-only"))
    assert result.passed is None and "RuntimeError: boom" in result.measured


def test_unknown_claim():
    with pytest.raises(ValueError, match="unknown claim"):
        run_claim("init.nope")


# Claims whose check takes about a second: measured again at other seeds, they must still hold
# (`python -m cnnbp claims --seeds 3` prints the rest; the slow ones train several seeds inside).
QUICK_CLAIMS = ["activations.saturation_kills_gradients", "activations.same_sign_gradients",
                "activations.selu_self_normalises", "preprocessing.standardised_trains_faster",
                "init.constant_symmetry", "batchnorm.train_eval_differ_eval_is_formula",
                "norms.group_norm_equivalences", "norms.batch_size_one_breaks_batchnorm",
                "norms.instance_norm_contrast_invariance", "dropout.inverted_keeps_mean",
                "dropout.test_time_scaling_same_net"]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("claim_id", QUICK_CLAIMS)
def test_quick_claims_hold_at_other_seeds_too(claim_id, seed):
    result = run_claim(claim_id, seed)
    assert result.seed == seed and result.passed is True, result.measured
