"""Uploads: what decodes, what is refused, and with which message."""

import io
import struct
import zlib

import pytest
import torch
from PIL import Image

from cnnbp.data.uploads import MAX_UPLOAD_BYTES, UploadError, load_image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_with_header(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


def test_png_and_jpeg_decode_to_the_model_format():
    img = Image.new("RGB", (30, 10), (0, 255, 0))
    for fmt in ("PNG", "JPEG"):
        x = load_image(encode(img, fmt), channels=3, size=(5, 6))
        assert x.shape == (3, 5, 6) and x.dtype == torch.float32
        assert float(x[1].mean()) == pytest.approx(1.0, abs=0.02)
        assert float(x[0].mean()) == pytest.approx(0.0, abs=0.02)


def test_greyscale_and_alpha_and_16_bit():
    grey = load_image(encode(Image.new("RGB", (8, 8), (255, 255, 255)), "PNG"), channels=1, size=(8, 8))
    assert grey.shape == (1, 8, 8) and float(grey.min()) == 1.0
    transparent = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # fully transparent: composited on white
    assert float(load_image(encode(transparent, "PNG"), channels=3, size=(8, 8)).min()) == 1.0
    deep = Image.new("I;16", (8, 8), 65535)
    assert float(load_image(encode(deep, "PNG"), channels=1, size=(8, 8)).min()) > 0.99


def test_file_path_works(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encode(Image.new("L", (4, 4), 128), "PNG"))
    assert load_image(path, channels=1, size=(4, 4)).mean().item() == pytest.approx(128 / 255)


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (b"hello, this is not an image", "not a readable PNG or JPEG"),
    (encode(Image.new("RGB", (8, 8)), "GIF"), "GIF files are not accepted"),
    (encode(Image.new("RGB", (8, 8)), "BMP"), "BMP files are not accepted"),
    (encode(Image.new("RGB", (64, 64)), "PNG")[:60], "damaged or truncated"),
    (png_with_header(100_000, 100_000), "the limit is"),
    (b"\x00" * (MAX_UPLOAD_BYTES + 1), "the limit is 5 MB"),
])
def test_refusals_have_one_clear_line(data, fragment):
    with pytest.raises(UploadError) as err:
        load_image(data, channels=3, size=(8, 8))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_truncated_jpeg_is_refused():
    data = encode(Image.effect_noise((128, 128), 50).convert("RGB"), "JPEG", quality=90)
    with pytest.raises(UploadError, match="damaged or truncated|not a readable"):
        load_image(data[: len(data) // 2], channels=3, size=(8, 8))


@pytest.mark.parametrize("channels", [0, 2, 4])
def test_wrong_channel_count(channels):
    with pytest.raises(UploadError, match="1 or 3 channels"):
        load_image(encode(Image.new("RGB", (8, 8)), "PNG"), channels=channels, size=(8, 8))


def test_missing_file(tmp_path):
    with pytest.raises(UploadError, match="no such file"):
        load_image(tmp_path / "nope.png", channels=3, size=(8, 8))
