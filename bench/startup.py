"""Start-up time (spawn to tools/list answer, stdio) and idle memory (RSS after tools/list), against the floor."""

from __future__ import annotations

from pathlib import Path

from bench.procs import FLOOR, SERVER, StartUp, spawn_env, spawn_until_tools_list
from bench.report import Row, ratio_row
from bench.sizes import Sizes


async def run(sizes: Sizes, workdir: Path) -> list[Row]:
    env = spawn_env(workdir)
    for module in (SERVER, FLOOR):  # warm-up: fills the byte-code cache and the page cache; not counted
        await spawn_until_tools_list(module, env)
    server: list[StartUp] = []
    floor: list[StartUp] = []
    for _ in range(sizes.runs):  # A B A B ...
        server.append(await spawn_until_tools_list(SERVER, env))
        floor.append(await spawn_until_tools_list(FLOOR, env))
    return [
        ratio_row(
            "start-up: spawn `python -m server` (stdio) to the tools/list answer",
            "s",
            [s.seconds for s in server],
            [f.seconds for f in floor],
            1.15,
        ),
        ratio_row(
            "idle memory: VmRSS after tools/list", "MB", [s.rss_mb for s in server], [f.rss_mb for f in floor], 1.2
        ),
    ]
