"""One image file -> one uint8 array, decoded the same way for training, previews and predict.

Pillow does the decoding (every format and mode it knows). Modes are normalised here so that
the rest of the engine only ever sees ``(H, W, C)`` uint8 with C = 1 (grayscale) or 3 (RGB):
EXIF orientation is applied, transparency is composited on white, CMYK and palette images
become RGB, 16-bit and 32-bit images are scaled down to 8 bits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Modes whose pixels carry no colour; a folder of only these trains on one channel.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WHITE = 255


@dataclass(frozen=True)
class ImageInfo:
    """What a scan learns about one readable image file."""

    height: int  # after EXIF orientation
    width: int
    gray: bool


class BadImage(Exception):
    """A file that cannot be used as an image; ``reason`` is plain words for the skipped list."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def inspect_image(path: str | Path) -> ImageInfo:
    """Fully decode ``path`` once (catching truncation) and report its size and colour.

    Raises `BadImage` with a plain reason: zero bytes, not an image, truncated, unreadable.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise BadImage("zero bytes (the file is empty)")
        with Image.open(path) as img:
            width, height = img.size
            if _orientation(img) in (5, 6, 7, 8):  # these EXIF orientations turn the picture by 90 degrees
                width, height = height, width
            gray = _is_gray(img)
            # A reduced-size JPEG decode still reads every byte, so truncation is still caught, faster.
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
        text = str(exc)
        if "truncated" in text.lower() or "premature" in text.lower():
            raise BadImage("truncated (the file ends before the image does)") from None
        raise BadImage(f"unreadable ({text or type(exc).__name__})") from None
    if width < 1 or height < 1:
        raise BadImage("wrong shape (the image has no pixels)")
    return ImageInfo(height=height, width=width, gray=gray)


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
