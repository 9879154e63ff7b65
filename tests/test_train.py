"""The training engine, the run control and the device/seed helpers, on tiny problems."""

from __future__ import annotations

import copy
import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.device import cpu_cores, derive_seed, make_generator, pick_device
from cnnbp.nn import SmallCNN, init_model
from cnnbp.train import RunControl, Trainer, evaluate, freeze, interleave, make_optimizer
from cnnbp.train.control import DEFAULT_WALL_BUDGET_S, default_wall_budget

# The claims below (bitwise-equal reruns) are about the CPU; the engine itself takes any device.
CPU = torch.device("cpu")


def separable(n: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 1, 4, 4) images: class 1 is brighter than class 0 by 2 (noise std 0.5)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, 4, 4, generator=g) * 0.5 + (2 * y - 1).float().view(-1, 1, 1, 1)
    return x, y


def tiny_net(seed: int = 1) -> nn.Module:
    net = SmallCNN(1, 2, depth=1, width=4, image_size=4)
    return init_model(net, "kaiming", "relu", generator=torch.Generator().manual_seed(seed))


def make_trainer(name: str = "t", *, model_seed: int = 1, data_seed: int = 2, epochs: int = 10,
                 lr: float = 0.1, train=None, model: nn.Module | None = None, **kwargs) -> Trainer:
    train = separable(64, seed=0) if train is None else train
    return Trainer(name, model or tiny_net(model_seed), train, separable(32, seed=100),
                   batch_size=16, epochs=epochs, lr=lr,
                   generator=torch.Generator().manual_seed(data_seed), device=CPU, **kwargs)


def losses(trainer: Trainer) -> list[float]:
    return [e.loss for e in interleave([trainer])]


# --- Trainer ---------------------------------------------------------------------------


def test_learns_a_separable_problem() -> None:
    t = make_trainer()
    loss_before, acc_before = t.evaluate()
    events = list(interleave([t]))
    assert [e.step for e in events] == list(range(1, 41))  # 64 / 16 = 4 steps x 10 epochs
    assert [e.epoch for e in events] == [s / 4 for s in range(1, 41)]
    assert all(e.kind == "step" and e.variant == "t" and e.lr == 0.1 for e in events)
    assert t.done and t.step_count == t.total_steps == 40
    last_epoch = sum(e.loss for e in events[-4:]) / 4
    assert last_epoch < 0.1 * events[0].loss
    loss_after, acc_after = t.evaluate()
    assert loss_after < 0.1 * loss_before
    assert acc_after >= 0.95 and acc_before < acc_after
    assert all(0 < a <= b for a, b in zip([e.elapsed for e in events], [e.elapsed for e in events[1:]]))


def test_event_loss_and_accuracy_are_the_batch_before_the_step() -> None:
    # one batch = the whole set (in a shuffled order): the event's numbers are the full-set
    # loss and accuracy of the model as it was before the update
    x, y = separable(16, seed=3)
    t = make_trainer(train=(x, y), epochs=3)
    for _ in range(3):
        before = copy.deepcopy(t.model)
        event = t.step()
        loss, acc = evaluate(before, (x, y))
        assert event.loss == pytest.approx(loss, rel=1e-5)
        assert event.accuracy == pytest.approx(acc)


def test_same_seed_same_losses_bitwise() -> None:
    assert losses(make_trainer(epochs=3)) == losses(make_trainer(epochs=3))


@pytest.mark.parametrize("change", [{"data_seed": 3}, {"model_seed": 4}])
def test_different_seed_different_losses(change: dict) -> None:
    assert losses(make_trainer(epochs=3)) != losses(make_trainer(epochs=3, **change))


