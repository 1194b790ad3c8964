"""get_task round trip on an in-flight task, over stdio and streamable HTTP, against the fake answering at once.

Floor, per run: the minimal server's trivial tool round trip (same transport) plus a raw httpx GET of the same task
from the same fake; both measured in the same run as the get_task calls (A, then B, run after run).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from mcp import Client

from bench.clients import generate, get_task, mean_seconds, ping, raw_client, raw_get, stdio, streamable_http
from bench.procs import FLOOR, SERVER, fake_provider, http_server, spawn_env
from bench.report import Row, ratio_row
from bench.sizes import Sizes

LIMIT = 1.25


async def run(sizes: Sizes, workdir: Path) -> list[Row]:
    async with fake_provider() as origin:
        env = spawn_env(workdir, origin)
        rows: list[Row] = []
        for transport in ("stdio", "streamable HTTP"):
            async with _pair(transport, env, workdir) as (server, floor):
                rows.append(await _compare(transport, server, floor, origin, sizes))
        return rows


@asynccontextmanager
async def _pair(transport: str, env: dict[str, str], workdir: Path) -> AsyncGenerator[tuple[Client, Client]]:
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            errlog = stack.enter_context((workdir / "stdio-servers.log").open("w"))
            server = await stack.enter_async_context(stdio(SERVER, env, errlog))
            floor = await stack.enter_async_context(stdio(FLOOR, env, errlog))
        else:
            log = stack.enter_context((workdir / "http-servers.log").open("wb"))
            server_url = await stack.enter_async_context(http_server(SERVER, env, log))
            floor_url = await stack.enter_async_context(http_server(FLOOR, env, log))
            server = await stack.enter_async_context(streamable_http(server_url))
            floor = await stack.enter_async_context(streamable_http(floor_url))
        yield server, floor


async def _compare(transport: str, server: Client, floor: Client, origin: str, sizes: Sizes) -> Row:
    task_id = (await generate(server))["task_id"]
    url = f"{origin}/v1/video/generations/{task_id.split(':', 1)[1]}"
    a: list[float] = []
    b: list[float] = []
    async with raw_client() as http:
        for _ in range(2):  # warm-up: connections, caches, first-call imports
            await get_task(server, task_id)
            await ping(floor)
            await raw_get(http, url)
        for _ in range(sizes.runs):  # A B A B ...
            a.append(await mean_seconds(lambda: get_task(server, task_id), sizes.calls))
            trivial = await mean_seconds(lambda: ping(floor), sizes.calls)
            b.append(trivial + await mean_seconds(lambda: raw_get(http, url), sizes.calls))
    ms = 1000.0
    return ratio_row(
        f"get_task round trip (in-flight task), {transport}",
        "ms",
        [x * ms for x in a],
        [x * ms for x in b],
        LIMIT,
        note=f"mean of {sizes.calls} calls per run; floor = trivial tool + raw GET",
    )
