"""Saved results: downloaded once into the output folder, safely, reused later, and previewed for the agent."""

from __future__ import annotations

import base64
import io
import socket
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.base import Task, TaskResult
from providers.sandbox_media import render_video
from server.app import build_server
from server.downloads import Downloader, DownloadRefused, saved_files
from tests.fakes import uniall as uniall_fake
from tests.fakes.loopback import Recorder, serve
from tests.support import make_settings, png_bytes, structured

pytestmark = pytest.mark.anyio


def file_app(files: dict[str, tuple[bytes, str]], hits: list[str], gate: threading.Event | None = None) -> Starlette:
    async def get(request: Request) -> Response:
        name = request.path_params["name"]
        hits.append(name)
        if gate is not None:
            await anyio.to_thread.run_sync(gate.wait)
        body, kind = files[name]
        return Response(body, media_type=kind)

    return Starlette(routes=[Route("/files/{name}", get)])


def completed(url: str, media: str = "image", native: str = "abc123") -> Task:
    return Task(
        task_id=f"uniall:{native}",
        provider="uniall",
        model="uniall/viduq3p-720p",
        status="completed",
        result=TaskResult(url=url, urls=[url], media_type=media),  # type: ignore[arg-type]
    )


async def test_a_result_is_saved_once_under_a_name_that_says_provider_model_and_task(tmp_path: Path) -> None:
    hits: list[str] = []
    with serve(file_app({"a.png": (png_bytes(), "image/png")}, hits)) as origin:
        async with httpx.AsyncClient() as client:
            downloader = Downloader(client, tmp_path, allow_private=True)
            first = await downloader.save(completed(f"{origin}/files/a.png"))
            again = await downloader.save(completed(f"{origin}/files/a.png"))
    assert first == again == [str(tmp_path / "uniall-viduq3p-720p-abc123.png")]
    assert hits == ["a.png"] and Path(first[0]).read_bytes() == png_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["uniall-viduq3p-720p-abc123.png"]


