"""The header facts of ordinary JPEG and PNG files, read straight from their bytes.

The scan (`engine.data.images`) needs, for every file, its size, whether it is gray, and
which decoder reads it (`engine.data.imagefile.inspect_image`). Pillow answers all of that
for any format, in about 90 us a file on a 2-core machine, most of it Python walking the
markers. For the files most folders hold (plain 8-bit JPEGs and PNGs that end cleanly), the
answer is a few fields at known places; `plain_header` reads them in about a fifth of that.

It answers only when it is sure Pillow would say the same, and returns None for anything
else: a JPEG with an Adobe, MPF (multi-picture) or XMP segment, an EXIF block it cannot read
plainly, a precision or colour layout other than 8-bit gray/RGB, a frame type other than
baseline, extended or progressive; a PNG other than 8-bit gray/RGB with or without alpha, or
with a transparency key, animation or EXIF chunk; a file that does not end with its end
marker; a picture over the decode limit. Those go to Pillow, which decides as it always has.
`tests/test_image_header.py` checks agreement with Pillow across those cases.
"""

from __future__ import annotations

import os
import struct
import zlib

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"
_HEAD_BYTES = 64 * 1024  # one read holds the header of nearly every file
_TAIL_BYTES = 64
_MAX_SEGMENTS = 512  # more markers or chunks than this before the pixels: let Pillow look

# PNG colour type -> (gray, decoder); 8-bit only. 0: gray, 2: RGB, 4: gray + alpha, 6: RGBA.
_PNG_TYPES = {0: (True, "png"), 2: (False, "png"), 4: (True, "png_alpha"), 6: (False, "png_alpha")}
# JPEG frames Pillow and TensorFlow both read as plain 8-bit: baseline, extended, progressive.
_JPEG_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_EXIF = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112


def plain_header(path: str | os.PathLike, size: int, max_pixels: int) -> tuple[int, int, bool, str, int] | None:
    """``(height, width, gray, kind, orientation)`` of a plain JPEG or PNG (``kind``: "jpeg",
    "png" or "png_alpha"; ``orientation``: its EXIF orientation, 1 when it has none), or None
    when Pillow must decide. ``size``: the file's length in bytes, from the caller's stat.
    Raises OSError when the file cannot be read."""
    with open(path, "rb", buffering=0) as handle:
        head = handle.read(_HEAD_BYTES)
        if size <= len(head):
            tail = head[-_TAIL_BYTES:]
        else:
            handle.seek(size - _TAIL_BYTES)
            tail = handle.read(_TAIL_BYTES)
        if head.startswith(_PNG_SIGNATURE):
            if not tail.rstrip(b"\0").endswith(_PNG_END):
                return None
            found = _png(head, handle)
        elif head.startswith(_JPEG_START):
            if not tail.rstrip(b"\0").endswith(_JPEG_END):
                return None
            found = _jpeg(head, handle)
        else:
            return None
    if found is None:
        return None
    height, width = found[0], found[1]
    if height < 1 or width < 1 or height * width > max_pixels:
        return None
    return found


def _png(head: bytes, handle) -> tuple[int, int, bool, str, int] | None:
    if len(head) < 33 or head[12:16] != b"IHDR" or struct.unpack(">I", head[8:12])[0] != 13:
        return None
    width, height, depth, colour, compression = struct.unpack(">IIBBB", head[16:27])
    if depth != 8 or colour not in _PNG_TYPES or compression != 0 or not _crc_ok(head[12:33]):
        return None
    place = 33  # signature, IHDR's length, type, 13 bytes of data and CRC
    for _ in range(_MAX_SEGMENTS):
        chunk = _read_at(head, handle, place, 8)
        if len(chunk) < 8:
            return None
        length, kind = struct.unpack(">I4s", chunk)
        if kind == b"IDAT":
            gray, decoder = _PNG_TYPES[colour]
            return height, width, gray, decoder, 1
        if kind in (b"tRNS", b"acTL", b"eXIf", b"IEND"):  # transparency key, animation, EXIF: Pillow's
            return None
        # Pillow checks every checksum before the pixels and refuses the file on a bad one.
        if not _crc_ok(_read_at(head, handle, place + 4, length + 8)):
            return None
        place += 12 + length  # length, type, data, CRC
    return None


