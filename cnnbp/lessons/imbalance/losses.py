"""Loss reweighting by class frequency, and the focal loss.

* ``inverse``: w_k = N / (K n_k), scikit-learn's ``class_weight="balanced"`` (a test checks it
  against ``sklearn.utils.class_weight.compute_class_weight``): every class carries the same
  total weight.
* ``effective``: the "effective number of samples" of Cui et al. (CVPR 2019): w_k proportional
  to (1 - beta) / (1 - beta^n_k), scaled to sum to K. beta = 0 gives equal weights, beta -> 1
  the inverse frequency; in between, extra copies of a class count less and less.
* focal loss (Lin et al., ICCV 2017): -(1 - p_t)^gamma log p_t, so confidently right images
  (mostly the majority) add little; gamma = 0 is the cross-entropy.

>>> inverse_frequency_weights([90, 10]).tolist()
[0.5555555555555556, 5.0]
>>> effective_number_weights([90, 10], beta=0.0).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def inverse_frequency_weights(counts: Sequence[int]) -> torch.Tensor:
    """N / (K n_k) per class, float64."""
    n = torch.tensor(counts, dtype=torch.float64)
    return n.sum() / (len(n) * n)


def effective_number_weights(counts: Sequence[int], *, beta: float) -> torch.Tensor:
    """(1 - beta) / (1 - beta^n_k), normalised to sum to K (Cui et al. 2019), float64."""
    n = torch.tensor(counts, dtype=torch.float64)
    w = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), n))
    return w * len(n) / w.sum()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of -(1 - p_t)^gamma log p_t; (N, K) logits, (N,) targets.

    >>> logits, y = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    >>> bool(torch.isclose(focal_loss(logits, y, gamma=0.0), F.cross_entropy(logits, y)))
    True
    """
    log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)  # (N,) log p_t
    # 1 - p_t is exactly 0 for a confidently right image (float32 saturates): for 0 < gamma < 1 the
    # derivative of (1 - p_t)^gamma there is inf, and inf * 0 put NaN into every weight. Clamped
    # to the smallest normal float it has a zero gradient and the same value (times log p_t = 0).
    loss = -((1.0 - log_p.exp()).clamp_min(torch.finfo(log_p.dtype).tiny) ** gamma) * log_p
    if weight is not None:
        w = weight[target]
        return (w * loss).sum() / w.sum()
    return loss.mean()
