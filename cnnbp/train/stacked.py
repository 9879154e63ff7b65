"""K small CNNs of one architecture trained as one: their channels side by side in grouped convs.

Model k's channels are block k of every layer: a conv becomes a grouped conv (``groups x K``), a
per-channel or per-group norm the same norm over K times the channels (BatchNorm2d(K C),
GroupNorm(K G, K C), InstanceNorm2d(K C)), the head an einsum over K weight matrices. Each model
sees its own minibatch (input block k), so K seeds with their own data orders train at once; the
summed loss gives each model exactly its own gradient, and SGD works element by element. The
numbers are the models' own up to float rounding (a grouped conv sums in its own order): tested
against one-at-a-time training in tests/test_stacked.py.

Why: a step of these tiny CNNs is mostly per-op overhead (Python, autograd, the optimiser's
loop over tensors); K models in one graph pay it once. ``bench/norms.py`` measures it.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.nn.models import SmallCNN
from cnnbp.train.engine import Trainer, TrainEvent, train_mode

# Modules that act on each channel alone (or on consecutive channels: maxout's pieces stay inside a
# model's block), so K models side by side need one copy of them. Matched by class name so that
# the activation registry's own modules join without this module importing it.
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                nn.Softplus, nn.Hardtanh, nn.MaxPool2d, nn.AvgPool2d, nn.Identity)
_ELEMENTWISE_NAMES = {"Maxout", "Swish"}


def _cat(tensors: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    return None if tensors[0] is None else torch.cat([t.detach() for t in tensors])


def _stack_conv(convs: Sequence[nn.Conv2d]) -> nn.Conv2d:
    c = convs[0]
    k = len(convs)
    out = nn.Conv2d(c.in_channels * k, c.out_channels * k, c.kernel_size, stride=c.stride, padding=c.padding,
                    dilation=c.dilation, groups=c.groups * k, bias=c.bias is not None, padding_mode=c.padding_mode)
    with torch.no_grad():
        out.weight.copy_(_cat([m.weight for m in convs]))
        if c.bias is not None:
            out.bias.copy_(_cat([m.bias for m in convs]))
    return out


def _stack_norm(norms: Sequence[nn.Module]) -> nn.Module:
    n, k = norms[0], len(norms)
    if isinstance(n, nn.BatchNorm2d):
        out = nn.BatchNorm2d(n.num_features * k, eps=n.eps, momentum=n.momentum, affine=n.affine,
                             track_running_stats=n.track_running_stats)
    elif isinstance(n, nn.InstanceNorm2d):
        out = nn.InstanceNorm2d(n.num_features * k, eps=n.eps, momentum=n.momentum, affine=n.affine,
                                track_running_stats=n.track_running_stats)
    elif isinstance(n, nn.GroupNorm):
        out = nn.GroupNorm(n.num_groups * k, n.num_channels * k, eps=n.eps, affine=n.affine)
    else:
        raise TypeError(f"cannot stack {type(n).__name__}")
    with torch.no_grad():
        for name, tensor in [*out.named_parameters(), *out.named_buffers()]:
            parts = [getattr(m, name) for m in norms]
            tensor.copy_(parts[0] if tensor.ndim == 0 else _cat(parts))  # num_batches_tracked: one count
    return out


def _stack_module(modules: Sequence[nn.Module]) -> nn.Module:
    first = modules[0]
    if any(type(m) is not type(first) for m in modules):
        raise TypeError(f"the models differ: {sorted({type(m).__name__ for m in modules})}")
    if isinstance(first, nn.Conv2d):
        return _stack_conv(modules)
    if isinstance(first, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)):
        return _stack_norm(modules)
    if isinstance(first, _ELEMENTWISE) or type(first).__name__ in _ELEMENTWISE_NAMES:
        if any(dict(m.named_parameters(recurse=False)) for m in modules):  # PReLU's slopes: not one copy
            raise TypeError(f"cannot stack {type(first).__name__} with learned parameters")
        if len({m.extra_repr() for m in modules}) != 1:
            raise TypeError(f"the models' {type(first).__name__} differ: {sorted({m.extra_repr() for m in modules})}")
        return copy.deepcopy(first)
    if isinstance(first, nn.Sequential) or type(first).__name__ == "ConvBlock":
        out = copy.copy(first)  # same class and attributes, children replaced below
        out._modules = {name: _stack_module([m._modules[name] for m in modules]) for name in first._modules}
        out._parameters, out._buffers = {}, {}
        if first._parameters or first._buffers:
            raise TypeError(f"cannot stack {type(first).__name__} with its own parameters")
        return out
    raise TypeError(f"cannot stack {type(first).__name__}")


class StackedCNN(nn.Module):
    """K :class:`SmallCNN` s as one module: ``forward`` takes (N, K C_in, H, W) (model k's batch
    in channels block k) and returns logits (N, K, classes)."""

    def __init__(self, models: Sequence[SmallCNN]):
        super().__init__()
        if not models:
            raise ValueError("nothing to stack")
        if any(getattr(m.dropout, "p", 0.0) for m in models):
            raise ValueError("dropout draws its own masks per model: stack only models without it")
        self.k = len(models)
        self.blocks = _stack_module([m.blocks for m in models])
        self.head_weight = nn.Parameter(torch.stack([m.head.weight.detach() for m in models]).clone())  # (K, O, C)
        self.head_bias = nn.Parameter(torch.stack([m.head.bias.detach() for m in models]).clone())  # (K, O)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(x).mean(dim=(2, 3))  # (N, K C)
        features = features.view(len(x), self.k, -1)  # (N, K, C)
        return torch.einsum("nkc,koc->nko", features, self.head_weight) + self.head_bias

    def unstack_into(self, models: Sequence[SmallCNN]) -> None:
        """Write model k's share of every parameter and buffer back into ``models[k]``."""
        stacked = dict(self.blocks.named_parameters()) | dict(self.blocks.named_buffers())
        for i, model in enumerate(models):
            with torch.no_grad():
                for name, tensor in [*model.blocks.named_parameters(), *model.blocks.named_buffers()]:
                    whole = stacked[name]
                    tensor.copy_(whole if whole.ndim == 0 else whole.chunk(self.k)[i])
                model.head.weight.copy_(self.head_weight[i])
                model.head.bias.copy_(self.head_bias[i])


