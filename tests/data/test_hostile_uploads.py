"""Uploaded zips of the class's own data: what is accepted, and every hostile file refused in one
line with nothing written anywhere (the zip is decoded in memory; the tests list the folders
around it, the working directory and the temp folder before and after)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnbp.data import dataset_shape, get_dataset
from cnnbp.data import session as session_sets
from cnnbp.data.archives import MAX_IMAGES, MAX_RATIO, SIZE, read_archive, register_archive
from cnnbp.data.uploads import UploadError
from tests.data.test_uploads import png_with_header


def image_bytes(colour, *, size=(8, 8), mode="RGB", fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, fmt)
    return buf.getvalue()


def make_zip(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def class_folders(counts: dict[str, int], **kw) -> dict[str, bytes]:
    colours = [(255, 0, 0), (0, 160, 0), (0, 0, 255), (200, 200, 0)]
    return {f"{c}/{i:03d}.png": image_bytes(colours[k % 4], **kw) for k, (c, n) in enumerate(counts.items())
            for i in range(n)}


def special_member(name: str, kind: int, payload: bytes = b"/etc/passwd") -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the file type lives in the high bits of external_attr
    info.external_attr = (kind | 0o777) << 16
    return info


def listing(*folders: Path) -> dict[str, set[str]]:
    return {str(f): {str(p.relative_to(f)) for p in f.rglob("*")} for f in folders}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A folder holding the upload, a working directory and a temp folder, all listed before and
    after each test: nothing may appear in any of them (or beside them)."""
    upload_dir, cwd, temp = tmp_path / "upload", tmp_path / "cwd", tmp_path / "temp"
    for d in (upload_dir, cwd, temp):
        d.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    for var in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(var, str(temp))
    return upload_dir


def refuse(sandbox: Path, data: bytes, match: str) -> str:
    path = sandbox / "set.zip"
    path.write_bytes(data)
    before = listing(sandbox.parent, sandbox.parent.parent)
    with pytest.raises(UploadError, match=match) as err:
        register_archive(path)
    message = str(err.value)
    assert "\n" not in message and str(sandbox.parent) not in message  # never a server path
    assert listing(sandbox.parent, sandbox.parent.parent) == before  # nothing written, nothing removed
    return message


# ---- accepted sets ----

def test_class_folders_become_a_session_dataset_with_a_seeded_stratified_split(sandbox):
    path = sandbox / "pets.zip"
    path.write_bytes(make_zip(class_folders({"cat": 10, "dog": 15, "fox": 5})))
    before = listing(sandbox.parent)
    name, entry = register_archive(path)
    assert listing(sandbox.parent) == before
    assert session_sets.is_session_name(name) and entry.title == "pets"
    assert entry.classes == ("cat", "dog", "fox") and entry.counts == (10, 15, 5)
    ds = get_dataset(name, seed=4)
    assert ds.classes == ("cat", "dog", "fox") and ds.image_size == (SIZE, SIZE) and ds.in_channels == 3
    # 20% test, ceil(6.0) = 6 images spread by class size: 2 cats, 3 dogs, 1 fox
    assert torch.bincount(ds.y_test).tolist() == [2, 3, 1] and torch.bincount(ds.y_train).tolist() == [8, 12, 4]
    shape = dataset_shape(name)
    assert (shape.n_train, shape.n_test, shape.channels, shape.size, shape.classes) == (24, 6, 3, SIZE, 3)
    again = get_dataset(name, seed=4)
    assert torch.equal(ds.x_train, again.x_train) and torch.equal(ds.y_test, again.y_test)
    assert not torch.equal(get_dataset(name, seed=5).y_train, ds.y_train)  # another seed, another split
    # the red class folder (cat) is red: pixels survive decoding and resizing
    cat = ds.x_train[ds.y_train == 0]
    assert float(cat[:, 0].mean()) == pytest.approx(1.0) and float(cat[:, 1:].max()) == 0.0
    assert session_sets.forget(name) and not session_sets.forget(name)
    with pytest.raises(ValueError, match="no uploaded set of this session has that name"):
        get_dataset(name)


def test_mixed_sizes_and_modes_are_converted_with_a_note_that_counts_them():
    members = class_folders({"a": 5, "b": 5}, size=(SIZE, SIZE))
    members["a/big.jpg"] = image_bytes((10, 20, 30), size=(300, 200), fmt="JPEG")
    members["b/alpha.png"] = image_bytes((0, 0, 0, 0), mode="RGBA", size=(SIZE, SIZE))
    members["b/grey.png"] = image_bytes(90, mode="L", size=(16, 16))
    entry = read_archive(make_zip(members))
    assert entry.images.shape == (13, 3, SIZE, SIZE)
    assert entry.note == ("13 images in 2 classes (a 6, b 7); 2 resized to 32x32; "
                          "2 converted to RGB (from L, RGBA)")


