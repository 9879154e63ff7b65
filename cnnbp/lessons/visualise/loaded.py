"""A model file the class brings (another tab's Download, the CLI's ``--model net.pt``) looked inside
instead of a model trained here: read with ``weights_only`` (:mod:`cnnbp.nn.checkpoints`), checked
against the chosen dataset, measured on its test split, then shown by the same views.

Its filters have no "at init" of their own: the filter view compares them with Kaiming draws of the
same shape (one per seed of ``models``), as it does for the ImageNet network's.
"""

from __future__ import annotations

from pathlib import Path

from cnnbp.cache import BoundedCache
from cnnbp.data import ImageDataset
from cnnbp.lessons.visualise.imagenet import kaiming_like
from cnnbp.lessons.visualise.model import Trained, TrainSettings, conv_blocks, first_layer
from cnnbp.nn import SmallCNN
from cnnbp.nn.checkpoints import CheckpointError, LoadedModel, load_checkpoint, mismatch
from cnnbp.train.engine import evaluate

# (path, size, mtime) -> the model: validation and the run read a file once (a few loaded models at most)
LOADED: BoundedCache[LoadedModel] = BoundedCache(4)


def load_model_file(path: str) -> LoadedModel:
    """The app's SmallCNN from ``path`` (a checkpoint, or a bare state_dict with a JSON of the same
    name beside it), frozen; one-line ValueError when it is not one."""
    file = Path(path)
    key = (str(file), *((file.stat().st_size, file.stat().st_mtime_ns) if file.is_file() else ()))
    hit = LOADED.get(key)
    if hit is not None:
        return hit
    beside = file.with_suffix(".json")
    try:
        loaded = load_checkpoint(file, settings=beside if beside.is_file() else None)
    except CheckpointError as err:
        raise ValueError(str(err)) from None
    if not isinstance(loaded.model, SmallCNN):
        raise ValueError(f"this lesson looks inside the app's SmallCNN; the file holds "
                         f"{loaded.architecture}")
    loaded.model.requires_grad_(False)  # shared read-only by every run, like a trained one
    LOADED.put(key, loaded)
    return loaded


def check_fits(loaded: LoadedModel, data: ImageDataset) -> None:
    """One line (ValueError) naming what does not match between the model and ``data``."""
    problem = mismatch(loaded, channels=data.in_channels, size=data.image_size[0], classes=data.classes)
    if problem:
        raise ValueError(f"the model does not fit {data.name}: {problem}")


def conv_count(loaded: LoadedModel) -> int:
    return len(conv_blocks(loaded.model))


def as_trained(loaded: LoadedModel, data: ImageDataset, *, seed: int) -> Trained:
    """The loaded model as the views take a trained one: its test accuracy on ``data`` measured now;
    its first-layer filters after a Kaiming draw of the same shape (the stand-in for "at init")."""
    s = loaded.model.settings
    settings = TrainSettings(data.name, s["depth"], s["width"], s["norm"], epochs=0, lr=0.0, batch_size=0,
                             seed=seed, kernel=s["kernel"])
    weights = first_layer(loaded.model)
    _, accuracy = evaluate(loaded.model, (data.x_test, data.y_test))
    return Trained(settings=settings, model=loaded.model, test_accuracy=[accuracy],
                   snapshots=[("Kaiming draw", kaiming_like(weights, seed=seed)), ("loaded", weights)])
