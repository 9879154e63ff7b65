"""Pretrained source CNNs: the recipe that makes them, their files and cards, and a loader that
checks the hash.

``python -m cnnbp pretrain NAME`` trains a source with its recipe and writes
``assets/sources/NAME.pt`` (the state dict) and ``NAME.json`` (the card: data and domain,
recipe, seed, source-test accuracy, parameter count, sha256 of the ``.pt``). The lesson loads
them with :func:`load_source`, which refuses a missing file or one whose hash differs from its
card, with a line that says how to rebuild it.

>>> sorted(SOURCES)
['digits_0to4', 'digits_rotation', 'mnist', 'shapes_flat', 'shapes_textured']
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnnbp.device import derive_seed, make_generator, pick_device, torch_threads
from cnnbp.lessons.transfer.models import DEPTH, WIDTH, build_cnn, count_params
from cnnbp.lessons.transfer.tasks import Task, get_source_task
from cnnbp.train import RunControl, Trainer, interleave

SOURCES_DIR = Path(__file__).resolve().parents[3] / "assets" / "sources"


class SourceError(ValueError):
    """A source that cannot be used (missing file, hash mismatch, unknown name): one line."""


@dataclass(frozen=True)
class SourceSpec:
    """How one source is made: its task (see ``tasks.get_source_task``) and training recipe."""

    name: str
    similar_to: str  # the target whose domain it shares (the other target is dissimilar)
    steps: int = 600  # ~3-6 s on one idle core
    lr: float = 0.05
    optimizer: str = "sgd"  # momentum 0.9
    batch_size: int = 64
    momentum: float = 0.9
    ranked: bool = True  # among the sources the selection part ranks (the MNIST source serves the domain shift)

    def task(self) -> Task:
        return get_source_task(self.name)

    @property
    def self_supervised(self) -> bool:
        return self.name.endswith("_rotation")


SOURCES: dict[str, SourceSpec] = {
    "digits_0to4": SourceSpec("digits_0to4", similar_to="digits_5to9"),
    "digits_rotation": SourceSpec("digits_rotation", similar_to="digits_5to9"),
    # Shapes at 16x16 in random colours and poses are harder for this net without norm layers:
    # SGD at 0.05 reached 67% (flat) and 29% (textured) in 600 steps; Adam gets further.
    "shapes_flat": SourceSpec("shapes_flat", similar_to="shapes_inverted", steps=2000, lr=0.003, optimizer="adam"),
    "shapes_textured": SourceSpec("shapes_textured", similar_to="shapes_inverted", steps=2000, lr=0.003,
                                  optimizer="adam"),
    # The lecture's supervised pretraining (train on MNIST, use on USPS or SVHN), with what ships: the
    # domain_shift part uses it on the bundled 8x8 digits (another scan, another resolution).
    "mnist": SourceSpec("mnist", similar_to="digits", steps=1500, ranked=False),
}
RANKED = tuple(name for name, spec in SOURCES.items() if spec.ranked)


def get_spec(name: str) -> SourceSpec:
    if name not in SOURCES:
        raise SourceError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
    return SOURCES[name]


@dataclass
class Source:
    name: str
    model: nn.Module  # the whole source network, its own head included (eval mode)
    card: dict

    @property
    def channels(self) -> int:
        return int(self.card["input"]["channels"])

    @property
    def size(self) -> int:
        return int(self.card["input"]["size"])


def pretrain(spec: SourceSpec, *, seed: int = 0, steps: int | None = None,
             control: RunControl | None = None) -> tuple[nn.Module, dict]:
    """Train ``spec``'s source from a seeded Kaiming init; return the model and its card
    (without the sha256, which :func:`save_source` adds). One torch thread: faster for
    these tiny convs than two (see ``device.torch_threads``)."""
    task = spec.task()
    steps = spec.steps if steps is None else steps
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    model = build_cnn(channels=task.channels, num_classes=task.num_classes, size=task.size, seed=seed,
                      key=f"source-{spec.name}")
    per_epoch = -(-len(task.y_train) // spec.batch_size)
    trainer = Trainer(spec.name, model, (task.x_train, task.y_train), (task.x_test, task.y_test),
                      batch_size=spec.batch_size, epochs=-(-steps // per_epoch), lr=spec.lr,
                      optimizer=spec.optimizer, momentum=spec.momentum,
                      generator=make_generator(derive_seed(seed, "source-order", spec.name)),
                      device=pick_device())  # CPU vs CUDA measured in bench/gpu.py
    trainer.total_steps = steps  # a step budget, not whole epochs
    start = time.perf_counter()
    with torch_threads(1):
        # no wall budget: a recipe runs to its end
        for _ in interleave([trainer], control or RunControl(budget_s=float("inf"))):
            pass
        _, accuracy = trainer.evaluate()
    model.eval().cpu()  # the lesson's probes and adapters read the source on the CPU
    _, total = count_params(model)
    card = {
        "name": spec.name,
        "task": task.description,
        "self_supervised": spec.self_supervised,
        "similar_to": spec.similar_to,
        "classes": list(task.classes),
        "input": {"channels": task.channels, "size": task.size},
        "architecture": {"kind": "SmallCNN", "depth": DEPTH, "width": WIDTH, "activation": "relu",
                         "num_classes": task.num_classes},
        "recipe": {"optimizer": spec.optimizer, "momentum": spec.momentum, "lr": spec.lr, "batch_size": spec.batch_size,
                   "steps": trainer.step_count, "init": "kaiming", "train_images": len(task.y_train)},
        "seed": seed,
        "accuracy": round(accuracy, 4),
        "test_images": len(task.y_test),
        "parameters": total,
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    return model, card


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_source(model: nn.Module, card: dict, out_dir: Path | str) -> tuple[Path, Path]:
    """Write ``NAME.pt`` (state dict) and ``NAME.json`` (the card with the .pt's sha256)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pt, js = out / f"{card['name']}.pt", out / f"{card['name']}.json"
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, pt)
    card = {**card, "file": pt.name, "sha256": sha256_of(pt)}
    js.write_text(json.dumps(card, indent=2) + "\n")
    return pt, js


