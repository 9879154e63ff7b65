"""bench/all.py's memory rows: round 2 is flat within the larger of 25 MB and 2% of round 1, a rule
fixed before the rounds were measured (notes/memory.md)."""

from bench.all import is_flat


def test_round_two_is_flat_within_25_mb_or_two_percent():
    assert is_flat(1000, 1025) and not is_flat(1000, 1026)  # 2% of 1000 MB is under 25 MB
    assert is_flat(2000, 2040) and not is_flat(2000, 2041)  # 2% of 2000 MB is 40 MB
    assert is_flat(1253, 1200)  # shrinking is flat
    assert not is_flat(1253, 1313)  # the +60 MB measured before the trim
