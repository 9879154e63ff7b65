"""Registries and builders: activations, norms, inits, and the models built from them."""

from cnnbp.nn import imagenet as imagenet  # the pretrained ImageNet network; imports timm only when built
from cnnbp.nn.activations import ACTIVATIONS, create_act, get_act
from cnnbp.nn.inits import INITS, get_init, init_model
from cnnbp.nn.models import DeepMLP, SmallCNN, small_cnn_macs
from cnnbp.nn.norms import NORMS, create_norm

__all__ = [
    "ACTIVATIONS", "INITS", "NORMS", "DeepMLP", "SmallCNN", "small_cnn_macs",
    "create_act", "create_norm", "get_act", "get_init", "init_model",
]
