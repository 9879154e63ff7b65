"""Real architectures counted without weights: every counter against every other, and the
numbers the lecture and the libraries' model cards give."""

from __future__ import annotations

import pytest

from cnnbp.lessons.architecture.models import ARCHITECTURES, SMALL_CNN, summary
from cnnbp.lessons.architecture.parts import available_models
from cnnbp.nn import small_cnn_macs


@pytest.mark.parametrize("name", available_models())
def test_flop_counter_is_twice_our_multiply_adds_and_numel_is_the_layers_sum(name):
    s = summary(name)
    assert s.flops == 2 * s.macs
    assert s.params == sum(layer.params for layer in s.counted.layers)
    assert set(s.counted.flops_by_op) <= {"convolution", "addmm", "mm"}


@pytest.mark.parametrize("name", [n for n, a in ARCHITECTURES.items() if a.spec])
def test_the_recurrence_counts_the_plain_stacks_exactly(name):
    s = summary(name)
    assert s.params_by_recurrence == s.params and s.macs_by_recurrence == s.macs


def test_vgg16_is_the_lectures_138m_most_of_it_in_the_first_fc_layer():
    s = summary("vgg16")
    assert s.params == 138_357_544 and s.reported == (138_357_544.0, 15.47)
    assert round(s.macs / 1e9, 2) == 15.47  # the model card's "GFLOPS" are multiply-adds
    assert s.fc_params == 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert s.largest.name == "classifier.0" and s.largest.params == 102_764_544 and s.fc_share > 0.89
    assert s.rf_size == 212


def test_resnet18_matches_its_model_card():
    s = summary("resnet18")
    assert s.params == int(s.reported[0]) == 11_689_512
    assert round(s.macs / 1e9, 3) == s.reported[1] == 1.814


def test_the_apps_small_cnn_matches_its_own_cost_model():
    s = summary("smallcnn")
    assert s.macs == small_cnn_macs(**SMALL_CNN) == s.reference_macs


@pytest.mark.skipif("efficientnet_lite0" not in available_models(), reason="timm is not installed")
def test_efficientnet_lite0_has_the_imagenet_modules_parameter_count():
    s = summary("efficientnet_lite0")
    assert s.params == 4_652_008  # cnnbp.nn.imagenet: "4.65M parameters"
    depthwise = [layer for layer in s.counted.layers if layer.kind.startswith("Conv") and layer.params and
                 layer.macs == layer.params * layer.out_shape[1] * layer.out_shape[2]]
    assert depthwise, "some conv's multiply-adds are its weights x its output pixels (depthwise or 1-channel)"
