from __future__ import annotations

import io
import pathlib
import subprocess
import sys
from typing import Literal

import av
import pytest
from PIL import Image

from providers.sandbox_media import output_size, poster_frame, render_image, render_video

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _source_png(width: int = 300, height: int = 200, colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _rgb(data: bytes, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def _probe(path: pathlib.Path) -> tuple[str, int, int, float, int]:
    """(codec, width, height, duration in seconds, decoded frame count) of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        assert stream.duration is not None
        assert stream.time_base is not None
        duration = float(stream.duration * stream.time_base)
        frames = sum(1 for _ in container.decode(video=0))
        return codec, stream.width, stream.height, duration, frames


# --- output_size -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect_ratio", "resolution", "expected"),
    [
        (None, None, (512, 512)),
        ("1:1", "1K", (1024, 1024)),
        ("16:9", "720p", (1280, 720)),
        ("9:16", "1080p", (1080, 1920)),
        ("4:3", "480p", (640, 480)),
        ("3:2", "2K", (3072, 2048)),
        ("1:1", "4K", (2048, 2048)),
        ("21:9", None, (1195, 512)),
    ],
)
def test_output_size_for_images_uses_the_resolution_as_the_short_side(
    aspect_ratio: str | None, resolution: str | None, expected: tuple[int, int]
) -> None:
    assert output_size(aspect_ratio, resolution, media="image") == expected


@pytest.mark.parametrize(
    ("aspect_ratio", "resolution", "expected"),
    [
        (None, None, (640, 360)),
        ("16:9", "1080p", (640, 360)),
        ("9:16", "720p", (360, 640)),
        ("1:1", "480p", (360, 360)),
        ("4:3", None, (480, 360)),
        ("3:4", "1080p", (360, 480)),
        ("21:9", "720p", (840, 360)),
        ("2:3", None, (360, 540)),
    ],
)
def test_output_size_for_videos_caps_the_short_side_at_360_and_keeps_the_aspect_ratio(
    aspect_ratio: str | None, resolution: str | None, expected: tuple[int, int]
) -> None:
    assert output_size(aspect_ratio, resolution, media="video") == expected


@pytest.mark.parametrize("aspect_ratio", ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "3:2", "2:3"])
@pytest.mark.parametrize("resolution", [None, "480p", "720p", "1080p"])
def test_output_size_for_videos_is_always_even(aspect_ratio: str, resolution: str | None) -> None:
    width, height = output_size(aspect_ratio, resolution, media="video")
    assert width % 2 == 0
    assert height % 2 == 0
    assert width > 0
    assert height > 0


def test_output_size_rejects_an_unknown_aspect_ratio() -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        output_size("5:4", None, media="image")
    with pytest.raises(ValueError, match="aspect ratio"):
        output_size("wide", "720p", media="video")


def test_output_size_rejects_an_unknown_resolution_and_image_only_sizes_for_video() -> None:
    with pytest.raises(ValueError, match="resolution"):
        output_size("1:1", "8K", media="image")
    with pytest.raises(ValueError, match="resolution"):
        output_size("16:9", "4K", media="video")


# --- render_image ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_render_image_writes_a_real_image_of_the_requested_size_and_format(
    tmp_path: pathlib.Path, fmt: Literal["png", "jpeg", "webp"], pil_format: str
) -> None:
    path = tmp_path / f"out.{fmt}"
    render_image(path, "a lighthouse on a cliff at dawn, volumetric fog", width=320, height=180, fmt=fmt)

    with Image.open(path) as image:
        assert image.format == pil_format
        assert image.size == (320, 180)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_render_image_is_deterministic_and_depends_on_the_prompt(tmp_path: pathlib.Path) -> None:
    first, again, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    render_image(first, "a red fox", width=64, height=64, fmt="png")
    render_image(again, "a red fox", width=64, height=64, fmt="png")
    render_image(other, "a blue whale", width=64, height=64, fmt="png")

    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_render_image_handles_long_and_empty_prompts(tmp_path: pathlib.Path) -> None:
    long_prompt = "supercalifragilisticexpialidocious " * 200 + "x" * 500
    render_image(tmp_path / "long.png", long_prompt, width=200, height=120, fmt="png")
    render_image(tmp_path / "empty.png", "", width=200, height=120, fmt="png")

    for name in ("long.png", "empty.png"):
        with Image.open(tmp_path / name) as image:
            assert image.size == (200, 120)


def test_render_image_composites_the_source_image_for_image_to_image(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "edit.png"
    render_image(path, "make it pop", width=400, height=300, fmt="png", source=_source_png())

    with Image.open(path) as image:
        assert image.size == (400, 300)
    # The pure-red source is fitted inside the centre of the canvas.
    assert _rgb(path.read_bytes(), (200, 130)) == (255, 0, 0)


def test_render_image_overwrites_an_existing_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.jpeg"
    path.write_bytes(b"old")
    render_image(path, "new", width=100, height=50, fmt="jpeg")

    with Image.open(path) as image:
        assert image.size == (100, 50)


def test_render_image_rejects_an_unreadable_source_and_leaves_no_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.png"
    with pytest.raises(ValueError, match="source"):
        render_image(path, "x", width=100, height=100, fmt="png", source=b"not an image")
    assert list(tmp_path.iterdir()) == []


# --- render_video / poster_frame -------------------------------------------------------------------------------------


def test_render_video_writes_a_playable_h264_mp4_of_the_requested_duration(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "clip.mp4"
    render_video(path, "a paper boat drifting down a rainy street", width=640, height=360, seconds=2, fps=12)

    codec, width, height, duration, frames = _probe(path)
    assert codec == "h264"
    assert (width, height) == (640, 360)
    assert duration == pytest.approx(2.0, abs=0.2)
    assert frames == 24
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_render_video_honours_portrait_sizes_and_fractional_durations(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "portrait.mp4"
    render_video(path, "vertical", width=360, height=640, seconds=1.5, fps=8)

    codec, width, height, duration, frames = _probe(path)
    assert codec == "h264"
    assert (width, height) == (360, 640)
    assert duration == pytest.approx(1.5, abs=0.2)
    assert frames == 12


def test_render_video_always_writes_at_least_one_frame(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tiny.mp4"
    render_video(path, "blink", width=64, height=64, seconds=0)

    _codec, _width, _height, _duration, frames = _probe(path)
    assert frames == 1


def test_render_video_frames_change_over_time(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "moving.mp4"
    render_video(path, "motion", width=160, height=90, seconds=1, fps=4)

    with av.open(str(path)) as container:
        images = [bytes(frame.planes[0]) for frame in container.decode(video=0)]
    assert len(images) == 4
    assert len(set(images)) == 4


def test_render_video_shows_the_source_image_for_image_to_video(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "i2v.mp4"
    render_video(path, "animate", width=320, height=180, seconds=0.5, source=_source_png(colour=(0, 0, 255)))

    red, green, blue = _rgb(poster_frame(path), (160, 80))
    assert blue > 200
    assert red < 60
    assert green < 60


def test_render_video_rejects_odd_frame_sizes(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="even"):
        render_video(tmp_path / "odd.mp4", "x", width=641, height=360, seconds=1)
    assert list(tmp_path.iterdir()) == []


def test_poster_frame_returns_png_bytes_of_the_video_size(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "clip.mp4"
    render_video(path, "poster", width=480, height=360, seconds=1)

    data = poster_frame(path)

    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (480, 360)


def test_importing_the_module_does_not_load_pillow_or_av() -> None:
    code = "import sys, providers.sandbox_media; print('PIL' in sys.modules, 'av' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"
