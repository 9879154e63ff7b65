"""ImageNet as a transfer source: the packaged EfficientNet-Lite0 (``cnnbp.nn.imagenet``) on the
shipped MNIST and Fashion-MNIST, k images per class.

The network is cut in two. The *bottom* (stem and the first 7 - n block groups) stays frozen in
eval mode, so its output for an image never changes: it is computed once per (dataset, split,
input size, cut) and kept in a :class:`~cnnbp.cache.BoundedCache` (:data:`ACTIVATIONS`), image by
image, so a second run, another seed or a larger k pays only for the images it has not seen. The
*top* (the last n block groups, the 1x1 head conv to 1280 channels, a new 10-way classifier) is
what the strategies train, on the cached activations:

- ``linear_probe``: the pooled 1280-d features of the untouched network + logistic regression
  (scikit-learn), the lecture's rule of thumb for a small target;
- ``top``: fine-tune the top's weights (all of them) and a new classifier;
- ``lora``: LoRA on the top's ungrouped convs (the depthwise ones and the norms stay frozen),
  classifier in full;
- ``finetune_all``: the whole network from the images (expensive on a CPU: off by default);
- ``scratch``: the lesson's small CNN from a random init on the 28x28 images themselves.

Training the top on cached activations is exactly training the whole network with the bottom
frozen: a frozen eval-mode bottom computes the same thing every step.
"""

from __future__ import annotations

import copy
import functools
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cnnbp.cache import BoundedCache
from cnnbp.data import dataset_label, get_dataset
from cnnbp.data.session import dataset_choices, is_session_name
from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.transfer.lora import apply_lora
from cnnbp.lessons.transfer.models import build_cnn, count_params
from cnnbp.lessons.transfer.strategies import History, Run, fit_probe, train_evaluated
from cnnbp.lessons.transfer.tasks import DATA_SEED, subsample_indices
from cnnbp.nn import imagenet
from cnnbp.train import RunControl, Trainer

NAME = "efficientnet_lite0_imagenet"
TARGETS = {"mnist": "MNIST digits, 28x28 grey (no digit class in ImageNet)",
           "fashion_mnist": "Fashion-MNIST, 28x28 grey (ImageNet has jerseys, sandals, sneakers, bags)"}
# The rule of thumb with this source: Fashion-MNIST shows objects ImageNet has classes for (jersey, sandal,
# running shoe, bag ...), MNIST's digits have none. An assumption the verdicts state, not a measurement.
SIMILAR_TARGET, DISSIMILAR_TARGET = "fashion_mnist", "mnist"
# The target field's choices: the shipped sets, or this session's upload (32x32 grey or RGB, resized like them)
TARGET_CHOICES = dataset_choices(*TARGETS)
MIN_TEST_PER_CLASS = 10
STRATEGIES = {
    "linear_probe": "frozen ImageNet features (1280, pooled) + logistic regression",
    "top": "fine-tune the last n stages and the head conv, new classifier (bottom frozen, cached)",
    "lora": "LoRA on the last n stages' ungrouped convs, new classifier (everything else frozen)",
    "finetune_all": "fine-tune the whole network from the images (slow on a CPU)",
    "scratch": "the lesson's small CNN from a random init on the 28x28 images",
}
SGD = ("top", "lora", "finetune_all", "scratch")
GROUPS = 7  # EfficientNet-Lite0's block groups; the head conv counts with the top
CLASSES = 10  # both targets
TEST_PER_CLASS = 50  # 500 test images: one image is 0.2 points
# Per (dataset, split, size, cut). One store holds at most 3,500 images (300 per class and the test subset):
# 10 MB at the default 48 px and 1 stage, 55 MB at 112 px and 3 stages; four of them bound the worst case.
ACTIVATIONS: BoundedCache["ActivationStore"] = BoundedCache(4)
_STORES_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class ImagenetTarget:
    """A shipped set's whole training pool and a fixed, class-balanced test subset."""

    name: str
    x_train: torch.Tensor  # (N, 1, 28, 28) in [0, 1]
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    test_index: np.ndarray  # the test subset's rows in the dataset's test split (the cache's keys)
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def get_target(name: str, test_per_class: int = TEST_PER_CLASS) -> ImagenetTarget:
    """``name``'s whole training pool and a test subset drawn with a constant seed, so every run and
    seed is scored on the same images (a smaller subset is nested in a larger one, and shares its
    cached activations). The shipped sets are cached (never modify the tensors); an upload is held
    by its session, not pinned here."""
    if is_session_name(name):
        return _target(name, test_per_class)
    if name not in TARGETS:
        raise ValueError(f"unknown ImageNet target {name!r}; choose from {', '.join(TARGETS)}")
    return _shipped_target(name, test_per_class)


