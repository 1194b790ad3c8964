"""The offline sandbox provider: real files, real state transitions, and ids that survive a restart."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from providers.base import GenerateRequest, MediaInput, ProviderConfig, Task
from providers.catalog import load_catalog
from providers.errors import InvalidArgument, NotFoundError
from providers.sandbox import SandboxProvider
from tests.support import png_bytes

pytestmark = pytest.mark.anyio


def provider(tmp_path: Path, delay: float = 0.0) -> SandboxProvider:
    return SandboxProvider(
        ProviderConfig(name="sandbox", api_key=None, base_url="", output_dir=str(tmp_path), sandbox_delay=delay)
    )


def model(name: str):  # type: ignore[no-untyped-def]
    return next(m for m in load_catalog("sandbox") if m.id == name)


async def finish(p: SandboxProvider, task: Task) -> Task:
    with anyio.fail_after(10):
        while not task.terminal:
            await anyio.sleep(task.poll_after_seconds or 0.05)
            task = await p.fetch(task.native_id)
    return task


async def test_a_sandbox_video_is_a_playable_mp4_of_the_requested_duration(tmp_path: Path) -> None:
    import av

    p = provider(tmp_path)
    task = await p.submit(model("video"), GenerateRequest(prompt="a fox", duration=2, aspect_ratio="9:16"))
    assert task.task_id.startswith("sandbox:") and task.model == "sandbox/video"
    done = await finish(p, task)
    assert done.status == "completed" and done.result and done.result.media_type == "video"
    path = Path(done.files[0])
    assert path.parent == tmp_path and path.suffix == ".mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.width < stream.height
        frames = sum(1 for _ in container.decode(stream))
    assert abs(frames / 12 - 2.0) < 0.2


async def test_a_sandbox_image_has_the_requested_format_and_aspect_ratio(tmp_path: Path) -> None:
    from PIL import Image

    p = provider(tmp_path)
    task = await p.submit(
        model("image"), GenerateRequest(prompt="a cat", aspect_ratio="16:9", resolution="720p", output_format="jpeg")
    )
    done = await finish(p, task)
    with Image.open(done.files[0]) as image:
        assert image.format == "JPEG" and image.size == (1280, 720)


async def test_image_to_image_composites_the_input_image(tmp_path: Path) -> None:
    from PIL import Image

    p = provider(tmp_path)
    source = MediaInput(data=png_bytes(64, 64, (0, 255, 0)), mime="image/png", local=True)
    done = await finish(p, await p.submit(model("image"), GenerateRequest(prompt="green", image_urls=(source,))))
    with Image.open(done.files[0]) as image:
        w, h = image.size
        assert image.convert("RGB").getpixel((w // 2, h // 2)) == (0, 255, 0)


async def test_tasks_move_from_pending_through_processing_to_completed_with_progress(tmp_path: Path) -> None:
    p = provider(tmp_path, delay=0.6)
    task = await p.submit(model("image"), GenerateRequest(prompt="slow"))
    assert task.status == "pending" and task.progress is not None and task.progress < 20
    seen = {task.status}
    with anyio.fail_after(10):
        while not task.terminal:
            await anyio.sleep(0.1)
            task = await p.fetch(task.native_id)
            seen.add(task.status)
    assert seen == {"pending", "processing", "completed"}


async def test_a_prompt_with_fail_ends_failed_with_a_clear_error(tmp_path: Path) -> None:
    p = provider(tmp_path)
    done = await finish(p, await p.submit(model("video"), GenerateRequest(prompt="please [fail] now")))
    assert done.status == "failed" and done.error and done.error.code == "sandbox_failure"
    assert "[fail]" in done.error.message and not done.files


async def test_a_task_id_keeps_working_in_a_new_provider_instance(tmp_path: Path) -> None:
    task = await provider(tmp_path).submit(model("image"), GenerateRequest(prompt="persist"))
    again = await finish(provider(tmp_path), task)
    assert again.status == "completed" and Path(again.files[0]).exists()


async def test_unknown_and_malformed_ids_are_not_found(tmp_path: Path) -> None:
    p = provider(tmp_path)
    for bad in ("0" * 32, "../etc/passwd", "x" * 10_000):
        with pytest.raises(NotFoundError):
            await p.fetch(bad)


async def test_the_offline_sandbox_refuses_a_url_it_cannot_download(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        await provider(tmp_path).submit(
            model("image"), GenerateRequest(prompt="x", image_urls=(MediaInput(url="https://example.com/a.png"),))
        )
    assert info.value.field == "image_urls[0]"


async def test_the_sandbox_module_makes_no_http_requests(tmp_path: Path) -> None:
    from providers.sandbox import create

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sandbox must stay offline")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        p = create(
            ProviderConfig(name="sandbox", api_key=None, base_url="", output_dir=str(tmp_path), sandbox_delay=0), client
        )
        await finish(p, await p.submit(model("video"), GenerateRequest(prompt="offline", duration=1)))
