"""A durable task journal in SQLite, so the server never loses a task and never charges twice.

The flow around one `generate` call:

1. `begin()` writes a "submitting" record *before* the POST goes out. With an idempotency key it first looks
   the key up: same arguments -> the existing record comes back (`is_new` False) and the caller must not submit;
   different arguments -> `IdempotencyConflict`.
2. After the POST: `submitted()` with the provider's task, or `submit_failed()`: "uncertain" when the request may
   have reached the provider (the key stays taken, so a retry cannot charge twice), else "submit_failed" (the key
   is released so the caller may retry with it).
3. Every later poll: `update()` (by task id; unknown ids, e.g. from another server instance, are inserted).
4. On start: `recover()` turns every record left "submitting" by a crash into "uncertain"; it never resubmits.

`sqlite3` is imported lazily, on first use, to keep start-up fast. Every method is one short transaction, safe to
call from several threads; several processes may share one journal file (SQLite's locks, WAL, a busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from providers.base import Task

if TYPE_CHECKING:
    import sqlite3

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
MAX_STRING = 2000  # longer strings in stored arguments are cut (data: URIs become a short description)
MAX_LIST = 1000

SUBMITTING = "submitting"
UNCERTAIN = "uncertain"
SUBMIT_FAILED = "submit_failed"
TERMINAL = ("completed", "failed")

# Argument names containing any of these are dropped before anything is stored or fingerprinted.
_SECRET_PARTS = ("key", "token", "secret", "authorization", "password", "passwd", "credential", "cookie")

_COLUMNS = (
    "id, status, provider, model, task_id, arguments, idempotency_key, fingerprint, result_urls, files, "
    "credits_used, cost_unit, error, created_at, updated_at"
)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        status TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        task_id TEXT,
        arguments TEXT NOT NULL DEFAULT '{}',
        idempotency_key TEXT,
        fingerprint TEXT NOT NULL DEFAULT '',
        result_urls TEXT NOT NULL DEFAULT '[]',
        files TEXT NOT NULL DEFAULT '[]',
        credits_used REAL,
        cost_unit TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
    # submit_failed clears the key column, which is what frees a key for a retry.
    "CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency_key ON tasks(idempotency_key) "
    "WHERE idempotency_key IS NOT NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS tasks_task_id ON tasks(task_id) WHERE task_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS tasks_created ON tasks(created_at, id)",
    "CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status, created_at)",
)


class JournalError(Exception):
    """The journal could not be opened or written (disk, permissions, a newer schema, closed)."""


class IdempotencyConflict(Exception):
    """An idempotency key was reused with different arguments."""

    def __init__(self, key: str, existing: Record) -> None:
        self.key = key
        self.existing = existing
        what = f"task {existing.task_id}" if existing.task_id else f"journal record {existing.id} ({existing.status})"
        super().__init__(
            f"idempotency_key {key!r} was already used with different arguments (for {what}); "
            "send the exact same arguments to get that task back, or use a new idempotency_key"
        )


@dataclass(frozen=True)
class Record:
    id: int
    status: str  # "submitting" | "uncertain" | "submit_failed" | "pending" | "processing" | "completed" | "failed"
    provider: str
    model: str
    task_id: str | None
    arguments: dict[str, Any]
    idempotency_key: str | None
    fingerprint: str
    result_urls: list[str]
    files: list[str]
    credits_used: float | None
    cost_unit: str | None
    error: dict[str, Any] | None
    created_at: float
    updated_at: float
    # True only on the record `begin()` has just inserted; False when it returned an existing one.
    is_new: bool = field(default=False, compare=False)

    def to_summary(self) -> dict[str, Any]:
        """A JSON-safe dict for the list_tasks tool."""
        prompt = self.arguments.get("prompt")
        if isinstance(prompt, str):
            prompt = prompt if len(prompt) <= 100 else prompt[:100] + "…"
        else:
            prompt = None
        return {
            "id": self.id,
            "task_id": self.task_id,
            "status": self.status,
            "provider": self.provider,
            "model": self.model,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "files": list(self.files),
            "result_urls": list(self.result_urls),
            "error": dict(self.error) if self.error is not None else None,
            "credits_used": self.credits_used,
            "cost_unit": self.cost_unit,
            "prompt": prompt,
        }


class Journal:
    """The task journal at `path`; nothing touches the disk until the first call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    # --- public API -------------------------------------------------------------------------------------
    @staticmethod
    def fingerprint(provider: str, model: str, arguments: Mapping[str, Any]) -> str:
        """sha256 of the canonical JSON of provider, model and arguments (secret-named keys left out)."""
        body = {"provider": provider, "model": model, "arguments": _canonical(arguments, truncate=False)}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def begin(self, *, provider: str, model: str, arguments: Mapping[str, Any], idempotency_key: str | None) -> Record:
        """Insert a "submitting" record before the POST; with a known key, return that record instead (or raise)."""
        key = idempotency_key or None
        fingerprint = self.fingerprint(provider, model, arguments)
        stored = _dumps(_canonical(arguments, truncate=True))
        import sqlite3

        with self._write() as conn:
            if key is not None:
                existing = self._select_one(conn, "idempotency_key = ?", (key,))
                if existing is not None:
                    if existing.fingerprint != fingerprint:
                        raise IdempotencyConflict(key, existing)
                    return existing
            now = time.time()
            try:
                cursor = conn.execute(
                    "INSERT INTO tasks (status, provider, model, arguments, idempotency_key, fingerprint, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (SUBMITTING, provider, model, stored, key, fingerprint, now, now),
                )
            except sqlite3.IntegrityError as exc:  # cannot happen under BEGIN IMMEDIATE; kept as a guard
                raise JournalError(f"idempotency_key {key!r} is already taken") from exc
            record = self._select_one(conn, "id = ?", (cursor.lastrowid,))
        assert record is not None
        return replace(record, is_new=True)

    def submitted(self, record_id: int, task: Task) -> Record:
        """Record the provider's answer to the POST: task id, status, URLs, files, cost, error."""
        with self._write() as conn:
            record = self._select_one(conn, "id = ?", (record_id,))
            if record is None:
                raise JournalError(f"no journal record {record_id}")
            other = self._select_one(conn, "task_id = ? AND id != ?", (task.task_id, record_id))
            if other is not None:
                # Another instance saw this task id first (update() inserted a bare record): fold it into ours.
                conn.execute("DELETE FROM tasks WHERE id = ?", (other.id,))
                record = _merge_lists(record, other)
            self._apply(conn, record, task, force_status=True)
            updated = self._select_one(conn, "id = ?", (record_id,))
        assert updated is not None
        return updated

    def submit_failed(
        self, record_id: int, *, code: str, message: str, uncertain: bool, retryable: bool = False
    ) -> None:
        """The POST failed. `uncertain`: it may have reached the provider, so the key stays taken; else it is freed."""
        error = _dumps({"code": code, "message": message, "retryable": retryable})
        with self._write() as conn:
            if uncertain:
                conn.execute(
                    "UPDATE tasks SET status = ?, error = ?, updated_at = ? WHERE id = ? AND task_id IS NULL",
                    (UNCERTAIN, error, time.time(), record_id),
                )
            else:
                conn.execute(
                    "UPDATE tasks SET status = ?, error = ?, idempotency_key = NULL, updated_at = ? "
                    "WHERE id = ? AND task_id IS NULL",
                    (SUBMIT_FAILED, error, time.time(), record_id),
                )

    def update(self, task: Task) -> None:
        """Merge a fetched task into its record (by task id); insert a record for a task id never seen here."""
        with self._write() as conn:
            record = self._select_one(conn, "task_id = ?", (task.task_id,))
            if record is None:
                now = time.time()
                cursor = conn.execute(
                    "INSERT INTO tasks (status, provider, model, task_id, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (task.status, task.provider, task.model or "", task.task_id, now, now),
                )
                record = self._select_one(conn, "id = ?", (cursor.lastrowid,))
                assert record is not None
            self._apply(conn, record, task, force_status=False)

    def get(self, task_id: str) -> Record | None:
        return self._read("task_id = ?", (task_id,))

    def record(self, record_id: int) -> Record | None:
        return self._read("id = ?", (record_id,))

    def by_key(self, idempotency_key: str) -> Record | None:
        return self._read("idempotency_key = ?", (idempotency_key,))

    def list(self, *, status: str | None = None, limit: int = 20) -> list[Record]:
        """The most recent records first, optionally only those with `status`."""
        limit = max(0, min(int(limit), MAX_LIST))
        where, params = ("status = ?", (status,)) if status is not None else ("1 = 1", ())
        import sqlite3

        with self._lock:
            conn = self._connection()
            try:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM tasks WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?",
                    (*params, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"task journal {self.path}: {exc}") from exc
        return [_record(row) for row in rows]

    def recover(self, *, older_than: float = 0.0) -> list[Record]:
        """Turn every record still "submitting" (a crash mid-POST) into "uncertain" and return them. Never resubmits.

        When several server processes share the journal, pass `older_than` (seconds, longer than the submit
        timeout) so that another live process's in-flight submits are left alone.
        """
        cutoff = time.time() - max(0.0, older_than)
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM tasks WHERE status = ? AND updated_at <= ? ORDER BY id",
                (SUBMITTING, cutoff),
            ).fetchall()
            ids = [int(row[0]) for row in rows]
            now = time.time()
            error = _dumps(
                {
                    "code": "uncertain",
                    "message": "the server stopped while submitting; the provider may or may not have the task",
                    "retryable": False,
                }
            )
            conn.executemany(
                "UPDATE tasks SET status = ?, error = COALESCE(error, ?), updated_at = ? WHERE id = ?",
                [(UNCERTAIN, error, now, i) for i in ids],
            )
            recovered = [r for r in (self._select_one(conn, "id = ?", (i,)) for i in ids) if r is not None]
        return recovered

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    # --- internals --------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """The open connection (caller holds the lock); opened, and the file created, on first use."""
        if self._closed:
            raise JournalError("the task journal is closed")
        if self._conn is not None:
            return self._conn
        import sqlite3

        try:
            self._create_file()
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the task journal {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise JournalError(
                        f"the task journal {self.path} has schema version {version}, newer than this server's "
                        f"{SCHEMA_VERSION}; upgrade the server or point it to another data directory"
                    )
                if version < SCHEMA_VERSION:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(f"cannot open the task journal {self.path}: {exc}") from exc
        except JournalError:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _create_file(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        if os.name == "posix" and (os.stat(self.path).st_mode & 0o777) != 0o600:
            os.chmod(self.path, 0o600)

    @contextmanager
    def _write(self) -> Generator[sqlite3.Connection, None, None]:
        """One write transaction, taken with BEGIN IMMEDIATE so check-then-insert is atomic across processes."""
        import sqlite3

        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise JournalError(f"task journal {self.path}: {exc}") from exc

    def _read(self, where: str, params: tuple[Any, ...]) -> Record | None:
        import sqlite3

        with self._lock:
            conn = self._connection()
            try:
                return self._select_one(conn, where, params)
            except sqlite3.Error as exc:
                raise JournalError(f"task journal {self.path}: {exc}") from exc

    @staticmethod
    def _select_one(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> Record | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE {where} LIMIT 1", params).fetchone()
        return _record(row) if row is not None else None

    @staticmethod
    def _apply(conn: sqlite3.Connection, record: Record, task: Task, *, force_status: bool) -> None:
        status = task.status
        if not force_status and record.status in TERMINAL and status not in TERMINAL:
            status = record.status  # a stale poll must not reopen a finished task
        urls = list(task.result.urls) if task.result is not None else []
        if task.result is not None and task.result.url:
            urls.insert(0, task.result.url)
        if task.error is not None:
            error: dict[str, Any] | None = task.error.model_dump()
        else:
            error = record.error if status == "failed" else None
        conn.execute(
            "UPDATE tasks SET status = ?, task_id = ?, model = ?, result_urls = ?, files = ?, credits_used = ?, "
            "cost_unit = ?, error = ?, updated_at = ? WHERE id = ?",
            (
                status,
                task.task_id,
                record.model or task.model or "",
                _dumps(_union(record.result_urls, urls)),
                _dumps(_union(record.files, task.files)),
                task.credits_used if task.credits_used is not None else record.credits_used,
                task.cost_unit if task.cost_unit is not None else record.cost_unit,
                _dumps(error) if error is not None else None,
                time.time(),
                record.id,
            ),
        )


# --- helpers ----------------------------------------------------------------------------------------------
def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_PARTS)


def _canonical(value: Any, *, truncate: bool) -> Any:
    """A JSON-safe copy: secret-named keys dropped; with `truncate`, long strings cut and bytes described."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():  # pyright: ignore[reportUnknownVariableType]
            name = str(k)  # pyright: ignore[reportUnknownArgumentType]
            if not is_secret_name(name):
                out[name] = _canonical(v, truncate=truncate)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canonical(v, truncate=truncate) for v in value]  # pyright: ignore[reportUnknownVariableType]
        if isinstance(value, set | frozenset):
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    if isinstance(value, str):
        return _shorten(value) if truncate else value
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(cast("bytes | bytearray | memoryview[int]", value))
        return f"({len(data)} bytes)" if truncate else f"bytes:{hashlib.sha256(data).hexdigest()}"
    dump = getattr(value, "model_dump", None)  # a pydantic model
    if callable(dump):
        return _canonical(dump(), truncate=truncate)
    text = str(value)
    return _shorten(text) if truncate else text


def _shorten(text: str) -> str:
    if len(text) <= MAX_STRING:
        return text
    if text.startswith("data:") and "," in text[:200]:
        header, _, payload = text.partition(",")
        if header.endswith(";base64"):
            size = len(payload) * 3 // 4 - payload[-2:].count("=")
        else:
            size = len(payload.encode("utf-8"))
        return f"{header},… ({size} bytes)"
    return f"{text[: MAX_STRING - 40]}… ({len(text)} chars, truncated)"


def _union(first: list[str], second: list[str]) -> list[str]:
    out = list(first)
    seen = set(out)
    for item in second:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _merge_lists(record: Record, other: Record) -> Record:
    return replace(
        record, result_urls=_union(record.result_urls, other.result_urls), files=_union(record.files, other.files)
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _loads(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _record(row: tuple[Any, ...]) -> Record:
    return Record(
        id=int(row[0]),
        status=str(row[1]),
        provider=str(row[2]),
        model=str(row[3]),
        task_id=row[4],
        arguments=_as_dict(_loads(row[5], {})) or {},
        idempotency_key=row[6],
        fingerprint=str(row[7]),
        result_urls=_as_strings(_loads(row[8], [])),
        files=_as_strings(_loads(row[9], [])),
        credits_used=float(row[10]) if row[10] is not None else None,
        cost_unit=row[11],
        error=_as_dict(_loads(row[12], None)),
        created_at=float(row[13]),
        updated_at=float(row[14]),
    )


def _as_dict(value: Any) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _as_strings(value: Any) -> list[str]:
    return [str(v) for v in cast("list[Any]", value)] if isinstance(value, list) else []


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
