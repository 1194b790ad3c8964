"""Spawning what is measured: the server and the floor over stdio or streamable HTTP, and the fake provider."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
import httpx
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from bench.fake_provider import API_KEY

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER = ("-m", "server")
FLOOR = ("-m", "bench.floor_server")
# Byte-code caches for the spawned processes live here, outside the repository, so a spawn measures an installed
# server (pip compiles byte code on install) even where PYTHONDONTWRITEBYTECODE is set, as it is on this machine.
PYCACHE = Path(tempfile.gettempdir()) / "mediagen-bench-pycache"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def spawn_env(workdir: Path, origin: str | None = None) -> dict[str, str]:
    """The environment of every spawned server (the real one and the floor alike)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
            "XDG_DATA_HOME": str(workdir / "data"),  # whatever the server keeps in its data dir stays in workdir
        }
    )
    env.update(server_settings(workdir))
    if origin is not None:
        env.update(provider_env(origin))
    return env


def server_settings(workdir: Path) -> dict[str, str]:
    """MEDIAGEN_* settings that keep everything a server writes (results, task journal) inside `workdir`."""
    (workdir / "inputs").mkdir(parents=True, exist_ok=True)
    return {
        "MEDIAGEN_OUTPUT_DIR": str(workdir / "out"),
        "MEDIAGEN_ALLOWED_DIRS": str(workdir / "inputs"),
        "MEDIAGEN_DB": str(workdir / "tasks.db"),
    }


def provider_env(origin: str) -> dict[str, str]:
    """What points the server at the fake UniAll."""
    return {"UNIALL_API_KEY": API_KEY, "UNIALL_BASE_URL": origin, "MEDIAGEN_ALLOW_PRIVATE_URLS": "1"}


def rss_mb(pid: int | str = "self") -> float:
    """VmRSS of a process, in MB (10^6 bytes), from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise LookupError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StartUp:
    seconds: float
    rss_mb: float


async def spawn_until_tools_list(module: tuple[str, ...], env: dict[str, str]) -> StartUp:
    """Spawn `python <module>` on stdio, pipeline initialize + tools/list, time until the tools/list answer."""
    lines = b"".join(json.dumps(m).encode() + b"\n" for m in (INITIALIZE, INITIALIZED, TOOLS_LIST))
    with anyio.fail_after(60):
        start = time.perf_counter()
        process = await anyio.open_process(
            [sys.executable, *module], cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL
        )
        async with process:
            assert process.stdin is not None and process.stdout is not None
            await process.stdin.send(lines)
            await _answer(BufferedByteReceiveStream(process.stdout), 2)
            elapsed = time.perf_counter() - start
            rss = rss_mb(process.pid)
            await process.stdin.aclose()
            await process.wait()
    return StartUp(elapsed, rss)


async def _answer(stream: BufferedByteReceiveStream, request_id: int) -> dict[str, Any]:
    while True:
        message = json.loads(await stream.receive_until(b"\n", 16 * 1024 * 1024))
        if message.get("id") == request_id:
            if "result" not in message:
                raise RuntimeError(f"the server answered {request_id} with {message}")
            return message


@asynccontextmanager
async def http_server(module: tuple[str, ...], env: dict[str, str], log: IO[bytes]) -> AsyncGenerator[str]:
    """Serve `python <module> --transport streamable-http` on a free loopback port; yields its `/mcp` URL."""
    port = free_port()
    command = [sys.executable, *module, "--transport", "streamable-http", "--port", str(port)]
    process = await anyio.open_process(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        await _until_listening(url, process)
        yield url
    finally:
        await _stop(process)


async def _until_listening(url: str, process: Process) -> None:
    """A readiness probe: connect until the port answers (bounded), failing at once if the server exits.

    The server gives no ready signal (it binds inside uvicorn and logs nothing at level warning), so this polls the
    port every 20 ms, as tests/test_transports.py does; nothing waits a guessed time for something to happen.
    """
    with anyio.fail_after(60):
        async with httpx.AsyncClient() as client:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"the server exited with {process.returncode} before listening")
                try:
                    await client.get(url)
                    return
                except httpx.TransportError:
                    await anyio.sleep(0.02)


async def _stop(process: Process) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 15 s."""
    if process.returncode is None:
        process.terminate()
    with anyio.move_on_after(15, shield=True):
        await process.wait()
    if process.returncode is None:
        process.kill()
        with anyio.fail_after(15, shield=True):
            await process.wait()


@asynccontextmanager
async def fake_provider(latency: float = 0.0) -> AsyncGenerator[str]:
    """The UniAll fake in its own process (tasks stay in flight); yields its origin."""
    command = [sys.executable, "-m", "bench.fake_provider", "--latency", str(latency)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = await anyio.open_process(command, cwd=PROJECT_ROOT, env=env)
    try:
        assert process.stdout is not None
        with anyio.fail_after(60):
            origin = (await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 200)).decode().strip()
        yield origin
    finally:
        if process.stdin is not None:
            await process.stdin.aclose()
        await _stop_after_eof(process)


async def _stop_after_eof(process: Process) -> None:
    with anyio.move_on_after(15, shield=True):
        await process.wait()
    await _stop(process)
