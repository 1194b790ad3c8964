"""MCP and raw HTTP clients for the benchmarks, and the calls they time."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TextIO, cast

import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from bench.fake_provider import API_KEY, SUBMIT_PATH
from bench.procs import PROJECT_ROOT
from bench.sizes import MODEL, NATIVE_MODEL, PROMPT

# No pool limit, so the benchmark's own clients never queue a call. Idle connections are dropped after 2 s, before
# uvicorn's 5 s keep-alive timeout closes them on the server side: reusing a connection the server is closing at that
# moment is a ReadError, which ends a whole MCP client session.
UNBOUNDED: dict[str, Any] = {"max_connections": None, "max_keepalive_connections": None, "keepalive_expiry": 2.0}
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class BenchError(RuntimeError):
    """A call that a benchmark expected to succeed did not."""


@asynccontextmanager
async def stdio(module: tuple[str, ...], env: dict[str, str], errlog: TextIO) -> AsyncGenerator[Client]:
    params = StdioServerParameters(command=sys.executable, args=list(module), cwd=str(PROJECT_ROOT), env=env)
    async with Client(stdio_client(params, errlog=errlog)) as client:
        yield client


@asynccontextmanager
async def streamable_http(url: str) -> AsyncGenerator[Client]:
    """A streamable-HTTP client whose own connection pool never limits the benchmark."""
    async with httpx2.AsyncClient(limits=httpx2.Limits(**UNBOUNDED), timeout=httpx2.Timeout(120)) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


def raw_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=httpx.Limits(**UNBOUNDED), timeout=httpx.Timeout(120), headers=AUTH)


def structured(result: CallToolResult) -> dict[str, Any]:
    content: Any = result.structured_content
    if result.is_error or not isinstance(content, dict):
        raise BenchError(f"the tool call failed: {result.content}")
    return cast(dict[str, Any], content)


async def generate(client: Client) -> dict[str, Any]:
    return structured(await client.call_tool("generate", {"model": MODEL, "prompt": PROMPT}))


async def get_task(client: Client, task_id: str, wait_seconds: float = 0) -> dict[str, Any]:
    args: dict[str, Any] = {"task_id": task_id}
    if wait_seconds:
        args["wait_seconds"] = wait_seconds
    task = structured(await client.call_tool("get_task", args))
    if task["status"] == "failed":
        raise BenchError(f"the task failed: {task.get('error')}")
    return task


async def ping(client: Client) -> None:
    structured(await client.call_tool("ping", {}))


async def raw_get(http: httpx.AsyncClient, url: str) -> None:
    (await http.get(url)).raise_for_status()


async def raw_submit(http: httpx.AsyncClient, origin: str) -> str:
    """What the UniAll adapter sends for `generate`, sent straight to the fake; returns the task id."""
    response = await http.post(origin + SUBMIT_PATH, json={"model": NATIVE_MODEL, "prompt": PROMPT})
    response.raise_for_status()
    return str(response.json()["id"])


async def mean_seconds(call: Callable[[], Awaitable[Any]], times: int) -> float:
    """The mean wall time of `times` calls made one after another."""
    start = time.perf_counter()
    for _ in range(times):
        await call()
    return (time.perf_counter() - start) / times
