"""The norms race's lanes as processes (bench/norms.py, ``race_ours(..., dealer="processes")``).

Lanes as Python threads share one interpreter lock: a lane whose torch op has ended waits for the other
lane's Python to let go of it, 1-2.7 s of an 8 s race on two idle cores. Here each lane is a process
forked inside the race's clock, after the stacks are built (the fork and its start-up are counted), and
steps norms on one torch thread. The parent only deals: it hands a free lane the norm with the most work
left (``deal_by_work``, as the threads' dealer), and a lane steps it to its next check. A norm that changes
lane takes its state along: the lane that stepped it last copies the tensors its next step reads into
the norm's shared-memory slot (``Slot``), and the next lane copies them out. Same values, same ops, one
thread each: the numbers are the threads' lanes', bit for bit (tests/test_bench_norms.py).
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from multiprocessing.connection import wait

import torch

from bench.norms import LaneTimes, _NormInRace, deal_by_work

_ALIGN = 8  # bytes: each tensor's place in a slot starts on a multiple of its element size


class Slot:
    """A norm's state tensors in memory the forked lanes share: sized before the fork to the norm's
    tensors then (stacks only shrink), written by the lane that stepped the norm last."""

    def __init__(self, norm: _NormInRace):
        model, _ = norm.live()
        params = list(model.parameters())  # and their momentum buffers, which no step has made yet
        size = sum(-(-t.numel() * t.element_size() // _ALIGN) * _ALIGN for t in [*params, *model.buffers(), *params])
        self.bytes = torch.empty(size, dtype=torch.uint8).share_memory_()

    def _views(self, tensors: list[torch.Tensor]):
        at = 0
        for t in tensors:
            n = t.numel() * t.element_size()
            yield t, self.bytes[at:at + n].view(t.dtype).view(t.shape)
            at += -(-n // _ALIGN) * _ALIGN

    def store(self, tensors: list[torch.Tensor]) -> None:
        for t, view in self._views(tensors):
            view.copy_(t)

    def load(self, tensors: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for t, view in self._views(tensors):
                t.copy_(view)


def _lane(norms: list[_NormInRace], slots: list[Slot], conn) -> None:
    """A lane's process: step the norm it is handed to its next check, leave the norm's state in its slot,
    report; until told to stop, then report its CPU seconds outside the segments and its times."""
    torch.set_num_threads(1)
    busy = idle = 0.0
    while True:
        start = time.perf_counter()
        order, baton = conn.recv()
        idle += time.perf_counter() - start
        if order is None:
            segments = sum(s.cpu for n in norms for s in n.segments)
            conn.send((time.process_time() - segments, busy, idle))
            conn.close()
            return
        wall, cpu = time.perf_counter(), time.thread_time()
        n, had = norms[order], len(norms[order].segments)
        if baton is not None:  # it was stepped on another lane since this one last had it
            n.take(baton)
            slots[order].load(n.state_tensors(create=True))
        n.segment()
        if n.members:
            slots[order].store(n.state_tensors())
        done = n.segments[had]
        done.cpu = time.thread_time() - cpu  # the hand-over included
        busy += time.perf_counter() - wall
        conn.send((n.baton(), {k: f for k, f in n.finished.items()}, done))


def lanes_by_processes(norms: list[_NormInRace], pool, lanes: int) -> LaneTimes:
    """``lanes`` forked lanes take the norms as they free up (deal_by_work); the parent deals and collects
    each norm's finishes and segments into ``norms``. ``pool`` is unused (the threads' dealers take one)."""
    start = time.thread_time()
    slots = [Slot(n) for n in norms]
    context = multiprocessing.get_context("fork")
    gc.freeze()  # the collector in a lane would touch every object the parent made, copying its pages
    ends, processes = [], []
    try:
        for _ in range(lanes):
            here, there = context.Pipe()
            processes.append(context.Process(target=_lane, args=(norms, slots, there), daemon=True))
            processes[-1].start()
            there.close()
            ends.append(here)
    finally:
        gc.unfreeze()
    times = LaneTimes([0.0] * lanes, [0.0] * lanes, [0.0] * lanes, started=time.thread_time() - start,
                      outside=[0.0] * lanes)
    holder: dict[int, int] = {}  # norm -> the lane that stepped it last (absent: still the forked state)
    batons: dict[int, list] = {}
    waiting, free, running = list(norms), list(range(lanes)), {}
    try:
        while waiting or running:
            while waiting and free:
                lane, n = free.pop(0), deal_by_work(waiting)
                waiting.remove(n)
                moved = holder.get(n.order, lane) != lane
                times.moves += moved
                ends[lane].send((n.order, batons[n.order] if moved else None))
                running[lane] = n
            for conn in wait([ends[lane] for lane in running]):
                lane = ends.index(conn)
                n = running.pop(lane)
                baton, finished, segment = conn.recv()
                holder[n.order], batons[n.order] = lane, baton
                n.finished.update(finished)
                n.segments.append(segment)
                times.cpu[lane] += segment.cpu
                n.members = [t for t in n.members if t.name in {name for name, *_ in baton}]
                for t, (_, steps, *_) in zip(n.members, baton):
                    t.step_count = steps  # what work_left reads
                waiting += [n] if n.members else []
                free.append(lane)
        for lane, conn in enumerate(ends):
            conn.send((None, None))
            times.outside[lane], times.busy[lane], times.idle[lane] = conn.recv()
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return times