def test_an_all_grey_set_stays_one_channel():
    members = {f"{c}/{i}.png": image_bytes(40 * k, mode="L", size=(28, 28)) for k, c in enumerate("xy")
               for i in range(5)}
    entry = read_archive(make_zip(members))
    assert entry.images.shape == (10, 1, SIZE, SIZE)
    assert entry.images[entry.labels == 1].unique().tolist() == [40]


def test_one_shared_top_folder_is_not_a_class():
    members = {f"pets/{k}": v for k, v in class_folders({"cat": 5, "dog": 5}).items()}
    assert read_archive(make_zip(members)).classes == ("cat", "dog")


def test_a_csv_of_file_names_and_labels():
    members = {f"img/{i}.png": image_bytes((255, 0, 0) if i % 2 else (0, 0, 255)) for i in range(12)}
    rows = "\n".join(f"img/{i}.png,{'red' if i % 2 else 'blue'}" for i in range(11))  # 11 named: one left out
    members["labels.csv"] = ("file,label\n" + rows + "\n").encode()
    entry = read_archive(make_zip(members))
    assert entry.classes == ("blue", "red") and entry.counts == (6, 5)
    assert entry.note.endswith("1 images the CSV does not name left out")
    red = entry.images[entry.labels == 1]
    assert red[:, 0].float().mean() == 255 and red[:, 2].max() == 0


def test_csv_problems_each_have_a_line():
    images = {f"{i}.png": image_bytes((0, 0, 0)) for i in range(10)}
    with pytest.raises(UploadError, match="needs a header row with a file column"):
        read_archive(make_zip({**images, "t.csv": b"0.png,a\n"}))
    with pytest.raises(UploadError, match="line 2 names 'missing.png', which is not an image in the zip"):
        read_archive(make_zip({**images, "t.csv": b"file,label\nmissing.png,a\n"}))


# ---- the four messages of a set that is not a usable dataset ----

def test_a_class_with_too_few_images(sandbox):
    refuse(sandbox, make_zip(class_folders({"cat": 10, "dog": 3})), r"^class 'dog' has 3 images; each class "
           r"needs at least 5 \(4 to train, 1 to test\)$")


def test_a_single_class(sandbox):
    refuse(sandbox, make_zip(class_folders({"cat": 10})), r"^only one class \('cat'\): a classifier needs at "
           "least two")


def test_unreadable_files(sandbox):
    members = class_folders({"cat": 6, "dog": 6})
    members["cat/fake.png"] = b"this is not an image"  # a .png that is not an image
    members["dog/cut.jpg"] = image_bytes((1, 2, 3), size=(64, 64), fmt="JPEG")[:300]  # a truncated JPEG
    message = refuse(sandbox, make_zip(members), r"^2 unreadable files: ")
    assert "'cat/fake.png' (not a readable PNG or JPEG image) and 1 more" in message


def test_a_truncated_jpeg_alone(sandbox):
    members = class_folders({"cat": 6, "dog": 6})
    members["dog/cut.jpg"] = image_bytes((1, 2, 3), size=(64, 64), fmt="JPEG")[:300]
    refuse(sandbox, make_zip(members), r"^1 unreadable file: 'dog/cut.jpg' \(the image is damaged or truncated")


def test_ten_thousand_tiny_files(sandbox):
    members = {f"c{i % 2}/{i}.png": b"x" for i in range(10_000)}
    refuse(sandbox, make_zip(members, compression=zipfile.ZIP_STORED),
           rf"^too many images: the zip holds 10,000 files; the limit is {MAX_IMAGES:,}$")


# ---- hostile archives ----

def test_path_traversal(sandbox):
    members = {**class_folders({"cat": 5, "dog": 5}), "../evil.png": image_bytes((0, 0, 0))}
    refuse(sandbox, make_zip(members), r"^the zip holds a path that climbs out of its folder \('../evil.png'\)")
    deep = {**class_folders({"cat": 5, "dog": 5}), "cat/../../../etc/evil.png": b"x"}
    refuse(sandbox, make_zip(deep), "climbs out of its folder")


