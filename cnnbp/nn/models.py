"""The two networks every lesson builds on: a configurable small CNN and the deep MLP.

>>> net = SmallCNN(in_channels=1, num_classes=10, depth=4, width=16, activation="relu")
>>> net(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from cnnbp.nn.activations import create_act, get_act
from cnnbp.nn.norms import create_norm

NormPosition = Literal["before_act", "after_act"]


class ConvBlock(nn.Module):
    """conv -> norm -> act (the lecture's "BN before the nonlinearity"), or conv -> act -> norm."""

    def __init__(self, c_in: int, c_out: int, *, kernel: int, activation: str, norm: str,
                 norm_position: NormPosition = "before_act", act_options: dict | None = None):
        super().__init__()
        pieces = get_act(activation).width_factor  # maxout: the conv makes k x the channels
        self.conv = nn.Conv2d(c_in, c_out * pieces, kernel, padding=kernel // 2, bias=norm == "none")
        norm_channels = c_out * pieces if norm_position == "before_act" else c_out
        self.norm = create_norm(norm, norm_channels)
        self.act = create_act(activation, **(act_options or {}))
        self.norm_position = norm_position

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm_position == "before_act":
            return self.act(self.norm(x))
        return self.norm(self.act(x))


class SmallCNN(nn.Module):
    """``depth`` conv blocks; 2x2 pooling after every second block while the map is >= 4 px;
    the width doubles at each pooling; then global average pooling, dropout, a linear head.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        depth: int = 4,
        width: int = 16,
        kernel: int = 3,
        activation: str = "relu",
        norm: str = "none",
        norm_position: NormPosition = "before_act",
        dropout: float = 0.0,
        pooling: Literal["max", "avg"] = "max",
        image_size: int = 32,
        act_options: dict | None = None,
    ):
        super().__init__()
        # the constructor's arguments as plain data: a checkpoint rebuilds the model from them (nn/checkpoints.py)
        self.settings = {"in_channels": in_channels, "num_classes": num_classes, "depth": depth, "width": width,
                         "kernel": kernel, "activation": activation, "norm": norm, "norm_position": norm_position,
                         "dropout": dropout, "pooling": pooling, "image_size": image_size,
                         "act_options": dict(act_options or {})}
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same padding), got {kernel}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"unknown pooling {pooling!r}; choose from max, avg")
        pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pooling]
        layers: list[nn.Module] = []
        c_in, c_out, size = in_channels, width, image_size
        for i in range(depth):
            layers.append(ConvBlock(c_in, c_out, kernel=kernel, activation=activation, norm=norm,
                                    norm_position=norm_position, act_options=act_options))
            c_in = c_out
            if i % 2 == 1 and size >= 4:
                layers.append(pool(2))
                size //= 2
                c_out *= 2
        self.blocks = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c_in, num_classes)
        self.feature_dim = c_in

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate embedding: (N, C_in, H, W) -> (N, feature_dim)."""
        return self.blocks(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def small_cnn_macs(*, in_channels: int, image_size: int, depth: int = 4, width: int = 16, kernel: int = 3,
                   num_classes: int = 10) -> int:
    """Multiply-adds of one image through :class:`SmallCNN` (its convs and head; the same pooling
    schedule), the one cost model every lesson's estimate starts from. A test counts them
    against the built model.

    >>> small_cnn_macs(in_channels=1, image_size=8, depth=1, width=8, num_classes=10)  # 64 px x 8 x 9 + head
    4688
    """
    macs, c_in, c_out, size = 0, in_channels, width, image_size
    for i in range(depth):
        macs += kernel * kernel * c_in * c_out * size * size
        c_in = c_out
        if i % 2 == 1 and size >= 4:
            size //= 2
            c_out *= 2
    return macs + c_in * num_classes


class DeepMLP(nn.Module):
    """The lecture's net: ``depth`` hidden layers of ``width`` units, no biases, act after each.

    ``forward`` returns the last hidden activation (the classic experiment looks at it);
    pass ``num_outputs`` to add a linear read-out for training.
    """

    def __init__(self, in_features: int, *, width: int = 4096, depth: int = 6,
                 activation: str = "tanh", num_outputs: int | None = None):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"DeepMLP needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
        pieces = get_act(activation).width_factor
        layers: list[nn.Module] = []
        d_in = in_features
        for _ in range(depth):
            layers += [nn.Linear(d_in, width * pieces, bias=False), create_act(activation)]
            d_in = width
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_outputs) if num_outputs else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden(x)  # (N, in_features) -> (N, width)
        return self.head(h) if self.head is not None else h
