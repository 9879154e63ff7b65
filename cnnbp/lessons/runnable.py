"""Choices offered only where they can run: a dropdown lists the names whose needs (weights,
packages, files) are met on this machine now, and the API and the CLI refuse another in one line
that says why. Each lesson states its needs once, name -> a function giving "" or the reason."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from pydantic import AfterValidator

from cnnbp.lessons.base import Choice

Needs = Mapping[str, Callable[[], str]]


@dataclass(frozen=True)
class Runnable(Mapping):
    """The names of ``needs`` this machine can run now (asked each time the choices are listed)."""

    needs: Needs

    def __getitem__(self, name: str) -> str:
        if name not in self.needs or self.needs[name]():
            raise KeyError(name)
        return name

    def __iter__(self) -> Iterator[str]:
        return (name for name, reason in self.needs.items() if not reason())

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class RunnableChoice(Choice):
    """A Choice whose refusal of a known but unrunnable name says why (missing weights or package)."""

    def check(self, name: str) -> str:
        needs = self.registry.needs
        reason = needs[name]() if name in needs else ""
        if reason:
            raise ValueError(reason)
        return super().check(name)


def runnable_choice(needs: Needs, kind: str) -> typing.Any:
    """``Annotated[str, ...]`` accepting only the names of ``needs`` that can run here."""
    meta = RunnableChoice(Runnable(needs), kind)
    return typing.Annotated[str, AfterValidator(meta.check), meta]