@functools.lru_cache(maxsize=4)
def _shipped_target(name: str, test_per_class: int) -> ImagenetTarget:
    return _target(name, test_per_class)


def _target(name: str, test_per_class: int) -> ImagenetTarget:
    ds = get_dataset(name, seed=DATA_SEED)
    test_index = subsample_indices(ds.y_test, len(ds.classes), test_per_class, seed=DATA_SEED)
    return ImagenetTarget(name, ds.x_train, ds.y_train, ds.x_test[test_index], ds.y_test[test_index],
                          test_index, tuple(ds.classes))


def target_problem(name: str, *, per_class: int, test_per_class: int) -> str:
    """'' when an upload has ``per_class`` training and ``test_per_class`` test images in each class
    (always so for the shipped sets), else the one line what is short."""
    if not is_session_name(name):
        return ""
    ds = get_dataset(name, seed=DATA_SEED)
    fewest = {split: int(torch.bincount(y, minlength=ds.num_classes).min())
              for split, y in (("training", ds.y_train), ("test", ds.y_test))}
    for split, wanted in (("training", per_class), ("test", test_per_class)):
        if wanted > fewest[split]:
            return (f"{dataset_label(name)} has {fewest[split]} {split} images in its smallest class, fewer than the "
                    f"{wanted} per class asked for; lower it or upload more images per class")
    return ""


def target_kind(name: str) -> tuple[str, bool]:
    """How the verdicts describe a target's distance from ImageNet; whether it is the lecture's similar case."""
    if name == SIMILAR_TARGET:
        return "similar: ImageNet has its kinds of object", True
    if name == DISSIMILAR_TARGET:
        return "dissimilar: no digit class in ImageNet", False
    return "your own data", False


def unavailable_reason() -> str:
    """'' when the network and both shipped sets load, else the one line why not."""
    from cnnbp.data import available_datasets

    sets = available_datasets()
    return imagenet.unavailable_reason() or next((sets[n] for n in TARGETS if sets.get(n)), "")


class Bottom(nn.Module):
    """The frozen part: stem and the first ``cut`` block groups."""

    def __init__(self, net: nn.Module, cut: int):
        super().__init__()
        self.conv_stem, self.bn1, self.blocks = net.conv_stem, net.bn1, net.blocks[:cut]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.bn1(self.conv_stem(x.contiguous(memory_format=torch.channels_last))))


class Top(nn.Module):
    """The trained part: the last block groups, the head conv and its norm, pooling, classifier."""

    def __init__(self, net: nn.Module, cut: int):
        super().__init__()
        self.blocks, self.conv_head, self.bn2 = net.blocks[cut:], net.conv_head, net.bn2
        self.pool, self.classifier = net.global_pool, net.classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.bn2(self.conv_head(self.blocks(x))))  # (N, 1280)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class Whole(nn.Module):
    """The whole network from our images (grey, [0, 1]) at input size ``size``: finetune_all."""

    def __init__(self, net: nn.Module, size: int):
        super().__init__()
        self.net, self.size = net, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(imagenet.to_network_input(x, size=self.size).contiguous(memory_format=torch.channels_last))


