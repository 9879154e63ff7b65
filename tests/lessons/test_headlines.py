"""Every verdict's headline, the line read from the back of a hall: on every lesson's quick run
(the frames the protocol tests computed already: no run of its own), one short line, with a
number unless the verdict is a plain note; and for a few verdicts, the number in the headline is
the one in the run's numbers, not a copy. Every claim has its few words for the line under it."""

from __future__ import annotations

import re

import pytest

from cnnbp.claims import CLAIMS
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames
from cnnbp.verdict_line import verdict_word
from tests.lessons.quick import quick_frames

MAX_HEADLINE = 100  # aim for 80: at 22 px that is about one line of a 1024 px page's verdict column
MAX_LECTURE = 60


def final(name: str):
    return merge_frames(quick_frames(name))


def verdict(name: str, label: str):
    return next(v for v in final(name).verdicts if v.label == label)


def numbers_in(text: str) -> list[str]:
    """The numbers written in ``text``: "1.2x" -> "1.2", "3,280,540,500" -> "3280540500"."""
    return [n.replace(",", "") for n in re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", text)]


def assert_headlines(verdicts) -> None:
    """Each verdict has a headline: one line, short, with a number unless it is a plain note (the
    other lessons' tests call it on the runs only they make: ImageNet, MNIST, a model file)."""
    assert verdicts
    for v in verdicts:
        word, _ = verdict_word(v)
        h = v.headline
        assert h.strip() and h == h.strip(), f"{v.label}: no headline"
        assert "\n" not in h and len(h) <= MAX_HEADLINE, f"{v.label}: {len(h)} characters: {h}"
        if word != "NOTE":  # a measured verdict says its number; a plain note may say it in words
            assert re.search(r"\d", h), f"{v.label}: no number in {h!r}"


@pytest.mark.parametrize("name", list(LESSONS))
def test_every_verdict_has_a_short_one_line_headline_with_a_number(name):
    assert_headlines(final(name).verdicts)


def test_the_headline_numbers_are_the_measured_ones():
    init = final("init").numbers["classic"]
    for v in final("init").verdicts:
        if v.label.startswith("classic MLP, "):
            activation, init_name = v.label.removeprefix("classic MLP, ").split(" + ")
            assert f"{init[activation][init_name]['per_layer_factor']:.2f}" in numbers_in(v.headline)

    lecture = final("architecture").numbers["calculator"]["lecture_example"]
    headline = numbers_in(verdict("architecture", "455 parameters vs more than 3.28e9").headline)
    assert str(lecture["conv_params"]) in headline and str(lecture["fc_params"]) in headline

    speedups = final("activations").numbers["over_seeds"]["speedups"]
    race = numbers_in(verdict("activations", "ReLU converges faster").headline)
    assert [f"{s['low'] or s['high']:.2g}" for s in speedups] == race[:len(speedups)]

    gaps = final("dropout").numbers["regularisation"]
    assert numbers_in(verdict("dropout", "dropout narrows the gap").headline)[::2] == \
        [f"{g['settled_gap'] * 100:.1f}" for g in gaps.values()]

    change = final("norms").numbers["contrast"]["change"]
    contrast = verdict("norms", "InstanceNorm contrast invariance").headline
    assert f"{change['instance'] / change['batch']:.2%}" in contrast


def test_the_lectures_claim_is_shown_beside_a_verdict_that_measures_one():
    for v in final("activations").verdicts:
        if v.claim:
            assert CLAIMS[v.claim].lecture
    assert "6x" in CLAIMS["activations.relu_faster_than_sigmoid"].lecture


def test_every_claim_has_a_few_words_for_the_verdict_line():
    for claim in CLAIMS.values():
        assert claim.lecture and "\n" not in claim.lecture and len(claim.lecture) <= MAX_LECTURE, claim.id
