"""The three tools through the SDK's in-memory client: schemas, the sandbox flow, errors before any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from providers.base import UNIFIED_FIELDS
from server.app import build_server
from tests.support import NoNetwork, make_settings, png_bytes, structured

pytestmark = pytest.mark.anyio


@pytest.fixture
def network() -> NoNetwork:
    return NoNetwork()


@pytest.fixture
def server(tmp_path: Path, network: NoNetwork):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, MOUNTSEA_API_KEY="sk-test-secret", MOUNTSEA_BASE_URL="https://hub.invalid")
    return build_server(settings, client_factory=network.client)


async def test_the_three_tools_are_listed_with_schemas_and_annotations(server: Any) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"generate", "get_task", "list_models", "list_tasks"}
    assert tools["get_task"].annotations.read_only_hint and tools["list_models"].annotations.read_only_hint
    gen = tools["generate"].annotations
    assert gen.open_world_hint and gen.idempotent_hint is False and gen.read_only_hint is False
    props = tools["generate"].input_schema["properties"]
    for name in ("model", *UNIFIED_FIELDS, "extra", "wait_seconds", "idempotency_key"):
        assert name in props, name
    assert props["wait_seconds"]["maximum"] == 45
    assert "[1] = last frame" in props["image_urls"]["description"]
    out = tools["get_task"].output_schema
    assert set(out["properties"]) >= {
        "task_id",
        "provider",
        "model",
        "status",
        "progress",
        "result",
        "files",
        "error",
        "credits_used",
        "poll_after_seconds",
        "next_action",
    }


async def test_the_whole_tool_list_stays_under_8_kb(server: Any) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    size = len(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]))
    assert size < 8 * 1024, size


async def test_a_sandbox_video_is_generated_and_polled_to_a_saved_mp4(server: Any, network: NoNetwork) -> None:
    async with Client(server) as client:
        task = structured(
            await client.call_tool("generate", {"model": "sandbox/video", "prompt": "fox", "duration": 2})
        )
        assert task["task_id"].startswith("sandbox:") and task["status"] in ("pending", "processing")
        assert task["next_action"].startswith("Call get_task") and task["poll_after_seconds"] > 0
        with anyio.fail_after(15):
            while task["status"] not in ("completed", "failed"):
                await anyio.sleep(task["poll_after_seconds"])
                task = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
    assert task["status"] == "completed" and task["files"][0].endswith(".mp4") and Path(task["files"][0]).exists()
    assert task["result"]["media_type"] == "video" and "saved at" in task["next_action"]
    assert not network.requests


async def test_wait_seconds_returns_the_finished_task_and_reports_progress(server: Any) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with Client(server) as client:
        with anyio.fail_after(15):
            result = await client.call_tool(
                "generate",
                {"model": "sandbox/image", "prompt": "cat", "wait_seconds": 10},
                progress_callback=on_progress,
            )
    task = structured(result)
    assert task["status"] == "completed" and task["files"]
    assert updates and updates[-1][0] == 100


async def test_a_short_wait_returns_the_in_flight_task_with_polling_guidance(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, MEDIAGEN_SANDBOX_DELAY="30")
    async with Client(build_server(settings, client_factory=NoNetwork().client)) as client:
        with anyio.fail_after(10):
            task = structured(
                await client.call_tool("generate", {"model": "sandbox/image", "prompt": "x", "wait_seconds": 1})
            )
    assert task["status"] in ("pending", "processing") and task["poll_after_seconds"] > 0


async def test_the_text_content_is_a_one_line_summary(server: Any) -> None:
    async with Client(server) as client:
        result = await client.call_tool("generate", {"model": "sandbox/image", "prompt": "x"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text and text.startswith("sandbox:")


async def error_of(server: Any, tool: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    return result.content[0].text, (result.structured_content or {}).get("error", {})  # type: ignore[union-attr]


async def test_an_unknown_model_is_a_tool_error_naming_the_field(server: Any, network: NoNetwork) -> None:
    text, error = await error_of(server, "generate", {"model": "sandbox/vidoe", "prompt": "x"})
    assert error["field"] == "model" and "sandbox/video" in text and "list_models" in text
    assert not network.requests


async def test_a_disallowed_aspect_ratio_is_refused_with_the_allowed_values(server: Any, network: NoNetwork) -> None:
    text, error = await error_of(server, "generate", {"model": "sandbox/video", "prompt": "x", "aspect_ratio": "7:3"})
    assert error["field"] == "aspect_ratio" and "16:9" in text and not error["retryable"]
    assert not network.requests


async def test_a_local_file_outside_the_allowed_folders_is_refused(server: Any, network: NoNetwork) -> None:
    text, error = await error_of(
        server, "generate", {"model": "sandbox/image", "prompt": "x", "image_urls": ["/etc/passwd"]}
    )
    assert error["field"] == "image_urls[0]" and "not allowed" in text
    assert not network.requests


async def test_a_paid_model_with_a_bad_option_sends_nothing(server: Any, network: NoNetwork) -> None:
    text, error = await error_of(server, "generate", {"model": "mountsea/veo-3.1", "prompt": "x", "duration": 7})
    assert error["field"] == "duration" and "4, 6, 8" in text
    text, error = await error_of(
        server, "generate", {"model": "mountsea/veo-3.1", "prompt": "x", "image_urls": ["/etc/passwd"]}
    )
    assert error["field"] == "image_urls[0]"
    assert not network.requests


async def test_a_disabled_provider_names_the_variable_that_enables_it(server: Any, network: NoNetwork) -> None:
    text, error = await error_of(server, "generate", {"model": "uniall/viduq3p-720p", "prompt": "x"})
    assert "UNIALL_API_KEY" in text and error["code"] == "auth"
    assert not network.requests


async def test_an_allowed_local_image_drives_image_to_image(server: Any, tmp_path: Path) -> None:
    (tmp_path / "inputs" / "in.png").write_bytes(png_bytes(32, 32))
    async with Client(server) as client:
        with anyio.fail_after(15):
            task = structured(
                await client.call_tool(
                    "generate",
                    {
                        "model": "sandbox/image",
                        "prompt": "x",
                        "image_urls": [str(tmp_path / "inputs" / "in.png")],
                        "wait_seconds": 10,
                    },
                )
            )
    assert task["status"] == "completed"


@pytest.mark.parametrize("bad", ["../x", "x" * 10_000, "nope:abc", "sandbox:", "sandbox:../../etc"])
async def test_malformed_task_ids_are_refused_naming_task_id(server: Any, bad: str) -> None:
    _, error = await error_of(server, "get_task", {"task_id": bad})
    assert error.get("field") == "task_id" or error == {}


async def test_a_well_formed_unknown_task_id_is_not_found(server: Any) -> None:
    text, error = await error_of(server, "get_task", {"task_id": "sandbox:" + "0" * 32})
    assert error["code"] == "not_found"


async def test_list_models_shows_every_provider_and_how_to_enable_it(server: Any) -> None:
    async with Client(server) as client:
        listing = structured(await client.call_tool("list_models", {"limit": 500}))
    providers = {p["name"]: p for p in listing["providers"]}
    assert set(providers) == {"sandbox", "vicsee", "nanogpt", "mountsea", "uniall"}
    assert providers["sandbox"]["enabled"] and providers["mountsea"]["enabled"]
    assert providers["vicsee"]["enable_with"] == "VICSEE_API_KEY"
    video = next(m for m in listing["models"] if m["id"] == "sandbox/video")
    assert video["mode"] == "text-to-video" and video["modes"] == ["text-to-video", "image-to-video"]
    assert video["options"]["aspect_ratio"]["values"][0] == "16:9" and video["required"] == ["prompt"]


async def test_list_models_filters_by_media_type_mode_and_free_text(server: Any) -> None:
    async with Client(server) as client:
        images = structured(await client.call_tool("list_models", {"media_type": "image", "provider": "sandbox"}))
        assert [m["id"] for m in images["models"]] == ["sandbox/image"]
        i2v = structured(await client.call_tool("list_models", {"mode": "image-to-video", "limit": 500}))
        assert all("image-to-video" in m["modes"] for m in i2v["models"])
        ranked = structured(await client.call_tool("list_models", {"query": "sandbox video"}))
        assert ranked["models"][0]["id"] == "sandbox/video"
