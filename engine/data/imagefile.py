"""One image file -> one uint8 array, decoded the same way for training, previews and predict.

`inspect_image` reads a file's header (not its pixels) and decides how the file will be
decoded: TensorFlow's own JPEG/PNG decoders for the common cases (fast, parallel, no GIL),
Pillow for everything else (CMYK, 16-bit, palettes, transparency keys, EXIF rotation, BMP,
GIF, WebP, TIFF). Pillow's modes are normalised here so that the rest of the engine only ever
sees ``(H, W, C)`` uint8 with C = 1 (grayscale) or 3 (RGB): EXIF orientation is applied,
transparency is composited on white, CMYK and palette images become RGB, 16-bit and 32-bit
images are scaled down to 8 bits.
"""
from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kiln_lab.engine.data.imageheader import plain_header

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Modes whose pixels carry no colour; a folder of only these trains on one channel.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WHITE = 255

# How a file is decoded, decided from its header at scan time (see engine/data/imagedecode.py).
PILLOW, TF_JPEG, TF_PNG, TF_PNG_ALPHA = 0, 1, 2, 3
_TF_PNG_MODES = {"RGB": TF_PNG, "L": TF_PNG, "RGBA": TF_PNG_ALPHA, "LA": TF_PNG_ALPHA}
# Decoded pixels one file may take. A 12000 x 12000 PNG would need 432 MB per copy; a JPEG
# that large is still fine, because libjpeg decodes it at 1/8 scale (see `jpeg_ratio`).
MAX_DECODE_PIXELS = 40_000_000
_JPEG_RATIOS = (8, 4, 2, 1)


@dataclass(frozen=True)
class ImageInfo:
    """What a scan learns about one readable image file."""

    height: int  # after EXIF orientation
    width: int
    gray: bool
    decoder: int = PILLOW  # PILLOW | TF_JPEG | TF_PNG | TF_PNG_ALPHA


class BadImage(Exception):
    """A file that cannot be used as an image; ``reason`` is plain words for the skipped list."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_image_name(path: str | os.PathLike) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def inspect_image(path: str | Path, status: os.stat_result | None = None) -> ImageInfo:
    """Read the header of ``path`` (not its pixels): size, colour, and which decoder will read it.

    A JPEG or PNG that does not end with its end marker is decoded once here, so a truncated
    file is reported now rather than while training. Raises `BadImage` with a plain reason:
    zero bytes, not a regular file, not an image, truncated, too large, unreadable.
    """
    try:
        info = status if status is not None else os.stat(path)  # the caller's, when it has one
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise BadImage("not a regular file (a pipe, socket or device)")
        if info.st_size == 0:
            raise BadImage("zero bytes (the file is empty)")
        plain = plain_header(path, info.st_size, MAX_DECODE_PIXELS)  # most files: no Pillow needed
        if plain is not None:
            height, width, gray, kind, orientation = plain
            height, width = _upright(height, width, orientation)
            if kind == "jpeg":
                decoder = TF_JPEG if orientation in (0, 1) else PILLOW
            else:
                decoder = TF_PNG if kind == "png" else TF_PNG_ALPHA
            return ImageInfo(height=height, width=width, gray=gray, decoder=decoder)
        with warnings.catch_warnings():  # Pillow's bomb warning: the pixel budget below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            orientation = _orientation(img)
            height, width = _upright(img.size[1], img.size[0], orientation)
            gray = _is_gray(img)
            decoder = _decoder_for(img, orientation)
            pixels = width * height
            if pixels > MAX_DECODE_PIXELS and not (img.format == "JPEG" and pixels // 64 <= MAX_DECODE_PIXELS):
                raise BadImage(
                    f"too large to decode safely ({width} x {height} pixels; the limit is "
                    f"{MAX_DECODE_PIXELS // 1_000_000} million)"
                )
            if not _ends_cleanly(img.fp, img.format):
                # Suspicious ending: decode once, at reduced size for JPEG, to name the problem now.
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
                img.load()
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image (Pillow does not recognise the contents)") from None
    except Image.DecompressionBombError:
        raise BadImage("too large to decode safely (over Pillow's pixel limit)") from None
    except PermissionError:
        raise BadImage("unreadable (permission denied)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow reports broken data with all three
        raise BadImage(reason_for(exc)) from None
    if width < 1 or height < 1:
        raise BadImage("wrong shape (the image has no pixels)")
    return ImageInfo(height=height, width=width, gray=gray, decoder=decoder)


def _upright(height: int, width: int, orientation: int) -> tuple[int, int]:
    """(height, width) as shown: EXIF orientations 5-8 turn the picture by 90 degrees."""
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def reason_for(exc: BaseException) -> str:
    """A decoding exception (Pillow's or TensorFlow's) as a plain reason for the skipped list."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "truncated" in text.lower() or "premature" in text.lower():
        return "truncated (the file ends before the image does)"
    return f"unreadable ({text[:200]})"