class ActivationStore:
    """The bottom's output per image index of one (dataset, split, size, cut), filled on demand."""

    def __init__(self):
        self._rows: dict[int, torch.Tensor] = {}
        self._lock = threading.Lock()
        self.computed = 0  # images put through the bottom (the rest were read from the store)

    def get(self, index: Sequence[int], images: Callable[[list[int]], torch.Tensor], bottom: nn.Module
            ) -> torch.Tensor:
        with self._lock:  # two users asking for the same images compute them once
            missing = [int(i) for i in dict.fromkeys(int(i) for i in index) if int(i) not in self._rows]
            if missing:
                out = activations(bottom, images(missing))
                self._rows.update(zip(missing, out))
                self.computed += len(missing)
            return torch.stack([self._rows[int(i)] for i in index])


@torch.no_grad()
def activations(bottom: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``bottom``'s output for network inputs ``x``, in batches of imagenet.batch_size_for their size."""
    size = x.shape[-1]
    step = imagenet.batch_size_for(size)
    return torch.cat([bottom(x[i:i + step]).contiguous() for i in range(0, len(x), step)])


def store_for(dataset: str, split: str, size: int, cut: int) -> ActivationStore:
    key = (dataset, split, size, cut)
    with _STORES_LOCK:  # two users at once share one store
        store = ACTIVATIONS.get(key)
        if store is None:
            store = ActivationStore()
            ACTIVATIONS.put(key, store)
        return store


def cut_for(train_stages: int) -> int:
    if not 1 <= train_stages <= GROUPS:
        raise ValueError(f"train_stages must be in [1, {GROUPS}], got {train_stages}")
    return GROUPS - train_stages


@dataclass
class CachedSplit:
    """One seed's k images per class and the test subset, as bottom activations (and images)."""

    index: np.ndarray  # rows of the training pool
    a_train: torch.Tensor  # (N, C, h, w): the bottom's output
    y_train: torch.Tensor
    a_test: torch.Tensor
    y_test: torch.Tensor
    x_train: torch.Tensor  # the 28x28 images (scratch, finetune_all)
    x_test: torch.Tensor


def cached_split(target: ImagenetTarget, per_class: int, seed: int, *, size: int, train_stages: int) -> CachedSplit:
    """``per_class`` training images per class drawn at ``seed`` (nested in k) and the fixed test
    subset, through the frozen bottom (read from the cache where it has them)."""
    cut = cut_for(train_stages)
    bottom = Bottom(imagenet.network(), cut)
    index = subsample_indices(target.y_train, target.num_classes, per_class, seed=seed)
    to_input = lambda x: imagenet.to_network_input(x, size=size)  # noqa: E731
    train = store_for(target.name, "train", size, cut).get(index, lambda i: to_input(target.x_train[i]), bottom)
    test = store_for(target.name, "test", size, cut).get(
        target.test_index, lambda rows: to_input(target.x_test[_positions(target, rows)]), bottom)
    cl = torch.channels_last  # as the network's weights: a mixed layout is 2-3x slower a step (measured)
    return CachedSplit(index, train.contiguous(memory_format=cl), target.y_train[index],
                       test.contiguous(memory_format=cl), target.y_test, target.x_train[index], target.x_test)


def _positions(target: ImagenetTarget, rows: list[int]) -> np.ndarray:
    """Positions in the test subset of its rows in the dataset's test split."""
    where = {int(r): p for p, r in enumerate(target.test_index)}
    return np.array([where[r] for r in rows])


@torch.no_grad()
def pooled_features(a: torch.Tensor, train_stages: int) -> torch.Tensor:
    """The untouched network's 1280-d penultimate features from the bottom's activations."""
    top = Top(imagenet.network(), cut_for(train_stages))
    return torch.cat([top.features(a[i:i + 256]) for i in range(0, len(a), 256)])


def linear_probe(split: CachedSplit, train_stages: int) -> float:
    return fit_probe(pooled_features(split.a_train, train_stages).numpy(), split.y_train.numpy(),
                     pooled_features(split.a_test, train_stages).numpy(), split.y_test.numpy())


def build(strategy: str, *, num_classes: int, train_stages: int, size: int, lora_rank: int, seed: int,
          image_shape: tuple[int, int] = (1, 28)) -> nn.Module:
    """A fresh network for ``strategy``, its new classifier drawn from a named stream of ``seed``
    (``image_shape``: the target's channels and side, which scratch takes as they are)."""
    if strategy == "scratch":
        return build_cnn(channels=image_shape[0], num_classes=num_classes, size=image_shape[1], seed=seed,
                         key="scratch-init")
    head = nn.Linear(imagenet.FEATURE_DIM, num_classes)
    bound = 1.0 / imagenet.FEATURE_DIM ** 0.5
    with torch.no_grad():
        head.weight.copy_(torch.rand(head.weight.shape, generator=make_generator(derive_seed(seed, "transfer-head")))
                          * 2 * bound - bound)
        head.bias.zero_()
    shared = imagenet.network()  # copied below: the shared network is never trained
    if strategy == "finetune_all":
        net = copy.deepcopy(shared)
        net.classifier = head
        return Whole(net, size)
    top = copy.deepcopy(Top(shared, cut_for(train_stages)))
    top.classifier = head
    if strategy == "lora":
        apply_lora(top, rank=lora_rank, generator=make_generator(derive_seed(seed, "lora-a")), skip=("classifier",))
    elif strategy != "top":
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(SGD)}")
    return top


