"""The network the lesson looks inside: a SmallCNN trained on digits or shapes in a few seconds,
its first-layer filters recorded as it trains, and the last trained model per training settings
kept in a small in-process cache so that changing only what is visualised never retrains.

>>> data = load_data("digits", seed=0)
>>> data.image_size, data.in_channels
((8, 8), 1)
>>> data_shape("shapes").size, data_shape("shapes").n_test
(16, 1000)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from cnnbp.cache import BoundedCache
from cnnbp.data import DatasetShape, ImageDataset, dataset_shape, get_dataset
from cnnbp.device import derive_seed, make_generator, pick_device, torch_threads
from cnnbp.nn import SmallCNN
from cnnbp.nn.inits import init_model
from cnnbp.nn.models import ConvBlock
from cnnbp.train import RunControl, Trainer
from cnnbp.train.history import History

Dataset = str  # a name of cnnbp.data.LESSON_SET_CHOICES: digits, shapes, mnist, fashion_mnist or this session's upload
# shapes drawn at 16x16: 4x cheaper than 32x32 and it still trains to ~80% in seconds
LOAD_OPTIONS: dict[str, dict] = {"shapes": {"size": 16}}
INK = 0.5  # digits have no masks: a pixel brighter than this is "the object" (the ink)
# Tens of KB of weights each (about 1 MB at the largest settings); bounded so many users cannot grow
# the process, and large enough for a run's models at several seeds (the verdicts') and the claims'.
MAX_CACHED_MODELS = 24
EVALS_PER_EPOCH = 2
# One thread: for convs this small, a second thread costs more than it saves (46 training steps:
# 0.46 s on one thread, 3-9 s on two with other work on the machine).
THREADS = 1


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch and the BLAS/OpenMP pools (t-SNE, UMAP, k-NN) on one thread for one part: on these
    small problems a second thread mostly waits (t-SNE of 120 points: 0.5 s vs 9-12 s on two
    threads with other work on the machine). scikit-learn's fits are loaded first: threadpoolctl limits
    only the libraries already loaded (a process's first t-SNE otherwise ran on 2 OpenMP threads and drew
    another map than every later one)."""
    from threadpoolctl import threadpool_limits

    from cnnbp.projections import load_libraries

    load_libraries()
    with torch_threads(THREADS), threadpool_limits(limits=THREADS):
        yield


def data_shape(name: Dataset) -> DatasetShape:
    """The registry's shape of ``name`` as :func:`load_data` loads it (without loading it)."""
    shape = dataset_shape(name)
    return dataclasses.replace(shape, size=LOAD_OPTIONS.get(name, {}).get("size", shape.size))


def load_data(name: Dataset, *, seed: int) -> ImageDataset:
    """Digits (8x8 grey), shapes at 16x16 RGB with their object masks, or the shipped MNIST /
    Fashion-MNIST (28x28 grey)."""
    return get_dataset(name, seed=seed, **LOAD_OPTIONS.get(name, {}))


def object_masks(data: ImageDataset) -> tuple[torch.Tensor, str]:
    """(M, H, W) bool object masks of the test set and where they come from."""
    if data.mask_test is not None:
        return data.mask_test, "the shapes' own masks"
    return data.x_test.mean(dim=1) > INK, f"the ink (pixels brighter than {INK:g})"


@dataclass(frozen=True)
class TrainSettings:
    dataset: Dataset
    depth: int
    width: int
    norm: str
    epochs: int
    lr: float
    batch_size: int
    seed: int
    kernel: int = 3  # every conv's side (MNIST's 28x28 leaves room for the lecture's 5x5 first-layer filters)


@dataclass(kw_only=True)
class Trained(History):
    """A trained model with its history: plain numbers, and first-layer weights per checkpoint."""

    settings: TrainSettings
    model: SmallCNN  # eval mode, parameters frozen: shared read-only by every run
    test_accuracy: list[float] = field(default_factory=list)
    snapshots: list[tuple[str, torch.Tensor]] = field(default_factory=list)  # (label, (F, C, k, k))
    seconds: float = 0.0


def build_model(data: ImageDataset, s: TrainSettings) -> SmallCNN:
    """A SmallCNN with Kaiming weights drawn from the run's own stream (never torch's global RNG)."""
    model = SmallCNN(data.in_channels, data.num_classes, depth=s.depth, width=s.width, norm=s.norm,
                     kernel=s.kernel, image_size=data.image_size[0])
    return init_model(model, "kaiming", "relu", generator=make_generator(derive_seed(s.seed, "visualise", "init")))


def first_layer(model: SmallCNN) -> torch.Tensor:
    """(F, C, k, k) weights of the first conv, detached on the CPU."""
    return conv_blocks(model)[0].conv.weight.detach().cpu().clone()


def conv_blocks(model: SmallCNN) -> list[ConvBlock]:
    return [m for m in model.blocks if isinstance(m, ConvBlock)]


