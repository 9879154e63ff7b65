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
