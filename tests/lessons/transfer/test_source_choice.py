"""The transfer tab offers only the sources this machine can run: the ImageNet ResNet-18 where its
weights are in torch's hub cache (the same check as the visualise tab's), a shipped source where its
files load. A caller who names another (API, CLI) is told why in one line that names no server folder."""

from __future__ import annotations

import pytest
import torch

from cnnbp.lessons.base import ConfigError, validate_config
from cnnbp.lessons.transfer import sources
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.nn.resnet18_weights import weights_path
from tests.lessons.choices import offered


def test_resnet_is_offered_only_where_its_weights_are_cached(hub):
    assert "resnet18_imagenet" not in offered(TransferConfig, "source")
    assert "digits_0to4" in offered(TransferConfig, "source")
    with pytest.raises(ConfigError) as err:
        validate_config(TransferConfig, {"source": "resnet18_imagenet", "parts": ["compare"]})
    message = str(err.value)
    assert message.startswith("source: the ImageNet ResNet-18 weights are not in torch's hub cache "
                              "(resnet18-f37072fd.pth) and this app never downloads weights")
    assert "\n" not in message and str(hub) not in message and "/" not in message.split("(got")[0]
    weights_path().parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, weights_path())
    assert "resnet18_imagenet" in offered(TransferConfig, "source")
    small = {"source": "resnet18_imagenet", "parts": ["compare"], "strategies": ["linear_probe"], "steps": 10}
    assert validate_config(TransferConfig, small).source == "resnet18_imagenet"


def test_the_visualise_tab_reads_the_same_fact(hub):
    from cnnbp.lessons.visualise.config import VisualiseConfig

    assert "resnet18_imagenet" not in offered(VisualiseConfig, "model")
    weights_path().parent.mkdir(parents=True)
    weights_path().write_bytes(b"")
    assert "resnet18_imagenet" in offered(VisualiseConfig, "model")
    assert "resnet18_imagenet" in offered(TransferConfig, "source")


def test_a_shipped_source_whose_files_do_not_load_is_not_offered(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "SOURCES_DIR", tmp_path)  # an empty folder: no source's files
    assert not set(sources.SOURCES) & set(offered(TransferConfig, "source"))
    with pytest.raises(ConfigError) as err:
        validate_config(TransferConfig, {"source": "shapes_flat", "parts": ["compare"]})
    assert str(err.value).startswith("source: source 'shapes_flat': ")


def test_an_unknown_source_is_refused_with_the_runnable_ones(hub):
    with pytest.raises(ConfigError) as err:
        validate_config(TransferConfig, {"source": "vgg99"})
    assert str(err.value).startswith("source: unknown source 'vgg99'; choose from digits_0to4, digits_rotation")
    assert "resnet18_imagenet" not in str(err.value)
