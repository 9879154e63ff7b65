"""The norms race's machinery (bench/norms.py, bench/norms_processes.py): its checks decide as the whole test
set does, its dealer keeps both lanes busy, and no deal, lane or process changes a number."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from bench import norms as race
from cnnbp.data import ImageDataset
from cnnbp.device import make_generator
from cnnbp.lessons.norms.training import RunSpec, build_model
from cnnbp.train import evaluate


class Answers(nn.Module):
    """Answers image i (its pixel holds i) with class ``says[i]``; counts the images it was shown."""

    def __init__(self, says: torch.Tensor):
        super().__init__()
        self.says, self.shown = says, 0

    def forward(self, x):
        self.shown += len(x)
        return nn.functional.one_hot(self.says[x.flatten().long()], 10).float()


@pytest.mark.parametrize("wrong", [0, 10, 11, 30])
def test_a_check_passes_exactly_at_97_percent_and_stops_once_it_cannot(wrong):
    y = torch.arange(360) % 10
    says = y.clone()
    says[:wrong] = (says[:wrong] + 1) % 10  # the first images wrong: the check can stop in its first chunk
    model = Answers(says)
    got, missed = race.reaches_target(model, (torch.arange(360.0).view(-1, 1, 1, 1), y))
    assert missed.tolist() == list(range(wrong))  # every wrong image is among the first chunks shown
    if wrong <= 10:  # 350 / 360 = 97.2% passes, 349 / 360 = 96.9% does not
        assert got == (360 - wrong) / 360 and model.shown == 360
    else:
        assert got is None and model.shown < 360


def test_a_check_shows_last_times_wrong_images_first_and_stops_in_one_chunk_if_they_still_are():
    y = torch.arange(360) % 10
    says = y.clone()
    says[-20:] = (says[-20:] + 1) % 10  # wrong at the end of the set: in order, the check sees them last
    test = (torch.arange(360.0).view(-1, 1, 1, 1), y)
    model = Answers(says)
    got, missed = race.reaches_target(model, test)
    assert got is None and model.shown == 360 and missed.tolist() == list(range(340, 360))
    model = Answers(says)
    again, missed_again = race.reaches_target(model, test, first=missed)
    assert again is None and model.shown == race.EVAL_CHUNK and torch.equal(missed_again, missed)
    says[-20:] = y[-20:]  # all right now: the check shows every image, whatever comes first
    model = Answers(says)
    assert race.reaches_target(model, test, first=missed)[0] == 1.0 and model.shown == 360


@pytest.mark.parametrize("norm", ["none", "batch", "layer", "instance", "group"])
def test_a_test_images_logits_do_not_depend_on_its_chunk(norm, monkeypatch):
    digits = ImageDataset("tiny", torch.rand(64, 1, 8, 8, generator=make_generator(0)), torch.arange(64) % 10,
                          torch.rand(360, 1, 8, 8, generator=make_generator(1)), torch.arange(360) % 10,
                          classes=tuple("0123456789"))
    model = build_model(digits, norm, depth=4, width=16, groups=4, seed=0)
    model(digits.x_train[:32])  # a training step's forward: BatchNorm's running statistics move
    model.eval()
    shuffled = torch.randperm(360, generator=make_generator(2))  # chunks of any images, as a check's order makes
    with torch.no_grad():
        whole = model(digits.x_test)
        assert torch.equal(torch.cat([model(digits.x_test[i:i + race.EVAL_CHUNK])
                                      for i in range(0, 360, race.EVAL_CHUNK)]), whole)
        assert torch.equal(torch.cat([model(digits.x_test[shuffled[i:i + race.EVAL_CHUNK]])
                                      for i in range(0, 360, race.EVAL_CHUNK)]), whole[shuffled])
    monkeypatch.setattr(race, "TARGET", 0.0)  # every check passes: the whole set's accuracy comes back
    expected = evaluate(model, (digits.x_test, digits.y_test))[1]
    assert race.reaches_target(model, (digits.x_test, digits.y_test))[0] == expected
    assert race.reaches_target(model, (digits.x_test, digits.y_test), first=shuffled[:40])[0] == expected


# ---- the dealers, on a simulated race: the 15 models' finishing steps of `python bench/norms.py --race` and
# each stack's CPU ms a step (stacks of 1, 2, 3: notes/norms97.md); a lane's time is the steps it was dealt
FINISH = {"none": (330, 242, 264), "batch": (66, 132, 110), "layer": (242, 198, 220), "instance": (110, 88, 132),
          "group": (220, 220, 154)}
COST = {1: 7.0, 2: 11.0, 3: 13.5}
EVERY, TOTAL = 22, 450


class Simulated:
    """A norm in the simulated race, with what the first dealer reads: its models still in."""

    def __init__(self, finish: tuple):
        self.finish, self.steps = finish, 0

    @property
    def members(self) -> list[int]:
        return [f for f in self.finish if f > self.steps]


def segments(finish: tuple) -> list[race.Segment]:
    """A norm's steps from check to check, as the lanes are dealt them, each costing its steps."""
    norm, out = Simulated(finish), []
    while norm.members:
        k, steps = len(norm.members), EVERY - norm.steps % EVERY
        out.append(race.Segment(k, norm.steps, steps * COST[k]))
        norm.steps += steps
    return out


