"""Small previews so the agent can look at what it made: a downscaled image, or a video's poster frame."""

from __future__ import annotations

import base64
import io
from pathlib import Path

PREVIEW_EDGE = 768
PREVIEW_MAX_BYTES = 300 * 1024


def _shrink(data_or_path: bytes | Path) -> bytes:
    from PIL import Image

    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with Image.open(source) as image:
        image.seek(0)
        picture = image.convert("RGB")
    edge = PREVIEW_EDGE
    quality = 80
    while True:
        copy = picture.copy()
        copy.thumbnail((edge, edge))
        buffer = io.BytesIO()
        copy.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= PREVIEW_MAX_BYTES or edge <= 128:
            return buffer.getvalue()
        edge, quality = edge * 3 // 4, max(50, quality - 10)


def preview_jpeg(path: Path, media_type: str | None) -> bytes | None:
    """A JPEG well under the size limit, or None when the file cannot be previewed."""
    from PIL import UnidentifiedImageError

    if media_type == "video" or path.suffix.lower() in (".mp4", ".mov", ".webm"):
        import av.error

        from providers.sandbox_media import poster_frame

        try:
            return _shrink(poster_frame(path))
        except (OSError, ValueError, UnidentifiedImageError, av.error.FFmpegError):
            return None
    try:
        return _shrink(path)
    except (OSError, ValueError, UnidentifiedImageError):
        return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
