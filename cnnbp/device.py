"""Where tensors live, how many threads torch uses, and how runs are seeded.

Picked once per process; every run seeds its own ``torch.Generator`` so that concurrent
users (Gradio runs handlers in threads) never share or disturb each other's random state.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from typing import Iterator

import torch

DEVICE_ENV = "CNNBP_DEVICE"  # "cpu", "cuda", "cuda:1", "mps": overrides the automatic choice
CORES_ENV = "CPU_CORES"  # torch intra-op threads; default: the cores this process may use


@functools.lru_cache(maxsize=1)
def pick_device() -> torch.device:
    """The device every lesson uses: ``$CNNBP_DEVICE`` if set, else cuda > mps > cpu.

    >>> pick_device().type in {"cpu", "cuda", "mps"}
    True
    """
    wanted = os.environ.get(DEVICE_ENV, "").strip()
    if wanted:
        device = torch.device(wanted)  # raises on a malformed name, which is what we want
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_ENV}={wanted!r} but CUDA is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_cores() -> int:
    """Cores torch should use: ``$CPU_CORES`` if set, else the cores this process may run on."""
    env = os.environ.get(CORES_ENV, "").strip()
    if env:
        cores = int(env)
        if cores < 1:
            raise ValueError(f"{CORES_ENV} must be >= 1, got {env!r}")
        return cores
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


_threads_set = False


def set_threads_once() -> int:
    """Set torch's intra-op thread count once per process (start-up); returns it."""
    global _threads_set
    if not _threads_set:
        torch.set_num_threads(cpu_cores())
        _threads_set = True
    return torch.get_num_threads()


def make_generator(seed: int, *, device: torch.device | str = "cpu") -> torch.Generator:
    """A private, seeded random stream: runs never touch torch's global RNG."""
    return torch.Generator(device=device).manual_seed(int(seed))


def derive_seed(seed: int, *keys: object) -> int:
    """A seed for one named random stream of a run, e.g. ``derive_seed(0, "init", "layer", 3)``.

    Streams are independent of each other and of the order they are asked for, so adding an
    init to a comparison never changes the numbers of the inits already in it.
    """
    text = repr((int(seed), *keys))  # repr, not a joined string: ("a/b",) != ("a", "b")
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the count.

    For tiny models thread start-up costs more than it saves (one measured step: 0.26 ms on
    one thread, 55 ms on two with another process on a core). The count is process-wide; the
    app runs one training event at a time, so only the start-up warm-up can overlap it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=1)
def numerics_fingerprint() -> str:
    """A short hash of what this machine's CPU kernels compute, bit for bit, for a few training
    steps of a tiny CNN (convolutions, BatchNorm, GroupNorm, a linear layer, SGD with momentum) at
    one thread.

    Same settings and seed give the same numbers on one machine; another CPU may pick other
    kernels (AVX-512 or AVX2 convolutions, another BLAS path) whose sums round differently, and a
    training run carries a last-bit difference on into visibly different accuracies. Recordings of
    exact numbers (tests/lessons/recorded/, the playlists' replays) carry this fingerprint, and are
    compared with a live run only where the fingerprint is the same.
    """
    from torch import nn  # the module's own imports stay light: this runs only when recording or testing

    with torch_threads(1), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(8, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.Tanh(), nn.Flatten(),
                            nn.Linear(8 * 8 * 8, 4))
        x, y = torch.randn(16, 3, 16, 16), torch.randint(0, 4, (16,))
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
    digest = hashlib.sha256()
    for p in net.parameters():
        digest.update(p.detach().numpy().tobytes())
    return digest.hexdigest()[:12]
