"""The activation registry: building, options, local gradients and saturation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cnnbp.nn.activations import (
    ACTIVATIONS,
    SATURATION_GRAD_RATIO,
    Maxout,
    create_act,
    get_act,
    grad_ratio,
    local_grad,
    peak_grad,
    saturated_mask,
)

ELEMENTWISE = sorted(n for n, s in ACTIVATIONS.items() if s.elementwise)
# Points away from every kink (relu-like acts are not differentiable at 0).
Z = torch.tensor([-4.0, -1.5, -0.3, 0.2, 0.7, 2.5, 6.0])

SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772


def _sig(z: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-z))


def _step(z: torch.Tensor, pos, neg) -> torch.Tensor:
    """pos where z > 0, else neg (scalars or tensors), in z's dtype."""
    return torch.where(z > 0, torch.as_tensor(pos, dtype=z.dtype), torch.as_tensor(neg, dtype=z.dtype))


# f'(z) worked out by hand, at default options.
DERIVATIVES = {
    "sigmoid": lambda z: _sig(z) * (1 - _sig(z)),
    "tanh": lambda z: 1 - torch.tanh(z) ** 2,
    "relu": lambda z: _step(z, 1.0, 0.0),
    "leaky_relu": lambda z: _step(z, 1.0, 0.01),
    "prelu": lambda z: _step(z, 1.0, 0.25),
    "elu": lambda z: _step(z, 1.0, torch.exp(z)),
    "selu": lambda z: SELU_SCALE * _step(z, 1.0, SELU_ALPHA * torch.exp(z)),
    "swish": lambda z: _sig(z) + z * _sig(z) * (1 - _sig(z)),
    "silu": lambda z: _sig(z) + z * _sig(z) * (1 - _sig(z)),
    "gelu": lambda z: 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-z * z / 2) / math.sqrt(2 * math.pi),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_builds_and_keeps_shape(name: str) -> None:
    spec = get_act(name)
    act = create_act(name)
    x = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    # maxout: (N, k*C, H, W) -> (N, C, H, W); elementwise: same shape
    assert act(x).shape == (2, 4 // spec.width_factor, 3, 3)
    assert spec.width_factor == (2 if name == "maxout" else 1)
    assert spec.elementwise == (name != "maxout")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_default_options_equal_no_options(name: str) -> None:
    x = torch.linspace(-3, 3, 24).reshape(1, 4, 2, 3)
    spec = get_act(name)
    assert torch.equal(create_act(name, **spec.options)(x), create_act(name)(x))


@pytest.mark.parametrize(
    "name, option", [(n, o) for n, s in sorted(ACTIVATIONS.items()) for o in s.options]
)
def test_every_option_changes_the_output(name: str, option: str) -> None:
    x = torch.linspace(-3, 3, 24).reshape(1, 4, 2, 3)
    default = get_act(name).options[option]
    changed = create_act(name, **{option: default * 2 + 0.1})(x)
    assert not torch.allclose(changed, create_act(name)(x))


def test_unknown_activation_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown activation 'softsign'") as err:
        create_act("softsign")
    for name in ACTIVATIONS:
        assert name in str(err.value)


def test_unknown_option_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"no option \['beta'\]; options: slope"):
        create_act("leaky_relu", beta=2.0)
    with pytest.raises(ValueError, match="options: none"):
        create_act("relu", slope=0.1)


def test_leaky_relu_slope() -> None:
    z = torch.tensor([-10.0, -1.0, 0.0, 3.0])
    torch.testing.assert_close(create_act("leaky_relu", slope=0.1)(z), torch.tensor([-1.0, -0.1, 0.0, 3.0]))
    torch.testing.assert_close(create_act("leaky_relu")(z), torch.tensor([-0.1, -0.01, 0.0, 3.0]))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 10.0])
def test_swish_beta(beta: float) -> None:
    z = torch.linspace(-5, 5, 41, dtype=torch.float64)
    expected = z / (1 + torch.exp(-beta * z))
    torch.testing.assert_close(create_act("swish", beta=beta)(z), expected, rtol=1e-12, atol=1e-12)


def test_swish_with_beta_one_is_silu() -> None:
    z = torch.linspace(-5, 5, 41)
    torch.testing.assert_close(create_act("swish")(z), F.silu(z))


