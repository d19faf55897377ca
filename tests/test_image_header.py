"""The plain JPEG/PNG header reader agrees with Pillow, or leaves the file to Pillow.

`inspect_image` reads ordinary JPEGs and PNGs without Pillow (engine/data/imageheader.py).
Every file here is inspected twice, with and without that reader, and the answers must be the
same; the ordinary files must actually take the fast way (else the test would prove nothing).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from kiln_lab.engine.data import imagefile
from kiln_lab.engine.data.imagefile import MAX_DECODE_PIXELS, BadImage, inspect_image
from kiln_lab.engine.data.imageheader import plain_header

ROOT = Path(__file__).resolve().parents[1]


def _picture(height=23, width=37, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _exif(orientation: int | None, **tags) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    for tag, value in tags.items():
        exif[int(tag[1:])] = value
    return exif.tobytes()


def _srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_with_chunk(image: Image.Image, kind: bytes, data: bytes, *, bad_crc: bool = False) -> bytes:
    """``image`` as PNG with one more chunk right after IHDR."""
    raw = io.BytesIO()
    image.save(raw, "PNG")
    body = raw.getvalue()
    crc = zlib.crc32(kind + data) ^ (1 if bad_crc else 0)
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    return body[:33] + chunk + body[33:]


def _save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _corpus(root: Path) -> dict[str, tuple[Path, bool]]:
    """name -> (file, whether the plain reader must answer for it)."""
    rgb = _picture()
    files: dict[str, tuple[Path, bool]] = {}

    def add(name: str, fast: bool, image: Image.Image | None = None, data: bytes | None = None, **kwargs):
        path = root / name
        if data is not None:
            path.write_bytes(data)
        else:
            _save(path, image, **kwargs)
        files[name] = (path, fast)

    add("rgb.jpg", True, rgb, quality=90)
    add("gray.jpg", True, rgb.convert("L"))
    add("progressive.jpg", True, rgb, progressive=True, optimize=True)
    add("subsampling444.jpg", True, rgb, subsampling=0)
    add("icc.jpg", True, rgb, icc_profile=_srgb())
    add("comment.jpg", True, rgb, comment=b"made by a test")
    add("exif-plain.jpg", True, rgb, exif=_exif(None, t271="Camera maker"))
    for orientation in range(1, 9):
        add(f"exif-{orientation}.jpg", True, rgb, exif=_exif(orientation))
    add("big-endian-exif.jpg", True, rgb, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03"
        b"\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
    add("cmyk.jpg", False, rgb.convert("CMYK"))
    add("xmp.jpg", False, rgb, xmp=b'<x:xmpmeta><tiff:Orientation>6</tiff:Orientation></x:xmpmeta>')
    jpeg = (root / "rgb.jpg").read_bytes()
    add("zero-padded.jpg", True, data=jpeg + b"\0" * 10)
    add("long-zero-padding.jpg", False, data=jpeg + b"\0" * 100)  # the end is looked for in the last 64 bytes
    add("trailing-junk.jpg", False, data=jpeg + b"more bytes after the picture")
    add("truncated.jpg", False, data=jpeg[: len(jpeg) * 2 // 3])
    add("not-a-jpeg.jpg", False, data=b"\xff\xd8\xff" + b"\x00" * 40 + b"\xff\xd9")
    two = io.BytesIO()
    rgb.save(two, "MPO", save_all=True, append_images=[_picture(seed=1)])
    add("multi-picture.jpg", False, data=two.getvalue())

    add("rgb.png", True, rgb)
    add("gray.png", True, rgb.convert("L"))
    add("rgba.png", True, rgb.convert("RGBA"))
    add("gray-alpha.png", True, rgb.convert("LA"))
    add("palette.png", False, rgb.convert("P"))
    add("bilevel.png", False, rgb.convert("1"))
    add("sixteen-bit.png", False, Image.fromarray(np.full((9, 7), 40000, dtype=np.uint16)))
    add("transparency-key.png", False, rgb, transparency=(1, 2, 3))
    add("icc.png", True, rgb, icc_profile=_srgb())
    add("exif.png", False, rgb, exif=_exif(6))
    add("text.png", True, data=_png_with_chunk(rgb, b"tEXt", b"Comment\x00hello"))
    add("bad-ancillary-crc.png", False, data=_png_with_chunk(rgb, b"tEXt", b"Comment\x00hello", bad_crc=True))
    animated = io.BytesIO()
    rgb.save(animated, "PNG", save_all=True, append_images=[_picture(seed=2)])
    add("animated.png", False, data=animated.getvalue())
    png = (root / "rgb.png").read_bytes()
    add("zero-padded.png", True, data=png + b"\0" * 10)
    add("truncated.png", False, data=png[: len(png) // 2])
    add("gif-named-png.png", False, rgb.convert("P"), format="GIF")
    add("jpeg-named-png.png", True, rgb, format="JPEG")
    add("bmp.bmp", False, rgb)
    add("empty.png", False, data=b"")
    return files


def _with_pillow_only(path: Path, monkeypatch) -> imagefile.ImageInfo | str:
    with monkeypatch.context() as patch:
        patch.setattr(imagefile, "plain_header", lambda *args: None)
        return _answer(path)


def _answer(path: Path) -> imagefile.ImageInfo | str:
    try:
        return inspect_image(path)
    except BadImage as bad:
        return f"bad: {bad.reason}"


def test_plain_reader_agrees_with_pillow_on_every_kind_of_file(tmp_path, monkeypatch):
    files = _corpus(tmp_path)
    for name, (path, fast) in files.items():
        size = path.stat().st_size
        answered = size > 0 and plain_header(path, size, MAX_DECODE_PIXELS) is not None
        assert answered == fast, f"{name}: plain reader {'answered' if answered else 'declined'}"
        assert _answer(path) == _with_pillow_only(path, monkeypatch), name
    # The EXIF orientations really are read: a quarter turn swaps height and width.
    assert inspect_image(files["exif-6.jpg"][0]).height == 37
    assert inspect_image(files["exif-6.jpg"][0]).decoder == imagefile.PILLOW
    assert inspect_image(files["exif-1.jpg"][0]).decoder == imagefile.TF_JPEG


def test_plain_reader_agrees_on_shipped_and_generated_pictures(tmp_path, monkeypatch):
    shipped = [p for p in (ROOT / "resources").rglob("*") if p.suffix.lower() in imagefile.IMAGE_EXTENSIONS]
    rng = np.random.default_rng(5)
    made = []
    for index in range(40):  # sizes, qualities and modes a folder of photos and scans holds
        height, width = (int(v) for v in rng.integers(1, 300, 2))
        image = _picture(height, width, seed=index)
        image = image.convert("L") if index % 4 == 0 else image
        suffix = ".png" if index % 3 == 0 else ".jpg"
        kwargs = {} if suffix == ".png" else {"quality": int(rng.integers(30, 100)), "progressive": bool(index % 2)}
        made.append(_save(tmp_path / f"{index}{suffix}", image, **kwargs))
    fast = 0
    for path in shipped + made:
        fast += plain_header(path, path.stat().st_size, MAX_DECODE_PIXELS) is not None
        assert _answer(path) == _with_pillow_only(path, monkeypatch), path.name
    assert fast >= len(made)


@pytest.mark.parametrize("source", ["rgb.jpg", "exif-3.jpg", "icc.png", "rgba.png"])
def test_damaged_headers_never_give_a_different_picture_size_or_decoder(tmp_path, monkeypatch, source):
    """Bytes flipped in the header: where both readers accept the file, they agree."""
    original = _corpus(tmp_path / "corpus")[source][0].read_bytes()
    rng = np.random.default_rng(len(source))
    both = 0
    for trial in range(60):
        damaged = bytearray(original)
        for place in rng.integers(2, min(len(original) - 2, 1500), int(rng.integers(1, 4))):
            damaged[int(place)] = int(rng.integers(0, 256))
        path = tmp_path / f"{trial}-{source}"
        path.write_bytes(bytes(damaged))
        fast, slow = _answer(path), _with_pillow_only(path, monkeypatch)
        if isinstance(fast, imagefile.ImageInfo) and isinstance(slow, imagefile.ImageInfo):
            both += 1
            assert fast == slow, path.name
    assert both > 0
