"""The class's own data: a zip of labelled images, checked and decoded in memory.

Two layouts are accepted:

* class folders: ``cat/001.png``, ``dog/a.jpg`` (one shared top folder, ``pets/cat/...``, is fine);
  the class of an image is the first folder under the common top, the class names are the
  folder names in alphabetical order;
* a CSV: one ``.csv`` file anywhere in the zip, with a header row naming a file column (``file``,
  ``filename``, ``path`` or ``image``) and a label column (``label`` or ``class``); file names
  are relative to the CSV's folder. Images the CSV does not name are left out, with a note.

Nothing is ever written to disk: the archive's table of contents is checked first (paths,
file types, counts, declared sizes, compression ratios), then each member is read into memory
(at most its declared size: :mod:`zipfile` stops there and checks the CRC) and decoded by
:func:`cnnbp.data.uploads.open_image` (PNG or JPEG, pixel count checked in the header before
decoding). Every image is converted to greyscale if all of them are grey, else RGB, and resized
to :data:`SIZE` x :data:`SIZE`; the note says how many were. Each refusal is one line (an
:class:`~cnnbp.data.uploads.UploadError`, a ValueError).

>>> import io, zipfile
>>> from PIL import Image
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as z:
...     for cls, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
...         for i in range(5):
...             png = io.BytesIO(); Image.new("RGB", (8, 8), colour).save(png, "PNG")
...             z.writestr(f"{cls}/{i}.png", png.getvalue())
>>> s = read_archive(buf.getvalue(), title="colours")
>>> s.classes, s.counts, tuple(s.images.shape)
(('blue', 'red'), (5, 5), (10, 3, 32, 32))
>>> s.note
'10 images in 2 classes (blue 5, red 5); 10 resized to 32x32'
"""

from __future__ import annotations

import csv
import io
import re
import stat
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

import torch

from .files import read_limited
from .session import SessionSet, register
from .uploads import MAX_UPLOAD_BYTES, UploadError, open_image, to_mode, to_tensor

# ---- the limits (the UI and the README state them) ----
MAX_ARCHIVE_BYTES = MAX_UPLOAD_BYTES  # the zip itself: the server's upload cap, 5 MB
MAX_IMAGES = 3000  # files in the zip (and so images)
MAX_FILE_BYTES = 2 * 1024 * 1024  # one image file
MAX_TOTAL_BYTES = 50 * 1024 * 1024  # every member's declared size, summed, before anything is read
MAX_RATIO = 100  # declared size / compressed size of a member over RATIO_FROM bytes (PNG and JPEG barely compress)
RATIO_FROM = 64 * 1024
MAX_PIXELS = 4096 * 4096  # one image, read from its header before decoding
MAX_CLASSES = 20
MIN_PER_CLASS = 5  # 4 to train and 1 to test at the 80/20 split
SIZE = 32  # every image is resized to SIZE x SIZE
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
NESTED_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
FILE_COLUMNS = ("file", "filename", "path", "image")
LABEL_COLUMNS = ("label", "class")
MAX_CSV_BYTES = 1024 * 1024


def limits_text() -> str:
    """The limits in one line, for the UI and the CLI's help."""
    return (f"a zip of at most {MAX_ARCHIVE_BYTES // 2**20} MB holding 2-{MAX_CLASSES} classes of PNG or JPEG "
            f"images, at least {MIN_PER_CLASS} and in all at most {MAX_IMAGES:,} images, each at most "
            f"{MAX_FILE_BYTES // 2**20} MB and {MAX_PIXELS // 2**20} megapixels (resized to {SIZE}x{SIZE}); "
            f"{MAX_TOTAL_BYTES // 2**20} MB unpacked in all")


def _is_junk(name: str) -> bool:
    """Files an OS adds to a zip, skipped silently (macOS resource forks, Finder and Explorer files)."""
    parts = PurePosixPath(name).parts
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts) or parts[-1] in ("Thumbs.db",
                                                                                               "desktop.ini")


def _check_path(name: str) -> str:
    """The member's path, refused if it could point outside a folder it were extracted into."""
    shown = name if len(name) <= 60 else name[:57] + "..."
    if "\x00" in name or "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UploadError(f"the zip holds an absolute or malformed path ({shown!r}); nothing was read")
    if ".." in PurePosixPath(name).parts:
        raise UploadError(f"the zip holds a path that climbs out of its folder ({shown!r}); nothing was read")
    return name


