"""Rooms for predict-then-reveal: a presenter opens a room, the class's devices send one guess each
per question, the presenter sees the distribution. In-process and bounded (the oldest rooms and
the latest voters beyond a room's cap are dropped), no accounts: a voter is a page session.

>>> rooms = Rooms()
>>> code = rooms.create()
>>> rooms.vote(code, "init:2", "phone-1", "xavier", ("xavier", "kaiming"))
>>> rooms.vote(code, "init:2", "phone-1", "kaiming", ("xavier", "kaiming"))  # a changed mind
>>> rooms.vote(code, "init:2", "phone-2", "kaiming", ("xavier", "kaiming"))
>>> rooms.tally(code, "init:2", ("xavier", "kaiming"))
{'xavier': 0, 'kaiming': 2}
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from cnnbp.cache import BoundedCache

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no O/0, I/1/L: read off a projector
CODE_LENGTH = 6  # 31**6, about 900 million codes: not guessed by a neighbouring class
MAX_ROOMS = 200
MAX_VOTERS = 1000  # per question: a lecture hall, with room for re-opened pages
MAX_QUESTIONS = 200


@dataclass
class Room:
    votes: dict[str, dict[str, str]] = field(default_factory=dict)  # question -> voter -> choice
    lock: threading.Lock = field(default_factory=threading.Lock)


class Rooms:
    def __init__(self, max_rooms: int = MAX_ROOMS):
        self._rooms: BoundedCache[Room] = BoundedCache(max_rooms)

    def create(self) -> str:
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if self._rooms.get(code) is None:
                self._rooms.put(code, Room())
                return code

    def _room(self, code: str) -> Room:
        room = self._rooms.get(normalise(code))
        if room is None:
            raise ValueError(f"no room {code!r} (rooms close when the server restarts); ask for the link again")
        return room

    def exists(self, code: str) -> bool:
        return self._rooms.get(normalise(code)) is not None

    def vote(self, code: str, question: str, voter: str, choice: str, choices: tuple[str, ...]) -> None:
        """Record ``voter``'s guess (a later one replaces it)."""
        if choice not in choices:
            raise ValueError(f"choose one of {', '.join(choices)}")
        room = self._room(code)
        with room.lock:
            if question not in room.votes and len(room.votes) >= MAX_QUESTIONS:
                raise ValueError("this room has too many questions; open a new room")
            votes = room.votes.setdefault(question, {})
            if voter not in votes and len(votes) >= MAX_VOTERS:
                raise ValueError(f"this question has {MAX_VOTERS} guesses already")
            votes[voter] = choice

    def tally(self, code: str, question: str, choices: tuple[str, ...]) -> dict[str, int]:
        room = self._room(code)
        with room.lock:
            votes = list(room.votes.get(question, {}).values())
        return {c: votes.count(c) for c in choices}


def normalise(code: str) -> str:
    return str(code).strip().upper()


ROOMS = Rooms()