def test_each_epoch_sees_every_sample_once_in_a_new_order() -> None:
    class Recorder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(1, 2)
            self.seen: list[list[int]] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.seen.append(x[:, 0, 0, 0].long().tolist())  # the sample's index
            return self.head(x[:, 0, 0, :1])

    x = torch.arange(10).float().view(10, 1, 1, 1)  # sample i holds the number i
    rec = Recorder()
    t = Trainer("r", rec, (x, torch.zeros(10, dtype=torch.long)), (x[:2], torch.zeros(2, dtype=torch.long)),
                batch_size=4, epochs=3, lr=0.0, generator=torch.Generator().manual_seed(0), device=CPU)
    assert (t.batch_size, t.steps_per_epoch, t.total_steps) == (4, 3, 9)
    list(interleave([t]))
    assert [len(b) for b in rec.seen] == [4, 4, 2] * 3  # the last batch of an epoch is short
    epochs = [sum(rec.seen[i : i + 3], []) for i in (0, 3, 6)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3


def test_batch_size_larger_than_the_set() -> None:
    t = make_trainer(train=separable(5, seed=0), epochs=2)
    assert (t.batch_size, t.steps_per_epoch, t.total_steps) == (5, 1, 2)


def test_empty_training_set() -> None:
    with pytest.raises(ValueError, match="training set is empty"):
        make_trainer(train=(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long)))


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_non_finite_loss_is_an_event_not_an_exception() -> None:
    x, y = separable(64, seed=0)
    x[:] = math.inf  # every batch gives nan logits
    t = make_trainer(train=(x, y))
    before = _params(t.model)
    events = list(interleave([t]))
    assert len(events) == 1 and events[0].kind == "diverged" and math.isnan(events[0].loss)
    assert t.diverged and t.done and t.step_count == 1
    after = _params(t.model)
    assert all(torch.equal(before[n], after[n]) for n in before)  # no update from a nan loss


def test_huge_learning_rate_diverges_and_stops() -> None:
    t = make_trainer(lr=1e10)
    events = list(interleave([t]))
    assert [e.kind for e in events] == ["step"] * (len(events) - 1) + ["diverged"]
    assert len(events) < t.total_steps and t.done
    assert t.step() is not None  # stepping a diverged trainer by hand still does not raise


def test_interleave_goes_round_robin_and_skips_finished_trainers() -> None:
    a, b = make_trainer("a", epochs=2), make_trainer("b", epochs=1)
    order = [e.variant for e in interleave([a, b])]
    assert order == ["a", "b"] * 4 + ["a"] * 4


def test_interleave_with_a_diverged_trainer_finishes_the_others() -> None:
    x, y = separable(64, seed=0)
    bad = make_trainer("bad", train=(torch.full_like(x, math.inf), y), epochs=1)
    good = make_trainer("good", epochs=1)
    events = list(interleave([bad, good]))
    assert [(e.variant, e.kind) for e in events] == [("bad", "diverged")] + [("good", "step")] * 4


# --- freeze and the optimiser ----------------------------------------------------------


def test_freeze_stops_those_params_from_changing() -> None:
    net = SmallCNN(1, 2, depth=2, width=4, image_size=4)
    assert freeze(net, ["blocks.0"]) == ["blocks.0.conv.weight", "blocks.0.conv.bias"]
    t = make_trainer(model=net, epochs=1)
    assert all(p.requires_grad is False for p in net.blocks[0].parameters())
    before = _params(net)
    list(interleave([t]))
    after = _params(net)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        assert changed == (not name.startswith("blocks.0")), name


def test_freeze_with_no_match() -> None:
    net = tiny_net()
    assert freeze(net, ["nothing"]) == [] and all(p.requires_grad for p in net.parameters())


def _lr_of(opt: torch.optim.Optimizer, model: nn.Module) -> dict[str, float]:
    by_id = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    return {n: by_id[id(p)] for n, p in model.named_parameters() if id(p) in by_id}


def test_lr_scale_gives_per_prefix_learning_rates() -> None:
    net = SmallCNN(1, 2, depth=2, width=4, image_size=4)
    opt = make_optimizer(net, lr=0.01, lr_scale={"blocks.0": 0.1, "head": 10.0})
    assert isinstance(opt, torch.optim.SGD) and len(opt.param_groups) == 3
    assert _lr_of(opt, net) == pytest.approx({
        "blocks.0.conv.weight": 0.001, "blocks.0.conv.bias": 0.001,
        "blocks.1.conv.weight": 0.01, "blocks.1.conv.bias": 0.01,
        "head.weight": 0.1, "head.bias": 0.1,
    })
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)


def test_lr_scale_first_matching_prefix_wins() -> None:
    net = SmallCNN(1, 2, depth=2, width=4, image_size=4)
    opt = make_optimizer(net, lr=1.0, lr_scale={"blocks": 0.5, "blocks.0": 0.1})
    lrs = _lr_of(opt, net)
    assert lrs["blocks.0.conv.weight"] == 0.5 and lrs["blocks.1.conv.weight"] == 0.5 and lrs["head.bias"] == 1.0


def test_optimizer_skips_frozen_params() -> None:
    net = SmallCNN(1, 2, depth=2, width=4, image_size=4)
    freeze(net, ["blocks"])
    opt = make_optimizer(net, name="adam", lr=1e-3, weight_decay=0.1)
    assert isinstance(opt, torch.optim.Adam)
    assert sorted(_lr_of(opt, net)) == ["head.bias", "head.weight"]
    assert opt.param_groups[0]["weight_decay"] == 0.1