async def test_loopback_and_plain_http_result_urls_are_refused_by_default(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as client:
        downloader = Downloader(client, tmp_path, allow_private=False)
        with pytest.raises(DownloadRefused, match="https only"):
            await downloader.save(completed("http://127.0.0.1:9/x.png"))
        with pytest.raises(DownloadRefused, match="non-public"):
            await downloader.save(completed("https://localhost:9/x.png"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["https://10.0.0.7/x.png", "https://169.254.169.254/latest/meta-data"])
async def test_a_redirect_to_a_private_address_is_refused_at_that_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    async def fake_getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        address = "93.184.216.34" if host == "cdn.example.com" else host
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(anyio, "getaddrinfo", fake_getaddrinfo)
    with respx.mock(assert_all_called=False) as router:
        router.get("https://cdn.example.com/r.png").respond(302, headers={"Location": target})
        private = router.get(target).respond(200, content=png_bytes())
        async with httpx.AsyncClient() as client:
            with pytest.raises(DownloadRefused, match="non-public"):
                await Downloader(client, tmp_path, allow_private=False).save(completed("https://cdn.example.com/r.png"))
    assert not private.called


async def test_bytes_that_are_not_the_promised_media_are_refused_and_not_kept(tmp_path: Path) -> None:
    hits: list[str] = []
    with serve(file_app({"page": (b"<html>login</html>", "image/png")}, hits)) as origin:
        async with httpx.AsyncClient() as client:
            with pytest.raises(DownloadRefused, match="not the promised image"):
                await Downloader(client, tmp_path, allow_private=True).save(completed(f"{origin}/files/page"))
    assert list(tmp_path.iterdir()) == []


async def test_a_result_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    hits: list[str] = []
    with serve(file_app({"big.png": (png_bytes() + b"\0" * 5000, "image/png")}, hits)) as origin:
        async with httpx.AsyncClient() as client:
            downloader = Downloader(client, tmp_path, allow_private=True, max_bytes=1000)
            with pytest.raises(DownloadRefused, match="larger than"):
                await downloader.save(completed(f"{origin}/files/big.png"))
    assert list(tmp_path.iterdir()) == []


def test_saved_files_match_only_the_task_they_belong_to(tmp_path: Path) -> None:
    (tmp_path / "uniall-m-abc.png").write_bytes(b"x")
    (tmp_path / "uniall-m-abcd.png").write_bytes(b"x")
    (tmp_path / "uniall-m-abc-2.png").write_bytes(b"x")
    task = completed("https://x", native="abc")
    assert [Path(p).name for p in saved_files(tmp_path, task)] == ["uniall-m-abc-2.png", "uniall-m-abc.png"]


async def poll(client: Client, task: dict[str, Any], seconds: float = 20) -> dict[str, Any]:
    with anyio.fail_after(seconds):
        while task["status"] not in ("completed", "failed") or (task["status"] == "completed" and not task["files"]):
            await anyio.sleep(task["poll_after_seconds"] or 0.1)
            task = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
    return task


async def test_a_provider_result_is_saved_and_still_served_after_the_provider_is_gone(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(uniall_fake.make_app(recorder, steps=1)) as origin:
        settings = make_settings(
            tmp_path, UNIALL_API_KEY="sk-test-secret", UNIALL_BASE_URL=origin, MEDIAGEN_ALLOW_PRIVATE_URLS="1"
        )
        server = build_server(settings)
        async with Client(server) as client:
            task = structured(await client.call_tool("generate", {"model": "uniall/viduq3p-720p", "prompt": "sea"}))
            task = await poll(client, task)
            assert task["files"] and Path(task["files"][0]).parent == tmp_path / "out"
            files_before = len(recorder.matching("GET", "/files"))
            again = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
            assert again["files"] == task["files"]
            assert len(recorder.matching("GET", "/files")) == files_before
    async with Client(build_server(settings)) as client:
        gone = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
    assert gone["status"] == "completed" and gone["files"] == task["files"]


async def test_a_slow_download_continues_in_the_background_and_shows_up_later(tmp_path: Path) -> None:
    gate = threading.Event()
    hits: list[str] = []
    with serve(file_app({"a.png": (png_bytes(), "image/png")}, hits, gate)) as origin:
        settings = make_settings(tmp_path, MEDIAGEN_ALLOW_PRIVATE_URLS="1")
        async with httpx.AsyncClient() as client, anyio.create_task_group() as group:
            from server.service import Service

            service = Service(settings, client, group)
            service.download_budget = 0.2
            task = completed(f"{origin}/files/a.png")
            first = await service.settle(task.model_copy(deep=True), 0.2)
            assert first.files == [] and "still downloading" in first.next_action
            gate.set()
            with anyio.fail_after(10):
                while not (later := await service.settle(task.model_copy(deep=True), 0.5)).files:
                    pass
            assert later.files and "saved at" in later.next_action
            group.cancel_scope.cancel()
    assert hits == ["a.png"]


async def test_a_completed_image_comes_with_a_small_preview(tmp_path: Path) -> None:
    async with Client(build_server(make_settings(tmp_path))) as client:
        with anyio.fail_after(15):
            result = await client.call_tool(
                "generate", {"model": "sandbox/image", "prompt": "x", "resolution": "2K", "wait_seconds": 10}
            )
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/jpeg"
    raw = base64.b64decode(images[0].data)
    assert len(raw) < 300 * 1024
    from PIL import Image

    with Image.open(io.BytesIO(raw)) as preview:
        assert max(preview.size) <= 768


async def test_a_completed_video_comes_with_a_poster_frame_and_a_link_to_the_file(tmp_path: Path) -> None:
    async with Client(build_server(make_settings(tmp_path))) as client:
        with anyio.fail_after(15):
            result = await client.call_tool(
                "generate", {"model": "sandbox/video", "prompt": "x", "duration": 1, "wait_seconds": 10}
            )
    kinds = [c.type for c in result.content]
    assert kinds == ["text", "image", "resource_link"]
    link = result.content[2]
    assert str(link.uri).startswith("file://") and str(link.uri).endswith(".mp4")  # type: ignore[union-attr]


def test_render_video_helper_is_available_for_fakes(tmp_path: Path) -> None:
    render_video(tmp_path / "v.mp4", "x", width=64, height=64, seconds=0.5)
    assert (tmp_path / "v.mp4").stat().st_size > 0