def side_by_side_input(batches: Sequence[torch.Tensor]) -> torch.Tensor:
    """K batches (N, C, H, W) -> (N, K C, H, W), batch k in channel block k."""
    return torch.cat(list(batches), dim=1)


def stack_key(trainer: Trainer) -> tuple | None:
    """Trainers with the same key can step as one :class:`StackedCNN`; None: this one cannot (a
    custom loss or sampler, per-layer learning rates, a module the stack does not know, dropout)."""
    model, opt = trainer.model, trainer.optimizer
    if (type(model) is not SmallCNN or trainer.sampler is not None or trainer.loss is not F.cross_entropy
            or type(opt) is not torch.optim.SGD or len(opt.param_groups) != 1 or getattr(model.dropout, "p", 0.0)
            or any(not p.requires_grad for p in model.parameters())):
        return None
    try:
        _stack_module([model.blocks])
    except TypeError:
        return None
    return (module_signature(model), tuple(sorted(sgd_settings(opt).items())), trainer.batch_size,
            trainer.steps_per_epoch, trainer.total_steps, str(trainer.device), len(trainer.train_split[0]),
            tuple(trainer.train_split[0].shape[1:]))  # SmallCNN pools adaptively: one model, any image size


def module_signature(model: nn.Module, keep=lambda module: True) -> tuple:
    """Every kept module's name, class and settings (a conv's shape, a norm's groups, a leaky slope):
    models that stack must agree on all of it."""
    return tuple((name, type(m).__name__, m.extra_repr(), getattr(m, "norm_position", None))
                 for name, m in model.named_modules() if keep(m))


