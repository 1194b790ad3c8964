"""Bounded waits through real MCP clients: progress notifications, and a cancelled call that stops polling."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from providers.sandbox import SandboxProvider
from server.app import build_server
from tests.support import PROJECT_ROOT, make_settings, server_env, structured

pytestmark = pytest.mark.anyio


async def test_a_cancelled_wait_stops_polling_the_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    polls: list[float] = []
    original = SandboxProvider.fetch

    async def counting(self: SandboxProvider, native_id: str) -> Any:
        polls.append(anyio.current_time())
        return await original(self, native_id)

    monkeypatch.setattr(SandboxProvider, "fetch", counting)
    settings = make_settings(tmp_path, MEDIAGEN_SANDBOX_DELAY="60")
    async with Client(build_server(settings)) as client:
        task = structured(await client.call_tool("generate", {"model": "sandbox/image", "prompt": "slow"}))
        with anyio.move_on_after(1.5):
            await client.call_tool("get_task", {"task_id": task["task_id"], "wait_seconds": 40})
        seen = len(polls)
        await anyio.sleep(3)  # observing that nothing more happens takes time passing, not synchronisation
        assert len(polls) == seen
        again = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
    assert again["status"] in ("pending", "processing") and seen >= 2


async def test_progress_notifications_arrive_over_stdio(tmp_path: Path) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    env = server_env(tmp_path, MEDIAGEN_SANDBOX_DELAY="3")
    params = StdioServerParameters(command=sys.executable, args=["-m", "server"], cwd=str(PROJECT_ROOT), env=env)
    async with Client(params) as client:
        with anyio.fail_after(30):
            result = await client.call_tool(
                "generate",
                {"model": "sandbox/video", "prompt": "fox", "duration": 1, "wait_seconds": 20},
                progress_callback=on_progress,
            )
    task = structured(result)
    assert task["status"] == "completed" and task["files"]
    assert len(updates) >= 2 and updates[-1][0] == 100 and updates[-1][1] == 100
    assert all(a[0] <= b[0] for a, b in zip(updates, updates[1:], strict=False))


async def test_a_wait_never_outlives_its_budget(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, MEDIAGEN_SANDBOX_DELAY="60")
    async with Client(build_server(settings)) as client:
        task = structured(await client.call_tool("generate", {"model": "sandbox/image", "prompt": "slow"}))
        start = anyio.current_time()
        with anyio.fail_after(10):
            waited = structured(await client.call_tool("get_task", {"task_id": task["task_id"], "wait_seconds": 3}))
    assert anyio.current_time() - start <= 3.5
    assert waited["status"] in ("pending", "processing") and "get_task" in waited["next_action"]


class SilentProvider:
    """A provider that never reports a percentage."""

    name = "uniall"

    async def fetch(self, native_id: str) -> Any:
        from providers.base import Task

        return Task(task_id=f"uniall:{native_id}", provider="uniall", status="processing", poll_after_seconds=5)


async def test_without_provider_progress_a_heartbeat_of_elapsed_seconds_keeps_coming(tmp_path: Path) -> None:
    import httpx

    from providers.base import Task
    from server.service import Service

    updates: list[tuple[float, float | None, str]] = []

    async def on_progress(progress: float, total: float | None, message: str) -> None:
        updates.append((progress, total, message))

    settings = make_settings(tmp_path, UNIALL_API_KEY="sk-test-secret")
    async with httpx.AsyncClient() as client:
        service = Service(settings, client)
        service.providers.active["uniall"] = SilentProvider()  # type: ignore[assignment]
        task = Task(task_id="uniall:t1", provider="uniall", status="processing", poll_after_seconds=5)
        with anyio.fail_after(10):
            done = await service.wait(task, 5.5, on_progress)
    assert done.status == "processing"
    values = [u[0] for u in updates]
    assert len(values) >= 3 and values == sorted(set(values)) and all(u[1] is None for u in updates)
    assert "elapsed" in updates[-1][2]
