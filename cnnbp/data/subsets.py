"""Balanced, seeded subsets of a labelled set: the small training sets of the dropout and
augmentation lessons (overfitting needs few images; equal classes keep accuracy meaningful)."""

from __future__ import annotations

from typing import Sequence

import torch

from cnnbp.device import derive_seed, make_generator


def balanced_subset(y: torch.Tensor, n: int, *, num_classes: int, seed: int) -> torch.Tensor:
    """Indices of ``n`` training images, as equal per class as ``n`` allows, drawn at random.

    >>> balanced_subset(torch.arange(20) % 2, 5, num_classes=2, seed=0).shape
    torch.Size([5])
    """
    g = make_generator(derive_seed(seed, "subset"))
    groups = [(y == c).nonzero().flatten() for c in range(num_classes)]
    wants = balanced_quotas(n, [len(idx) for idx in groups])
    picked = [idx[torch.randperm(len(idx), generator=g)[:want]] for idx, want in zip(groups, wants)]
    return torch.cat(picked).sort().values


def balanced_quotas(n: int, sizes: Sequence[int]) -> list[int]:
    """Images to take per class: ``n`` split evenly (the first ``n % K`` classes one more); a
    class with fewer images gives all it has and the rest is split over the others the same way
    (digits' classes hold 139-146 images, so up to all 1437 can be taken).

    >>> balanced_quotas(7, [5, 5, 5]), balanced_quotas(7, [1, 5, 5])
    ([3, 2, 2], [1, 3, 3])
    """
    k = len(sizes)
    if n > sum(sizes):
        short = next((c for c in range(k) if n // k + (c < n % k) > sizes[c]), 0)
        raise ValueError(f"train_images {n}: class {short} has only {sizes[short]} images "
                         f"({sum(sizes)} in all)")
    quotas, open_, left = [0] * k, list(range(k)), n
    while open_:
        base, odd = divmod(left, len(open_))
        want = {c: base + (j < odd) for j, c in enumerate(open_)}
        short = [c for c in open_ if sizes[c] < want[c]]
        if not short:
            for c in open_:
                quotas[c] = want[c]
            break
        for c in short:  # these give everything they have; the others share what is left
            quotas[c] = sizes[c]
            left -= sizes[c]
            open_.remove(c)
    return quotas
