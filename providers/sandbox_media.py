"""Fake-but-real media for the offline "sandbox" provider.

Pure functions that render deterministic placeholder results: a gradient derived from the prompt with the prompt
text drawn on it (plus the source image, for image-to-image / image-to-video), saved as a real PNG/JPEG/WebP image
or a real, playable H.264 MP4. Pillow and PyAV are imported inside the functions so that importing this module (and
therefore server start-up) stays cheap.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import pathlib
import uuid
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING, Literal, cast

if TYPE_CHECKING:
    from collections.abc import Generator

    from PIL import Image, ImageFont

    _Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "3:2": (3, 2),
    "2:3": (2, 3),
}
# Resolution name -> length of the SHORT side in pixels.
VIDEO_RESOLUTIONS: dict[str, int] = {"480p": 480, "720p": 720, "1080p": 1080}
IMAGE_RESOLUTIONS: dict[str, int] = {**VIDEO_RESOLUTIONS, "1K": 1024, "2K": 2048, "4K": 4096}

DEFAULT_IMAGE_SHORT_SIDE = 512
DEFAULT_VIDEO_SHORT_SIDE = 360
# The sandbox is fake, so keep its files cheap: images never exceed a 2048 px short side ("4K" renders at 2K) and
# videos never exceed a 360 px short side whatever resolution was requested (the aspect ratio is always honoured).
MAX_IMAGE_SHORT_SIDE = 2048
MAX_VIDEO_SHORT_SIDE = 360

_PIL_FORMATS: dict[str, str] = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_SOURCE_FRACTION = 0.6  # the source image is fitted inside this fraction of the canvas
_ELLIPSIS = "..."


def output_size(
    aspect_ratio: str | None, resolution: str | None, *, media: Literal["image", "video"]
) -> tuple[int, int]:
    """Return the `(width, height)` the sandbox renders for an aspect ratio and resolution.

    `resolution` names the short side ("720p" -> 720 px; images also accept "1K"/"2K"/"4K"). Defaults: 1:1 at a
    512 px short side for images, 16:9 at a 360 px short side for videos. Video sizes are capped (see
    `MAX_VIDEO_SHORT_SIDE`) and always even, as libx264 with yuv420p requires. Raises ValueError for an unknown
    aspect ratio or resolution.
    """
    if media not in ("image", "video"):
        raise ValueError(f"unknown media type {media!r}")
    is_video = media == "video"

    ratio_name = (aspect_ratio or ("16:9" if is_video else "1:1")).strip()
    if ratio_name not in ASPECT_RATIOS:
        raise ValueError(f"unknown aspect ratio {aspect_ratio!r}; expected one of {', '.join(ASPECT_RATIOS)}")
    ratio_w, ratio_h = ASPECT_RATIOS[ratio_name]

    table = VIDEO_RESOLUTIONS if is_video else IMAGE_RESOLUTIONS
    if resolution is None:
        short = DEFAULT_VIDEO_SHORT_SIDE if is_video else DEFAULT_IMAGE_SHORT_SIDE
    else:
        key = resolution.strip()
        key = key.upper() if key[-1:].lower() == "k" else key.lower()
        if key not in table:
            raise ValueError(f"unknown {media} resolution {resolution!r}; expected one of {', '.join(table)}")
        short = table[key]

    if is_video:
        short = _even(min(short, MAX_VIDEO_SHORT_SIDE))
        long = _even(short * max(ratio_w, ratio_h) / min(ratio_w, ratio_h))
    else:
        short = min(short, MAX_IMAGE_SHORT_SIDE)
        long = max(1, round(short * max(ratio_w, ratio_h) / min(ratio_w, ratio_h)))
    return (long, short) if ratio_w >= ratio_h else (short, long)


def render_image(
    path: pathlib.Path,
    prompt: str,
    *,
    width: int,
    height: int,
    fmt: Literal["png", "jpeg", "webp"],
    source: bytes | None = None,
) -> None:
    """Write a `width` x `height` image in `fmt` to `path` (atomically).

    The picture is a gradient derived from the prompt, the optional `source` image (any format Pillow reads) fitted
    in the centre, and the wrapped prompt text. Raises ValueError for a bad size or format or an unreadable source.
    """
    if fmt not in _PIL_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; expected one of {', '.join(_PIL_FORMATS)}")
    _check_size(width, height, even=False)

    canvas = _compose(prompt, width, height, source)
    save_kwargs: dict[str, int | bool] = {}
    if fmt == "jpeg":
        save_kwargs = {"quality": 85, "optimize": True}
    elif fmt == "webp":
        save_kwargs = {"quality": 80, "method": 2}
    with _atomic_target(path, ".tmp") as tmp, tmp.open("xb") as out:
        canvas.save(out, format=_PIL_FORMATS[fmt], **save_kwargs)


def render_video(
    path: pathlib.Path,
    prompt: str,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int = 12,
    source: bytes | None = None,
) -> None:
    """Write a playable H.264 (libx264, yuv420p) MP4 of `seconds` at `fps` to `path` (atomically).

    Every frame shows the prompt over the prompt's gradient (with the optional `source` image fitted in the centre,
    for image-to-video), a line sweeping left to right, a progress bar and a timestamp. `width` and `height` must be
    even. At least one frame is always written.
    """
    import av
    from PIL import ImageDraw

    _check_size(width, height, even=True)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite, non-negative number, got {seconds}")
    n_frames = max(1, round(seconds * fps))
    total = n_frames / fps

    base = _compose(prompt, width, height, source)
    short = min(width, height)
    small_font = _font(max(10, short // 24))
    bar_h = max(4, short // 60)
    line_w = max(2, short // 180)
    pad = max(4, short // 60)
    time_base = Fraction(1, fps)

    with (
        _atomic_target(path, ".tmp.mp4") as tmp,
        av.open(str(tmp), mode="w", format="mp4", container_options={"movflags": "+faststart"}) as container,
    ):
        # PyAV's stubs leave some types Unknown (untyped kwargs, generic Packet, from_image): hence the ignores.
        stream = container.add_stream("libx264", rate=fps)  # pyright: ignore[reportUnknownMemberType]
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for index in range(n_frames):
            frame_image = base.copy()
            draw = ImageDraw.Draw(frame_image)
            progress = index / (n_frames - 1) if n_frames > 1 else 1.0
            x = round(progress * (width - line_w))
            draw.rectangle((x, 0, x + line_w - 1, height - 1), fill=(255, 255, 255))
            draw.rectangle((0, height - bar_h, width - 1, height - 1), fill=(20, 20, 28))
            filled = max(1, round((index + 1) / n_frames * width))
            draw.rectangle((0, height - bar_h, filled - 1, height - 1), fill=(255, 214, 102))
            stamp = f"{index / fps:.2f}s / {total:.2f}s  #{index + 1}"
            left, top, right, bottom = draw.textbbox((pad, pad), stamp, font=small_font)
            draw.rectangle((left - pad // 2, top - pad // 2, right + pad // 2, bottom + pad // 2), fill=(0, 0, 0))
            draw.text((pad, pad), stamp, font=small_font, fill=(255, 255, 255))

            frame = cast("av.VideoFrame", av.VideoFrame.from_image(frame_image))  # pyright: ignore[reportUnknownMemberType]
            frame.pts = index
            frame.time_base = time_base
            container.mux(stream.encode(frame))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        container.mux(stream.encode(None))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


def poster_frame(video_path: pathlib.Path) -> bytes:
    """Return the first decoded frame of `video_path` as PNG bytes. Raises ValueError if it has no video frame."""
    import av

    with av.open(str(video_path), mode="r") as container:
        if not container.streams.video:
            raise ValueError(f"{video_path} has no video stream")
        for frame in container.decode(video=0):
            buffer = io.BytesIO()
            image = cast("Image.Image", frame.to_image())  # pyright: ignore[reportUnknownMemberType]
            image.save(buffer, format="PNG")
            return buffer.getvalue()
    raise ValueError(f"{video_path} has no decodable video frame")


# --- helpers ---------------------------------------------------------------------------------------------------------


def _even(value: float) -> int:
    """Round to the nearest even integer, at least 2."""
    return max(2, 2 * round(value / 2))


def _check_size(width: int, height: int, *, even: bool) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive, got {width}x{height}")
    if even and (width % 2 or height % 2):
        raise ValueError(f"video size must be even (libx264 yuv420p), got {width}x{height}")


@contextmanager
def _atomic_target(path: pathlib.Path, suffix: str) -> Generator[pathlib.Path]:
    """Yield a fresh temporary path next to `path`; on success move it over `path`, on failure delete it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{suffix}")
    done = False
    try:
        yield tmp
        tmp.replace(path)
        done = True
    finally:
        if not done:
            tmp.unlink(missing_ok=True)