def _rebuild(name: str) -> str:
    return f"rebuild it with: python -m cnnbp pretrain {name}"


def read_card(name: str, *, root: Path | str | None = None) -> dict:
    """The card of source ``name``, after checking both files exist and the hash matches."""
    get_spec(name)
    root = Path(root) if root is not None else SOURCES_DIR
    pt, js = root / f"{name}.pt", root / f"{name}.json"
    for path in (js, pt):
        if not path.is_file():
            raise SourceError(f"source {name!r}: {path} is missing; {_rebuild(name)}")
    try:
        card = json.loads(js.read_text())
        expected = card["sha256"]
    except (ValueError, KeyError, TypeError):
        raise SourceError(f"source {name!r}: the card {js} is not valid JSON with a sha256; {_rebuild(name)}") from None
    actual = sha256_of(pt)
    if actual != expected:
        raise SourceError(f"source {name!r}: {pt.name} has sha256 {actual[:12]}... but its card says "
                          f"{str(expected)[:12]}...: the file is corrupt or was changed; {_rebuild(name)}")
    return card


def source_problem(name: str, *, root: Path | str | None = None) -> str:
    """'' when source ``name`` loads, else the one-line reason it does not (for validators)."""
    try:
        read_card(name, root=root)
    except SourceError as err:
        return str(err)
    return ""


def load_source(name: str, *, root: Path | str | None = None) -> Source:
    """The pretrained source ``name`` (a fresh copy: callers may train it), hash-checked."""
    card = read_card(name, root=root)
    root = Path(root) if root is not None else SOURCES_DIR
    arch = card["architecture"]
    model = build_cnn(channels=card["input"]["channels"], num_classes=arch["num_classes"],
                      size=card["input"]["size"], seed=0)
    try:
        state = torch.load(root / card["file"], map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # a file with the right hash but the wrong contents: say so in one line
        raise SourceError(f"source {name!r}: its weights do not fit the network of its card "
                          f"({type(err).__name__}); {_rebuild(name)}") from None
    model.eval()
    return Source(name, model, card)
