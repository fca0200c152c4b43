"""Attachments on disk: images made safe before they are stored, and found again by name.

An uploaded "image" is only trusted once Pillow has decoded every pixel of it
and written those pixels into a brand-new file. That one step
- refuses what only looks like an image: a WAV file whose first bytes say
  RIFF, as WebP's do, is not a WebP Pillow can decode;
- drops whatever rode along with the pixels: the HTML at the end of a
  GIF/HTML polyglot, EXIF (with the phone's GPS position), text chunks, ICC
  profiles, thumbnails, further animation frames;
- bounds the work: a file over `MAX_BYTES` or with more than `MAX_PIXELS`
  pixels (a "decompression bomb") is refused from its header, before
  decoding.
Decoding is CPU work of tens of milliseconds: callers on the event loop use
`save_image_async`, which does it in a worker thread.

Every channel that receives a photo (the web chat today; Telegram and Zalo
downloads tomorrow) calls `AttachmentStore.save_image` (or its async twin)
and keeps the returned reference ("/files/<name>"), which the web console
serves only to staff and to the chat the image belongs to.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
# 24 megapixels: a 6000x4000 photo. A phone screenshot is 2-3, a 12 MP photo 12.
MAX_PIXELS = 24_000_000
REF_PREFIX = "/files/"
# What a stored file's name looks like; nothing else is ever looked up on disk. (Files stored
# before sanitising existed may still end in .gif or .webp.)
NAME = re.compile(r"[0-9a-f]{24}\.(png|jpg|gif|webp)")
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


class UnsafeImage(ValueError):
    """The bytes are not an image we store (unreadable, too large, too many pixels)."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    ext: str  # "png" or "jpg"
    width: int
    height: int


def sanitise_image(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> CleanImage:
    """Decode `data` fully and re-encode its pixels into a new file (JPEG stays JPEG, the rest become PNG).

    Raises UnsafeImage for anything that is not a PNG, JPEG, GIF or WebP Pillow
    can decode whole, or that is too large. Slow (CPU): not on the event loop.
    """
    if len(data) > max_bytes:
        raise UnsafeImage(f"larger than {max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise UnsafeImage(f"{width}x{height} pixels (at most {max_pixels})")
            source_format = image.format
            image.load()  # every pixel decoded now: a truncated or forged file fails here
            upright = ImageOps.exif_transpose(image)  # EXIF goes, so apply its rotation first
    except UnsafeImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise UnsafeImage(f"not a readable image: {exc}") from exc
    photo = source_format == "JPEG"
    if photo:
        pixels = upright.convert("L" if upright.mode in ("L", "1") else "RGB")
    elif upright.mode in ("RGB", "RGBA", "L", "LA", "I;16"):
        pixels = upright
    elif upright.mode == "1":
        pixels = upright.convert("L")
    else:  # palette (GIF), CMYK, ...: keep transparency if there was any
        transparent = "transparency" in upright.info or upright.mode in ("PA", "RGBa", "La")
        pixels = upright.convert("RGBA" if transparent else "RGB")
    # A new image from the raw pixels alone: no info dict, no metadata can follow.
    fresh = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if photo:
        fresh.save(out, "JPEG", quality=90)
    else:
        fresh.save(out, "PNG", compress_level=6)
    return CleanImage(out.getvalue(), "jpg" if photo else "png", width=fresh.width, height=fresh.height)


class AttachmentStore:
    """The folder of stored attachments; names are random, so a reference cannot be guessed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save_image(self, data: bytes) -> str:
        """Sanitise and store an image; returns its reference "/files/<name>". Raises UnsafeImage."""
        clean = sanitise_image(data)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(12)}.{clean.ext}"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(clean.data)
        partial.replace(self.folder / name)  # never a half-written file under a served name
        return REF_PREFIX + name

    async def save_image_async(self, data: bytes) -> str:
        """`save_image` in a worker thread, for callers on the event loop."""
        return await asyncio.to_thread(self.save_image, data)

    def path(self, name: str) -> Path | None:
        """The file for a stored name, or None for a name we never give out or a missing file."""
        if not NAME.fullmatch(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None
