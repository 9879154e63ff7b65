"""Races between norms decided over seeds: every seed must agree, and three seeds at least."""

from __future__ import annotations

import pytest

from cnnbp.lessons.norms.races import MIN_SEEDS, Paired, SideBySide, accuracies_by_seed, group_vs_batch
from cnnbp.lessons.norms.training import NormRun


def run(norm: str, seed: int, batch_size: int, accuracy: float | None) -> NormRun:
    return NormRun(norm=norm, seed=seed, batch_size=batch_size, lr=0.1, name=f"{norm} {seed}",
                   test_accuracy=[] if accuracy is None else [accuracy])


@pytest.mark.parametrize("a, b, wins", [
    ([0.9, 0.8, 0.7], [0.8, 0.7, 0.6], True),
    ([0.8, 0.7, 0.6], [0.9, 0.8, 0.7], False),
    ([0.9, 0.7, 0.7], [0.8, 0.8, 0.6], None),  # split 2 to 1: too close to call
    ([0.9, 0.8, 0.7], [0.9, 0.7, 0.6], None),  # level on one seed: not ahead on every seed
    ([0.9, 0.8, None], [0.8, 0.7, 0.6], None),  # a diverged on seed 2: behind b there
])
def test_a_race_is_decided_only_when_every_seed_agrees(a, b, wins):
    assert Paired("a", "b", [0, 1, 2], a, b).a_wins is wins


def test_fewer_seeds_cannot_tell_however_large_the_gap():
    assert MIN_SEEDS == 3
    two = Paired("group", "batch", [0, 1], [0.5, 0.5], [0.95, 0.95])
    assert two.a_wins is None and not two.enough_seeds and two.b_ahead_on == 2
    assert two.mean_difference == pytest.approx(-0.45)


def test_a_diverged_run_is_behind_a_finished_one_and_left_out_of_the_mean():
    race = Paired("a", "b", [0, 1, 2], [None, 0.5, 0.6], [0.1, 0.4, 0.5])
    assert (race.a_ahead_on, race.b_ahead_on) == (2, 1) and race.a_wins is None
    assert race.mean_difference == pytest.approx(0.1)


def test_side_by_side_names_the_leader_best_only_when_its_worst_seed_beats_every_others_best():
    # InstanceNorm is ahead of BatchNorm on every seed, but it was picked as the leader after the fact
    race = SideBySide([0, 1, 2], {"batch": [0.961, 0.975, 0.939], "instance": [0.964, 0.992, 0.958],
                                  "none": [0.90, 0.91, 0.92]})
    assert race.leader == "instance" and race.leader_worst == 0.958 and race.contenders == ["batch"]
    assert race.best is None
    race.accuracy["batch"] = [0.951, 0.95, 0.939]
    assert race.contenders == [] and race.best == "instance"
    assert SideBySide([0], {"batch": [0.99], "none": [0.5]}).best is None  # one seed: cannot tell
    assert SideBySide([0, 1, 2], {"batch": [None] * 3}).leader is None
    diverged = SideBySide([0, 1, 2], {"batch": [0.99, None, 0.99], "none": [0.5, 0.5, 0.5]})
    assert diverged.leader == "batch" and diverged.leader_worst is None and diverged.best is None


def test_runs_are_paired_by_seed_at_the_batch_size():
    runs = [run("group", 1, 2, 0.8), run("batch", 1, 2, 0.9), run("group", 0, 2, 0.7), run("batch", 0, 2, 0.95),
            run("group", 0, 32, 0.99), run("batch", 2, 2, None)]
    assert accuracies_by_seed(runs, "group", [0, 1, 2], batch_size=2) == [0.7, 0.8, None]
    race = group_vs_batch(runs, [0, 1, 2], 2)
    assert race.b_accuracy == [0.95, 0.9, None] and race.a_ahead_on == 0 and race.b_ahead_on == 2