def test_everything_frozen() -> None:
    net = tiny_net()
    freeze(net, [""])
    with pytest.raises(ValueError, match="every parameter is frozen"):
        make_optimizer(net, lr=0.1)


def test_unknown_optimizer() -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; choose from sgd, adam"):
        make_optimizer(tiny_net(), name="lbfgs", lr=0.1)  # type: ignore[arg-type]


# --- stopping ----------------------------------------------------------------------------


def test_cancel_between_steps_stops_at_once() -> None:
    a, b = make_trainer("a"), make_trainer("b")
    control = RunControl(budget_s=1e9)
    events = interleave([a, b], control)
    for _ in range(3):
        next(events)
    control.cancel()
    steps = a.step_count + b.step_count
    assert list(events) == []
    assert a.step_count + b.step_count == steps == 3
    assert control.stop_reason() == "stopped by the user"


def test_cancel_during_a_step_finishes_that_step_only() -> None:
    # the user presses Stop while a step runs (here: from inside the forward pass)
    a, b = make_trainer("a"), make_trainer("b")
    control = RunControl(budget_s=1e9)
    calls = {"n": 0}

    def press_stop_on_the_5th_forward(module, inputs, output):
        calls["n"] += 1
        if calls["n"] == 5:
            control.cancel()

    a.model.register_forward_hook(press_stop_on_the_5th_forward)
    b.model.register_forward_hook(press_stop_on_the_5th_forward)
    events = list(interleave([a, b], control))
    assert len(events) == 5  # a, b, a, b, then the a step in flight when Stop came
    assert a.step_count + b.step_count == 5 and not (a.done or b.done)


def test_zero_budget_takes_no_step() -> None:
    t = make_trainer()
    control = RunControl(budget_s=0)
    assert list(interleave([t], control)) == []
    assert t.step_count == 0
    assert control.stop_reason() == "stopped: the wall-clock budget of 0 s was spent"


def test_budget_spent_mid_run() -> None:
    t = make_trainer()
    control = RunControl(budget_s=10)
    events = interleave([t], control)
    next(events), next(events)
    control.started -= 11  # as if 11 s had passed
    assert list(events) == [] and t.step_count == 2
    assert "budget of 10 s" in control.stop_reason()


def test_a_fresh_control_does_not_stop() -> None:
    control = RunControl(budget_s=60)
    assert control.stop_reason() is None and 0 <= control.elapsed() < 60


def test_default_wall_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CNNBP_WALL_BUDGET_S", raising=False)
    assert default_wall_budget() == DEFAULT_WALL_BUDGET_S == RunControl().budget_s
    monkeypatch.setenv("CNNBP_WALL_BUDGET_S", "2.5")
    assert RunControl().budget_s == 2.5


# --- evaluate ------------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_restores_the_mode(training: bool) -> None:
    net = SmallCNN(1, 2, depth=2, width=4, image_size=4, dropout=0.5, norm="batch")
    net.train(training)
    evaluate(net, separable(8, seed=0))
    assert all(m.training == training for m in net.modules())


def test_evaluate_equals_the_loss_and_accuracy_in_eval_mode() -> None:
    torch.manual_seed(0)
    net = SmallCNN(1, 3, depth=2, width=4, image_size=4, dropout=0.5, norm="batch")
    x, y = torch.randn(20, 1, 4, 4), torch.arange(20) % 3
    net.train()
    net(x)  # give BatchNorm running statistics that differ from one batch's
    loss, acc = evaluate(net, (x, y), batch_size=7)  # 7 + 7 + 6
    with torch.no_grad():
        logits = copy.deepcopy(net).eval()(x)
    assert loss == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)
    assert acc == int((logits.argmax(1) == y).sum()) / 20
    assert net.training


def test_evaluate_uses_no_gradient() -> None:
    net = tiny_net()
    evaluate(net, separable(8, seed=0))
    assert all(p.grad is None for p in net.parameters())


# --- device and seeds ------------------------------------------------------------------


def test_derive_seed_is_deterministic_and_differs_between_keys() -> None:
    keys = [(0, "init"), (0, "init", "layer", 3), (0, "init", "layer", 4), (1, "init"), (0, "data"), (0,)]
    seeds = [derive_seed(*k) for k in keys]
    assert seeds == [derive_seed(*k) for k in keys]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds)  # fits torch's manual_seed
    torch.Generator().manual_seed(max(seeds))


