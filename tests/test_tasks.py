"""The task journal behind the tools: repeat-safe generate, list_tasks, answers from the journal, recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.journal import Journal
from tests.fakes import mountsea as mountsea_fake
from tests.fakes.loopback import Recorder, serve
from tests.support import generate_and_poll, make_settings, poll_to_end, structured

pytestmark = pytest.mark.anyio
KEY = "sk-test-secret"


def mountsea_settings(tmp_path: Path, origin: str) -> Any:
    return make_settings(tmp_path, MOUNTSEA_API_KEY=KEY, MOUNTSEA_BASE_URL=origin, MEDIAGEN_ALLOW_PRIVATE_URLS="1")


async def test_a_repeated_idempotency_key_returns_the_first_task_without_a_second_submit(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(mountsea_fake.make_app(recorder)) as origin:
        async with Client(build_server(mountsea_settings(tmp_path, origin))) as client:
            args = {"model": "mountsea/veo-3.1", "prompt": "a tide pool", "idempotency_key": "job-1"}
            first = structured(await client.call_tool("generate", args))
            again = structured(await client.call_tool("generate", args))
            other = await client.call_tool("generate", {**args, "prompt": "something else"})
    assert again["task_id"] == first["task_id"]
    assert len(recorder.matching("POST", "/hub/v1/video")) == 1
    assert other.is_error and other.structured_content["error"]["field"] == "idempotency_key"


async def test_list_tasks_finds_tasks_again_newest_first_and_by_status(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, MEDIAGEN_SANDBOX_DELAY="0")
    async with Client(build_server(settings)) as client:
        done = await generate_and_poll(client, {"model": "sandbox/image", "prompt": "first"})
        await generate_and_poll(client, {"model": "sandbox/image", "prompt": "second [fail]"})
        listed = structured(await client.call_tool("list_tasks", {}))["tasks"]
        completed = structured(await client.call_tool("list_tasks", {"status": "completed"}))["tasks"]
    assert [t["prompt"] for t in listed] == ["second [fail]", "first"]
    assert listed[0]["status"] == "failed" and listed[1]["files"] == done[-1]["files"]
    assert [t["task_id"] for t in completed] == [done[-1]["task_id"]]


async def test_a_finished_saved_task_is_answered_from_the_journal_without_asking_the_provider(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(mountsea_fake.make_app(recorder)) as origin:
        settings = mountsea_settings(tmp_path, origin)
        async with Client(build_server(settings)) as client:
            seen = await generate_and_poll(client, {"model": "mountsea/veo-3.1", "prompt": "dunes"})
            task = seen[-1]
            if not task["files"]:
                task = (await poll_to_end(client, task))[-1]
        polls = len(recorder.matching("GET", "/hub/v1/tasks"))
        async with Client(build_server(settings)) as client:  # a restart
            again = structured(await client.call_tool("get_task", {"task_id": task["task_id"]}))
    assert again["status"] == "completed" and again["files"] == task["files"]
    assert again["model"] == "mountsea/veo-3.1"
    assert len(recorder.matching("GET", "/hub/v1/tasks")) == polls


async def test_a_submit_cut_off_by_a_crash_is_reported_uncertain_on_the_next_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    journal = Journal(settings.db_path)
    journal.begin(provider="mountsea", model="mountsea/veo-3.1", arguments={"prompt": "x"}, idempotency_key="k1")
    journal.close()
    async with Client(build_server(settings)) as client:
        listed = structured(await client.call_tool("list_tasks", {"status": "uncertain"}))["tasks"]
        retry = await client.call_tool("generate", {"model": "sandbox/image", "prompt": "x", "idempotency_key": "k1"})
    assert [t["model"] for t in listed] == ["mountsea/veo-3.1"]
    assert retry.is_error  # the same key with other arguments: never silently resubmitted


async def test_a_journal_record_is_written_before_the_submit_and_completed_after(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(mountsea_fake.make_app(recorder)) as origin:
        settings = mountsea_settings(tmp_path, origin)
        async with Client(build_server(settings)) as client:
            task = structured(
                await client.call_tool("generate", {"model": "mountsea/veo-3.1", "prompt": "cliffs", "duration": 8})
            )
    records = Journal(settings.db_path).list()
    assert len(records) == 1 and records[0].task_id == task["task_id"]
    assert records[0].arguments == {"model": "mountsea/veo-3.1", "prompt": "cliffs", "duration": 8}
    assert KEY not in repr(records[0])
