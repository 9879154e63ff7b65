"""Trained CNNs as files: download one trained in the app, load the class's own.

A checkpoint is one ``torch.save`` of plain data, so it loads with ``torch.load(weights_only=True)``
(no Python object is ever unpickled: a file that would run code on load is refused before it can)::

    {"format": "cnnbp-checkpoint", "version": 1,
     "architecture": "small_cnn" | "torchvision:<name>" | "timm:<name>",
     "settings": {...},          # small_cnn: SmallCNN's arguments (its .settings); others: {}
     "norm_groups": {...},       # GroupNorm layers whose groups differ from the default (module -> groups)
     "input": {"channels": C, "size": S},
     "classes": [names], "trained_on": "a line", "state_dict": {name: tensor}}

A bare state_dict (what ``torch.save(model.state_dict())`` writes) loads too, given the rest as a
small JSON beside it (:func:`load_checkpoint`'s ``settings`` argument; the CLI reads ``net.json``
beside ``net.pt``). TorchScript is not accepted: loading it runs the file's own code.

>>> net = SmallCNN(1, 3, depth=2, width=4, image_size=8)
>>> loaded = load_checkpoint(checkpoint_bytes(net, classes=("a", "b", "c"), trained_on="test"))
>>> loaded.describe()
'small_cnn (depth 2, width 4, norm none), input 1x8x8, 3 classes (a, b, c), trained on test'
>>> mismatch(loaded, channels=3, size=8, classes=("a", "b", "c"))
'the model takes 1-channel images, the data has 3'
"""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import BaseModel
from torch import nn

from cnnbp.cache import BoundedCache
from cnnbp.data.files import read_limited
from cnnbp.nn.models import SmallCNN

FORMAT, VERSION = "cnnbp-checkpoint", 1
MAX_CHECKPOINT_BYTES = 100 * 1024 * 1024  # a file given to the CLI; the browser's uploads stop at the server's 5 MB
MAX_SETTINGS_BYTES = 64 * 1024
SMALL_CNN = "small_cnn"
LIBRARIES = ("torchvision", "timm")


class CheckpointError(ValueError):
    """A model file we will not load: one line saying why."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    model: nn.Module  # eval mode, on the CPU
    architecture: str
    channels: int
    size: int
    classes: tuple[str, ...]
    trained_on: str = ""

    def describe(self) -> str:
        arch = self.architecture
        if isinstance(self.model, SmallCNN):
            s = self.model.settings
            arch += f" (depth {s['depth']}, width {s['width']}, norm {s['norm']})"
        shown = ", ".join(self.classes) if len(self.classes) <= 6 else f"{', '.join(self.classes[:2])}, ..., " \
                                                                        f"{self.classes[-1]}"
        trained = f", trained on {self.trained_on}" if self.trained_on else ""
        return f"{arch}, input {self.channels}x{self.size}x{self.size}, {len(self.classes)} classes ({shown}){trained}"


# ---- saving ----

def checkpoint_dict(model: SmallCNN, *, classes: tuple[str, ...] | list[str], trained_on: str = "") -> dict:
    """A trained SmallCNN as the plain data of a checkpoint (tensors cloned to the CPU)."""
    if not isinstance(model, SmallCNN):
        raise TypeError(f"only the app's SmallCNN is saved as a checkpoint, not {type(model).__name__}")
    s = model.settings
    if len(classes) != s["num_classes"]:
        raise ValueError(f"{len(classes)} class names for a model of {s['num_classes']} classes")
    return {
        "format": FORMAT, "version": VERSION, "architecture": SMALL_CNN, "settings": dict(s),
        "norm_groups": {name: m.num_groups for name, m in model.named_modules() if isinstance(m, nn.GroupNorm)},
        "input": {"channels": s["in_channels"], "size": s["image_size"]},
        "classes": [str(c) for c in classes], "trained_on": str(trained_on),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }


def checkpoint_bytes(model: SmallCNN, *, classes: tuple[str, ...] | list[str], trained_on: str = "") -> bytes:
    """The checkpoint file's bytes (what the Download button hands out)."""
    buf = io.BytesIO()
    torch.save(checkpoint_dict(model, classes=classes, trained_on=trained_on), buf)
    return buf.getvalue()


# ---- loading ----

def _read(source: bytes | str | Path, limit: int, what: str) -> bytes:
    return read_limited(source, limit=limit, what=what, error=CheckpointError)


