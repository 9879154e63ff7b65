"""The classifiers trained on raw vs preprocessed digits, the exact fold that rewrites a classifier
for another input, and the loss's sensitivity to random weight changes."""

import numpy as np
import pytest
import torch

from cnnbp.lessons.preprocessing.sensitivity import (
    Pooled,
    SensitivityComparison,
    express_for,
    fold_input_change,
    perturbed_loss,
    sensitivity,
)
from cnnbp.lessons.preprocessing.training import build_model
from cnnbp.lessons.preprocessing.transforms import IMAGE_TRANSFORMS, fit_image_transform


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_models_are_seeded_and_leave_the_global_rng_alone(kind):
    state = torch.get_rng_state()
    a = build_model(kind, 12, 3, hidden=5, generator=torch.Generator().manual_seed(4))
    b = build_model(kind, 12, 3, hidden=5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
        assert p.abs().max() <= 1 / np.sqrt(p.shape[-1])


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_a_classifier_written_for_another_input_is_the_same_function(images, kind):
    train, test = images
    fitted = {n: fit_image_transform(n, train) for n in IMAGE_TRANSFORMS}
    net = build_model(kind, 3 * 6 * 6, 4, hidden=7, generator=torch.Generator().manual_seed(0)).double()
    reference = net(fitted["channel_std"](test.double()))
    for name, t in fitted.items():
        other = express_for(net, fitted["channel_std"], t, test.shape[1:])
        torch.testing.assert_close(other(t(test.double())), reference, atol=1e-9, rtol=1e-9)


def test_fold_refuses_a_model_without_a_linear_first_layer():
    with pytest.raises(ValueError, match="Flatten, Linear"):
        fold_input_change(torch.nn.Sequential(torch.nn.Identity(), torch.nn.ReLU()), scale=torch.ones(1),
                          shift=torch.zeros(1))


def test_perturbation_moves_each_weight_by_its_relative_size_and_restores_it():
    net = build_model("mlp", 4, 2, hidden=3, generator=torch.Generator().manual_seed(0)).double()
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.tensor([0, 1] * 4)
    before = [p.clone() for p in net.parameters()]
    directions = [torch.ones(3, 4, dtype=torch.float64) / np.sqrt(12), torch.zeros(2, 3, dtype=torch.float64)]
    w0 = net[1].weight.detach().clone()
    shifted = build_model("mlp", 4, 2, hidden=3, generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        shifted[1].weight.add_(0.1 * w0.norm() * directions[0])
        expected = float(torch.nn.functional.cross_entropy(shifted(x), y))
    assert perturbed_loss(net, x, y, directions, 0.1) == pytest.approx(expected, rel=1e-12)
    for p, q in zip(before, net.parameters()):
        assert torch.equal(p, q)


def test_sensitivity_is_the_same_function_with_the_same_loss(images):
    train, _ = images
    y = torch.arange(len(train)) % 4
    fitted = {n: fit_image_transform(n, train) for n in IMAGE_TRANSFORMS}
    net = build_model("linear", 3 * 6 * 6, 4, hidden=1, generator=torch.Generator().manual_seed(0))
    out = sensitivity(net, fitted["channel_std"], fitted, train, y, sizes=[0.0, 0.01], n_directions=3,
                      slice_t=[-0.01, 0.0, 0.01], seed=0)
    losses = [s.loss for s in out]
    assert max(losses) - min(losses) < 1e-9
    for s in out:
        assert s.relative_change[0] == pytest.approx(0.0, abs=1e-12)  # size 0 changes nothing
        assert s.slice_loss[1] == pytest.approx(s.loss, rel=1e-12)


# ---- the verdict's reading: the ratio's interval against the line ------------------------------

def comparison(raw, std, runs=3, directions=50):
    """Every run's classifier moving the raw loss by ``raw`` and the standardised by ``std``
    (mean, std over directions)."""
    return SensitivityComparison("channel_std", 0.01, directions, inputs=[],
                                 at_perturbation={"raw": [raw] * runs, "channel_std": [std] * runs})


@pytest.mark.parametrize("raw, runs, directions, expected", [
    ((6e-3, 3e-3), 3, 50, True),  # 6x, well past 2x
    ((1.4e-3, 0.7e-3), 3, 50, False),  # 1.4x, its interval below 2x
    ((2.1e-3, 2e-3), 3, 5, None),  # 2.1x, but +-2 standard errors (1.2x-3.6x) hold the line
    ((6e-3, 3e-3), 2, 50, None),  # two runs are too few
])
def test_the_claim_is_read_from_the_ratios_interval(raw, runs, directions, expected):
    sens = comparison(raw, (1e-3, 0.5e-3), runs=runs, directions=directions)
    assert sens.raw_ratio == pytest.approx(raw[0] / 1e-3)
    lo, hi = sens.raw_ratio_interval
    assert lo < sens.raw_ratio < hi
    assert sens.raw_more_sensitive is expected


def test_pooled_spread_counts_the_runs_disagreeing():
    same = Pooled.of([(1.0, 0.5)] * 4, directions=10)
    apart = Pooled.of([(0.5, 0.5), (1.5, 0.5), (0.5, 0.5), (1.5, 0.5)], directions=10)
    assert same.mean == apart.mean == 1.0
    assert same.variance == pytest.approx(0.25 / 40) and apart.variance == pytest.approx(0.5 / 40)
