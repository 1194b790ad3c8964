"""Real transports: a `python -m server` stdio subprocess and a streamable-HTTP server on a loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.support import PROJECT_ROOT, http_server, server_env, structured

pytestmark = pytest.mark.anyio


async def poll_to_end(client: Client, task: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(20):
        while task["status"] not in ("completed", "failed"):
            await anyio.sleep(task["poll_after_seconds"])
            task = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
    return task


async def test_over_stdio_the_tools_are_listed_and_a_2_second_video_is_made(tmp_path: Path) -> None:
    import av

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "server"], cwd=str(PROJECT_ROOT), env=server_env(tmp_path)
    )
    async with Client(params) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"generate", "get_task", "list_models", "list_tasks"}
        assert tools["generate"].input_schema["properties"]["duration"]["type"] == "number"
        task = structured(
            await client.call_tool("generate", {"model": "sandbox/video", "prompt": "fox", "duration": 2})
        )
        assert task["task_id"].startswith("sandbox:")
        task = await poll_to_end(client, task)
        bad = await client.call_tool("generate", {"model": "nope/x", "prompt": "x"})
        assert bad.is_error
    assert task["status"] == "completed"
    with av.open(task["files"][0]) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert stream.codec_context.name == "h264" and abs(frames / 12 - 2) < 0.2


def test_stdout_carries_only_json_rpc_even_after_garbage_input(tmp_path: Path) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        "this is not json",
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "list_models", "arguments": {"provider": "sandbox"}},
        },
    ]
    lines = "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=PROJECT_ROOT,
        env=server_env(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(lines.encode())
    proc.stdin.flush()
    answers: dict[int, Any] = {}
    try:
        while len(answers) < 3:
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode() if proc.stderr else ""
            message = json.loads(line)
            assert message["jsonrpc"] == "2.0"
            if "id" in message:
                answers[message["id"]] = message
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert {t["name"] for t in answers[2]["result"]["tools"]} == {"generate", "get_task", "list_models", "list_tasks"}
    assert answers[3]["result"]["structuredContent"]["models"]


@asynccontextmanager
async def http_client(url: str, token: str | None = None) -> AsyncIterator[Client]:
    import httpx2

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
            yield client


async def test_over_streamable_http_the_sandbox_flow_works(tmp_path: Path) -> None:
    with http_server(tmp_path) as url:
        async with http_client(url) as client:
            task = structured(await client.call_tool("generate", {"model": "sandbox/image", "prompt": "x"}))
            task = await poll_to_end(client, task)
    assert task["status"] == "completed"


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_a_wrong_host_header_is_refused_and_the_server_stays_up(tmp_path: Path) -> None:
    with http_server(tmp_path) as url:
        async with httpx.AsyncClient() as raw:
            evil = await raw.post(url + "/mcp", json=INIT, headers={**HEADERS, "Host": "evil.example:80"})
            origin = await raw.post(url + "/mcp", json=INIT, headers={**HEADERS, "Origin": "https://evil.example"})
            ok = await raw.post(url + "/mcp", json=INIT, headers=HEADERS)
    assert evil.status_code == 421 and origin.status_code == 403 and ok.status_code == 200


async def test_with_a_token_set_a_missing_or_wrong_token_is_refused(tmp_path: Path) -> None:
    with http_server(tmp_path, MEDIAGEN_HTTP_TOKEN="s3cret-token") as url:
        async with httpx.AsyncClient() as raw:
            missing = await raw.post(url + "/mcp", json=INIT, headers=HEADERS)
            wrong = await raw.post(url + "/mcp", json=INIT, headers={**HEADERS, "Authorization": "Bearer nope"})
        assert missing.status_code == 401 and wrong.status_code == 401
        assert "s3cret" not in missing.text
        async with http_client(url, "s3cret-token") as client:
            assert len((await client.list_tools()).tools) == 4


def test_binding_beyond_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server", "--transport", "streamable-http", "--host", "0.0.0.0", "--port", "1"],
        cwd=PROJECT_ROOT,
        env=server_env(tmp_path),
        capture_output=True,
        timeout=30,
    )
    assert done.returncode != 0 and b"MEDIAGEN_HTTP_TOKEN" in done.stderr and done.stdout == b""


async def test_an_oversize_body_is_refused_with_413_and_the_server_stays_up(tmp_path: Path) -> None:
    with http_server(tmp_path) as url:
        async with httpx.AsyncClient() as raw:
            huge = {**INIT, "params": {**INIT["params"], "padding": "x" * (5 * 1024 * 1024)}}
            big = await raw.post(url + "/mcp", json=huge, headers=HEADERS)
            ok = await raw.post(url + "/mcp", json=INIT, headers=HEADERS)
    assert big.status_code == 413 and ok.status_code == 200


async def test_one_client_cannot_hold_more_than_its_share_of_slots() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from server.http_auth import HttpGuard

    release = anyio.Event()
    first_reply = anyio.Event()
    active = 0
    peak = 0

    async def slow(request: Any) -> PlainTextResponse:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        return PlainTextResponse("ok")

    guard = HttpGuard(Starlette(routes=[Route("/", slow, methods=["POST"])]), None, max_active=2, max_waiting=1)
    transport = httpx.ASGITransport(app=guard)
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        async def call() -> None:
            statuses.append((await client.post("/")).status_code)
            first_reply.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(call)
                await first_reply.wait()  # the fourth request was refused while two run and one waits
                release.set()
    assert peak == 2 and sorted(statuses) == [200, 200, 200, 429]


async def test_over_sse_the_tools_are_listed_and_called(tmp_path: Path) -> None:
    from mcp.client.sse import sse_client

    with http_server(tmp_path, transport="sse") as url:
        async with Client(sse_client(url + "/sse")) as client:
            assert len((await client.list_tools()).tools) == 4
            listing = structured(await client.call_tool("list_models", {"provider": "sandbox"}))
    assert {m["id"] for m in listing["models"]} == {"sandbox/image", "sandbox/video"}
