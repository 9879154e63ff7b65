"""K small nets of one shape trained as one model per step: batched matmuls over K weight stacks.

The sibling of ``train/stacked.py`` (grouped convs for K SmallCNNs with one loss and one data
order each) for nets it cannot take:

* :class:`StackedMLP`: K nets of the shape ``trunk -> flatten -> hidden -> head`` (the dropout
  lesson's nets): each ``nn.Linear`` becomes slice k of a (K, out, in) weight applied by one
  ``baddbmm``; a conv trunk becomes grouped convs (``stacked._stack_module``); a dropout layer
  asks each model's own module for its mask (``multiplier``), so every model draws its masks
  from its own generator, in the order it draws them alone.
* :class:`StackedTrainers`: steps K :class:`Trainer` s through such a module (or a
  :class:`StackedCNN`), each with its own batches (its own sampler), its own loss (a weighted or
  focal loss, each applied to its own logits) and batch size (a smaller batch is padded with
  zero rows that no loss reads: allowed only for nets without batch statistics). A member that
  finishes early or diverges leaves the stack with exactly the state it would have alone.

The summed loss gives each model exactly its own gradient, and SGD works element by element, so
the numbers are each model's own up to float rounding (a batched matmul sums in its own order):
tests/test_stacked_mlp.py holds them against one-at-a-time training. Why: a step of these tiny
nets is mostly per-op overhead (Python, autograd, the optimiser's loop over tensors); K models in
one graph pay it once. bench/dropout.py and bench/imbalance.py measure it.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.nn.models import SmallCNN
from cnnbp.train.engine import Trainer, TrainEvent, train_mode
from cnnbp.train.stacked import StackedCNN, _stack_module, module_signature, sgd_settings, side_by_side_input

_BATCH_STATS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm)


def _is_mask(module: nn.Module) -> bool:
    """A dropout layer that can hand out its own mask (the dropout lesson's SeededDropout)."""
    return callable(getattr(module, "multiplier", None))


class StackedLinear(nn.Module):
    """K ``nn.Linear`` s as one: (K, N, in) -> (K, N, out)."""

    def __init__(self, linears: Sequence[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in linears]).clone())  # (K, out, in)
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in linears]).clone())  # (K, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class StackedMasks(nn.Module):
    """K dropout layers as one: in training mode model k's own module draws model k's mask (from
    its own generator, shaped like its activations alone); none (p = 0, eval) multiplies by 1."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = list(members)  # not submodules: their generators stay the models' own

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        mults = [m.multiplier(x[k]) for k, m in enumerate(self.members)]
        if all(m is None for m in mults):
            return x
        ones = torch.ones_like(x[0])
        return x * torch.stack([ones if m is None else m for m in mults])


def _stack_layer(layers: Sequence[nn.Module]) -> nn.Module:
    first = layers[0]
    if any(type(m) is not type(first) for m in layers):
        raise TypeError(f"the models differ: {sorted({type(m).__name__ for m in layers})}")
    if isinstance(first, nn.Linear):
        if first.bias is None:
            raise TypeError("cannot stack a Linear without bias")
        return StackedLinear(layers)
    if _is_mask(first):
        return StackedMasks(layers)
    return _stack_module(layers)  # elementwise modules: one copy (they act on (K, N, W) alike)


class StackedMLP(nn.Module):
    """K nets of the shape ``trunk -> flatten -> hidden -> head`` as one: ``forward`` takes the K
    batches as a list and returns logits (K, N, classes)."""

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        if not models:
            raise ValueError("nothing to stack")
        self.k = len(models)
        self.conv = not isinstance(models[0].trunk, nn.Identity)
        self.trunk = _stack_module([m.trunk for m in models]) if self.conv else nn.Identity()
        layers = zip(*(m.hidden for m in models))  # layer i of every model
        self.hidden = nn.Sequential(*(_stack_layer(list(same)) for same in layers))
        self.head = StackedLinear([m.head for m in models])

    def forward(self, batches: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.conv:  # grouped convs: model k's images in channel block k
            h = self.trunk(side_by_side_input(batches))  # (N, K C, h, w)
            h = h.reshape(len(h), self.k, -1).transpose(0, 1)  # (K, N, C h w): each model's flatten order
        else:
            h = torch.stack(list(batches)).flatten(2)  # (K, N, D)
        return self.head(self.hidden(h))

    def slices(self, model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
        """(a model's parameter, the stacked tensor holding it, whether that tensor stacks one slice
        per model (the Linears) rather than concatenating blocks (the grouped convs))."""
        return [(model.get_parameter(name), whole, not name.startswith("trunk."))
                for name, whole in self.named_parameters()]


def _cnn_slices(stack: StackedCNN, model: SmallCNN) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """As :meth:`StackedMLP.slices`, for a :class:`StackedCNN` (blocks concatenated, head stacked)."""
    stacked = dict(stack.named_parameters())
    return [(param, stacked[name.replace(".", "_")], True) if name.startswith("head.") else
            (param, stacked[name], False) for name, param in model.named_parameters()]


def _share(tensor: torch.Tensor, k: int, models: int, stacked: bool) -> torch.Tensor:
    """Model k's share of a stacked tensor (or of its momentum buffer)."""
    return tensor[k] if stacked else tensor.chunk(models)[k]


