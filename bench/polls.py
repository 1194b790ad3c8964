"""The provider polls one `get_task(wait_seconds=45)` makes on a task that finishes 30 s after its submit.

The real UniAll adapter (in an in-process server) talks to the UniAll fake wrapped in `TimedCompletion`, which
logs each poll with its time. No floor: the polls are counted, and the gaps between them compared with UniAll's
guidance (5 s).
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
from mcp import Client

from bench.clients import BenchError, generate, get_task
from bench.fake_provider import serve, timed
from bench.procs import provider_env, server_settings
from bench.report import Row
from bench.sizes import UNIALL_POLL_GUIDANCE, Sizes

MAX_POLLS = 10


async def run(sizes: Sizes, workdir: Path) -> list[Row]:
    from server.app import build_server
    from server.config import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the in-process server would log every request
    fake = timed(sizes.done_after)
    with serve(fake) as origin:
        env = {**provider_env(origin), **server_settings(workdir)}
        async with Client(build_server(Settings.from_env(env))) as client:
            task_id = (await generate(client))["task_id"]
            with anyio.fail_after(sizes.wait_seconds + 30):
                task = await get_task(client, task_id, sizes.wait_seconds)
    if task["status"] != "completed":
        raise BenchError(f"the task should have finished within the wait, got {task['status']}")
    native = task_id.split(":", 1)[1]
    times = [t for n, t in fake.polls if n == native]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    closest = min(gaps) if gaps else float("inf")
    span = times[-1] - fake.submitted[native] if times else 0.0
    row = Row(
        f"provider polls in one get_task(wait_seconds={sizes.wait_seconds:g}), task done after {sizes.done_after:g} s",
        "polls",
        [float(len(times))],
        target=f"<= {MAX_POLLS} polls, gaps >= {UNIALL_POLL_GUIDANCE:g} s",
        met=len(times) <= MAX_POLLS and closest >= UNIALL_POLL_GUIDANCE,
        note=f"closest gap {closest:.2f} s; last poll {span:.1f} s after submit; status {task['status']}; "
        f"gaps (s): {', '.join(f'{g:.2f}' for g in gaps)}",
        details={"status": task["status"], "gaps": gaps, "last_poll_after_submit": span},
    )
    return [row]