def test_maxout_takes_the_max_over_consecutive_channel_pairs() -> None:
    x = torch.tensor([1.0, 5.0, -2.0, -3.0, 0.5, 0.25]).reshape(1, 6, 1, 1)
    assert torch.equal(Maxout(2)(x).flatten(), torch.tensor([5.0, -2.0, 0.5]))
    assert torch.equal(Maxout(3)(x).flatten(), torch.tensor([5.0, 0.5]))
    with pytest.raises(ValueError, match="at least 2 pieces, got 1"):
        Maxout(1)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_local_grad_equals_the_analytic_derivative(name: str) -> None:
    got = local_grad(create_act(name).double(), Z.double())
    torch.testing.assert_close(got, DERIVATIVES[name](Z.double()), rtol=1e-10, atol=1e-12)


def test_every_elementwise_activation_has_an_analytic_derivative_here() -> None:
    assert set(ELEMENTWISE) == set(DERIVATIVES), "add f'(z) of the new activation to DERIVATIVES"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_local_grad_matches_central_differences(name: str) -> None:
    act, z, h = create_act(name).double(), Z.double(), 1e-6
    numeric = (act(z + h) - act(z - h)) / (2 * h)
    torch.testing.assert_close(local_grad(act, z), numeric, rtol=1e-6, atol=1e-8)


def test_local_grad_leaves_the_input_untouched() -> None:
    z = torch.tensor([-1.0, 2.0])
    local_grad(create_act("tanh"), z)
    assert not z.requires_grad and z.grad is None


@pytest.mark.parametrize("name, peak", [("sigmoid", 0.25), ("tanh", 1.0), ("relu", 1.0),
                                        ("leaky_relu", 1.0), ("elu", 1.0), ("maxout", 1.0),
                                        ("selu", SELU_SCALE * SELU_ALPHA)])
def test_peak_grad(name: str, peak: float) -> None:
    assert peak_grad(name) == pytest.approx(peak, rel=1e-4)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_grad_ratio_is_between_zero_and_one(name: str) -> None:
    z = torch.linspace(-20, 20, 4001)  # the grid peak_grad searches, every 10th point
    ratio = grad_ratio(create_act(name), name, z)
    assert ratio.shape == z.shape
    assert float(ratio.min()) >= 0.0 and float(ratio.max()) <= 1.0 + 1e-6
    assert float(ratio.max()) > 0.95


def test_tanh_saturation() -> None:
    z = torch.tensor([0.0, 5.0, -5.0, 1.0])
    ratio = grad_ratio(create_act("tanh"), "tanh", z)
    torch.testing.assert_close(ratio, 1 - torch.tanh(z) ** 2)
    assert saturated_mask(create_act("tanh"), "tanh", z).tolist() == [False, True, True, False]


def test_sigmoid_saturation_is_relative_to_its_peak() -> None:
    # at z = 2, s'(z) = 0.105 (< 0.1 absolute would be wrong) = 0.42 of the peak 0.25
    z = torch.tensor([0.0, 2.0, 5.0])
    ratio = grad_ratio(create_act("sigmoid"), "sigmoid", z)
    torch.testing.assert_close(ratio, 4 * _sig(z) * (1 - _sig(z)))
    assert saturated_mask(create_act("sigmoid"), "sigmoid", z).tolist() == [False, False, True]


def test_saturation_threshold_for_tanh_is_where_the_gradient_is_ten_percent() -> None:
    edge = math.atanh(math.sqrt(1 - SATURATION_GRAD_RATIO))  # 1 - tanh^2 = 0.1
    z = torch.tensor([edge - 1e-3, edge + 1e-3])
    assert saturated_mask(create_act("tanh"), "tanh", z).tolist() == [False, True]


def test_relu_negative_side_is_saturated() -> None:
    z = torch.tensor([-3.0, -1e-3, 1e-3, 4.0])
    assert saturated_mask(create_act("relu"), "relu", z).tolist() == [True, True, False, False]
    # leaky relu passes 1% of the gradient: still below the 10% line
    assert saturated_mask(create_act("leaky_relu"), "leaky_relu", z).tolist() == [True, True, False, False]


def test_maxout_never_saturates_and_ratio_has_the_output_shape() -> None:
    z = torch.randn(3, 8, 2, 2, generator=torch.Generator().manual_seed(1)) * 10
    act = create_act("maxout")
    ratio = grad_ratio(act, "maxout", z)
    assert ratio.shape == (3, 4, 2, 2) and torch.equal(ratio, torch.ones(3, 4, 2, 2))
    assert not saturated_mask(act, "maxout", z).any()
