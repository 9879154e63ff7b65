"""The allocator's free pages handed back when the last run ends (cnnbp.ui.free_memory): the server's
RSS flat over a second round of every lesson (notes/memory.md)."""

import ctypes
import platform
import threading
import uuid

import pytest

from cnnbp.lessons.base import Frame, Lesson, LessonConfig
from cnnbp.ui import followers
from cnnbp.ui.free_memory import release_free_memory
from cnnbp.ui.slots import Slots

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="malloc_trim is glibc's")


def rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("RssAnon:"))


@glibc
def test_free_pages_between_blocks_in_use_go_back_to_the_system():
    """What a run leaves: freed blocks (under malloc's mmap threshold, so from the heap) between blocks
    still in use. malloc keeps them resident on its own; the trim returns them."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    release_free_memory()
    size, count = 64 * 1024, 2000  # under malloc's mmap threshold: from the heap
    blocks = []
    for _ in range(count):
        blocks.append(libc.malloc(size))
        ctypes.memset(blocks[-1], 1, size)  # touched: resident
    before_free = rss_anon_mb()
    for block in blocks[::2]:  # every other block: holes between blocks still in use, which cannot merge
        libc.free(block)
    kept = rss_anon_mb()
    assert release_free_memory()
    after = rss_anon_mb()
    for block in blocks[1::2]:
        libc.free(block)
    freed_mb = size * count / 2 / 2**20
    assert kept > before_free - 0.2 * freed_mb  # malloc kept (nearly) all of it after the frees
    assert kept - after > 0.8 * freed_mb  # the trim gave back at least 80% of it


class Gated(Lesson):
    def run(self, cfg, control):
        yield Frame(0.1, "started")
        self.gate.wait(20)
        yield Frame(1.0, "done in 0.1 s", done=True)


def gated() -> Gated:
    lesson = Gated(name=f"gated-{uuid.uuid4().hex[:8]}", title="", summary="", config=LessonConfig, figures=())
    object.__setattr__(lesson, "gate", threading.Event())
    return lesson


def test_the_trim_comes_when_the_last_run_in_flight_lands(monkeypatch):
    trims = []
    monkeypatch.setattr(followers, "release_free_memory", lambda: trims.append(1))
    flights, slots = followers.Flights(), Slots({"short": 2})
    first, second = gated(), gated()
    flight1 = flights.join(first, LessonConfig(), "short", slots)
    flight2 = flights.join(second, LessonConfig(), "short", slots)
    first.gate.set()
    flight1.thread.join(20)
    assert not flight1.thread.is_alive() and flights.flying() == 1
    assert trims == []  # another run still computes: its pages would only be taken back
    second.gate.set()
    flight2.thread.join(20)
    assert not flight2.thread.is_alive() and flights.flying() == 0
    assert trims == [1]


def test_a_stopped_run_trims_too(monkeypatch):
    trims = []
    monkeypatch.setattr(followers, "release_free_memory", lambda: trims.append(1))
    flights, lesson = followers.Flights(), gated()
    flight = flights.join(lesson, LessonConfig(), "short", Slots({"short": 1}))
    assert flights.leave(flight) == 0  # its only follower left: the run is stopped
    lesson.gate.set()
    flight.thread.join(20)
    assert not flight.thread.is_alive() and trims == [1]
