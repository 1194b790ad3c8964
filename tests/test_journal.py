from __future__ import annotations

import base64
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.base import Task, TaskError, TaskResult
from server.journal import IdempotencyConflict, Journal, JournalError, Record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    j = Journal(path)
    yield j
    j.close()


def task(native: str = "abc", status: str = "pending", **kw: object) -> Task:
    return Task.model_validate({"task_id": f"sandbox:{native}", "provider": "sandbox", "status": status, **kw})


def begin(j: Journal, key: str | None = None, prompt: str = "a red fox", **args: object) -> Record:
    return j.begin(provider="sandbox", model="sandbox/image", arguments={"prompt": prompt, **args}, idempotency_key=key)


def test_nothing_touches_the_disk_until_first_use(path: Path) -> None:
    j = Journal(path)
    assert not path.parent.exists()
    assert j.list() == []
    assert path.exists()
    j.close()


def test_the_database_is_in_wal_mode_with_a_versioned_schema(journal: Journal, path: Path) -> None:
    begin(journal)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_file_is_private_and_its_new_folder_too(journal: Journal, path: Path) -> None:
    begin(journal)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_existing_world_readable_file_is_tightened(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    j = Journal(path)
    j.list()
    j.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_begin_submitted_update_and_get_round_trip(journal: Journal) -> None:
    record = begin(journal, key="k1", seed=7)
    assert record.is_new and record.status == "submitting" and record.task_id is None
    assert record.arguments == {"prompt": "a red fox", "seed": 7}
    assert record.idempotency_key == "k1" and len(record.fingerprint) == 64

    after = journal.submitted(record.id, task("abc", "processing", credits_used=2.5, cost_unit="credits"))
    assert after.id == record.id
    assert after.task_id == "sandbox:abc" and after.status == "processing"
    assert after.credits_used == 2.5 and after.cost_unit == "credits"
    assert after.model == "sandbox/image"

    result = TaskResult(url="https://cdn/x.png", urls=["https://cdn/x.png", "https://cdn/y.png"], media_type="image")
    journal.update(task("abc", "completed", result=result, files=["/out/x.png"]))
    got = journal.get("sandbox:abc")
    assert got is not None
    assert got.status == "completed"
    assert got.result_urls == ["https://cdn/x.png", "https://cdn/y.png"]
    assert got.files == ["/out/x.png"]
    assert got.credits_used == 2.5  # a poll without cost keeps the recorded cost
    assert got.error is None
    assert got.created_at <= got.updated_at
    assert journal.get("sandbox:nope") is None
    assert journal.by_key("k1") == got
    assert journal.record(record.id) == got


def test_update_unions_files_and_urls_keeping_order(journal: Journal) -> None:
    record = begin(journal)
    journal.submitted(record.id, task("f", "processing", files=["/a.png"]))
    journal.update(task("f", "completed", files=["/b.png", "/a.png"], result=TaskResult(url="https://u/1")))
    journal.update(task("f", "completed", files=["/c.png"], result=TaskResult(urls=["https://u/2", "https://u/1"])))
    got = journal.get("sandbox:f")
    assert got is not None
    assert got.files == ["/a.png", "/b.png", "/c.png"]
    assert got.result_urls == ["https://u/1", "https://u/2"]


def test_a_stale_poll_does_not_reopen_a_finished_task(journal: Journal) -> None:
    journal.update(task("s", "failed", error=TaskError(code="nsfw", message="refused")))
    journal.update(task("s", "processing"))
    got = journal.get("sandbox:s")
    assert got is not None and got.status == "failed"
    assert got.error == {"code": "nsfw", "message": "refused", "retryable": False}


def test_update_of_an_unknown_task_id_inserts_a_record(journal: Journal) -> None:
    journal.update(task("elsewhere", "processing", model="sandbox/video"))
    got = journal.get("sandbox:elsewhere")
    assert got is not None
    assert got.status == "processing" and got.provider == "sandbox" and got.model == "sandbox/video"
    assert got.arguments == {} and got.idempotency_key is None


def test_submitted_folds_in_a_record_another_instance_created_for_the_same_task(journal: Journal) -> None:
    record = begin(journal)
    journal.update(task("dup", "processing", files=["/other.png"]))
    after = journal.submitted(record.id, task("dup", "processing"))
    assert after.id == record.id and after.files == ["/other.png"]
    assert [r.id for r in journal.list()] == [record.id]


def test_list_is_most_recent_first_with_status_filter_and_limit(journal: Journal) -> None:
    ids: list[int] = []
    for i in range(5):
        r = begin(journal, prompt=f"p{i}")
        journal.submitted(r.id, task(f"t{i}", "completed" if i % 2 else "processing"))
        ids.append(r.id)
    assert [r.id for r in journal.list()] == ids[::-1]
    assert [r.id for r in journal.list(limit=2)] == ids[:-3:-1]
    assert [r.id for r in journal.list(status="completed")] == [ids[3], ids[1]]
    assert [r.id for r in journal.list(status="processing", limit=1)] == [ids[4]]
    assert journal.list(status="uncertain") == []
    assert journal.list(limit=0) == []


def test_recover_marks_submitting_as_uncertain_and_a_restarted_instance_sees_it(path: Path) -> None:
    first = Journal(path)
    stuck = begin(first, key="crash")
    done = begin(first, prompt="other")
    first.submitted(done.id, task("ok", "processing"))
    first.close()  # the "crash": the POST's outcome was never written

    second = Journal(path)
    recovered = second.recover()
    assert [r.id for r in recovered] == [stuck.id]
    assert recovered[0].status == "uncertain" and recovered[0].error is not None
    assert second.recover() == []
    again = Journal(path)
    got = again.by_key("crash")
    assert got is not None and got.status == "uncertain"
    # The key stays taken: a retry gets the uncertain record back and must not submit again.
    retry = begin(again, key="crash")
    assert retry.id == stuck.id and not retry.is_new and retry.status == "uncertain"
    ok = again.get("sandbox:ok")
    assert ok is not None and ok.status == "processing"
    second.close()
    again.close()


def test_recover_can_leave_recent_submits_of_a_live_process_alone(journal: Journal) -> None:
    begin(journal)
    assert journal.recover(older_than=600) == []
    assert len(journal.recover()) == 1


def test_same_key_and_same_arguments_return_the_existing_record(journal: Journal) -> None:
    first = begin(journal, key="same", seed=1)
    journal.submitted(first.id, task("one", "processing"))
    second = begin(journal, key="same", seed=1)
    assert not second.is_new
    assert second.id == first.id and second.task_id == "sandbox:one"
    assert len(journal.list()) == 1


def test_same_key_with_different_arguments_raises_idempotency_conflict(journal: Journal) -> None:
    first = begin(journal, key="k", seed=1)
    with pytest.raises(IdempotencyConflict, match="different arguments") as info:
        begin(journal, key="k", seed=2)
    assert info.value.existing.id == first.id
    with pytest.raises(IdempotencyConflict):
        journal.begin(
            provider="sandbox", model="sandbox/video", arguments={"prompt": "a red fox", "seed": 1}, idempotency_key="k"
        )
    assert len(journal.list()) == 1


def test_submit_failed_frees_the_key_for_a_retry(journal: Journal) -> None:
    first = begin(journal, key="retry")
    journal.submit_failed(first.id, code="network", message="connection refused", uncertain=False)
    failed = journal.record(first.id)
    assert failed is not None and failed.status == "submit_failed" and failed.idempotency_key is None
    assert failed.error == {"code": "network", "message": "connection refused", "retryable": False}
    assert journal.by_key("retry") is None
    second = begin(journal, key="retry", seed=99)  # even with other arguments
    assert second.is_new and second.id != first.id


def test_an_uncertain_submit_keeps_the_key(journal: Journal) -> None:
    first = begin(journal, key="maybe")
    journal.submit_failed(first.id, code="timeout", message="read timed out", uncertain=True)
    again = begin(journal, key="maybe")
    assert again.id == first.id and again.status == "uncertain" and not again.is_new
    with pytest.raises(IdempotencyConflict):
        begin(journal, key="maybe", seed=5)


def test_begin_without_a_key_always_inserts(journal: Journal) -> None:
    a = begin(journal)
    b = begin(journal)
    assert a.id != b.id and a.is_new and b.is_new


def test_secrets_and_huge_strings_are_scrubbed(journal: Journal) -> None:
    image = base64.b64encode(b"\x89PNG" + b"\x00" * 6000).decode()
    arguments = {
        "prompt": "x" * 5000,
        "api_key": "sk-live-1",
        "Authorization": "Bearer abc",
        "image_urls": [f"data:image/png;base64,{image}", "https://example.com/a.png"],
        "extra": {"accessToken": "t", "client_secret": "s", "steps": 20, "nested": [{"x-api-key": "k", "n": 1}]},
    }
    record = journal.begin(provider="sandbox", model="m", arguments=arguments, idempotency_key=None)
    stored = record.arguments
    assert "api_key" not in stored and "Authorization" not in stored
    assert stored["extra"] == {"steps": 20, "nested": [{"n": 1}]}
    assert stored["image_urls"][0] == "data:image/png;base64,… (6004 bytes)"
    assert stored["image_urls"][1] == "https://example.com/a.png"
    assert len(stored["prompt"]) <= 2100 and stored["prompt"].startswith("xxx") and "5000 chars" in stored["prompt"]
    text = Path(journal.path).read_bytes() + Path(str(journal.path) + "-wal").read_bytes()
    for secret in (b"sk-live-1", b"Bearer abc", image[:100].encode()):
        assert secret not in text


def test_the_fingerprint_ignores_secrets_and_key_order_but_not_long_strings() -> None:
    fp = Journal.fingerprint
    assert fp("p", "m", {"a": 1, "b": [1, 2]}) == fp("p", "m", {"b": [1, 2], "a": 1})
    assert fp("p", "m", {"a": 1, "api_key": "x"}) == fp("p", "m", {"a": 1, "api_key": "y"})
    assert fp("p", "m", {"a": 1}) != fp("p", "m2", {"a": 1})
    assert fp("p", "m", {"img": "data:," + "a" * 3000}) != fp("p", "m", {"img": "data:," + "b" * 3000})


def test_to_summary_is_json_safe_and_short(journal: Journal) -> None:
    import json

    record = begin(journal, prompt="y" * 300)
    journal.submitted(record.id, task("sum", "completed", files=["/f.png"], credits_used=1.0))
    got = journal.get("sandbox:sum")
    assert got is not None
    summary = got.to_summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["prompt"] == "y" * 100 + "…"
    assert summary["created_at"].endswith("Z") and "T" in summary["created_at"]
    assert summary["task_id"] == "sandbox:sum" and summary["files"] == ["/f.png"] and summary["credits_used"] == 1.0
    assert set(summary) >= {"id", "status", "provider", "model", "updated_at", "result_urls", "error"}


@pytest.mark.parametrize("separate_connections", [False, True])
def test_ten_threads_beginning_with_one_key_make_exactly_one_record(path: Path, separate_connections: bool) -> None:
    shared = Journal(path)
    journals = [Journal(path) if separate_connections else shared for _ in range(10)]
    barrier = threading.Barrier(10)
    results: list[Record] = []
    errors: list[BaseException] = []

    def run(j: Journal) -> None:
        barrier.wait()
        try:
            results.append(begin(j, key="race"))
        except (JournalError, IdempotencyConflict) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(j,)) for j in journals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 10
    assert sum(r.is_new for r in results) == 1
    assert len({r.id for r in results}) == 1
    assert len(shared.list()) == 1
    for j in {id(j): j for j in journals}.values():
        j.close()


def test_a_closed_journal_refuses_further_use(path: Path) -> None:
    j = Journal(path)
    begin(j)
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.list()


def test_a_newer_schema_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(JournalError, match="schema version 99"):
        Journal(path).list()


def test_the_module_does_not_import_sqlite3_at_import_time() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", "import server.journal, sys; print('sqlite3' in sys.modules)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "False"
