"""Shared helpers for the foundation tests."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

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