def _has_batch_stats(model: nn.Module) -> bool:
    return any(isinstance(m, _BATCH_STATS) for m in model.modules())


def _sgd_settings(optimizer: torch.optim.Optimizer) -> tuple | None:
    if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
        return None
    return tuple(sorted(sgd_settings(optimizer).items()))


def stack_key(trainer: Trainer) -> tuple | None:
    """Trainers with the same key can step as one :class:`StackedTrainers`; None: this one cannot
    (another optimiser, per-layer rates, frozen layers, a net neither module knows, buffers
    such as BatchNorm's with a sampler: its batches may differ in size)."""
    model = trainer.model
    sgd = _sgd_settings(trainer.optimizer)
    if sgd is None or any(not p.requires_grad for p in model.parameters()):
        return None
    if type(model) is SmallCNN:
        if getattr(model.dropout, "p", 0.0):
            return None
        try:
            _stack_module([model.blocks])
        except TypeError:
            return None
        kind = "cnn"
    elif all(hasattr(model, a) for a in ("trunk", "hidden", "head")):
        try:
            StackedMLP([model])
        except (TypeError, AttributeError):
            return None
        kind = "mlp"
    else:
        return None
    if trainer.sampler is not None and _has_batch_stats(model):
        return None  # padded batches would enter the batch statistics
    shapes = module_signature(model, keep=lambda m: not _is_mask(m))
    return (kind, shapes, sgd, trainer.total_steps, str(trainer.device),
            tuple(trainer.train_split[0].shape[1:]),  # a SmallCNN pools adaptively: one model, any image size
            None if trainer.sampler is not None else (trainer.batch_size, len(trainer.train_split[0])))


