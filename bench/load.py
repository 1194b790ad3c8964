"""N concurrent `generate` calls over streamable HTTP against a fake that takes 200 ms per request.

Floor: N concurrent raw httpx POSTs of the same submit to the same fake. Wall time of the whole burst, A then B,
run after run. Every run must end with no errors and N distinct task ids.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import httpx2
from mcp import Client, MCPError

from bench.clients import BenchError, generate, raw_client, raw_submit, streamable_http
from bench.procs import SERVER, fake_provider, http_server, spawn_env
from bench.report import Row
from bench.sizes import Sizes

LIMIT = 1.5


@dataclass
class Burst:
    seconds: float
    errors: int
    distinct: int


async def burst(call: Callable[[], Awaitable[str]], n: int) -> Burst:
    """Start `n` calls at once; the wall time until the last one ended, the errors, the distinct task ids."""
    ids: set[str] = set()
    errors: list[BaseException] = []

    async def one() -> None:
        try:
            ids.add(await call())
        except (BenchError, MCPError, httpx.HTTPError, httpx2.HTTPError) as exc:
            errors.append(exc)

    start = time.perf_counter()
    with anyio.fail_after(300):
        async with anyio.create_task_group() as group:
            for _ in range(n):
                group.start_soon(one)
    return Burst(time.perf_counter() - start, len(errors), len(ids))


async def run(sizes: Sizes, workdir: Path) -> list[Row]:
    n = sizes.concurrent
    async with fake_provider(latency=sizes.latency) as origin:
        with (workdir / "load-server.log").open("wb") as log:
            async with http_server(SERVER, spawn_env(workdir, origin), log) as url:
                async with streamable_http(url) as client, raw_client() as http:
                    server, floor = await _runs(client, http, origin, sizes)
    every = server + floor
    clean = all(b.errors == 0 and b.distinct == n for b in every)
    errors = sum(b.errors for b in server)
    distinct = sorted({b.distinct for b in server})
    row = Row(
        f"{n} concurrent generate, streamable HTTP, fake answering in {sizes.latency * 1000:.0f} ms",
        "s",
        [b.seconds for b in server],
        [b.seconds for b in floor],
        target=f"ratio <= {LIMIT:g}, no errors, {n} distinct ids",
        note=f"wall time; errors {errors}, distinct ids per run {distinct}; floor = {n} raw httpx POSTs",
        details={
            "errors": [b.errors for b in server],
            "distinct_ids": [b.distinct for b in server],
            "floor_errors": [b.errors for b in floor],
        },
    )
    row.met = clean and row.ratio is not None and row.ratio <= LIMIT
    return [row]


async def _runs(client: Client, http: httpx.AsyncClient, origin: str, sizes: Sizes) -> tuple[list[Burst], list[Burst]]:
    async def via_server() -> str:
        return str((await generate(client))["task_id"])

    async def direct() -> str:
        return await raw_submit(http, origin)

    n = sizes.concurrent
    await burst(via_server, n)  # warm-up: opens the connections of both sides, loads the catalog
    await burst(direct, n)
    server: list[Burst] = []
    floor: list[Burst] = []
    for _ in range(sizes.runs):  # A B A B ...
        server.append(await burst(via_server, n))
        floor.append(await burst(direct, n))
    return server, floor