def by_work(lanes: int) -> float:
    return race.replay_by_work([segments(f) for f in FINISH.values()], lanes, TOTAL)


def by_rounds(lanes: int) -> float:
    """The first dealer on the simulated clock: every round the busiest lane's steps."""
    active, end = [Simulated(f) for f in FINISH.values()], 0.0
    while active:
        end += max(sum(COST[len(n.members)] for n in share) for share in race.deal_round(active, lanes))
        for n in active:
            n.steps += 1
        active = [n for n in active if n.members]
    return end


def bound(lanes: int) -> float:
    """No dealer ends sooner: the work split evenly, or the longest norm alone."""
    chains = [sum(COST[sum(f > s for f in finish)] for s in range(max(finish))) for finish in FINISH.values()]
    return max(sum(chains) / lanes, max(chains))


def test_dealing_by_work_ends_within_3_percent_of_the_bound_where_rounds_did_not():
    assert by_work(2) <= 1.03 * bound(2)  # 6.63 s against 6.48 s
    assert by_rounds(2) > 1.2 * bound(2)  # the first dealer: 8.05 s, its lanes met after every round
    assert by_work(1) == by_rounds(1) == bound(1)  # one lane: the same work in any order


def test_a_free_lane_takes_the_most_work_left_and_ties_go_in_race_order():
    def norm(order, members, steps):
        return race._Replayed(order, [race.Segment(members, steps, 1.0)], TOTAL)

    first, second = norm(0, 3, 0), norm(1, 3, 0)
    assert race.deal_by_work([second, first]) is first  # all equal at the start: in the race's order
    assert race.deal_by_work([norm(0, 3, 22), norm(1, 3, 0)]).order == 1  # behind: goes next
    assert race.deal_by_work([norm(0, 1, 0), norm(1, 2, 220)]).order == 1  # 460 model-steps to go before 450


def test_the_lanes_and_dealers_change_no_number():
    g = make_generator(0)
    y_train, y_test = torch.arange(96) % 3, torch.arange(30) % 3
    data = ImageDataset("tiny", torch.randn(96, 1, 8, 8, generator=g) * 0.5 + y_train.view(-1, 1, 1, 1), y_train,
                        torch.randn(30, 1, 8, 8, generator=g) * 0.5 + y_test.view(-1, 1, 1, 1), y_test,
                        classes=("a", "b", "c"))
    specs = [RunSpec(n, s, 16, 0.05) for s in (0, 1, 2) for n in ("batch", "group", "none")]
    cfg = SimpleNamespace(depth=2, width=4, groups=2)
    runs = [race.race_ours(data, specs, cfg, cap=6, lanes=lanes, dealer=dealer)
            for lanes, dealer in ((1, "work"), (2, "work"), (2, "rounds"), (2, "processes"), (3, "processes"))]
    assert all(finish == runs[0][0] for finish, _, _ in runs)
    assert all(times.moves > 0 for _, _, times in runs[3:])  # processes: norms changed lane, their state went along
    for norm in ("batch", "group", "none"):  # each stack lost a model at one check and went on: it was rebuilt
        assert len({f.steps for name, f in runs[0][0].items() if name.startswith(norm)}) > 1