def train(data: ImageDataset, s: TrainSettings, control: RunControl) -> Iterator[tuple[float, Trained | None]]:
    """Train with Adam, yielding (progress, state) after every evaluation (2 per epoch) and
    (progress, None) after every other step (a heartbeat: Stop lands and the page hears within a
    step); first-layer weights are kept at init and at the end of each epoch. The last yield is the state."""
    start = time.perf_counter()
    model = build_model(data, s)
    out = Trained(settings=s, model=model, snapshots=[("init", first_layer(model))])
    trainer = Trainer("visualise", model, (data.x_train, data.y_train), (data.x_test, data.y_test),
                      batch_size=s.batch_size, epochs=s.epochs, lr=s.lr, optimizer="adam",
                      generator=make_generator(derive_seed(s.seed, "visualise", "order")), device=pick_device())
    _, acc = trainer.evaluate()
    out.eval_steps.append(0)
    out.test_accuracy.append(acc)
    every = max(1, trainer.steps_per_epoch // EVALS_PER_EPOCH)
    while not trainer.done and not control.stop_reason():
        with torch_threads(THREADS):  # restored before every yield (the count is process-wide)
            event = trainer.step()
            out.record(event)
            if event.kind == "diverged":
                break
            epoch_end = event.step % trainer.steps_per_epoch == 0 or trainer.done
            if epoch_end:
                out.snapshots.append((f"epoch {math.ceil(event.step / trainer.steps_per_epoch)}", first_layer(model)))
            at_eval = event.step % every == 0 or epoch_end
            if at_eval:
                out.eval_steps.append(event.step)
                out.test_accuracy.append(trainer.evaluate()[1])
                out.seconds = time.perf_counter() - start
        yield event.step / trainer.total_steps, (out if at_eval else None)
    model.eval().requires_grad_(False)
    model.to("cpu")
    out.seconds = time.perf_counter() - start
    yield (1.0 if trainer.done else trainer.step_count / trainer.total_steps), out


# The last few finished trainings, keyed by their TrainSettings (seed included).
MODELS: BoundedCache[Trained] = BoundedCache(MAX_CACHED_MODELS)


def conv_channels(dataset: Dataset, width: int, layer: int) -> int:
    """Channels of conv ``layer`` (1-based) of this lesson's SmallCNN, read off a model built on the
    meta device (no weights drawn, no memory, no random numbers used).

    >>> conv_channels("digits", 8, 3), conv_channels("digits", 8, 5), conv_channels("shapes", 8, 5)
    (16, 32, 32)
    """
    shape = data_shape(dataset)
    with torch.device("meta"):
        model = SmallCNN(shape.channels, shape.classes, depth=layer, width=width, image_size=shape.size)
    return conv_blocks(model)[-1].conv.out_channels


def training_steps(data: ImageDataset, s: TrainSettings, control: RunControl) -> Iterator[tuple[float, Trained | None]]:
    """The model of settings ``s`` as (progress, model) pairs: (progress, None) after every step
    while it trains, then (1.0, the model), cached; the cache's model at once when it has one. A
    stopped training ends on a None: a half-trained model is never these settings' model."""
    hit = MODELS.get(s)
    if hit is not None:
        yield 1.0, hit
        return
    for reached, state in train(data, s, control):
        yield reached, None
    if control.stop_reason():
        return
    MODELS.put(s, state)
    yield 1.0, state


def trained_model(data: ImageDataset, s: TrainSettings, control: RunControl) -> Trained | None:
    """The model of settings ``s`` from the cache, or trained now and cached; None (and nothing
    cached) when ``control`` stopped the training (:func:`training_steps` without the progress)."""
    model = None
    for _, model in training_steps(data, s, control):
        pass
    return model


def at_seeds(s: TrainSettings, n: int) -> list[TrainSettings]:
    """``s`` and the same training at the next ``n - 1`` seeds: the models a verdict is decided over.

    >>> [t.seed for t in at_seeds(TrainSettings("digits", 4, 8, "batch", 6, 0.01, 64, seed=7), 3)]
    [7, 8, 9]
    """
    return [dataclasses.replace(s, seed=s.seed + k) for k in range(n)]


def layer_outputs(model: SmallCNN, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every conv block (after its activation): list of (N, C_l, H_l, W_l)."""
    outs = []
    for module in model.blocks:
        x = module(x)
        if isinstance(module, ConvBlock):
            outs.append(x)
    return outs


@torch.no_grad()
def penultimate(model: SmallCNN, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """(N, feature_dim): the features the head reads (the lecture's "CNN code")."""
    return torch.cat([model.features(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def layer_shapes(model: SmallCNN, image_size: tuple[int, int], in_channels: int) -> list[tuple[int, int, int]]:
    """(C, H, W) of each conv block's output."""
    with torch.no_grad():
        return [tuple(o.shape[1:]) for o in layer_outputs(model, torch.zeros(1, in_channels, *image_size))]


@dataclass(frozen=True)
class ReceptiveField:
    """Where a unit of a layer looks: unit (i, j) sees input pixels centred on
    ``start + jump * (i, j)`` spanning ``size`` pixels (before clipping to the image)."""

    size: int
    jump: int
    start: float

    def box(self, i: int, j: int, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), inclusive pixel bounds clipped to the image."""
        half = (self.size - 1) / 2
        ci, cj = self.start + self.jump * i, self.start + self.jump * j
        top, left = max(0, math.ceil(ci - half)), max(0, math.ceil(cj - half))
        bottom = min(image_size[0] - 1, math.floor(ci + half))
        right = min(image_size[1] - 1, math.floor(cj + half))
        return top, left, bottom, right


def receptive_field(model: SmallCNN, layer: int) -> ReceptiveField:
    """The receptive field of conv block ``layer`` (1-based), worked out from the layer stack:
    a k x k conv grows it by (k - 1) x jump; a 2 x 2 pooling by 1 x jump and doubles the jump."""
    size, jump, start, seen = 1, 1, 0.0, 0
    for module in model.blocks:
        if isinstance(module, ConvBlock):
            k = module.conv.kernel_size[0]
            size += (k - 1) * jump  # same padding: the centre does not move
            seen += 1
            if seen == layer:
                return ReceptiveField(size, jump, start)
        else:  # 2x2 pooling, stride 2: output (i) covers inputs 2i, 2i + 1
            k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
            size += (k - 1) * jump
            start += (k - 1) / 2 * jump
            jump *= k
    raise ValueError(f"layer ({layer}) must be from 1 to the {seen} conv layers")
