"""Images a channel downloads (Zalo's expire), stored the way the web chat stores uploads."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

IMAGE_TYPES = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"GIF8": "gif", b"RIFF": "webp"}


def save_image(folder: Path, data: bytes) -> str:
    """Store `data` under a random name; returns "/files/<name>". ValueError if not an image."""
    ext = next((x for magic, x in IMAGE_TYPES.items() if data.startswith(magic)), None)
    if ext is None:
        raise ValueError("not a PNG, JPEG, GIF or WebP image")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(12)}.{ext}"
    partial = folder / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(folder / name)
    return f"/files/{name}"


_NAME = re.compile(r"/files/([0-9a-f]{24}\.(?:png|jpg|gif|webp))")


def local_file(folder: Path, ref: str) -> Path | None:
    """The file behind a "/files/<name>" reference, or None (another kind of ref, or gone)."""
    match = _NAME.fullmatch(ref)
    if match is None:
        return None
    path = folder / match.group(1)
    return path if path.is_file() else None
