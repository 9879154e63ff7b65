"""Batch samplers: which training images each step sees. Every draw comes from the sampler's
own ``torch.Generator``, so the same seed gives the same batches.

* :class:`EpochSampler` walks a fixed index list in a new random order every epoch. On the
  data as it is that is plain training; :func:`oversample` and :func:`undersample` build
  the list (the lecture's resampling).
* :class:`BalancedBatchSampler`: every batch holds each class equally (to within one image:
  the odd places rotate over the classes from batch to batch).

>>> labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
>>> torch.bincount(labels[oversample(labels, generator=torch.Generator().manual_seed(0))]).tolist()
[6, 6]
>>> torch.bincount(labels[undersample(labels, generator=torch.Generator().manual_seed(0))]).tolist()
[2, 2]
>>> s = BalancedBatchSampler(labels, batch_size=4, generator=torch.Generator().manual_seed(0))
>>> torch.bincount(labels[s.next_batch()]).tolist()
[2, 2]
"""

from __future__ import annotations

import torch


def _class_indices(labels: torch.Tensor) -> list[torch.Tensor]:
    k = int(labels.max()) + 1
    groups = [torch.nonzero(labels == c).flatten() for c in range(k)]
    empty = [c for c, g in enumerate(groups) if len(g) == 0]
    if empty:
        raise ValueError(f"class {empty[0]} has no training image: nothing to resample")
    return groups


def oversample(labels: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Indices where every class has as many images as the largest one: each smaller class is
    copied whole as often as it fits, the remainder drawn without replacement (so no image is
    copied more than once beyond any other of its class)."""
    groups = _class_indices(labels)
    target = max(len(g) for g in groups)
    out = []
    for g in groups:
        whole, rest = divmod(target, len(g))
        extra = g[torch.randperm(len(g), generator=generator)[:rest]]
        out += [g.repeat(whole), extra]
    return torch.cat(out)


def undersample(labels: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Indices where every class keeps as many images as the smallest one (drawn without
    replacement, once: the images left out are never seen)."""
    groups = _class_indices(labels)
    keep = min(len(g) for g in groups)
    return torch.cat([g[torch.randperm(len(g), generator=generator)[:keep]] for g in groups])


class EpochSampler:
    """Batches of ``batch_size`` from ``indices``, reshuffled at every epoch (the last batch of
    an epoch may be smaller, as in a DataLoader)."""

    def __init__(self, indices: torch.Tensor, *, batch_size: int, generator: torch.Generator):
        if len(indices) == 0:
            raise ValueError("no training image to sample from")
        self.indices, self.generator = indices, generator
        self.batch_size = min(batch_size, len(indices))
        self._order, self._pos = torch.empty(0, dtype=torch.long), 0

    def next_batch(self) -> torch.Tensor:
        if self._pos >= len(self._order):
            self._order, self._pos = self.indices[torch.randperm(len(self.indices), generator=self.generator)], 0
        batch = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return batch


class BalancedBatchSampler:
    """Every batch holds ``batch_size // K`` images of each of the K classes, and the
    ``batch_size % K`` places left over go to classes in turn. Each class walks its own images
    in a random order, reshuffled when used up (small classes repeat more often)."""

    def __init__(self, labels: torch.Tensor, *, batch_size: int, generator: torch.Generator):
        self.groups = _class_indices(labels)
        self.batch_size, self.generator = batch_size, generator
        self._orders = [torch.empty(0, dtype=torch.long) for _ in self.groups]
        self._pos = [0] * len(self.groups)
        self._batches = 0

    def _take(self, c: int, n: int) -> torch.Tensor:
        out = []
        while n > 0:
            if self._pos[c] >= len(self._orders[c]):
                g = self.groups[c]
                self._orders[c], self._pos[c] = g[torch.randperm(len(g), generator=self.generator)], 0
            part = self._orders[c][self._pos[c] : self._pos[c] + n]
            self._pos[c] += len(part)
            n -= len(part)
            out.append(part)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)

    def quotas(self) -> list[int]:
        """Images per class in the next batch."""
        k = len(self.groups)
        base, odd = divmod(self.batch_size, k)
        start = (self._batches * odd) % k  # rotate the odd places so no class is favoured
        return [base + ((c - start) % k < odd) for c in range(k)]

    def next_batch(self) -> torch.Tensor:
        quotas = self.quotas()
        self._batches += 1
        return torch.cat([self._take(c, q) for c, q in enumerate(quotas)])
