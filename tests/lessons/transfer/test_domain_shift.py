"""The domain-shift part: the shipped MNIST source untouched on its own test set and on the bundled
8x8 digits (numbers recorded when the source was built), then the part end to end on small settings."""

from __future__ import annotations

import pytest

from cnnbp.lessons import run_lesson
from cnnbp.lessons.base import merge_frames
from cnnbp.lessons.transfer import domain_shift
from cnnbp.lessons.transfer.sources import load_source, read_card
from tests.lessons.test_headlines import assert_headlines


def test_the_mnist_source_and_what_the_shift_costs():
    source = load_source("mnist")
    assert read_card("mnist")["accuracy"] == pytest.approx(0.969, abs=5e-4)
    own, shifted = domain_shift.direct_accuracy(source)
    assert own == pytest.approx(0.969, abs=5e-4)  # the card's number, measured again
    # recorded when the source was built (2000 MNIST test images; the digits' 899 test images upsampled 8 -> 28)
    assert shifted == pytest.approx(0.556, abs=1e-3)
    assert own - shifted > domain_shift.SHIFT_LINE


def test_shift_targets():
    digits = domain_shift.get_shift_target("digits")
    assert digits.num_classes == 10 and digits.size == 8
    fashion = domain_shift.get_shift_target("fashion_mnist")
    assert fashion.size == 28 and len(fashion.y_test) == 500
    with pytest.raises(ValueError, match="unknown domain-shift target"):
        domain_shift.get_shift_target("svhn")


def test_the_part_end_to_end():
    final = merge_frames(list(run_lesson("transfer", {"parts": ["domain_shift"], "shift_steps": 10, "seeds": 1,
                                                      "images_per_class": 3})))
    assert final.message.startswith("done"), final.message
    numbers = final.numbers["domain_shift"]
    assert numbers["drop"] == pytest.approx(numbers["own"] - numbers["shifted"])
    bars = {t.name: dict(zip(t.x, t.y)) for t in final.figures["domain_shift"].data}
    assert list(bars["MNIST source as is"].values()) == [numbers["own"], numbers["shifted"]]
    digits = numbers["per_seed"]["digits"][0]
    assert [bars[s]["8x8 digits,<br>3/class"] for s in ("linear_probe", "finetune", "scratch")] == [
        digits["accuracy"][s] for s in ("linear_probe", "finetune", "scratch")]
    verdicts = {v.label: v for v in final.verdicts}
    assert_headlines(final.verdicts)
    assert verdicts["a domain shift costs accuracy"].passed is True
    assert verdicts["MNIST pretraining helps the shifted digits"].passed is None  # one seed: cannot tell


def test_the_domain_shift_claim():
    from cnnbp.claims import run_claim

    result = run_claim("transfer.domain_shift_costs_accuracy")
    assert not result.error and result.passed is True
    assert "96.9%" in result.measured and "55.6%" in result.measured
