"""The claims ledger: every lecture claim, where it is said, and a check that measures it.

A check takes a seed and returns ``(passed, measured)``: whether the claim held on our data at
that seed (None: the measurement cannot tell), and the figure it measured, in words. A claim's
predicate is the same one its lesson's verdict reads (a property of the lesson's result object),
so the tab, the figure title and this ledger never disagree. Claims are registered by their
lesson packages; this module imports none of them (``import cnnbp.lessons`` registers them all).

>>> import cnnbp.lessons
>>> result = run_claim("init.kaiming_relu_scaled")
>>> result.passed, result.measured
(True, 'std 0.827 -> 0.846, x1.00 per layer')
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

SEEDS = {
    "000": "000_d2e9172dfdf488e9.txt",
    "001": "001_1eb95f1465e03300.txt",
    "002": "002_ef33a15428d619d4.txt",
    "003": "003_049d61ced688ef2c.txt",
    "004": "004_3888f91d12b96fed.txt",
}


@dataclass(frozen=True)
class Claim:
    id: str
    lesson: str
    statement: str  # the lecture's claim, in one sentence
    source: str  # the seed text(s) that make it, e.g. "003"
    check: Callable[[int], tuple[bool | None, str]]  # seed -> (passed, measured)
    # The claim in a few words, its number where the lecture gives one ("ReLU about 6x faster than
    # sigmoid"): what a verdict's line shows beside the measured headline ("lecture: ...").
    lecture: str = ""


@dataclass
class ClaimResult:
    claim: Claim
    passed: bool | None  # None: the measurement cannot tell, or (error) the check failed to run
    measured: str
    seconds: float
    seed: int = 0
    error: bool = False

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        return {True: "holds", False: "does not hold", None: "cannot tell"}[self.passed]

    def as_row(self) -> dict:
        return {"claim": self.claim.id, "lesson": self.claim.lesson, "statement": self.claim.statement,
                "source": self.claim.source, "verdict": self.verdict, "measured": self.measured,
                "seconds": round(self.seconds, 2)}


CLAIMS: dict[str, Claim] = {}


def register_claim(id: str, *, lesson: str, statement: str, source: str, lecture: str) -> Callable:
    """Decorator: register ``check(seed)`` as the test of ``statement`` (``lecture``: the same claim in
    a few words, for the line under a verdict's headline)."""
    def wrap(check: Callable[[int], tuple[bool | None, str]]) -> Callable[[int], tuple[bool | None, str]]:
        if id in CLAIMS:
            raise ValueError(f"claim {id!r} is registered twice")
        CLAIMS[id] = Claim(id, lesson, statement, source, check, lecture)
        return check
    return wrap


def all_claims() -> dict[str, Claim]:
    """Every registered claim (those of the lesson packages imported so far)."""
    return CLAIMS


def run_claim(claim_id: str, seed: int = 0) -> ClaimResult:
    if claim_id not in CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; choose from {', '.join(CLAIMS)}")
    claim = CLAIMS[claim_id]
    start = time.perf_counter()
    error = False
    try:
        passed, measured = claim.check(seed)
    except Exception as err:  # a broken check is reported, and the other claims still run
        passed, measured, error = None, f"the check failed: {type(err).__name__}: {err}", True
    return ClaimResult(claim, passed, measured, time.perf_counter() - start, seed, error)


def run_claims(lesson: str | None = None, seeds: Iterable[int] = (0,)) -> Iterator[ClaimResult]:
    """Each claim (of ``lesson``, or all) at each seed, claim by claim."""
    if lesson is not None and lesson not in {c.lesson for c in CLAIMS.values()}:
        known = ", ".join(sorted({c.lesson for c in CLAIMS.values()}))
        raise ValueError(f"no claims for lesson {lesson!r}; lessons with claims: {known}")
    for claim in list(CLAIMS.values()):
        if lesson is None or claim.lesson == lesson:
            for seed in seeds:
                yield run_claim(claim.id, seed)


def agreement(results: list[ClaimResult]) -> str:
    """How a claim's runs over several seeds agree, in words.

    >>> c = Claim("x", "l", "s", "003", lambda seed: (True, ""))
    >>> agreement([ClaimResult(c, True, "", 0.0, 0), ClaimResult(c, True, "", 0.0, 1),
    ...            ClaimResult(c, None, "", 0.0, 2)])
    'holds at 2 of 3 seeds, cannot tell at 1'
    """
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    first, *rest = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join([f"{first[0]} at {first[1]} of {len(results)} seeds"] + [f"{v} at {n}" for v, n in rest])
