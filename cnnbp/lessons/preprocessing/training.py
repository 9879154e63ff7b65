"""Raw vs normalised inputs: the same classifier, optimiser and learning rate, trained on the
digits as they come (pixel x scale + offset) and after each of the lecture's image steps; then
the loss's sensitivity to a small random change of the weights, for one classifier written for
each kind of input (the same function, so only the parametrisation differs).

Every variant of a run starts from the same weights and sees the same batches (common random
numbers): curves differ by the preprocessing alone.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Iterator, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.data import ImageDataset
from cnnbp.device import derive_seed, make_generator, pick_device, torch_threads
from cnnbp.lessons.preprocessing.transforms import ImageTransform, fit_image_transform
from cnnbp.train import RunControl, Trainer, evaluate, lockstep

ModelKind = Literal["linear", "mlp"]
EVAL_EVERY = 5  # steps between two full-set evaluations: the resolution of "steps to target"
# Our models are 64 x 10 matmuls: a second intra-op thread buys nothing, and when another
# process busies a core, torch's two threads wait on each other (measured: 0.26 ms a step on one
# thread, 55 ms on two, with one core busy). Set only between two yields, always restored.
SMALL_MODEL_THREADS = 1


def build_model(kind: ModelKind, in_features: int, num_classes: int, *, hidden: int,
                generator: torch.Generator) -> nn.Sequential:
    """A linear classifier (flatten -> linear) or a one-hidden-layer ReLU MLP, with PyTorch's
    default uniform(+-1/sqrt(fan_in)) init drawn from ``generator`` (never the global RNG).

    >>> m = build_model("mlp", 64, 10, hidden=32, generator=torch.Generator().manual_seed(0))
    >>> m(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    sizes = [in_features, num_classes] if kind == "linear" else [in_features, hidden, num_classes]
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = torch.nn.utils.skip_init(nn.Linear, d_in, d_out)
        bound = 1 / math.sqrt(d_in)
        with torch.no_grad():
            layer.weight.copy_(torch.rand(d_out, d_in, generator=generator) * 2 * bound - bound)
            layer.bias.copy_(torch.rand(d_out, generator=generator) * 2 * bound - bound)
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass
class RunHistory:
    """One (transform, run) training, as plain numbers."""

    transform: str
    run: int
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # batch loss at each step
    eval_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # whole training set
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def name(self) -> str:
        return f"{self.transform}, run {self.run + 1}"

    def steps_to_loss(self, target: float) -> int | None:
        """The first evaluated step whose training-set loss is <= ``target``."""
        return next((s for s, l in zip(self.eval_steps, self.train_loss) if l <= target), None)

    def steps_to_accuracy(self, target: float) -> int | None:
        return next((s for s, a in zip(self.eval_steps, self.test_accuracy) if a >= target), None)


def raw_inputs(data: ImageDataset, *, scale: float, offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The images as they come: pixel in [0, 1] x ``scale`` + ``offset`` (255, 0: 8-bit pixels)."""
    return data.x_train * scale + offset, data.x_test * scale + offset


def _record(trainer: Trainer, history: RunHistory) -> None:
    train_loss, _ = evaluate(trainer.model, trainer.train_split)
    test_loss, test_acc = trainer.evaluate()
    history.eval_steps.append(trainer.step_count)
    history.train_loss.append(train_loss)
    history.test_loss.append(test_loss)
    history.test_accuracy.append(test_acc)


@dataclass
class TrainingResult:
    histories: list[RunHistory]
    models: dict[tuple[str, int], nn.Module]  # (transform, run) -> trained model
    fitted: dict[str, ImageTransform]  # transform -> statistics fitted on the raw training images
    total_steps: int


def train_variants(data: ImageDataset, *, transforms: Sequence[str], model: ModelKind, hidden: int,
                   raw_scale: float, raw_offset: float, runs: int, epochs: int, batch_size: int,
                   lr: float, seed: int, control: RunControl) -> Iterator[tuple[float, TrainingResult]]:
    """Train every (transform, run) in lockstep; yield (progress, result) at step 0 and at every
    evaluation (every ``EVAL_EVERY`` steps). Stops between two steps when ``control`` says so."""
    device = pick_device()
    x_train, x_test = raw_inputs(data, scale=raw_scale, offset=raw_offset)
    fitted = {name: fit_image_transform(name, x_train) for name in transforms}
    in_features = x_train[0].numel()
    trainers, histories, models = [], [], {}
    for run in range(runs):
        for name in transforms:
            t = fitted[name]
            net = build_model(model, in_features, data.num_classes, hidden=hidden,
                              generator=make_generator(derive_seed(seed, "model", run)))
            trainers.append(Trainer(f"{name}, run {run + 1}", net, (t(x_train), data.y_train),
                                     (t(x_test), data.y_test), batch_size=batch_size, epochs=epochs, lr=lr,
                                     generator=make_generator(derive_seed(seed, "order", run)), device=device))
            histories.append(RunHistory(name, run))
            models[(name, run)] = net
    with torch_threads(SMALL_MODEL_THREADS):
        for trainer, history in zip(trainers, histories):
            _record(trainer, history)
    total = trainers[0].total_steps
    result = TrainingResult(histories, models, fitted, total)
    yield 0.0, result

    for progress in lockstep(trainers, histories, control, eval_every=EVAL_EVERY,
                             on_eval=lambda i, trainer: _record(trainer, histories[i]),
                             threads=SMALL_MODEL_THREADS):
        yield progress, result


# ---- sensitivity of the loss to the weights --------------------------------------------------

def fold_input_change(model: nn.Sequential, *, scale: torch.Tensor, shift: torch.Tensor) -> nn.Sequential:
    """A copy of ``model`` (Flatten, Linear, ...) that takes inputs ``z`` where the original took
    ``z * scale + shift`` (both (D,)): the first layer becomes W diag(scale), b + W shift. Exact.

    >>> m = build_model("linear", 3, 2, hidden=1, generator=torch.Generator().manual_seed(0))
    >>> z = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    >>> s, d = torch.tensor([2.0, 3.0, 4.0]), torch.tensor([1.0, -1.0, 0.5])
    >>> torch.allclose(fold_input_change(m, scale=s, shift=d)(z), m(z * s + d), atol=1e-6)
    True
    """
    out = copy.deepcopy(model)
    first = out[1]
    if not isinstance(out[0], nn.Flatten) or not isinstance(first, nn.Linear):
        raise ValueError("fold_input_change expects nn.Sequential(Flatten, Linear, ...)")
    with torch.no_grad():
        w = first.weight.clone()
        first.bias.add_(w @ shift.to(w.dtype))
        first.weight.mul_(scale.to(w.dtype))
    return out


def express_for(model: nn.Module, trained_on: ImageTransform, target: ImageTransform,
                image_shape: Sequence[int]) -> nn.Sequential:
    """``model`` took ``trained_on(x)``; return the same function of ``target(x)``.

    x = target(x) * s_t + m_t, so trained_on(x) = target(x) * (s_t / s_o) + (m_t - m_o) / s_o.
    """
    ones = torch.ones(*image_shape, dtype=torch.float64)  # (C, H, W): broadcast the statistics
    s_o, m_o = trained_on.std * ones, trained_on.mean * ones
    s_t, m_t = target.std * ones, target.mean * ones
    return fold_input_change(model, scale=(s_t / s_o).flatten(), shift=((m_t - m_o) / s_o).flatten())


def _directions(model: nn.Module, k: int, seed: int) -> list[torch.Tensor]:
    """Direction k: one unit-norm Gaussian tensor per weight matrix (the same in every
    parametrisation: common random numbers)."""
    g = make_generator(derive_seed(seed, "direction", k))
    out = []
    for p in _weights(model):
        d = torch.randn(p.shape, generator=g, dtype=torch.float64)
        out.append(d / d.norm())
    return out


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(F.cross_entropy(model(x), y))


@torch.no_grad()
def perturbed_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, directions: list[torch.Tensor],
                   size: float) -> float:
    """The loss after moving each weight matrix W by ``size * ||W|| * direction``; restores W."""
    weights = _weights(model)
    saved = [w.clone() for w in weights]
    for w, d in zip(weights, directions):
        w.add_(size * w.norm() * d)
    loss = _loss(model, x, y)
    for w, s in zip(weights, saved):
        w.copy_(s)
    return loss


@dataclass
class Sensitivity:
    """The loss of one classifier, written for one kind of input, under weight perturbations."""

    transform: str  # the input this parametrisation takes
    loss: float  # unperturbed training-set loss (the same function for every transform)
    first_layer_norm: float  # ||W|| of the first layer in this parametrisation
    sizes: list[float]  # relative perturbation sizes
    relative_change: list[float]  # mean over directions of |L' - L| / L, per size
    relative_change_std: list[float]
    slice_t: list[float]  # relative step along direction 0
    slice_loss: list[float]


def sensitivity(model: nn.Module, trained_on: ImageTransform, fitted: dict[str, ImageTransform],
                x_raw: torch.Tensor, y: torch.Tensor, *, sizes: Sequence[float], n_directions: int,
                slice_t: Sequence[float], seed: int) -> list[Sensitivity]:
    """For each fitted transform: the same classifier written for its inputs, its loss on the
    training set under random weight perturbations of each relative size (float64)."""
    with torch_threads(SMALL_MODEL_THREADS):
        return _sensitivity(model, trained_on, fitted, x_raw, y, sizes=sizes, n_directions=n_directions,
                            slice_t=slice_t, seed=seed)


def _sensitivity(model: nn.Module, trained_on: ImageTransform, fitted: dict[str, ImageTransform],
                 x_raw: torch.Tensor, y: torch.Tensor, *, sizes: Sequence[float], n_directions: int,
                 slice_t: Sequence[float], seed: int) -> list[Sensitivity]:
    base = copy.deepcopy(model).double().cpu()
    x_raw, y = x_raw.double().cpu(), y.cpu()
    directions = [_directions(base, k, seed) for k in range(n_directions)]
    out = []
    for name, target in fitted.items():
        net = express_for(base, trained_on, target, x_raw.shape[1:])
        x = target(x_raw)
        loss = _loss(net, x, y)
        changes = [[abs(perturbed_loss(net, x, y, d, size) - loss) / loss for d in directions] for size in sizes]
        mean = [sum(c) / len(c) for c in changes]
        std = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) for c, m in zip(changes, mean)]
        out.append(Sensitivity(
            transform=name, loss=loss, first_layer_norm=float(_weights(net)[0].detach().norm()), sizes=list(sizes),
            relative_change=mean, relative_change_std=std, slice_t=list(slice_t),
            slice_loss=[perturbed_loss(net, x, y, directions[0], t) for t in slice_t]))
    return out