def _unpickle(data: bytes) -> object:
    """torch.load with weights_only=True: tensors and plain data only; anything else refused, never run."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise CheckpointError("not a readable PyTorch checkpoint (a damaged or truncated zip)") from None
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            raise CheckpointError("this is a TorchScript file, which runs its own code when loaded; save the "
                                      "state_dict instead (torch.save(model.state_dict(), 'net.pt'))")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).split("\n")[0] if "GLOBAL" not in str(exc) else "it holds Python objects"
        raise CheckpointError(f"not a checkpoint this app loads safely ({detail[:120]}): only tensors and plain "
                              "data are read (torch.load weights_only=True)") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as exc:
        raise CheckpointError(f"not a readable PyTorch checkpoint ({type(exc).__name__})") from None


def _is_state_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                       for k, v in obj.items())


def load_checkpoint(source: bytes | str | Path, *, settings: bytes | str | Path | dict | None = None) -> LoadedModel:
    """A checkpoint file (bytes or a path) -> the model, built and loaded strictly, in eval mode.

    ``settings``: for a bare state_dict, the checkpoint's other fields as a dict or a JSON file
    (``{"architecture": "small_cnn", "settings": {...}, "input": {...}, "classes": [...]}``).
    """
    obj = _unpickle(_read(source, MAX_CHECKPOINT_BYTES, "model file"))
    if _is_state_dict(obj):
        if settings is None:
            raise CheckpointError("the file is a bare state_dict: give its settings too (a JSON with architecture, "
                                  "settings, input and classes; the CLI reads net.json beside net.pt)")
        meta = settings if isinstance(settings, dict) else _read_json(settings)
        obj = {**meta, "format": FORMAT, "version": VERSION, "state_dict": obj}
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError("not a cnnbp checkpoint: expected the dict the app's Download writes, or a bare "
                              "state_dict with its settings JSON")
    return _build(obj)


# (path, size, mtime) -> the model: a Config's validation and its run read a file once (a few models at most)
LOADED: BoundedCache[LoadedModel] = BoundedCache(4)


def load_model_path(path: str | Path) -> LoadedModel:
    """The model in the file at ``path`` (a checkpoint, or a bare state_dict with a JSON of the same
    name beside it), cached by path, size and modification time; CheckpointError in one line.
    The model is shared by every caller: copy it before training it."""
    file = Path(path)
    key = (str(file), *((file.stat().st_size, file.stat().st_mtime_ns) if file.is_file() else ()))
    hit = LOADED.get(key)
    if hit is None:
        beside = file.with_suffix(".json")
        hit = load_checkpoint(file, settings=beside if beside.is_file() else None)
        LOADED.put(key, hit)
    return hit


def _read_json(source: bytes | str | Path) -> dict:
    try:
        meta = json.loads(_read(source, MAX_SETTINGS_BYTES, "settings file"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the settings file is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise CheckpointError("the settings file must hold a JSON object")
    return meta


def _field(obj: dict, key: str, kind: type | tuple[type, ...]):
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CheckpointError(f"the checkpoint's {key!r} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _build(obj: dict) -> LoadedModel:
    arch = _field(obj, "architecture", str)
    inputs = _field(obj, "input", dict)
    channels, size = _field(inputs, "channels", int), _field(inputs, "size", int)
    classes = tuple(str(c) for c in _field(obj, "classes", list))
    if not 1 <= channels <= 4 or not 4 <= size <= 1024 or not 2 <= len(classes) <= 10_000:
        raise CheckpointError(f"implausible input {channels}x{size}x{size} or {len(classes)} classes")
    state = _field(obj, "state_dict", dict)
    if not _is_state_dict(state):
        raise CheckpointError("the checkpoint's state_dict holds something other than named tensors")
    model = _architecture(arch, obj, channels=channels, size=size, classes=len(classes))
    _check_shapes(model, state, arch)
    model.load_state_dict(state, strict=True)
    return LoadedModel(model.eval(), arch, channels, size, classes, str(obj.get("trained_on", ""))[:200])


def _architecture(arch: str, obj: dict, *, channels: int, size: int, classes: int) -> nn.Module:
    if arch == SMALL_CNN:
        s = dict(_field(obj, "settings", dict))
        if s.get("in_channels") != channels or s.get("num_classes") != classes or s.get("image_size") != size:
            raise CheckpointError(f"the settings (in_channels {s.get('in_channels')}, num_classes "
                                  f"{s.get('num_classes')}, image_size {s.get('image_size')}) disagree with the "
                                  f"input {channels}x{size}x{size} and the {classes} classes")
        try:
            model = SmallCNN(**s)
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"the SmallCNN settings are not valid: {' '.join(str(exc).split())[:200]}") from None
        groups = obj.get("norm_groups") or {}
        modules = dict(model.named_modules())
        for name, g in groups.items():
            if not isinstance(modules.get(name), nn.GroupNorm) or not isinstance(g, int) or \
                    modules[name].num_channels % g:
                raise CheckpointError(f"norm_groups names {name!r} ({g}), which is not a GroupNorm it fits")
            modules[name].num_groups = g
        return model
    library, _, name = arch.partition(":")
    if library not in LIBRARIES or not name:
        raise CheckpointError(f"unknown architecture {arch!r}; use small_cnn, torchvision:<name> or timm:<name>")
    try:
        if library == "torchvision":
            import torchvision

            return torchvision.models.get_model(name, weights=None, num_classes=classes)
        import timm

        return timm.create_model(name, pretrained=False, num_classes=classes, in_chans=channels)
    except Exception as exc:  # an unknown name, or arguments the architecture refuses
        raise CheckpointError(f"{library} cannot build {name!r} ({type(exc).__name__})") from None


def _check_shapes(model: nn.Module, state: dict[str, torch.Tensor], arch: str) -> None:
    """One line naming what does not fit, before load_state_dict's many-line error."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has an unknown {extra[0]!r}"
        raise CheckpointError(f"the weights do not fit {arch} with these settings: the file {what} "
                              f"({len(missing)} missing, {len(extra)} unknown)")
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"the weights do not fit {arch} with these settings: {k!r} is "
                              f"{tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} in the model"
                              + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))