class StackedTrainers:
    """K :class:`Trainer` s of one :func:`stack_key` stepped as one module.

    Each member keeps its own batches, loss, history and step count; the members' models are
    brought up to date (:meth:`sync`) before anything reads them. A member that is done (its
    ``total_steps`` reached, or lowered by the caller) or diverges leaves the stack; the others
    go on as a new, smaller stack with their momentum.
    """

    def __init__(self, trainers: Sequence[Trainer]):
        keys = {stack_key(t) for t in trainers}
        if None in keys or len(keys) != 1:
            raise ValueError("only trainers with one stack_key can step together")
        self.members = list(trainers)
        self.kind = next(iter(keys))[0]
        self.active: list[int] = []
        self._build([i for i, t in enumerate(self.members) if not t.done])

    @property
    def done(self) -> bool:
        return all(t.done for t in self.members)

    def _build(self, active: list[int]) -> None:
        """Stack the ``active`` members' models, their optimisers' momentum carried over."""
        self.active = active
        self._synced = True
        if not active:
            return
        models = [self.members[i].model for i in active]
        stack = StackedCNN if self.kind == "cnn" else StackedMLP
        self.model = stack(models).to(self.members[active[0]].device)
        group = self.members[active[0]].optimizer.param_groups[0]
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=group["lr"], momentum=group["momentum"],
                                         dampening=group["dampening"], weight_decay=group["weight_decay"],
                                         nesterov=group["nesterov"], maximize=group["maximize"])
        per_member = [self._slices(self.members[i].model) for i in active]
        for j, (_, whole, stacked) in enumerate(per_member[0]):
            bufs = [self.members[i].optimizer.state.get(slices[j][0], {}).get("momentum_buffer")
                    for i, slices in zip(active, per_member)]
            if all(b is not None for b in bufs):  # after the first step every member has one
                self.optimizer.state[whole]["momentum_buffer"] = (torch.stack if stacked else torch.cat)(bufs).clone()

    def _slices(self, model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
        return _cnn_slices(self.model, model) if self.kind == "cnn" else self.model.slices(model)

    def _forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """Logits (K, N, classes) of each member on its own batch."""
        if self.kind == "cnn":
            return self.model(side_by_side_input(xs)).transpose(0, 1)
        return self.model(xs)

    def _losses(self, logits: torch.Tensor, ys: list[torch.Tensor], sizes: list[int],
                members: list[Trainer]) -> torch.Tensor:
        if len(set(sizes)) == 1 and all(t.loss is F.cross_entropy for t in members):
            y = torch.stack(ys)  # (K, N)
            return F.cross_entropy(logits.permute(0, 2, 1), y, reduction="none").mean(dim=1)
        return torch.stack([t.loss(logits[k, :n], y) for k, (t, y, n) in enumerate(zip(members, ys, sizes))])

    def step(self) -> list[tuple[int, TrainEvent]]:
        """One step of every unfinished member: (member index, its event), in member order."""
        if [i for i in self.active if not self.members[i].done] != self.active:
            self.sync(momentum=True)  # some member finished: the rest go on as a smaller stack
            self._build([i for i in self.active if not self.members[i].done])
        if not self.active:
            return []
        start = time.perf_counter()
        members = [self.members[i] for i in self.active]
        batches = [t._next_batch() for t in members]
        sizes = [len(b[1]) for b in batches]
        n = max(sizes)
        xs = [x if len(x) == n else torch.cat([x, x.new_zeros((n - len(x), *x.shape[1:]))]) for x, _ in batches]
        train_mode(self.model)
        logits = self._forward(xs)
        losses = self._losses(logits, [y for _, y in batches], sizes, members)
        values = losses.detach().tolist()
        finite = [math.isfinite(v) for v in values]
        diverged = [k for k, ok in enumerate(finite) if not ok]
        if diverged:  # each leaves with its state before this step, as alone (no update on a non-finite loss)
            self._write(diverged, momentum=True)
        if any(finite):
            self.optimizer.zero_grad(set_to_none=True)
            losses[torch.tensor(finite)].sum().backward()
            self.optimizer.step()
            self._synced = False
        correct = [float((logits[k, :s].detach().argmax(1) == y).float().mean())
                   for k, (s, (_, y)) in enumerate(zip(sizes, batches))]
        share = (time.perf_counter() - start) / len(members)
        events = []
        for k, (i, t) in enumerate(zip(self.active, members)):
            t.step_count += 1
            t.elapsed += share
            kind = "step" if finite[k] else "diverged"
            t.diverged = t.diverged or not finite[k]
            events.append((i, TrainEvent(variant=t.name, kind=kind, step=t.step_count,
                                         epoch=t.step_count / t.steps_per_epoch, loss=values[k],
                                         accuracy=correct[k], lr=t.base_lr, elapsed=t.elapsed)))
        if diverged:
            keep = [k for k in range(len(members)) if finite[k]]
            self._write(keep, momentum=True)
            self._build([self.active[k] for k in keep if not members[k].done])
        return events

    def _write(self, ks: list[int], *, momentum: bool) -> None:
        """Write stack slots ``ks``' parameters, running statistics (and momentum buffers) into
        their members."""
        buffers = dict(self.model.named_buffers())
        with torch.no_grad():
            for k in ks:
                member = self.members[self.active[k]]
                for name, buffer in member.model.named_buffers():  # BatchNorm's, in a StackedCNN's blocks
                    whole = buffers[name]
                    buffer.copy_(whole if whole.ndim == 0 else whole.chunk(len(self.active))[k])
                for param, whole, stacked in self._slices(member.model):
                    param.copy_(_share(whole, k, len(self.active), stacked))
                    buf = self.optimizer.state.get(whole, {}).get("momentum_buffer") if momentum else None
                    if buf is not None:
                        member.optimizer.state[param]["momentum_buffer"] = _share(buf, k, len(self.active),
                                                                                  stacked).clone()

    def sync(self, *, momentum: bool = False) -> None:
        """Write each active member's share of the stack into its own model (and, with
        ``momentum``, its optimiser's momentum buffers)."""
        if not self.active or (self._synced and not momentum):
            return
        self._write(list(range(len(self.active))), momentum=momentum)
        self._synced = True


def stack_groups(trainers: Sequence[Trainer]) -> list[tuple[list[int], StackedTrainers | None]]:
    """For ``lockstep(stack=stack_groups)``: trainers grouped by :func:`stack_key` in first-seen
    order, each group of two or more as one :class:`StackedTrainers`, the rest alone."""
    groups: dict[object, list[int]] = {}
    for i, t in enumerate(trainers):
        key = stack_key(t)
        groups.setdefault(key if key is not None else ("alone", i), []).append(i)
    return [(idx, StackedTrainers([trainers[i] for i in idx]) if len(idx) > 1 else None) for idx in groups.values()]

