"""Two file helpers the shipped data, the bundled photos and the ImageNet weights share.

>>> installed_package_dir("surely_not_installed_pkg") is None
True
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def installed_package_dir(module: str) -> Path | None:
    """The folder of installed package ``module``, found without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_limited(source: bytes | str | Path, *, limit: int, what: str, error: type[ValueError]) -> bytes:
    """The bytes of an upload (bytes, or a path whose size is checked before reading), refused as
    ``error`` in one line when missing, empty or over ``limit`` bytes; a path is named by its file
    name only (never the server's folder).

    >>> read_limited(b"abc", limit=2, what="file", error=ValueError)
    Traceback (most recent call last):
    ValueError: the file is 0.0 MB; the limit is 0 MB
    """
    def too_big(n: int) -> ValueError:
        return error(f"the {what} is {n / 2**20:.1f} MB; the limit is {limit // 2**20} MB")

    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise error(f"no such file: {path.name}")
        if path.stat().st_size > limit:
            raise too_big(path.stat().st_size)
        data = path.read_bytes()
    if len(data) > limit:
        raise too_big(len(data))
    if not data:
        raise error(f"the {what} is empty")
    return data
