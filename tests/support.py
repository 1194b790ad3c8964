"""Shared helpers for the foundation tests."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import httpx

from server.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def png_bytes(width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_settings(tmp_path: Path, **env: str) -> Settings:
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    base = {
        "MEDIAGEN_OUTPUT_DIR": str(tmp_path / "out"),
        "MEDIAGEN_ALLOWED_DIRS": str(inputs),
        "MEDIAGEN_SANDBOX_DELAY": "0.4",
        "MEDIAGEN_DB": str(tmp_path / "tasks.db"),
    }
    return Settings.from_env({**base, **env})


class NoNetwork:
    """An httpx transport that records and refuses every request (proves validation happens before HTTP)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(599, json={"error": "the test forbids network access"})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    (tmp_path / "inputs").mkdir(exist_ok=True)
    env.update(
        {
            "MEDIAGEN_OUTPUT_DIR": str(tmp_path / "out"),
            "MEDIAGEN_ALLOWED_DIRS": str(tmp_path / "inputs"),
            "MEDIAGEN_SANDBOX_DELAY": "0.5",
            "MEDIAGEN_DB": str(tmp_path / "tasks.db"),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    env.update(extra)
    return env


def python() -> str:
    return sys.executable


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


async def poll_to_end(client: Any, task: dict[str, Any]) -> list[dict[str, Any]]:
    """Call get_task until the task ends (the fakes advance one step per poll); every task object seen, in order."""
    seen = [task]
    while task["status"] not in ("completed", "failed"):
        task = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
        seen.append(task)
    return seen


async def generate_and_poll(client: Any, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """generate, then poll to the end; every task object seen, in order."""
    return await poll_to_end(client, structured(await client.call_tool("generate", arguments)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server(
    tmp_path: Path, *args: str, transport: str = "streamable-http", stderr: Path | None = None, **env: str
) -> Iterator[str]:
    """`python -m server` over an HTTP transport on a free loopback port; its stderr goes to `stderr` if given."""
    port = free_port()
    with open(stderr or os.devnull, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--transport", transport, "--port", str(port), *args],
            cwd=PROJECT_ROOT,
            env=server_env(tmp_path, **env),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        with anyio.from_thread.start_blocking_portal() as portal:
            portal.call(_wait_until_up, url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(20):
        async with httpx.AsyncClient() as client:
            while True:
                assert proc.poll() is None, "server exited"
                try:
                    await client.post(url + "/mcp")
                    return
                except httpx.TransportError:
                    await anyio.sleep(0.05)
