"""Datasets of one session (an uploaded zip), and the dataset choices a lesson's Config accepts.

An uploaded set is held in memory under a name ``upload-<20 hex digits>`` drawn from
:mod:`secrets` (80 random bits): the name is the capability. Only the session that uploaded it
holds the name (the server maps the browser session to it and puts it only in that session's
dropdowns; the CLI registers the zip it was given in its own process; an API client gets it back
from the upload endpoint), so no other session can list, guess or use the set. A Config's
``dataset`` field accepts the lesson's built-in names and any name of a set held now, nothing
else: an unknown or dropped upload name is refused in its own line. Nothing is on disk; a set is
dropped when its session uploads another (:func:`forget`), when unused for :data:`MAX_IDLE_S`,
and beyond :data:`MAX_SESSION_SETS` sets (the least recently used first), so uploads cannot
fill the server's memory.

>>> choices = dataset_choices("digits", "mnist")
>>> list(choices), "digits" in choices, "cifar100" in choices
(['digits', 'mnist'], True, False)
>>> "upload-0123456789abcdef0123" in choices  # an upload name that is not held: its own message
Traceback (most recent call last):
ValueError: unknown dataset 'upload-0123456789abcdef0123': no uploaded set of this session has that name ...
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .base import ImageDataset
from .splits import stratified_split

PREFIX = "upload-"
NAME_PATTERN = re.compile(rf"^{PREFIX}[0-9a-f]{{20}}$")
MAX_SESSION_SETS = 16  # x at most ~9 MB each (3,000 images of 3 x 32 x 32 uint8)
MAX_IDLE_S = 3 * 3600  # a set nobody used for this long is dropped (its session is surely over)
TEST_FRACTION = 0.2


@dataclass(frozen=True, eq=False)
class SessionSet:
    """Decoded images of one upload, before any split: uint8 (N, C, H, W), labels (N,) int64."""

    title: str  # what the user calls it (the zip's file name without .zip), for messages
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    note: str = ""  # what was converted or resized

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(torch.bincount(self.labels, minlength=len(self.classes)).tolist())

    def split_sizes(self) -> tuple[int, int]:
        """(train, test) image counts of every seed's split (stratified: counts depend on classes only)."""
        n_test = len(_test_rows(self.labels.numpy(), np.random.default_rng(0)))
        return len(self.labels) - n_test, n_test

    def describe(self) -> str:
        counts = ", ".join(f"{c} {n}" for c, n in zip(self.classes, self.counts))
        _, channels, h, w = self.images.shape
        return f"{self.title}: {len(self.labels)} images, {channels}x{h}x{w}, {len(self.classes)} classes ({counts})"


def _test_rows(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return stratified_split(labels, TEST_FRACTION, rng=rng)[1]


class _Store:
    """name -> SessionSet, bounded and locked (every session's thread reads and writes it); a set
    unused for ``max_idle_s`` is dropped at the next upload."""

    def __init__(self, max_sets: int, max_idle_s: float) -> None:
        self.max_sets, self.max_idle_s = max_sets, max_idle_s
        self._lock = threading.Lock()
        self._sets: OrderedDict[str, SessionSet] = OrderedDict()
        self._used: dict[str, float] = {}

    def add(self, entry: SessionSet) -> str:
        name = PREFIX + secrets.token_hex(10)
        now = time.monotonic()
        with self._lock:
            for old in [n for n, t in self._used.items() if now - t > self.max_idle_s]:
                self._drop(old)
            self._sets[name], self._used[name] = entry, now
            while len(self._sets) > self.max_sets:
                self._drop(next(iter(self._sets)))  # the least recently used goes first
        return name

    def get(self, name: str) -> SessionSet | None:
        with self._lock:
            entry = self._sets.get(name)
            if entry is not None:
                self._sets.move_to_end(name)
                self._used[name] = time.monotonic()
            return entry

    def _drop(self, name: str) -> None:
        self._sets.pop(name, None)
        self._used.pop(name, None)

    def forget(self, name: str | None) -> bool:
        with self._lock:
            held = name in self._sets
            self._drop(name)
            return held

    def __len__(self) -> int:
        with self._lock:
            return len(self._sets)


STORE = _Store(MAX_SESSION_SETS, MAX_IDLE_S)


def register(entry: SessionSet) -> str:
    """Hold ``entry`` for this session; returns its new secret name (``upload-...``)."""
    return STORE.add(entry)


def forget(name: str | None) -> bool:
    """Drop a session's set (its session ended); True if it was held."""
    return STORE.forget(name)


def is_session_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.match(name) is not None


def session_set(name: str) -> SessionSet:
    """The set held under ``name``; a ValueError in one line if there is none (never held, or dropped)."""
    entry = STORE.get(name) if is_session_name(name) else None
    if entry is None:
        raise ValueError(f"unknown dataset {name!r}: no uploaded set of this session has that name "
                         "(uploads are dropped when their session ends); upload the zip again")
    return entry


def load_session_set(name: str, *, seed: int = 0) -> ImageDataset:
    """The uploaded set as an ImageDataset: a seeded stratified 80/20 train/test split, float32 in [0, 1]."""
    entry = session_set(name)
    labels = entry.labels.numpy()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E55]))
    train, test = stratified_split(labels, TEST_FRACTION, rng=rng)
    x = entry.images
    return ImageDataset(name=entry.title, x_train=x[train].float().div_(255), y_train=entry.labels[train].clone(),
                        x_test=x[test].float().div_(255), y_test=entry.labels[test].clone(), classes=entry.classes)


class DatasetChoices(Mapping):
    """The datasets a Config field accepts: its listed names (the dropdown's choices, in order),
    plus any session set registered now (accepted, never listed: each session adds its own to its
    own dropdown). A name shaped like an upload's that is not held raises its own ValueError from
    ``in`` (the Config shows it as the field's one line). Values are unused."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def __contains__(self, name: object) -> bool:
        if is_session_name(name):
            session_set(name)  # a dropped upload gets its own line (upload it again), not "choose from ..."
            return True
        return name in self.names

    def __getitem__(self, name: str) -> str:
        if name not in self:
            raise KeyError(name)
        return name

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def dataset_choices(*names: str) -> DatasetChoices:
    """The registry a lesson's ``dataset`` field checks against (``choice(dataset_choices(...), "dataset")``)."""
    return DatasetChoices(tuple(names))
