"""K small CNNs stepped as one (train/stacked.py): the same numbers as one at a time."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnbp.device import derive_seed, make_generator
from cnnbp.nn import SmallCNN, init_model
from cnnbp.nn.activations import ACTIVATIONS
from cnnbp.nn.norms import NORMS
from cnnbp.train import RunControl, Trainer, lockstep
from cnnbp.train.history import History
from cnnbp.train.stacked import StackedCNN, lockstep_groups, stack_key

CPU = torch.device("cpu")
# A grouped conv sums in its own order: equal to float32 rounding over a few steps
CLOSE = dict(rtol=1e-4, atol=1e-5)


def data(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.5 + y.float().view(-1, 1, 1, 1)
    return x, y


def net(norm: str, seed: int, **kw) -> SmallCNN:
    model = SmallCNN(1, 3, depth=3, width=8, norm=norm, image_size=8, **kw)  # activation= in kw
    return init_model(model, "kaiming", "relu", generator=make_generator(derive_seed(seed, "stacked-test")))


def trainers(norm: str, *, lr: float = 0.05, seeds=(0, 1, 2), **kw) -> list[Trainer]:
    return [Trainer(f"{norm} {s}", net(norm, s, **kw), data(), data(30, seed=9), batch_size=16, epochs=2, lr=lr,
                    generator=make_generator(derive_seed(s, "order")), device=CPU) for s in seeds]


def train(ts: list[Trainer], *, stack: bool) -> tuple[list[History], list[list[float]]]:
    histories = [History() for _ in ts]
    accuracy = [[] for _ in ts]
    for _ in lockstep(ts, histories, RunControl(budget_s=float("inf")), eval_every=5, stack=stack,
                      on_eval=lambda i, t: accuracy[i].append(t.evaluate()[1])):
        pass
    return histories, accuracy


@pytest.mark.parametrize("norm", list(NORMS))
def test_stacked_training_gives_each_model_its_own_numbers(norm):
    alone, stacked = trainers(norm), trainers(norm)
    assert len(lockstep_groups(stacked)) == 1  # one architecture and recipe: one stack
    h_alone, acc_alone = train(alone, stack=False)
    h_stacked, acc_stacked = train(stacked, stack=True)
    for a, b in zip(h_alone, h_stacked):
        assert a.steps == b.steps and len(a.loss) == 12
        torch.testing.assert_close(torch.tensor(b.loss), torch.tensor(a.loss), **CLOSE)
    assert acc_stacked == acc_alone
    for a, b in zip(alone, stacked):  # every parameter, running statistic and momentum buffer handed back
        sa, sb = a.model.state_dict(), b.model.state_dict()
        for name in sa:
            torch.testing.assert_close(sb[name], sa[name], **CLOSE)
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            torch.testing.assert_close(b.optimizer.state[pb]["momentum_buffer"],
                                       a.optimizer.state[pa]["momentum_buffer"], **CLOSE)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_stacks_with_the_same_numbers_or_steps_alone(activation):
    alone, stacked = trainers("batch", activation=activation), trainers("batch", activation=activation)
    if stack_key(stacked[0]) is None:  # e.g. PReLU's learned slopes: one at a time, as before
        assert lockstep_groups(stacked) == [[0], [1], [2]]
        return
    h_alone, acc_alone = train(alone, stack=False)
    h_stacked, acc_stacked = train(stacked, stack=True)
    for a, b in zip(h_alone, h_stacked):
        torch.testing.assert_close(torch.tensor(b.loss), torch.tensor(a.loss), **CLOSE)
    assert acc_stacked == acc_alone


def test_different_activation_settings_never_share_a_stack():
    a = trainers("batch", activation="leaky_relu", act_options={"slope": 0.01}, seeds=(0,))
    b = trainers("batch", activation="leaky_relu", act_options={"slope": 0.2}, seeds=(1,))
    assert lockstep_groups(a + b) == [[0], [1]]


def test_the_stack_reads_each_models_own_input_block():
    models = [net("group", s) for s in range(3)]
    xs = [data(seed=s)[0][:5] for s in range(3)]
    out = StackedCNN(models)(torch.cat(xs, dim=1))  # (5, 3, classes)
    for k, (m, x) in enumerate(zip(models, xs)):
        torch.testing.assert_close(out[:, k], m(x), **CLOSE)


def test_a_diverging_member_ends_as_it_does_alone():
    alone, stacked = trainers("none", lr=40.0), trainers("none", lr=40.0)
    h_alone, _ = train(alone, stack=False)
    h_stacked, _ = train(stacked, stack=True)
    assert any(h.diverged_at for h in h_alone)
    assert [h.diverged_at for h in h_stacked] == [h.diverged_at for h in h_alone]
    for a, b in zip(h_alone, h_stacked):
        assert len(a.loss) == len(b.loss)
        torch.testing.assert_close(torch.tensor(b.loss[:3]), torch.tensor(a.loss[:3]), **CLOSE)


def test_a_member_leaves_and_the_rest_go_on_as_alone():
    """A stack rebuilt without one member (the norms race drops a model once it reaches its target)
    takes the others' momentum along: every model ends as it does trained alone."""
    from cnnbp.train.stacked import StackedTrainers

    alone, stacked = trainers("batch"), trainers("batch")
    for t in alone:  # the one that leaves stops after 5 steps; the others go to the end (12)
        while not t.done and not (t is alone[1] and t.step_count == 5):
            t.step()
    stack = StackedTrainers(stacked)
    for _ in range(5):
        stack.step()
    stack.sync(momentum=True)
    stack = StackedTrainers([stacked[0], stacked[2]])
    while not stack.done:
        stack.step()
    stack.sync()
    assert [t.step_count for t in stacked] == [12, 5, 12]
    for a, b in zip(alone, stacked):
        for name, tensor in a.model.state_dict().items():
            torch.testing.assert_close(b.model.state_dict()[name], tensor, **CLOSE)


