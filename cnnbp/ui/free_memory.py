"""Hand the memory a finished run freed back to the system, so the server's RSS stays flat.

A run's tensors are freed when it ends, but glibc's malloc keeps the freed pages: torch's larger
buffers (over its dynamic mmap threshold) come from the heap, and the holes they leave between
blocks still in use are never returned on their own. Measured over rounds of every lesson's
defaults (notes/memory.md): the memory in use was flat from the first round to the third
(332, 331, 331 MB), the heap's free part grew 24 -> 80 MB, and the RSS with it (+60 MB in round 2).
``malloc_trim(0)`` returns those free pages (1-13 ms a call here); it changes no number of a run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger("cnnbp.ui")
_lock = threading.Lock()
_trim = None  # glibc's malloc_trim once looked up; False where there is none (macOS, musl, Windows)


def _malloc_trim():
    global _trim
    if _trim is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _trim = libc.malloc_trim
            _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):
            _trim = False
    return _trim


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system (glibc); True if any were returned. A no-op
    elsewhere. Call it when no run is going: the next run would only take the pages back."""
    trim = _malloc_trim()
    if not trim:
        return False
    with _lock:  # one trim at a time: two would walk the same arenas
        return bool(trim(0))
