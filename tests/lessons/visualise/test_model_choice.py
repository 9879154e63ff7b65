"""The visualise tab offers only the models this machine can run: the cached ResNet-18 where its
weights are in torch's hub cache, the ImageNet EfficientNet where its packages are installed. A
caller who names another (API, CLI) is told why in one line that names no server folder."""

from __future__ import annotations

import pytest
import torch

from cnnbp.lessons.base import ConfigError, validate_config
from cnnbp.lessons.visualise import config as config_module
from cnnbp.lessons.visualise.config import VisualiseConfig
from cnnbp.lessons.visualise.imagenet import weights_path
from tests.lessons.choices import offered


def test_resnet_is_offered_only_where_its_weights_are_cached(hub):
    assert "resnet18_imagenet" not in offered(VisualiseConfig, "model")
    assert "trained" in offered(VisualiseConfig, "model")
    with pytest.raises(ConfigError) as err:
        validate_config(VisualiseConfig, {"model": "resnet18_imagenet", "parts": ["weights"]})
    message = str(err.value)
    assert message.startswith("model: the ImageNet ResNet-18 weights are not in torch's hub cache")
    assert "\n" not in message and str(hub) not in message and "/" not in message.split("(got")[0]
    weights_path().parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, weights_path())
    assert "resnet18_imagenet" in offered(VisualiseConfig, "model")
    assert validate_config(VisualiseConfig, {"model": "resnet18_imagenet", "parts": ["weights"]}).model == \
        "resnet18_imagenet"


def test_the_imagenet_network_is_not_offered_without_its_package(monkeypatch):
    monkeypatch.setattr(config_module.imagenet_net, "unavailable_reason",
                        lambda: "the ImageNet network needs timm, not installed here: pip install timm")
    assert config_module.EFFICIENTNET not in offered(VisualiseConfig, "model")
    with pytest.raises(ConfigError, match=r"^model: the ImageNet network needs timm"):
        validate_config(VisualiseConfig, {"model": config_module.EFFICIENTNET})


def test_an_unknown_model_is_refused_with_the_runnable_ones():
    with pytest.raises(ConfigError) as err:
        validate_config(VisualiseConfig, {"model": "vgg99"})
    assert str(err.value).startswith("model: unknown model 'vgg99'; choose from trained")
