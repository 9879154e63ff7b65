"""The norms lesson trains the seeds of one norm as one stacked model: the numbers of one at a time."""

from __future__ import annotations

import pytest
import torch

from cnnbp.data import ImageDataset
from cnnbp.device import make_generator
from cnnbp.lessons.norms.training import RunSpec, train_final, train_side_by_side
from cnnbp.train import RunControl

DATA = ImageDataset("tiny", torch.rand(48, 1, 8, 8, generator=make_generator(0)), torch.arange(48) % 3,
                    torch.rand(12, 1, 8, 8, generator=make_generator(1)), torch.arange(12) % 3, classes=("a", "b", "c"))
CNN = dict(depth=2, width=4, groups=2, epochs=1, control=RunControl(budget_s=float("inf")))


def last(stream):
    return list(stream)[-1][1]


def same_runs(a, b) -> None:
    assert [r.name for r in a] == [r.name for r in b]
    for x, y in zip(a, b):
        assert x.steps == y.steps and x.eval_steps == y.eval_steps and x.test_accuracy == y.test_accuracy
        torch.testing.assert_close(torch.tensor(x.loss), torch.tensor(y.loss), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm", ["batch", "group", "layer", "instance", "none"])
def test_the_sweep_stacks_its_seeds_with_the_same_numbers(norm):
    specs = [RunSpec(norm, s, 4, 0.05) for s in range(3)] + [RunSpec(norm, 0, 2, 0.025)]  # 3 stack, 1 alone
    same_runs(last(train_final(DATA, specs, stack=True, **CNN)), last(train_final(DATA, specs, stack=False, **CNN)))


def test_the_side_by_side_comparison_stacks_its_seeds_with_the_same_numbers():
    specs = [RunSpec(n, s, 8, 0.05) for s in range(3) for n in ("batch", "group")]
    same_runs(last(train_side_by_side(DATA, specs, stack=True, evals_per_epoch=4, **CNN)),
              last(train_side_by_side(DATA, specs, stack=False, evals_per_epoch=4, **CNN)))