def bottom_parameters(train_stages: int) -> int:
    """Parameters of the frozen bottom (counted in every trained network's total)."""
    return sum(p.numel() for p in Bottom(imagenet.network(), cut_for(train_stages)).parameters())


def train(runs: Sequence[Run], splits: dict[int, CachedSplit], *, num_classes: int, train_stages: int, size: int,
          lora_rank: int, steps: int, batch_size: int, control: RunControl
          ) -> Iterator[tuple[float, list[History]]]:
    """Every run in lockstep on its seed's split; yield (progress, histories) at each evaluation.
    Trainable counts are against the whole network (the cached bottom included)."""
    trainers, histories = [], []
    frozen_bottom = bottom_parameters(train_stages)
    for run in runs:
        split = splits[run.seed]
        model = build(run.strategy, num_classes=num_classes, train_stages=train_stages, size=size,
                      lora_rank=lora_rank, seed=run.seed, image_shape=(split.x_train.shape[1], split.x_train.shape[-1]))
        images = run.strategy in ("scratch", "finetune_all")
        train_set = (split.x_train if images else split.a_train, split.y_train)
        test_set = (split.x_test if images else split.a_test, split.y_test)
        trainers.append(Trainer(run.label, model, train_set, test_set, batch_size=batch_size, epochs=1, lr=run.lr,
                                generator=make_generator(derive_seed(run.seed, "target-order")),
                                device=torch.device("cpu"), steps=steps))
        trainable, total = count_params(model)
        total += 0 if images else frozen_bottom
        histories.append(History(run.label, run.strategy, run.lr, run.seed, trainable, total))

    yield from train_evaluated(trainers, histories, control, steps)



# Measured on one core (load average ~9 on 2 cores, divided by 4 for an idle core), batch 32, 48 px: seconds
# per 100 steps with the evaluations of the 500 test images, per strategy; 'top' and 'lora' grow ~4x a stage.
# (Fewer test images make the evaluations cheaper; the estimate keeps them: an upper bound.)
SECONDS_PER_100_STEPS = {"top": 1.5, "lora": 2.0, "scratch": 2.0, "finetune_all": 25.0}
FEATURE_SECONDS = 1.2e-3  # one image through the bottom at 48 px (scales with the pixels)
PROBE_SECONDS = 0.5


def cost_seconds(*, strategies: Mapping[int, Sequence[str]], per_class: int, size: int, stages: int,
                 steps: int, test_per_class: int = TEST_PER_CLASS, classes: int = CLASSES) -> float:
    """Estimated seconds of one ``measure`` on an idle core, with an empty activation cache."""
    images = (per_class * len(strategies) + test_per_class) * classes
    cost = images * FEATURE_SECONDS * (size / 48) ** 2
    for chosen in strategies.values():
        for st in chosen:
            if st == "linear_probe":
                cost += PROBE_SECONDS
                continue
            scale = 4 ** (stages - 1) if st in ("top", "lora") else (size / 48) ** 2 if st == "finetune_all" else 1
            cost += SECONDS_PER_100_STEPS[st] * steps / 100 * scale
    return cost
