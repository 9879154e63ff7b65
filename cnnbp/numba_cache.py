"""umap-learn with its numba kernels cached on disk: compiled by the first process, loaded by the next.

umap-learn (and pynndescent under it) decorate about a hundred functions with ``numba.njit`` and
mark almost none ``cache=True``, so every process compiles them all again: 60-90 s of both cores
on this 2-core machine under load, in the first minute of a class (the start-up warm-up) and in
every test process that projects with UMAP. Numba can cache any of them on disk; it is only not
asked to. :func:`import_umap` asks it: before umap is first imported, ``numba.njit`` and
``numba.jit`` default to ``cache=True`` (an explicit ``cache=`` is kept). Numba keys each cached
kernel by its source file and that file's timestamp, and by the CPU, so a new umap-learn or
another machine compiles afresh instead of loading a stale kernel.

Measured (load 11-12, 2 cores): ``import umap`` + a first fit of 300 points 95 s + 78 s in a fresh
process with an empty cache, then 11.8 s + 1.7 s in the next process.

The cache lives in ``$NUMBA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/cnnbp/numba`` (default
``~/.cache/cnnbp/numba``). Where that directory cannot be written, nothing is patched: numba
would fail at decoration time, and compiling every time is only slower.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from types import ModuleType

_LOCK = threading.Lock()


def cache_dir() -> Path:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cnnbp" / "numba"


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def _cache_by_default(decorator):
    def decorate(*args, **kwargs):
        kwargs.setdefault("cache", True)
        return decorator(*args, **kwargs)

    decorate.__wrapped__ = decorator
    return decorate


def enable_disk_cache() -> bool:
    """Make numba cache every kernel compiled from now on; False (nothing changed) where the cache
    directory cannot be written. Call before umap or pynndescent is imported: they bind
    ``numba.njit`` when imported."""
    import numba

    with _LOCK:
        if hasattr(numba.njit, "__wrapped__"):
            return True
        where = cache_dir()
        if not _writable(where):
            return False
        # numba reads CACHE_DIR whenever it locates a function's cache, and re-reads the environment
        # when a NUMBA_ variable changes: set both.
        os.environ["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR = str(where)
        numba.njit = _cache_by_default(numba.njit)
        numba.jit = _cache_by_default(numba.jit)
        return True


def import_umap() -> ModuleType:
    """``import umap``, its kernels cached on disk where possible."""
    enable_disk_cache()
    import umap

    return umap
