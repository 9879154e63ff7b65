"""The dropout page's numbers (issue 15: an update under 100 KiB): every net's per-step batch losses,
plotted nowhere, stay out of the page's JSON; every curve and summary a figure or verdict reads stays."""

from __future__ import annotations

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames
from cnnbp.ui.runner import LEFT_OUT, shown_numbers
from tests.lessons.quick import quick_frames


def test_the_page_leaves_out_the_per_step_losses_and_keeps_every_curve_drawn():
    final = merge_frames(quick_frames("dropout"))
    page = shown_numbers(final.numbers, LESSONS["dropout"])
    assert "regularisation.*.loss" in page[LEFT_OUT]
    for name, net in final.numbers["regularisation"].items():
        assert len(net["loss"]) == len(net["steps"]) > 0  # the run (CLI, take-home) keeps them
        assert page["regularisation"][name] == {k: v for k, v in net.items() if k not in ("steps", "loss")}
        assert page["regularisation"][name]["test_accuracy"] == net["test_accuracy"]
    assert {k: page[k] for k in ("masks", "expectation", "gap_over_seeds", "mc")} == {
        k: final.numbers[k] for k in ("masks", "expectation", "gap_over_seeds", "mc")}
