"""How long an uploaded zip takes to become a dataset: read_archive (checked, decoded in memory)
against the naive way (extract to a temp folder, then open every file with PIL), same process.

    CPU_CORES=1 python bench/uploads.py [images]
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnbp.data.archives import SIZE, read_archive  # noqa: E402


def make_zip(n: int, side: int = 36) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n):
            png = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(png, "PNG")
            z.writestr(f"class{i % 3}/{i:05d}.png", png.getvalue())
    return buf.getvalue()


def naive(data: bytes) -> torch.Tensor:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            z.extractall(tmp)  # what a careless loader does: trusts every path in the archive
        files = sorted(Path(tmp).rglob("*.png"))
        return torch.stack([torch.from_numpy(np.array(Image.open(f).convert("RGB").resize((SIZE, SIZE))))
                            .permute(2, 0, 1) for f in files])


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    data = make_zip(n)
    ours, base = best_of(lambda: read_archive(data)), best_of(lambda: naive(data))
    print(f"{n} PNGs of 36x36 RGB noise (resized to 32x32), zip {len(data) / 2**20:.1f} MB")
    print(f"read_archive (checked, in memory): {ours:.2f} s ({n / ours:,.0f} images/s)")
    print(f"naive extract + PIL:               {base:.2f} s")
    print(f"ratio ours / naive: {ours / base:.2f}")