def test_what_cannot_stack_steps_alone():
    assert stack_key(trainers("batch", dropout=0.5)[0]) is None  # dropout draws its own masks
    focal = trainers("batch")[0]
    focal.loss = lambda logits, y: F.cross_entropy(logits, y) * 2
    assert stack_key(focal) is None
    mixed = trainers("batch") + trainers("group")
    assert lockstep_groups(mixed) == [[0, 1, 2], [3, 4, 5]]


def test_trainers_on_images_of_another_size_never_share_a_stack():
    """A SmallCNN pools adaptively, so one model takes 8x8 and 28x28 images; a stack cannot (its
    members' batches go side by side in the channels). Found by the transfer lesson's domain shift."""
    def sized(size: int, seed: int) -> Trainer:
        x = torch.randn(48, 1, size, size, generator=torch.Generator().manual_seed(seed))
        return Trainer(f"{size}px {seed}", net("batch", seed), (x, torch.arange(48) % 3), data(30, seed=9),
                       batch_size=16, epochs=2, lr=0.05, generator=make_generator(derive_seed(seed, "order")),
                       device=CPU)

    assert lockstep_groups([sized(8, 0), sized(28, 1), sized(8, 2)]) == [[0, 2], [1]]


@pytest.mark.parametrize("workers", [1, 2])
def test_lockstep_returns_at_a_stop_with_no_more_steps_beats_or_evaluations(workers):
    """A Stop between two rounds ends lockstep there (found when its lanes kept looping: a beat and an
    evaluation per remaining step, and a stopped race lost its can't-tell verdict)."""
    ts = trainers("batch")
    evaluated = []
    control = RunControl()
    rounds = lockstep(ts, [History() for _ in ts], control, eval_every=5, beats=True, workers=workers,
                      on_eval=lambda i, t: evaluated.append(i))
    next(rounds)  # the first round's beat
    control.cancel()
    assert list(rounds) == [] and evaluated == []
    assert [t.step_count for t in ts] == [1, 1, 1]