def _font(size: int) -> _Font:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _palette(prompt: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two pleasant colours derived deterministically from the prompt."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    hue_a = digest[0] / 255
    hue_b = (hue_a + 0.12 + digest[1] / 255 * 0.3) % 1.0
    sat = 0.45 + digest[2] / 255 * 0.2

    def rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
        return round(r * 255), round(g * 255), round(b * 255)

    return rgb(hue_a, sat, 0.92), rgb(hue_b, sat + 0.1, 0.45)


def _gradient(prompt: str, width: int, height: int) -> Image.Image:
    """A diagonal two-colour gradient (top-left light, bottom-right dark) coloured by the prompt's hash."""
    from PIL import Image

    light, dark = _palette(prompt)
    vertical = Image.linear_gradient("L")
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    # (`resize` is partially Unknown to pyright when numpy, which Pillow's stubs mention, is not installed.)
    mask = Image.blend(vertical, horizontal, 0.5).resize((width, height), Image.Resampling.BILINEAR)  # pyright: ignore[reportUnknownMemberType]
    return Image.composite(Image.new("RGB", (width, height), dark), Image.new("RGB", (width, height), light), mask)


def _paste_source(canvas: Image.Image, source: bytes) -> None:
    """Fit the source image inside `_SOURCE_FRACTION` of the canvas and paste it centred."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source)) as opened:
            picture = ImageOps.exif_transpose(opened).convert("RGBA")
    except UnidentifiedImageError as exc:
        raise ValueError("source is not an image Pillow can read") from exc
    box = (max(1, round(canvas.width * _SOURCE_FRACTION)), max(1, round(canvas.height * _SOURCE_FRACTION)))
    picture = ImageOps.contain(picture, box, Image.Resampling.LANCZOS)
    position = ((canvas.width - picture.width) // 2, (canvas.height - picture.height) // 2)
    canvas.paste(picture, position, picture)


def _wrap(text: str, font: _Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap of `text` measured with `font`, at most `max_lines` lines.

    Words wider than a line are hard-split; if the text does not fit, the last line ends with an ellipsis. Stops as
    soon as the line budget is exceeded, so very long prompts stay cheap.
    """
    from PIL import Image, ImageDraw

    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def fits(candidate: str) -> bool:
        return measure.textlength(candidate, font=font) <= max_width

    def longest_fitting_prefix(word: str) -> int:
        low, high = 1, len(word)  # binary search; always make progress with at least one character
        while low < high:
            mid = (low + high + 1) // 2
            if fits(word[:mid]):
                low = mid
            else:
                high = mid - 1
        return low

    lines: list[str] = []
    current = ""
    words = text.split()
    overflow = False
    for word in words:
        if len(lines) > max_lines:
            overflow = True
            break
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        rest = word
        while rest and not fits(rest):  # a single word wider than the line
            cut = longest_fitting_prefix(rest)
            lines.append(rest[:cut])
            rest = rest[cut:]
        current = rest
    if current:
        lines.append(current)

    if overflow or len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and not fits(last + _ELLIPSIS):
            last = last[:-1]
        lines[-1] = last.rstrip() + _ELLIPSIS
    return lines


def _compose(prompt: str, width: int, height: int, source: bytes | None) -> Image.Image:
    """Gradient + optional centred source image + the wrapped prompt on a translucent panel."""
    from PIL import Image, ImageDraw

    canvas = _gradient(prompt, width, height)
    if source is not None:
        _paste_source(canvas, source)

    text = " ".join(prompt.split()) or "(empty prompt)"
    short = min(width, height)
    font = _font(max(10, short // 16))
    margin = max(4, short // 20)
    spacing = max(2, short // 80)
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    _, glyph_top, _, glyph_bottom = draw.textbbox((0, 0), "Ag", font=font)
    line_height = max(1, math.ceil(glyph_bottom - glyph_top))
    # Without a source the text may use the middle of the picture; with one it stays in the bottom band.
    region = (
        height - 2 * margin if source is None else max(line_height, (height - round(height * _SOURCE_FRACTION)) // 2)
    )
    max_lines = max(1, (region - margin) // (line_height + spacing))
    lines = _wrap(text, font, width - 4 * margin, max_lines)
    block = "\n".join(lines)

    left, top, right, bottom = draw.multiline_textbbox((0, 0), block, font=font, spacing=spacing, align="center")
    text_w, text_h = right - left, bottom - top
    x = (width - text_w) // 2 - left
    y = (height - text_h) // 2 - top if source is None else height - margin - text_h - top
    draw.rounded_rectangle(
        (x + left - margin // 2, y + top - margin // 2, x + right + margin // 2, y + bottom + margin // 2),
        radius=max(2, margin // 2),
        fill=(0, 0, 0, 110),
    )
    draw.multiline_text((x, y), block, font=font, fill=(255, 255, 255, 255), spacing=spacing, align="center")
    return Image.alpha_composite(canvas.convert("RGBA"), overlay).convert("RGB")