def test_absolute_paths(sandbox):
    for name in ("/tmp/evil.png", "C:/evil.png", "cat\\..\\..\\evil.png"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(zipfile.ZipInfo("cat/ok.png"), image_bytes((0, 0, 0)))
            info = zipfile.ZipInfo("x.png")
            info.filename = name  # ZipInfo() itself strips a leading "/"; a hostile writer does not
            z.writestr(info, b"x")
        refuse(sandbox, buf.getvalue(), r"^the zip holds an absolute or malformed path")


def test_symlinks_and_device_files(sandbox):
    for kind, word in ((stat.S_IFLNK, "a symbolic link"), (stat.S_IFCHR, "a device file"),
                       (stat.S_IFBLK, "a device file"), (stat.S_IFIFO, "a special file")):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for k, v in class_folders({"cat": 5, "dog": 5}).items():
                z.writestr(k, v)
            z.writestr(special_member("cat/link.png", kind), b"/etc/passwd")
        refuse(sandbox, buf.getvalue(), rf"^the zip holds {word} \('cat/link.png'\); only plain image files")


def test_a_zip_bomb_by_ratio(sandbox):
    members = {**class_folders({"cat": 5, "dog": 5}), "cat/bomb.png": bytes(1_900_000)}  # zeros: ~1000x
    data = make_zip(members)
    assert len(data) < 20_000
    refuse(sandbox, data, rf"^'cat/bomb.png' unpacks [\d,]+ times larger than it is packed \(a zip bomb\?\); "
                          rf"the limit is {MAX_RATIO}x$")


def test_a_zip_bomb_by_total_size(sandbox):
    rng = np.random.default_rng(0)
    members = class_folders({"cat": 5, "dog": 5})
    for i in range(30):  # 30 x 1.9 MB = 57 MB unpacked at ~25x: each under the ratio, all over the total
        block = np.zeros(1_900_000, dtype=np.uint8)
        block[rng.integers(0, len(block), 20_000)] = rng.integers(1, 255, 20_000)
        members[f"cat/big{i}.png"] = block.tobytes()
    data = make_zip(members)
    assert len(data) < 5 * 2**20
    refuse(sandbox, data, r"^the zip unpacks to 5\d MB; the limit is 50 MB$")


def test_a_nested_zip(sandbox):
    inner = make_zip(class_folders({"cat": 5, "dog": 5}))
    refuse(sandbox, make_zip({**class_folders({"cat": 5, "dog": 5}), "more/inner.zip": inner}),
           r"^the zip holds another archive \('more/inner.zip'\)")


def test_a_decompression_bomb_png(sandbox):
    members = {**class_folders({"cat": 5, "dog": 5}), "cat/huge.png": png_with_header(100_000, 100_000)}
    refuse(sandbox, make_zip(members), r"^1 unreadable file: 'cat/huge.png' \(the image's "
                                       r"dimensions are too large to decode safely; the limit is "
                                       r"16,777,216 pixels\); remove or re-save it as PNG or JPEG$")
    assert len(members["cat/huge.png"]) < 100
    # under Pillow's own bomb line but over ours: refused from the header, before any pixel is decoded
    members["cat/huge.png"] = png_with_header(5000, 5000)
    refuse(sandbox, make_zip(members), r"^1 unreadable file: 'cat/huge.png' \(the image is 5000 x 5000 pixels; "
                                       r"the limit is 16,777,216 pixels\)")


def test_an_empty_zip_and_not_a_zip(sandbox):
    refuse(sandbox, make_zip({}), r"^the zip is empty")
    refuse(sandbox, make_zip({"cat/": b"", "__MACOSX/._x": b"", ".DS_Store": b""}), r"^the zip is empty")
    refuse(sandbox, image_bytes((0, 0, 0)), r"^not a zip archive")
    refuse(sandbox, b"", r"^the zip is empty$")


def test_other_file_types_are_named(sandbox):
    refuse(sandbox, make_zip({**class_folders({"cat": 5, "dog": 5}), "cat/notes.txt": b"hi", "dog/x.gif": b"G"}),
           r"^not a PNG or JPEG file: 'cat/notes.txt' and 1 more")


def test_a_too_large_zip_is_refused_before_reading(sandbox):
    path = sandbox / "big.zip"
    with open(path, "wb") as fh:
        fh.truncate(6 * 2**20)  # sparse: 6 MB of nothing
    with pytest.raises(UploadError, match=r"^the zip is 6.0 MB; the limit is 5 MB$"):
        read_archive(path)


def test_the_store_is_bounded_and_names_are_unguessable():
    entry = read_archive(make_zip(class_folders({"a": 5, "b": 5})))
    names = [session_sets.register(entry) for _ in range(session_sets.MAX_SESSION_SETS + 3)]
    assert len(set(names)) == len(names)
    assert len(session_sets.STORE) <= session_sets.MAX_SESSION_SETS
    with pytest.raises(ValueError, match="no uploaded set"):
        get_dataset(names[0])  # the oldest went first
    get_dataset(names[-1])
    for n in names:
        session_sets.forget(n)
