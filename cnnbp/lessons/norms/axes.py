"""Which cells of an (N, C, H, W) feature tensor share one mean and variance, for each norm.

The lecture's reading: N books, C pages per book, H x W words per page.

- batch:    one statistic per page number c, over that page in every book: (N, H, W)
- layer:    one statistic per book n, over all its pages: (C, H, W)
- instance: one statistic per page of one book: (H, W)
- group:    one statistic per chapter (C / G consecutive pages) of one book: (C / G, H, W)

:func:`statistic_index` gives every cell the id of the statistic it is normalised with; the
cells sharing a statistic with a chosen cell are those with the same id. :func:`normalise`
uses the same reduction axes to compute the norm itself, and :func:`torch_dependence` reads the
set back from torch's own functional norms (the cells whose input moves a chosen output), so the
picture is checked against PyTorch, not drawn from a description.

>>> statistic_index("group", (1, 4, 1, 1), groups=2).flatten().tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnbp.device import derive_seed, make_generator

KINDS: tuple[str, ...] = ("batch", "layer", "instance", "group")
LABELS = {"batch": "BatchNorm", "layer": "LayerNorm", "instance": "InstanceNorm", "group": "GroupNorm"}
AXES = {"batch": "(N, H, W)", "layer": "(C, H, W)", "instance": "(H, W)", "group": "(C/G, H, W)"}
READING = {
    "batch": "page c of every book: the same page number across all N books",
    "layer": "every page of book n: the whole book",
    "instance": "page c of book n alone",
    "group": "the chapter (C/G pages) of book n that holds page c",
}

Shape = tuple[int, int, int, int]


def check_groups(channels: int, groups: int, *, what: str = "groups") -> None:
    """GroupNorm needs ``groups`` to divide ``channels``; one line naming both numbers if not.

    >>> check_groups(16, 3)
    Traceback (most recent call last):
    ...
    ValueError: groups (3) must divide the channels (16)
    """
    if groups < 1 or channels % groups:
        raise ValueError(f"{what} ({groups}) must divide the channels ({channels})")


def statistic_index(kind: str, shape: Shape, *, groups: int = 1) -> torch.Tensor:
    """(N, C, H, W) long tensor: the id of the (mean, variance) pair each cell is normalised by."""
    n, c, h, w = shape
    book = torch.arange(n).view(n, 1, 1, 1)
    page = torch.arange(c).view(1, c, 1, 1)
    if kind == "batch":
        ids = page + 0 * book  # one per channel
    elif kind == "layer":
        ids = book + 0 * page  # one per sample
    elif kind == "instance":
        ids = book * c + page  # one per (sample, channel)
    elif kind == "group":
        check_groups(c, groups)
        ids = book * groups + page // (c // groups)  # one per (sample, group of C/G channels)
    else:
        raise ValueError(f"unknown norm {kind!r}; choose from {', '.join(KINDS)}")
    return ids.expand(n, c, h, w).contiguous()


def shared_with(kind: str, shape: Shape, cell: tuple[int, int, int, int], *, groups: int = 1) -> torch.Tensor:
    """(N, C, H, W) bool: the cells averaged together with ``cell`` (itself included)."""
    ids = statistic_index(kind, shape, groups=groups)
    return ids == ids[cell]


def normalise(x: torch.Tensor, kind: str, *, groups: int = 1, eps: float = 1e-5) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over the reduction axes of ``kind`` (no affine), biased var."""
    n, c, h, w = x.shape
    if kind == "group":
        check_groups(c, groups)
        xg = x.reshape(n, groups, c // groups, h, w)  # (N, G, C/G, H, W): a chapter per (n, g)
        mean, var = xg.mean((2, 3, 4), keepdim=True), xg.var((2, 3, 4), unbiased=False, keepdim=True)
        return ((xg - mean) / torch.sqrt(var + eps)).reshape(n, c, h, w)
    dims = {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3)}[kind]
    mean, var = x.mean(dims, keepdim=True), x.var(dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def torch_norm(x: torch.Tensor, kind: str, *, groups: int = 1) -> torch.Tensor:
    """PyTorch's own functional norm of ``kind`` in training mode (batch statistics), no affine."""
    if kind == "batch":
        return F.batch_norm(x, None, None, training=True)
    if kind == "layer":
        return F.layer_norm(x, x.shape[1:])
    if kind == "instance":
        return F.instance_norm(x)
    if kind == "group":
        return F.group_norm(x, groups)
    raise ValueError(f"unknown norm {kind!r}; choose from {', '.join(KINDS)}")


def torch_dependence(x: torch.Tensor, kind: str, cell: tuple[int, int, int, int], *,
                     groups: int = 1) -> torch.Tensor:
    """(N, C, H, W) bool: the input cells that torch's ``kind`` norm reads to compute its output
    at ``cell`` (a non-zero gradient of that output): exactly the cells sharing its statistic.

    ``x``: the input to differentiate at (random float64 values make an accidental zero
    gradient practically impossible)."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch_norm(x, kind, groups=groups)[cell], x)
    return grad != 0


def picture(shape: Shape, cell: tuple[int, int, int, int], *, groups: int, seed: int) -> dict:
    """Per norm: the cells sharing a statistic with ``cell`` (from the reduction axes), how many
    statistics the tensor has, and whether torch's own norm reads exactly those cells (on one
    random float64 tensor of ``shape`` drawn from ``seed``)."""
    x = torch.randn(shape, generator=make_generator(derive_seed(seed, "picture")), dtype=torch.float64)
    out = {"shape": list(shape), "chosen": list(cell), "groups": groups, "norms": {}}
    for kind in KINDS:
        lit = shared_with(kind, shape, cell, groups=groups)
        out["norms"][kind] = {
            "label": LABELS[kind], "axes": AXES[kind], "reading": READING[kind],
            "lit": lit.nonzero().tolist(), "set_size": int(lit.sum()),
            "statistics": int(statistic_index(kind, shape, groups=groups).unique().numel()),
            "torch_agrees": bool(torch.equal(lit, torch_dependence(x, kind, cell, groups=groups))),
        }
    return out
