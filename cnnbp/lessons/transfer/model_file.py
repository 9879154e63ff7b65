"""The class's own model file as the transfer source: a checkpoint the app's Download wrote (a SmallCNN
trained in another tab) or a torchvision / timm ResNet by name with its state_dict, read with
``weights_only=True`` and loaded strictly (:mod:`cnnbp.nn.checkpoints`).

Transfer adapts what it naturally adapts: the target's images are resized and converted to the
model's input (:func:`adaptation_note` says how), and every strategy puts a new head for the
target's classes on the model (its own classes are not needed). What cannot be adapted is refused
in one line: an architecture the strategies cannot cut into stages, or an input that is neither
grey nor RGB.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cnnbp.lessons.transfer.backbones import ResNetBackbone, is_resnet
from cnnbp.lessons.transfer.sources import Source, SourceError
from cnnbp.lessons.transfer.tasks import Task
from cnnbp.nn import SmallCNN
from cnnbp.nn.checkpoints import CheckpointError, load_model_path

CHANNELS = (1, 3)  # what the one adapter converts between (adapters.adapt_images)


def file_label(path: str | Path) -> str:
    """How messages name a model file: its own name, never the folder it was uploaded to."""
    return f"your model '{Path(path).name}'"


def load_file_source(path: str | Path) -> Source:
    """The model in ``path`` as a source (shared: the strategies copy it before training); SourceError
    in one line when it cannot be one."""
    try:
        loaded = load_model_path(path)
    except CheckpointError as err:
        raise SourceError(str(err)) from None
    if loaded.channels not in CHANNELS:
        raise SourceError(f"the model takes {loaded.channels}-channel images; transfer feeds it grey or RGB "
                          "targets (1 or 3 channels)")
    if isinstance(loaded.model, SmallCNN):
        model = loaded.model
    elif is_resnet(loaded.model):
        model = ResNetBackbone(loaded.model).eval()
    else:
        raise SourceError(f"transfer cuts a source into stages, which it knows for the app's SmallCNN and ResNets "
                          f"(torchvision:resnet18, timm:resnet18, ...); the file holds {loaded.architecture}")
    card = {"name": file_label(path), "task": f"{loaded.describe()}",
            "classes": list(loaded.classes), "input": {"channels": loaded.channels, "size": loaded.size},
            "accuracy": None, "parameters": sum(p.numel() for p in model.parameters()),
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(), "architecture": loaded.architecture}
    return Source(file_label(path), model, card)


def _format(channels: int, size: int) -> str:
    return f"{size}x{size} {'grey' if channels == 1 else 'RGB'}"


def adaptation_note(source: Source, task: Task, *, target: str) -> str:
    """'' when the target's images are in the source's format, else the line that says how they are
    converted (the adapter's bilinear resize, grey <-> RGB)."""
    if (task.channels, task.size) == (source.channels, source.size):
        return ""
    return (f"the {_format(task.channels, task.size)} images of {target} are resized to "
            f"{_format(source.channels, source.size)} for {source.name}; scratch trains on them as they are")
