"""Memory after many generate + get_task cycles through an in-process `Client(server)`, against the fake.

The cycles run in a child process of their own (`python -m bench.soak`), so its RSS holds nothing but the server,
the client and the cycles: not the fake (a third process), and not what earlier benchmarks left behind. The tasks
stay in flight, so get_task asks the provider every time (a completed task would be answered from disk).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from bench.clients import generate, get_task
from bench.procs import PROJECT_ROOT, fake_provider, provider_env, rss_mb, server_settings
from bench.report import Row
from bench.sizes import Sizes

LIMIT_MB = 20.0
SAMPLES = 10


async def run(sizes: Sizes, workdir: Path) -> list[Row]:
    async with fake_provider() as origin:
        result = await _child(origin, sizes, workdir)
    growth = result["final_mb"] - result["baseline_mb"]
    trend = ", ".join(f"{s:.0f}" for s in result["samples_mb"])
    row = Row(
        f"memory after {sizes.cycles} generate + get_task cycles (in-process Client)",
        "MB",
        [result["final_mb"]],
        [result["baseline_mb"]],
        target=f"growth < {LIMIT_MB:g} MB",
        met=growth < LIMIT_MB,
        note=f"growth {growth:.1f} MB; floor = RSS after {sizes.baseline_cycles}; RSS trend (MB): {trend}; "
        f"{result['seconds']:.0f} s, {result['cycles_per_second']:.0f} cycles/s",
        details={"growth_mb": growth, **result},
    )
    return [row]


async def _child(origin: str, sizes: Sizes, workdir: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        "--origin",
        origin,
        "--cycles",
        str(sizes.cycles),
        "--baseline",
        str(sizes.baseline_cycles),
        "--workdir",
        str(workdir / "soak"),
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "XDG_DATA_HOME": str(workdir / "data")}
    with (workdir / "soak.log").open("wb") as log:
        done = await anyio.run_process(command, cwd=PROJECT_ROOT, env=env, stderr=log, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


async def soak(origin: str, cycles: int, baseline: int, workdir: Path) -> dict[str, Any]:
    from server.app import build_server
    from server.config import Settings

    env = {**provider_env(origin), **server_settings(workdir)}
    every = max(1, cycles // SAMPLES)
    samples: list[float] = []
    base = 0.0
    start = time.perf_counter()
    async with Client(build_server(Settings.from_env(env))) as client:
        for i in range(1, cycles + 1):
            await get_task(client, (await generate(client))["task_id"])
            if i == baseline:
                base = _settled_rss()
            if i % every == 0:
                samples.append(_settled_rss())
        final = _settled_rss()
    seconds = time.perf_counter() - start
    return {
        "baseline_mb": base,
        "final_mb": final,
        "samples_mb": samples,
        "seconds": seconds,
        "cycles_per_second": cycles / seconds,
    }


def _settled_rss() -> float:
    gc.collect()
    return rss_mb()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--origin", required=True)
    parser.add_argument("--cycles", type=int, required=True)
    parser.add_argument("--baseline", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    result = anyio.run(soak, args.origin, args.cycles, args.baseline, args.workdir)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
