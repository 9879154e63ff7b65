"""K nets stepped as one (train/stacked_mlp.py): the same numbers as one at a time, for the
dropout lesson's nets (own masks per net), nets with their own samplers, losses and batch sizes
(the imbalance lesson's), and members that finish early or diverge."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.dropout.training import DropoutNet
from cnnbp.lessons.imbalance.losses import focal_loss
from cnnbp.lessons.imbalance.samplers import EpochSampler, oversample, undersample
from cnnbp.nn import SmallCNN, init_model
from cnnbp.train import RunControl, Trainer, lockstep
from cnnbp.train.history import History
from cnnbp.train.stacked_mlp import StackedTrainers, stack_groups, stack_key

CPU = torch.device("cpu")
CLOSE = dict(rtol=1e-4, atol=1e-5)  # a batched matmul sums in its own order: float32 rounding


def data(n: int = 60, seed: int = 0, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return torch.randn(n, 1, 8, 8, generator=g) * 0.5 + y.float().view(-1, 1, 1, 1), y


def dropout_trainers(arch: str, *, ps=(0.0, 0.5, 0.25), seeds=(0, 1), lr: float = 0.05) -> list[Trainer]:
    return [Trainer(f"{arch} {p} {s}", DropoutNet((1, 8, 8), 3, arch=arch, width=16, depth=2, p=p, seed=s),
                    data(seed=s), data(30, seed=9), batch_size=16, epochs=3, lr=lr,
                    generator=make_generator(derive_seed(s, "order")), device=CPU) for s in seeds for p in ps]


def train(ts: list[Trainer], *, stack, on_eval=None) -> tuple[list[History], list[list[float]]]:
    histories = [History() for _ in ts]
    accuracy = [[] for _ in ts]

    def evaluate(i: int, t: Trainer) -> None:
        accuracy[i].append(t.evaluate()[1])
        if on_eval:
            on_eval(i, t)

    for _ in lockstep(ts, histories, RunControl(budget_s=float("inf")), eval_every=3, stack=stack, on_eval=evaluate):
        pass
    return histories, accuracy


def assert_same_training(alone: list[Trainer], stacked: list[Trainer], h_alone, h_stacked) -> None:
    for a, b in zip(h_alone, h_stacked):
        assert a.steps == b.steps and a.diverged_at == b.diverged_at
        as_tensor = lambda loss: torch.tensor([math.nan if v is None else v for v in loss])  # noqa: E731
        torch.testing.assert_close(as_tensor(b.loss), as_tensor(a.loss), equal_nan=True, **CLOSE)
    for a, b in zip(alone, stacked):  # every parameter and momentum buffer handed back
        for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
            torch.testing.assert_close(pb, pa, **CLOSE, msg=name)
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            ba, bb = (t.optimizer.state.get(p, {}).get("momentum_buffer") for t, p in ((a, pa), (b, pb)))
            assert (ba is None) == (bb is None)
            if ba is not None:
                torch.testing.assert_close(bb, ba, **CLOSE)
        assert a.step_count == b.step_count and a.diverged == b.diverged


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_dropout_nets_stacked_draw_their_own_masks_and_train_as_alone(arch):
    alone, stacked = dropout_trainers(arch), dropout_trainers(arch)
    groups = stack_groups(stacked)
    assert len(groups) == 1 and isinstance(groups[0][1], StackedTrainers)  # every p and seed: one stack
    h_alone, acc_alone = train(alone, stack=False)
    h_stacked, acc_stacked = train(stacked, stack=lambda ts: groups)
    assert_same_training(alone, stacked, h_alone, h_stacked)
    assert acc_stacked == acc_alone
    for a, b in zip(alone, stacked):  # each net's mask streams drew exactly as many masks
        for da, db in zip(a.model.dropouts(), b.model.dropouts()):
            assert torch.equal(da.generator.get_state(), db.generator.get_state())
    assert [h.loss for h in h_stacked[:1]] != [h.loss for h in h_stacked[1:2]]  # p = 0.5's masks changed them


def test_a_nets_numbers_do_not_depend_on_what_trains_beside_it():
    few, many = dropout_trainers("mlp", ps=(0.5,), seeds=(1,)), dropout_trainers("mlp", seeds=(0, 1))
    h_few, _ = train(few + dropout_trainers("mlp", ps=(0.0,), seeds=(1,)), stack=stack_groups)
    h_many, _ = train(many, stack=stack_groups)
    assert h_few[0].loss == h_many[4].loss  # p = 0.5 at seed 1, beside one net or five


def method_trainers(lr: float = 0.05) -> list[Trainer]:
    """Three SmallCNNs with their own samplers (batches of 16 and of 12: padded), losses and data."""
    x, y = data(48, seed=3, classes=2)
    y = (y * (torch.arange(48) % 4 == 0)).long()  # 1:7 imbalanced
    out = []
    for i, (indices, loss) in enumerate(((oversample, F.cross_entropy), (undersample, F.cross_entropy),
                                         (lambda y, generator: torch.arange(len(y)),
                                          lambda lo, t: focal_loss(lo, t, gamma=2.0)))):
        g = make_generator(derive_seed(i, "sampler"))
        sampler = EpochSampler(indices(y, generator=g), batch_size=16, generator=g)
        model = init_model(SmallCNN(1, 2, depth=3, width=8, image_size=8), "kaiming", "relu",
                           generator=make_generator(derive_seed(i, "init")))
        out.append(Trainer(f"method {i}", model, (x, y), None, batch_size=16, epochs=1, lr=lr, generator=g,
                           device=CPU, loss=loss, sampler=sampler.next_batch, steps=10))
    return out


def test_own_samplers_losses_and_batch_sizes_stack_with_the_same_numbers():
    alone, stacked = method_trainers(), method_trainers()
    assert len({stack_key(t) for t in stacked}) == 1
    h_alone = _train_no_eval(alone, stack=False)
    h_stacked = _train_no_eval(stacked, stack=stack_groups)
    assert_same_training(alone, stacked, h_alone, h_stacked)


def _train_no_eval(ts: list[Trainer], *, stack) -> list[History]:
    histories = [History() for _ in ts]
    for _ in lockstep(ts, histories, RunControl(budget_s=float("inf")), eval_every=4, stack=stack,
                      on_eval=lambda i, t: None):
        pass
    return histories


def test_a_member_that_finishes_early_leaves_with_its_own_state():
    alone, stacked = dropout_trainers("mlp"), dropout_trainers("mlp")

    def stop_early(i: int, t: Trainer) -> None:
        if i in (1, 4) and t.step_count >= 3:
            t.total_steps = t.step_count  # decided: no more steps (the batchnorm lesson's races)

    h_alone, _ = train(alone, stack=False, on_eval=stop_early)
    h_stacked, _ = train(stacked, stack=stack_groups, on_eval=stop_early)
    assert len(h_stacked[1].steps) == 3 and len(h_stacked[0].steps) == 12
    assert_same_training(alone, stacked, h_alone, h_stacked)


def test_a_batchnorm_cnn_that_finishes_early_leaves_with_its_running_statistics():
    def nets() -> list[Trainer]:
        return [Trainer(f"bn {s}", init_model(SmallCNN(1, 3, depth=2, width=4, norm="batch", image_size=8), "kaiming",
                                              "relu", generator=make_generator(derive_seed(s, "init"))),
                        data(seed=s), data(30, seed=9), batch_size=16, epochs=3, lr=0.05,
                        generator=make_generator(derive_seed(s, "order")), device=CPU) for s in (0, 1, 2)]

    def stop_early(i: int, t: Trainer) -> None:
        if i == 1 and t.step_count >= 6:
            t.total_steps = t.step_count

    alone, stacked = nets(), nets()
    assert len(stack_groups(stacked)) == 1
    h_alone, acc_alone = train(alone, stack=False, on_eval=stop_early)
    h_stacked, acc_stacked = train(stacked, stack=stack_groups, on_eval=stop_early)
    assert len(h_stacked[1].steps) == 6 and len(h_stacked[0].steps) == 12
    assert_same_training(alone, stacked, h_alone, h_stacked)  # state_dict: running means and variances too
    assert acc_stacked == acc_alone


def test_a_diverging_member_stops_as_it_does_alone_and_the_others_go_on():
    lrs = (0.05, 50.0, 0.05)

    def nets() -> list[Trainer]:
        ts = dropout_trainers("mlp", ps=(0.0, 0.5, 0.25), seeds=(0,))
        for t, lr in zip(ts, lrs):
            t.optimizer.param_groups[0]["lr"] = lr
        return ts

    alone, stacked = nets(), nets()
    groups = [([0, 2], StackedTrainers([stacked[0], stacked[2]])), ([1], None)]
    h_alone, _ = train(alone, stack=False)
    h_stacked, _ = train(stacked, stack=lambda ts: groups)
    assert h_alone[1].diverged_at is not None
    assert_same_training(alone, stacked, h_alone, h_stacked)
    # the same lr diverging inside a stack: its slot leaves at that step, the others train on
    alone, stacked = nets(), nets()
    for ts in (alone, stacked):
        ts[1].optimizer.param_groups[0]["lr"] = 0.05
        ts[1].model.head.weight.data.mul_(1e30)  # a non-finite loss within a few steps
    h_alone, _ = train(alone, stack=False)
    h_stacked, _ = train(stacked, stack=stack_groups)
    assert h_alone[1].diverged_at is not None and h_stacked[0].steps == h_alone[0].steps
    assert_same_training(alone, stacked, h_alone, h_stacked)


def test_nets_that_differ_never_share_a_stack():
    a, b = dropout_trainers("mlp", ps=(0.5,), seeds=(0,)), dropout_trainers("mlp", ps=(0.5,), seeds=(0,), lr=0.1)
    c = dropout_trainers("cnn", ps=(0.5,), seeds=(0,))
    assert len({stack_key(t) for t in a + b + c}) == 3
    assert [idx for idx, _ in stack_groups(a + b + c)] == [[0], [1], [2]]
