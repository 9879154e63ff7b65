"""GroupNorm's two limits, measured: GroupNorm(1, C) is LayerNorm over (C, H, W), and
GroupNorm(C, C) is InstanceNorm (the lecture's ``nn.GroupNorm(1, 6)`` / ``nn.GroupNorm(6, 6)``).

Each pair runs PyTorch's own modules on one random tensor, in float32 and float64; the max abs
difference is the measurement. The affine parts are at their start values (gamma 1, beta 0),
where LayerNorm's per-element affine and GroupNorm's per-channel one agree.

>>> result = equivalences(shape=(2, 6, 4, 4), seed=0)
>>> [r["pair"] for r in result.rows][:2]
['GroupNorm(1, C) vs LayerNorm((C, H, W))', 'GroupNorm(C, C) vs InstanceNorm2d(C)']
>>> all(r["max_abs_diff"] < 1e-12 for r in result.rows if r["dtype"] == "float64"), result.equal
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cnnbp.device import derive_seed, make_generator

# float32 keeps ~7 digits; normalised values are of order 1-5 and the two modules sum in a
# different order, so agreement to 1e-5 is agreement to rounding. Fixed before any run.
FLOAT32_TOLERANCE = 1e-5
FLOAT64_TOLERANCE = 1e-12
# The lesson's tensor: the first feature maps of the default CNN on a batch of 8 digits.
LESSON_SHAPE = (8, 16, 8, 8)


@dataclass
class Equivalences:
    rows: list[dict]  # one per (pair, dtype): pair, dtype, shape, max_abs_diff, tolerance, equal

    @property
    def equal(self) -> bool:
        """Both pairs agree to rounding in both precisions: the claim."""
        return all(r["equal"] for r in self.rows)


def _pairs(c: int, h: int, w: int) -> list[tuple[str, nn.Module, nn.Module]]:
    return [
        ("GroupNorm(1, C) vs LayerNorm((C, H, W))", nn.GroupNorm(1, c), nn.LayerNorm((c, h, w))),
        ("GroupNorm(C, C) vs InstanceNorm2d(C)", nn.GroupNorm(c, c), nn.InstanceNorm2d(c)),
    ]


def equivalences(*, shape: tuple[int, int, int, int], seed: int) -> Equivalences:
    """One row per (pair, dtype): the max abs difference of the two outputs on one N(0, 1)
    tensor of ``shape`` (and the tolerance it is held to)."""
    n, c, h, w = shape
    x64 = torch.randn(shape, generator=make_generator(derive_seed(seed, "equivalence-input")), dtype=torch.float64)
    rows = []
    for dtype, tol in ((torch.float32, FLOAT32_TOLERANCE), (torch.float64, FLOAT64_TOLERANCE)):
        x = x64.to(dtype)
        for pair, a, b in _pairs(c, h, w):
            a, b = a.to(dtype), b.to(dtype)
            with torch.no_grad():
                diff = float((a(x) - b(x)).abs().max())
            rows.append({"pair": pair, "dtype": str(dtype).removeprefix("torch."), "shape": list(shape),
                         "max_abs_diff": diff, "tolerance": tol, "equal": diff <= tol})
    return Equivalences(rows)
