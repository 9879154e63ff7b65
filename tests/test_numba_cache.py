"""cnnbp.numba_cache: kernels compiled in one process are loaded from disk by the next.

Each case runs in a fresh interpreter (the patch changes ``numba.njit`` for the whole process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A module of our own with a plain ``@njit`` (no cache=...), as umap-learn writes them.
KERNEL = '''
from numba import njit

@njit
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s
'''

RUN = '''
import json, sys
import numpy as np
from cnnbp.numba_cache import enable_disk_cache
enabled = enable_disk_cache()
sys.path.insert(0, sys.argv[1])
import kernel
value = kernel.total(np.arange(4.0))
stats = kernel.total.stats
print(json.dumps({"enabled": enabled, "value": value, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
'''


def run(code: str, *args: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **env}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_kernel_compiled_once_is_loaded_by_the_next_process(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "kernel.py").write_text(KERNEL)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = run(RUN, str(tmp_path / "src"), env=env)
    second = run(RUN, str(tmp_path / "src"), env=env)
    assert first == {"enabled": True, "value": 6.0, "hits": 0, "misses": 1}
    assert second == {"enabled": True, "value": 6.0, "hits": 1, "misses": 0}
    assert list((tmp_path / "cache").rglob("*.nbi")), "no cache index written"


def test_an_unwritable_cache_directory_changes_nothing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be made under a file, whoever runs the test
    code = ('import json, numba; from cnnbp.numba_cache import enable_disk_cache; '
            'print(json.dumps({"enabled": enable_disk_cache(), "patched": hasattr(numba.njit, "__wrapped__")}))')
    assert run(code, env={"NUMBA_CACHE_DIR": str(blocker / "cache")}) == {"enabled": False, "patched": False}


def test_umap_imported_through_it_caches_its_kernels():
    code = ('import json; from cnnbp.numba_cache import import_umap; import_umap(); '
            'from numba.core.registry import CPUDispatcher; import umap.layouts as L, umap.umap_ as U; '
            'kernels = [f for m in (L, U) for f in vars(m).values() if isinstance(f, CPUDispatcher)]; '
            'print(json.dumps(sorted({type(f._cache).__name__ for f in kernels}) + [len(kernels)]))')
    *caches, count = run(code, env={})  # the app's own cache directory: filled once for the whole suite
    assert caches == ["FunctionCache"] and count >= 5  # every kernel cached (NullCache: not cached)
