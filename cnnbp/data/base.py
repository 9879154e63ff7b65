"""The one container every dataset returns, and the error for data that is not on disk.

>>> ds = ImageDataset("tiny", torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 0, 1]),
...                   torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]), classes=("a", "b"))
>>> ds.num_classes, ds.in_channels, ds.image_size
(2, 1, (8, 8))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


class DatasetUnavailable(ValueError):
    """A dataset whose files are missing (or could not be fetched).

    The message is one line that names the folder looked in and the env var to set, so the
    app can show it as is. A ``ValueError`` so callers that validate options catch it too.
    """


# eq=False: the generated __eq__ would compare tensors element-wise and then fail in bool();
# identity equality (and hashing) is what a frozen bundle of tensors needs.
@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Train and test tensors of one image-classification dataset, ready for a CNN.

    Images are float32 in [0, 1], (N, C, H, W); labels int64 in [0, num_classes). The
    factories return fresh tensors on every call, so a caller may modify them in place
    without affecting other callers (the raw caches behind them are never handed out).

    >>> from cnnbp.data import get_dataset
    >>> get_dataset("digits").x_train.shape
    torch.Size([1437, 1, 8, 8])
    """

    name: str
    x_train: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor  # (M, C, H, W) float32 in [0, 1]
    y_test: torch.Tensor  # (M,) int64
    classes: tuple[str, ...]
    mask_train: torch.Tensor | None = None  # (N, H, W) bool object masks, where known
    mask_test: torch.Tensor | None = None  # (M, H, W) bool

    def __post_init__(self) -> None:
        # Catch shape/dtype slips at construction, where the bug is, not deep in training.
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            mask = getattr(self, f"mask_{split}")
            if x.ndim != 4 or x.dtype != torch.float32:
                raise ValueError(f"{self.name}: x_{split} must be (N, C, H, W) float32, "
                                 f"got {tuple(x.shape)} {x.dtype}")
            if y.shape != (x.shape[0],) or y.dtype != torch.int64:
                raise ValueError(f"{self.name}: y_{split} must be ({x.shape[0]},) int64, "
                                 f"got {tuple(y.shape)} {y.dtype}")
            if mask is not None and (mask.dtype != torch.bool
                                     or mask.shape != (x.shape[0], *x.shape[2:])):
                raise ValueError(f"{self.name}: mask_{split} must be ({x.shape[0]}, H, W) bool, "
                                 f"got {tuple(mask.shape)} {mask.dtype}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"{self.name}: train images {tuple(self.x_train.shape[1:])} and "
                             f"test images {tuple(self.x_test.shape[1:])} differ in shape")
        if not self.classes:
            raise ValueError(f"{self.name}: classes must not be empty")
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.x_train.shape[2]), int(self.x_train.shape[3])

    def describe(self) -> str:
        """One line for the UI, e.g. ``digits: 1437 train / 360 test, 1x8x8, 10 classes (0, 1, ..., 9)``."""
        shown = ", ".join(self.classes) if self.num_classes <= 6 else (
            ", ".join(self.classes[:2]) + ", ..., " + self.classes[-1])
        h, w = self.image_size
        masks = ", with object masks" if self.mask_train is not None else ""
        return (f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test, "
                f"{self.in_channels}x{h}x{w}, {self.num_classes} classes ({shown}){masks}")
