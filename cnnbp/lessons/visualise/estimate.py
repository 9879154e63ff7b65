"""A mean over independent repeats (models, or test points) with its 95% interval, and what it decides.

A statistical verdict of this lesson reads :attr:`Estimate.positive`: the effect holds when the
whole interval lies above 0, does not hold when it lies below, and is too close to call when it
holds 0 or when one repeat gives no spread at all. The line is the interval, never a number
picked at one seed's value.

>>> e = estimate([0.05, 0.03, 0.08, 0.04, 0.06])
>>> round(e.mean, 3), round(e.low, 3), e.positive
(0.052, 0.028, True)
>>> estimate([0.1]).positive is None   # one value: no spread, nothing decided
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    mean: float
    half_width: float | None  # of the CONFIDENCE interval (Student's t); None below 2 values
    n: int

    @property
    def low(self) -> float | None:
        return None if self.half_width is None else self.mean - self.half_width

    @property
    def high(self) -> float | None:
        return None if self.half_width is None else self.mean + self.half_width

    @property
    def positive(self) -> bool | None:
        """True: the whole interval is above 0; False: all of it is below 0; None: it holds 0,
        or a single value gives no interval."""
        if self.half_width is None or self.low <= 0 <= self.high:
            return None
        return self.low > 0

    def said(self, fmt: str = "+.3f") -> str:
        """'+0.052 ± 0.024' (the 95% interval), or the value alone for a single repeat."""
        if self.half_width is None:
            return f"{self.mean:{fmt}}"
        return f"{self.mean:{fmt}} ± {self.half_width:{fmt.lstrip('+')}}"

    def as_dict(self) -> dict:
        return {"mean": self.mean, "half_width": self.half_width, "n": self.n}


def estimate(values: Sequence[float]) -> Estimate:
    """The mean of ``values`` (at least one) and the half-width of its 95% t interval."""
    from scipy.stats import t

    values = [float(v) for v in values]
    if not values:
        raise ValueError("an estimate needs at least one value")
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Estimate(mean, None, n)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return Estimate(mean, float(t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n), n)