def _check_type(info: zipfile.ZipInfo) -> None:
    """Plain files and folders only: a symlink, device or pipe recorded by a Unix zip is refused."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = ("a symbolic link" if stat.S_ISLNK(mode) else "a device file" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a special file")
        raise UploadError(f"the zip holds {what} ({info.filename!r}); only plain image files are accepted")
    if info.flag_bits & 0x1:
        raise UploadError(f"the zip holds an encrypted file ({info.filename!r}); zip it without a password")


def _members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's files to read, after every check that needs only its table of contents."""
    files = []
    for info in zf.infolist():
        _check_path(info.filename)
        _check_type(info)
        if info.is_dir() or _is_junk(info.filename):
            continue
        files.append(info)
    if len(files) > MAX_IMAGES:
        raise UploadError(f"too many images: the zip holds {len(files):,} files; the limit is {MAX_IMAGES:,}")
    if not files:
        raise UploadError("the zip is empty: put the images in one folder per class (cat/001.png, dog/001.png)")
    nested = [i.filename for i in files if i.filename.lower().endswith(NESTED_SUFFIXES)]
    if nested:
        raise UploadError(f"the zip holds another archive ({nested[0]!r}); unpack it and zip the image folders")
    other = [i.filename for i in files if not i.filename.lower().endswith((*IMAGE_SUFFIXES, ".csv"))]
    if other:
        more = f" and {len(other) - 1} more" if len(other) > 1 else ""
        raise UploadError(f"not a PNG or JPEG file: {other[0]!r}{more}; the zip may hold only .png, .jpg and "
                          ".jpeg images (and one .csv of labels)")
    total = 0
    for info in files:
        if info.file_size > max(MAX_FILE_BYTES, MAX_CSV_BYTES):
            raise UploadError(f"{info.filename!r} is {info.file_size / 2**20:.1f} MB; the limit per file is "
                              f"{MAX_FILE_BYTES // 2**20} MB")
        if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise UploadError(f"{info.filename!r} unpacks {info.file_size / max(info.compress_size, 1):,.0f} times "
                              f"larger than it is packed (a zip bomb?); the limit is {MAX_RATIO}x")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise UploadError(f"the zip unpacks to {total / 2**20:,.0f} MB; the limit is {MAX_TOTAL_BYTES // 2**20} MB")
    return files


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its declared size (zipfile stops there and checks the CRC)."""
    try:
        with zf.open(info) as fh:
            return fh.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise UploadError(f"{info.filename!r} cannot be read from the zip ({type(exc).__name__})") from None


def _class_name(raw: str) -> str:
    """A class name as figures and tables show it: printable, at most 40 characters."""
    clean = "".join(c if c.isalnum() or c in " -_.+()" else "_" for c in raw.strip())[:40]
    return clean or "_"


def _labels_from_folders(files: list[zipfile.ZipInfo]) -> dict[str, str]:
    """member name -> class, the first folder under the folders every image shares."""
    dirs = [PurePosixPath(i.filename).parts[:-1] for i in files]
    common, deepest_shared = 0, min(len(d) for d in dirs) - 1  # every image keeps a folder to name its class
    while common < deepest_shared and len({d[common] for d in dirs}) == 1:
        common += 1
    loose = [i.filename for i, d in zip(files, dirs) if len(d) <= common]
    if loose:
        raise UploadError(f"{loose[0]!r} is in no class folder; put each image in a folder named after its class "
                          "(cat/001.png) or add a CSV of file names and labels")
    return {i.filename: d[common] for i, d in zip(files, dirs)}


def _labels_from_csv(zf: zipfile.ZipFile, table: zipfile.ZipInfo, images: list[zipfile.ZipInfo]
                     ) -> tuple[dict[str, str], int]:
    """member name -> class from the CSV; and how many images of the zip it does not name."""
    try:
        text = _read_member(zf, table).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UploadError(f"{table.filename!r} is not a readable UTF-8 CSV ({type(exc).__name__})") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    file_col = next((header.index(c) for c in FILE_COLUMNS if c in header), None)
    label_col = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    if file_col is None or label_col is None:
        raise UploadError(f"{table.filename!r} needs a header row with a file column ({', '.join(FILE_COLUMNS)}) "
                          f"and a label column ({', '.join(LABEL_COLUMNS)}); it has {', '.join(header) or 'none'}")
    base = PurePosixPath(table.filename).parent
    names = {i.filename for i in images}
    labels: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, label_col) or not row[label_col].strip():
            raise UploadError(f"{table.filename!r} line {line} has no file name or label")
        member = str(base / row[file_col].strip()) if str(base) != "." else row[file_col].strip()
        if member not in names:
            raise UploadError(f"{table.filename!r} line {line} names {row[file_col].strip()!r}, which is not an "
                              "image in the zip")
        labels[member] = row[label_col].strip()
    return labels, len(names - set(labels))


def _check_classes(labels: dict[str, str]) -> None:
    counts = Counter(labels.values())
    if len(counts) < 2:
        only = next(iter(counts), "none")
        raise UploadError(f"only one class ({only!r}): a classifier needs at least two; add a folder per class")
    if len(counts) > MAX_CLASSES:
        raise UploadError(f"{len(counts)} classes; the limit is {MAX_CLASSES}")
    few = sorted((n, c) for c, n in counts.items() if n < MIN_PER_CLASS)
    if few:
        n, c = few[0]
        raise UploadError(f"class {c!r} has {n} image{'s' if n != 1 else ''}; each class needs at least "
                          f"{MIN_PER_CLASS} (4 to train, 1 to test)")


def read_archive(source: bytes | str | Path, *, title: str | None = None, size: int = SIZE) -> SessionSet:
    """Check and decode a zip of labelled images (bytes or a path) into a :class:`SessionSet`."""
    data, title = _read_archive_bytes(source, title)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise UploadError("not a zip archive; upload a .zip of image folders") from None
    with zf:
        files = _members(zf)
        tables = [i for i in files if i.filename.lower().endswith(".csv")]
        images = [i for i in files if not i.filename.lower().endswith(".csv")]
        if len(tables) > 1:
            raise UploadError(f"the zip holds {len(tables)} CSV files ({tables[0].filename!r}, "
                              f"{tables[1].filename!r}); keep one table of labels")
        if not images:
            raise UploadError("the zip holds no PNG or JPEG images")
        left_out = 0
        if tables:
            labels, left_out = _labels_from_csv(zf, tables[0], images)
            images = [i for i in images if i.filename in labels]
        else:
            labels = _labels_from_folders(images)
        _check_classes(labels)
        decoded, failed = _decode(zf, images, size)
    if failed:
        name, why = failed[0]
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        raise UploadError(f"{len(failed)} unreadable file{'s' if len(failed) > 1 else ''}: {name!r} ({why}){more}; "
                          f"remove or re-save {'them' if len(failed) > 1 else 'it'} as PNG or JPEG")
    return _assemble(decoded, labels, title=title, size=size, left_out=left_out)


def _read_archive_bytes(source: bytes | str | Path, title: str | None) -> tuple[bytes, str]:
    data = read_limited(source, limit=MAX_ARCHIVE_BYTES, what="zip", error=UploadError)
    if title is None and not isinstance(source, (bytes, bytearray)):
        title = Path(source).stem
    return data, _class_name(title or "upload")


def _decode(zf: zipfile.ZipFile, images: list[zipfile.ZipInfo], size: int):
    """(name, RGB uint8 tensor at size x size, original mode, original size) of every readable image,
    and (name, why) of the rest. Each image is shrunk as soon as it is decoded: only the small
    tensors are kept."""
    decoded, failed = [], []
    for info in images:
        try:
            img = open_image(_read_member(zf, info), max_pixels=MAX_PIXELS)
        except UploadError as err:
            failed.append((info.filename, str(err)))
            continue
        decoded.append((info.filename, to_tensor(to_mode(img, 3), (size, size)), img.mode, img.size))
        img.close()
    return decoded, failed


GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L")


def _assemble(decoded, labels: dict[str, str], *, title: str, size: int, left_out: int) -> SessionSet:
    """The set: greyscale if every image was (the RGB copies of a grey image have three equal
    channels, so the first is the grey one), else RGB; the note says what was changed."""
    channels = 1 if all(mode in GREY_MODES for _, _, mode, _ in decoded) else 3
    target = "L" if channels == 1 else "RGB"
    classes = sorted({_class_name(c) for c in labels.values()})
    index = {c: k for k, c in enumerate(classes)}
    resized = sum(original != (size, size) for *_, original in decoded)
    converted = Counter(mode for _, _, mode, _ in decoded if mode != target)
    x = torch.stack([t[:channels] for _, t, _, _ in decoded])
    y = torch.tensor([index[_class_name(labels[name])] for name, *_ in decoded], dtype=torch.int64)
    counts = torch.bincount(y, minlength=len(classes)).tolist()
    note = [f"{len(y)} images in {len(classes)} classes ({', '.join(f'{c} {n}' for c, n in zip(classes, counts))})"]
    if resized:
        note.append(f"{resized} resized to {size}x{size}")
    if converted:
        modes = ", ".join(sorted(converted))
        note.append(f"{sum(converted.values())} converted to {'greyscale' if channels == 1 else 'RGB'} (from {modes})")
    if left_out:
        note.append(f"{left_out} images the CSV does not name left out")
    return SessionSet(title=title, images=x, labels=y, classes=tuple(classes), note="; ".join(note))


def register_archive(source: bytes | str | Path, *, title: str | None = None) -> tuple[str, SessionSet]:
    """Read a zip and hold it as a dataset of the session: (its secret name, the set). The CLI, the
    API and the browser all come through here."""
    entry = read_archive(source, title=title)
    return register(entry), entry
