"""The claims ledger: every lecture claim, where it is said, and a check that measures it.

A check returns ``(passed, measured)``: whether the claim held on our data, and the
figure it measured, in words. Claims are registered by their lesson modules.

>>> result = run_claim("init.kaiming_relu_scaled")
>>> result.passed, result.measured
(True, 'std 0.827 -> 0.846, x1.00 per layer')
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

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
    check: Callable[[], tuple[bool, str]]


@dataclass
class ClaimResult:
    claim: Claim
    passed: bool | None  # None: the check itself failed to run
    measured: str
    seconds: float

    def as_row(self) -> dict:
        verdict = {True: "holds", False: "does not hold", None: "error"}[self.passed]
        return {"claim": self.claim.id, "lesson": self.claim.lesson, "statement": self.claim.statement,
                "source": self.claim.source, "verdict": verdict, "measured": self.measured,
                "seconds": round(self.seconds, 2)}


CLAIMS: dict[str, Claim] = {}


def register_claim(id: str, *, lesson: str, statement: str, source: str) -> Callable:
    """Decorator: register ``check`` as the test of ``statement``."""
    def wrap(check: Callable[[], tuple[bool, str]]) -> Callable[[], tuple[bool, str]]:
        if id in CLAIMS:
            raise ValueError(f"claim {id!r} is registered twice")
        CLAIMS[id] = Claim(id, lesson, statement, source, check)
        return check
    return wrap


def all_claims() -> dict[str, Claim]:
    import cnnbp.lessons  # noqa: F401  (lessons register their claims on import)

    return CLAIMS


def run_claim(claim_id: str) -> ClaimResult:
    claims = all_claims()
    if claim_id not in claims:
        raise ValueError(f"unknown claim {claim_id!r}; choose from {', '.join(claims)}")
    claim = claims[claim_id]
    start = time.perf_counter()
    try:
        passed, measured = claim.check()
    except Exception as err:  # a broken check is reported, and the other claims still run
        passed, measured = None, f"the check failed: {type(err).__name__}: {err}"
    return ClaimResult(claim, passed, measured, time.perf_counter() - start)


def run_claims(lesson: str | None = None) -> Iterator[ClaimResult]:
    claims = all_claims()
    if lesson is not None and lesson not in {c.lesson for c in claims.values()}:
        known = ", ".join(sorted({c.lesson for c in claims.values()}))
        raise ValueError(f"no claims for lesson {lesson!r}; lessons with claims: {known}")
    for claim in claims.values():
        if lesson is None or claim.lesson == lesson:
            yield run_claim(claim.id)