def _crc_ok(chunk: bytes) -> bool:
    """Whether a PNG chunk's type + data (all but the last 4 bytes) match its CRC (the last 4)."""
    return len(chunk) >= 8 and zlib.crc32(chunk[:-4]) == struct.unpack(">I", chunk[-4:])[0]


def _jpeg(head: bytes, handle) -> tuple[int, int, bool, str, int] | None:
    place = 2
    frame: tuple[int, int, int] | None = None
    orientation = 1
    exif_seen = False
    for _ in range(_MAX_SEGMENTS):
        marker_bytes = _read_at(head, handle, place, 4)
        if len(marker_bytes) < 4 or marker_bytes[0] != 0xFF:
            return None
        marker = marker_bytes[1]
        if marker == 0xFF:  # fill byte before a marker
            place += 1
            continue
        if marker == 0xDA:  # start of scan: every header segment has been read
            if frame is None:
                return None
            height, width, components = frame
            return height, width, components == 1, "jpeg", orientation
        if marker in (0xD8, 0xD9) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            return None  # a marker without a length here means a file Pillow should read
        length = struct.unpack(">H", marker_bytes[2:4])[0]
        if length < 2:
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a frame header
            if marker not in _JPEG_FRAMES or frame is not None:
                return None
            body = _read_at(head, handle, place + 4, 6)
            if len(body) < 6:
                return None
            precision, height, width, components = struct.unpack(">BHHB", body)
            if precision != 8 or components not in (1, 3):
                return None
            frame = (height, width, components)
        elif marker == 0xE1:  # APP1: EXIF (read its orientation) or XMP (which may hold one)
            body = _read_at(head, handle, place + 4, length - 2)
            if not body.startswith(_EXIF) or exif_seen:
                return None
            exif_seen = True
            found = _exif_orientation(body[len(_EXIF) :])
            if found is None:
                return None
            orientation = found
        elif marker == 0xDB and not _tables_fit(_read_at(head, handle, place + 4, length - 2)):
            return None  # quantization tables Pillow would refuse
        elif marker == 0xE2:  # APP2: an ICC profile is fine; MPF (multi-picture) is Pillow's
            if _read_at(head, handle, place + 4, 4) == b"MPF\x00":
                return None
        elif marker == 0xEE:  # APP14 (Adobe): its colour transform changes how Pillow sees the file
            return None
        place += 2 + length
    return None


def _tables_fit(body: bytes) -> bool:
    """Whether a DQT segment's tables fill it exactly as their precision bytes say (Pillow's check)."""
    while body:
        length = 1 + (64 if body[0] // 16 == 0 else 128)
        if len(body) < length:
            return False
        body = body[length:]
    return True


def _exif_orientation(tiff: bytes) -> int | None:
    """The orientation in IFD0 of an EXIF block (1 when it has none), or None when the block is
    not plainly readable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    magic, first = struct.unpack(order + "HI", tiff[2:8])
    if magic != 42 or first + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[first : first + 2])[0]
    if first + 2 + 12 * count > len(tiff):
        return None
    for index in range(count):
        at = first + 2 + 12 * index
        tag, kind, values = struct.unpack(order + "HHI", tiff[at : at + 8])
        if tag == _ORIENTATION_TAG:
            if kind != 3 or values != 1:  # not one SHORT: let Pillow read it
                return None
            return struct.unpack(order + "H", tiff[at + 8 : at + 10])[0]
    return 1


def _read_at(head: bytes, handle, place: int, count: int) -> bytes:
    """``count`` bytes at ``place``: from the first read when it holds them, else from the file."""
    if place + count <= len(head):
        return head[place : place + count]
    handle.seek(place)
    return handle.read(count)