def jpeg_ratio(height: int, width: int, size: tuple[int, int] | None) -> int:
    """The libjpeg scale (1, 2, 4 or 8) to decode a JPEG at: the smallest that is still at least
    the target size (libjpeg's scaled decode averages, like the area resize after it), and small
    enough for the pixel limit."""
    ratio = 1
    if size is not None:
        ratio = next((r for r in _JPEG_RATIOS if height / r >= size[0] and width / r >= size[1]), 1)
    while ratio < 8 and (height // ratio) * (width // ratio) > MAX_DECODE_PIXELS:
        ratio *= 2
    return ratio


def _decoder_for(img: Image.Image, orientation: int) -> int:
    """TensorFlow decodes plain 8-bit JPEG/PNG; everything else goes through Pillow."""
    if orientation not in (0, 1) or getattr(img, "n_frames", 1) > 1:
        return PILLOW
    raw_mode = img.tile[0].args if img.tile else None
    raw_mode = raw_mode[0] if isinstance(raw_mode, tuple) else raw_mode
    if img.format == "JPEG" and img.mode in ("RGB", "L") and raw_mode == img.mode:
        return TF_JPEG
    if img.format == "PNG" and raw_mode == img.mode and "transparency" not in img.info:
        return _TF_PNG_MODES.get(img.mode, PILLOW)  # 16-bit and palette images: Pillow
    return PILLOW


def _ends_cleanly(handle, image_format: str | None) -> bool:
    """Whether a JPEG ends with its EOI marker and a PNG with its IEND chunk (read through the
    file Pillow already has open: a seek and 64 bytes)."""
    tails = {"JPEG": b"\xff\xd9", "MPO": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}
    tail = tails.get(image_format or "")
    if tail is None or handle is None:
        return True  # other formats are checked when they are decoded
    where = handle.tell()
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - 64))
    end = handle.read().rstrip(b"\0")  # some writers pad with zeros after the end marker
    handle.seek(where)  # Pillow reads on from where it was
    return end.endswith(tail)


def decode_image(source: str | bytes | os.PathLike | Image.Image, channels: int, size: tuple[int, int] | None = None):
    """Decode one image to ``(H, W, channels)`` uint8, resized to ``size`` = (height, width) when given.

    ``channels`` is 1 (grayscale), 3 (RGB, transparency on white) or 4 (RGBA).
    """
    if isinstance(source, Image.Image):
        return _to_array(source, channels, size)
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    with Image.open(source) as img:
        if size is not None and img.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is that much smaller.
            big = max(size) * 2
            img.draft(None, (big, big))
        return _to_array(img, channels, size)


def pillow_pixels(
    path: str | os.PathLike, channels: int, ratio: int = 1, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Decode with Pillow to ``(H, W, channels)`` uint8; a JPEG at 1/``ratio`` scale (see `jpeg_ratio`).

    With ``size``, Pillow resizes too (how Kiln decoded before TensorFlow's decoders; kept so a
    model trained that way is evaluated the same way).
    """
    if size is not None:
        return decode_image(path, channels, size)
    with Image.open(path) as img:
        if img.format == "JPEG" and ratio > 1:
            img.draft(img.mode, (max(1, img.width // ratio), max(1, img.height // ratio)))
        return _to_array(img, channels, None)


def _to_array(img: Image.Image, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    img = ImageOps.exif_transpose(img) or img
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animated GIF/WebP/TIFF: the first frame is the picture
    img = _eight_bit(img)
    img = _to_mode(img, channels)
    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR)
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    return array


def _orientation(img: Image.Image) -> int:
    try:
        if img.format == "PNG":  # PNG's getexif() decodes the pixels; use an eXIf chunk seen in the header
            raw = img.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
            return int(exif.get(0x0112, 1))
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block must not make a good picture unusable
        return 1


def _is_gray(img: Image.Image) -> bool:
    if img.mode in _GRAY_MODES:
        return True
    if img.mode in ("P", "PA"):
        palette = img.getpalette() or []
        triples = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
        return bool(len(triples)) and bool(np.all(triples == triples[:, :1]))
    return False


def _eight_bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float images -> mode L, keeping the full range visible."""
    if img.mode not in _WIDE_MODES:
        return img
    data = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        data = data / 257.0  # 0..65535 -> 0..255
    elif img.mode == "F":
        peak = float(np.nanmax(data)) if data.size else 0.0
        data = data * 255.0 if peak <= 1.0 else data
    else:  # mode I: 32-bit ints; 16-bit PNGs decode to this on some Pillow versions
        peak = float(data.max()) if data.size else 0.0
        data = data / 257.0 if 255 < peak <= 65535 else (data * 255.0 / peak if peak > 65535 else data)
    return Image.fromarray(np.clip(np.nan_to_num(data), 0, 255).round().astype(np.uint8), mode="L")


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    has_alpha = img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (img.mode == "P" and "transparency" in img.info)
    if channels == 4:
        return img.convert("RGBA")
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (_WHITE, _WHITE, _WHITE, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode == "1":
        img = img.convert("L")
    return img.convert("L" if channels == 1 else "RGB")