def mismatch(loaded: LoadedModel, *, channels: int, size: int, classes: tuple[str, ...] | list[str]) -> str | None:
    """What does not match between a model and the data it is to be used on, in one line; None if all does."""
    problems = []
    if loaded.channels != channels:
        problems.append(f"the model takes {loaded.channels}-channel images, the data has {channels}")
    if loaded.size != size:
        problems.append(f"the model was trained on {loaded.size}x{loaded.size} images, the data's are {size}x{size}")
    if len(loaded.classes) != len(classes):
        problems.append(f"the model tells {len(loaded.classes)} classes apart, the data has {len(classes)}")
    elif tuple(loaded.classes) != tuple(classes):
        problems.append(f"the class names differ (model: {', '.join(loaded.classes[:4])}; data: "
                        f"{', '.join(list(classes)[:4])})")
    return "; ".join(problems) or None


# ---- the models a run trained, kept for the Download button ----

# run key -> {label: checkpoint bytes}; a lesson keeps its first seed's models (~30-300 KB each)
KEPT: BoundedCache[dict[str, bytes]] = BoundedCache(16)


def run_key(lesson: str, cfg: BaseModel, *, exclude: tuple[str, ...] = ()) -> str:
    """The key a run's models are kept under: the lesson and its validated settings (seed and dataset
    included: an upload's secret name is part of it, so only its session can ask for them), less the
    lesson's live fields (``exclude``: they re-score the same models, they train none)."""
    return f"{lesson}:{cfg.model_dump_json(exclude=set(exclude))}"


def keep_models(key: str, models: dict[str, SmallCNN], *, classes: tuple[str, ...], trained_on: str) -> None:
    """Keep trained models as checkpoints (copies: training may go on; the caller's models are untouched)."""
    KEPT.put(key, {label: checkpoint_bytes(m, classes=classes, trained_on=f"{trained_on}, {label}")
                   for label, m in models.items()})


def kept_models(key: str) -> dict[str, bytes] | None:
    return KEPT.get(key)


def file_name(label: str) -> str:
    """A model's label as a file name: letters, digits, '-' and '_' only."""
    return (re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_") or "model")[:80] + ".pt"


def models_zip(files: dict[str, bytes]) -> bytes:
    """Several kept checkpoints as one zip (one .pt per model)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for label, data in files.items():
            z.writestr(file_name(label), data)
    return buf.getvalue()
