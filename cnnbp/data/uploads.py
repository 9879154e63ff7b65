"""Uploaded images, decoded safely: PNG or JPEG only, size-limited, decompression bombs refused,
converted to a model's input format. Every refusal is an :class:`UploadError` (a ValueError)
with one line a user can act on.

>>> import io
>>> from PIL import Image
>>> buf = io.BytesIO(); Image.new("RGB", (40, 20), (255, 0, 0)).save(buf, "PNG")
>>> x = load_image(buf.getvalue(), channels=3, size=(8, 8))
>>> tuple(x.shape), float(x[0].mean()), float(x[1].mean())
((3, 8, 8), 1.0, 0.0)
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from .files import read_limited

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # as the server's max_file_size
MAX_PIXELS = 4096 * 4096  # a decoded image larger than this is refused before decoding
FORMATS = ("PNG", "JPEG")


class UploadError(ValueError):
    """An upload we will not decode: the message says why."""


def _read(source: bytes | str | Path) -> bytes:
    return read_limited(source, limit=MAX_UPLOAD_BYTES, what="file", error=UploadError)


def load_image(source: bytes | str | Path, *, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """Decode ``source`` (bytes or a path) to a float tensor (channels, H, W) in [0, 1].

    ``channels`` 1 gives greyscale, 3 gives RGB (alpha is composited on white); the image is
    resized to ``size`` (H, W) with antialiasing.
    """
    if channels not in (1, 3):
        raise UploadError(f"a model input has 1 or 3 channels, not {channels}")
    img = to_mode(open_image(_read(source)), channels)
    return to_tensor(img, size).float().div_(255)


def open_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Bytes of a PNG or JPEG -> a decoded PIL image; one-line :class:`UploadError` for anything else.

    The header is read first: another format, or more than ``max_pixels`` pixels (a
    decompression bomb: a tiny file that claims huge dimensions), is refused before any pixel
    is decoded; then the structure is verified, then the pixels decoded (a truncated file fails).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                fmt, (w, h) = probe.format, probe.size
                if fmt not in FORMATS:
                    raise UploadError(f"{fmt or 'this'} files are not accepted; upload a PNG or JPEG image")
                if w * h > max_pixels:
                    raise UploadError(f"the image is {w} x {h} pixels; the limit is {max_pixels:,} pixels")
                probe.verify()  # structure and checksums, before any pixel is decoded
            img = Image.open(io.BytesIO(data))
            img.load()  # a truncated file fails here
            return img
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(f"the image's dimensions are too large to decode safely; the limit is "
                          f"{max_pixels:,} pixels") from None
    except UnidentifiedImageError:
        raise UploadError("not a readable PNG or JPEG image") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise UploadError(f"the image is damaged or truncated: {err}") from None


def to_tensor(img: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """An "L" or "RGB" image resized to ``size`` (H, W) with antialiasing -> uint8 (channels, H, W)."""
    if img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    channels = len(img.getbands())
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return x.view(size[0], size[1], channels).permute(2, 0, 1).contiguous()  # (H, W, C) -> (C, H, W)


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """``img`` as "L" (channels 1) or "RGB" (3): alpha composited on white, 16-bit grey scaled to 8 bits."""
    if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode.startswith("I;16") or img.mode == "I":
        img = img.point(lambda v: v / 256).convert("L")  # 16-bit grey -> 8-bit
    return img.convert("L" if channels == 1 else "RGB")