def test_make_generator_is_a_private_seeded_stream() -> None:
    state = torch.get_rng_state()
    a = torch.rand(5, generator=make_generator(7))
    assert torch.equal(a, torch.rand(5, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(a, torch.rand(5, generator=make_generator(8)))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.fixture
def fresh_device(monkeypatch: pytest.MonkeyPatch):
    """pick_device is cached per process: clear it around each change of the environment."""
    pick_device.cache_clear()
    yield monkeypatch
    pick_device.cache_clear()


def test_pick_device_honours_the_environment(fresh_device: pytest.MonkeyPatch) -> None:
    fresh_device.setenv("CNNBP_DEVICE", " cpu ")
    assert pick_device() == torch.device("cpu")


def test_pick_device_default(fresh_device: pytest.MonkeyPatch) -> None:
    fresh_device.delenv("CNNBP_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    device = pick_device()
    assert device.type in {"cpu", "cuda", "mps"}
    if expected:
        assert device.type == expected
    assert pick_device() is device  # picked once


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_pick_device_cuda_without_cuda(fresh_device: pytest.MonkeyPatch) -> None:
    fresh_device.setenv("CNNBP_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CNNBP_DEVICE='cuda' but CUDA is not available"):
        pick_device()


def test_pick_device_malformed(fresh_device: pytest.MonkeyPatch) -> None:
    fresh_device.setenv("CNNBP_DEVICE", "gpu0")
    with pytest.raises(RuntimeError):
        pick_device()


@pytest.mark.parametrize("value, cores", [("3", 3), (" 2 ", 2), ("1", 1)])
def test_cpu_cores_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, cores: int) -> None:
    monkeypatch.setenv("CPU_CORES", value)
    assert cpu_cores() == cores


@pytest.mark.parametrize("value", ["0", "-2", "x", "1.5"])
def test_cpu_cores_bad_value(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CPU_CORES", value)
    with pytest.raises(ValueError):
        cpu_cores()


def test_cpu_cores_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPU_CORES", raising=False)
    assert cpu_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("frozen", [True, False])
def test_a_frozen_batchnorm_keeps_its_running_statistics(frozen):
    g = make_generator(0)
    x, y = torch.randn(32, 1, 8, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    model = SmallCNN(1, 3, depth=2, width=4, norm="batch", image_size=8)
    if frozen:
        freeze(model, ["blocks.0."])  # the first block: its conv and its BatchNorm
    before = model.blocks[0].norm.running_mean.clone()
    trainer = Trainer("t", model, (x, y), (x, y), batch_size=16, epochs=1, lr=0.1, generator=g)
    trainer.step()
    moved = not torch.equal(model.blocks[0].norm.running_mean, before)
    assert moved is not frozen
    assert model.training and model.blocks[0].norm.training is not frozen
    assert not torch.equal(model.blocks[1].norm.running_mean, torch.zeros_like(model.blocks[1].norm.running_mean))


def test_a_custom_loss_and_sampler_drive_the_steps():
    """The imbalance lesson's shape: a sampler gives each batch's indices, a loss replaces
    cross-entropy, ``steps`` sets the length; the step uses exactly those rows and that loss."""
    g = make_generator(0)
    x, y = torch.randn(20, 1, 8, 8, generator=g), torch.arange(20) % 2
    drawn, seen_losses = [], []

    def sampler():
        idx = torch.tensor([0, 2, 4, 6])  # class 0 only
        drawn.append(idx)
        return idx

    def loss(logits, target):
        seen_losses.append(target.tolist())
        return F.cross_entropy(logits, target) * 0.5

    model = SmallCNN(1, 2, depth=1, width=4, image_size=8)
    idx = torch.tensor([0, 2, 4, 6])
    with torch.no_grad():
        expected_first = 0.5 * float(F.cross_entropy(copy.deepcopy(model)(x[idx]), y[idx]))
    t = Trainer("t", model, (x, y), None, batch_size=4, epochs=99, lr=0.1, generator=g, loss=loss,
                sampler=sampler, steps=3)
    events = list(interleave([t]))
    assert [e.step for e in events] == [1, 2, 3] and t.total_steps == 3
    assert len(drawn) == 3 and seen_losses == [[0, 0, 0, 0]] * 3
    assert events[0].loss == pytest.approx(expected_first, rel=1e-6)
    with pytest.raises(ValueError, match="no test split"):
        t.evaluate()