def sgd_settings(optimizer: torch.optim.SGD) -> dict:
    """The one parameter group's settings (its lr includes any per-layer scale)."""
    group = optimizer.param_groups[0]
    return {k: group[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")}


class StackedTrainers:
    """K :class:`Trainer` s of one architecture stepped as one :class:`StackedCNN`.

    Each member keeps its own data order (its generator draws its batches) and its own history;
    the members' models are brought up to date (:meth:`sync`) before anything reads them. On the
    first non-finite loss the stack hands every member its parameters, buffers and momentum back
    and the members go on one at a time, so a diverging run ends exactly as it does alone.
    """

    def __init__(self, trainers: Sequence[Trainer]):
        keys = {stack_key(t) for t in trainers}
        if None in keys or len(keys) != 1:
            raise ValueError("only trainers with one stack_key can step together")
        self.members = list(trainers)
        first = self.members[0]
        self.model = StackedCNN([t.model for t in self.members]).to(first.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), **sgd_settings(first.optimizer))
        self._adopt_momentum()
        self.stacked = True
        self._synced = True

    def _adopt_momentum(self) -> None:
        """Members that stepped before (e.g. a stack rebuilt without the members that left it,
        after ``sync(momentum=True)``) bring their momentum buffers, so the run goes on unchanged."""
        stacked = dict(self.model.named_parameters())
        for name, param in self.members[0].model.named_parameters():
            bufs = [t.optimizer.state.get(p, {}).get("momentum_buffer")
                    for t in self.members for n, p in t.model.named_parameters() if n == name]
            if any(b is None for b in bufs):
                continue
            whole = stacked[_stacked_name(name)]
            self.optimizer.state[whole]["momentum_buffer"] = (
                torch.stack(bufs) if name.startswith("head.") else torch.cat(bufs)).clone()

    @property
    def done(self) -> bool:
        return all(t.done for t in self.members)

    def step(self) -> list[tuple[int, TrainEvent]]:
        """One step of every unfinished member: (member index, its event), in member order."""
        if not self.stacked:
            return [(i, t.step()) for i, t in enumerate(self.members) if not t.done]
        start = time.perf_counter()
        batches = [t._next_batch() for t in self.members]
        y = torch.stack([b[1] for b in batches], dim=1)  # (N, K)
        train_mode(self.model)
        logits = self.model(side_by_side_input([b[0] for b in batches]))  # (N, K, classes)
        losses = F.cross_entropy(logits.permute(0, 2, 1), y, reduction="none").mean(dim=0)  # (K,)
        values = losses.detach().tolist()
        if not all(math.isfinite(v) for v in values):
            return self._diverge(batches)
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.optimizer.step()
        self._synced = False
        correct = (logits.detach().argmax(2) == y).float().mean(dim=0).tolist()
        share = (time.perf_counter() - start) / len(self.members)
        events = []
        for i, (t, loss, acc) in enumerate(zip(self.members, values, correct)):
            t.step_count += 1
            t.elapsed += share
            events.append((i, TrainEvent(variant=t.name, kind="step", step=t.step_count,
                                         epoch=t.step_count / t.steps_per_epoch, loss=loss, accuracy=acc,
                                         lr=t.base_lr, elapsed=t.elapsed)))
        return events

    def _diverge(self, batches: list) -> list[tuple[int, TrainEvent]]:
        """A loss went non-finite: hand the state back and take this step one member at a time,
        on the batches already drawn (a new epoch's order must not be drawn twice)."""
        self.sync(momentum=True)
        self.stacked = False
        return [(i, t.step(batch)) for i, (t, batch) in enumerate(zip(self.members, batches))]

    def sync(self, *, momentum: bool = False) -> None:
        """Write each member's share of the stack into its own model (and, with ``momentum``, its
        optimiser's momentum buffers)."""
        if not self.stacked or (self._synced and not momentum):
            return
        models = [t.model for t in self.members]
        self.model.unstack_into(models)
        self._synced = True
        if momentum:
            stacked = dict(self.model.named_parameters())
            for i, t in enumerate(self.members):
                for name, param in t.model.named_parameters():
                    whole = stacked[_stacked_name(name)]
                    buf = self.optimizer.state.get(whole, {}).get("momentum_buffer")
                    if buf is not None:
                        t.optimizer.state[param]["momentum_buffer"] = buf[i].clone() if name.startswith("head.") \
                            else buf.chunk(len(models))[i].clone()


def _stacked_name(member_name: str) -> str:
    return {"head.weight": "head_weight", "head.bias": "head_bias"}.get(member_name, member_name)


def lockstep_groups(trainers: Sequence[Trainer]) -> list[list[int]]:
    """Indices of ``trainers`` grouped by :func:`stack_key`, in first-seen order; a trainer that
    cannot stack, or has no partner, is a group of one."""
    groups: dict[object, list[int]] = {}
    for i, t in enumerate(trainers):
        key = stack_key(t)
        groups.setdefault(key if key is not None else ("alone", i), []).append(i)
    return list(groups.values())
