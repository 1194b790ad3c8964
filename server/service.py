"""The logic behind the tools, as plain async functions over injected dependencies (no MCP here)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx

from providers import registry
from providers.base import GenerateRequest, ModelSpec, Provider, Task, TaskError, TaskResult
from providers.errors import (
    InvalidArgument,
    MediagenError,
    NotFoundError,
    UncertainSubmitError,
    UpstreamError,
)

from .config import Settings
from .downloads import Downloader, DownloadJob, media_of, saved_files
from .files import InputPolicy
from .guidance import MAX_WAIT_SECONDS, POLL_DEFAULT, POLL_FLOOR, next_action
from .journal import IdempotencyConflict, Journal, Record
from .models import Providers

log = logging.getLogger("mediagen")

HEARTBEAT = 2.0  # seconds between progress notifications while waiting on a provider that reports no progress
DOWNLOAD_BUDGET = 20.0  # seconds a call waits for a result download before leaving it to the background
_TASK_ID = re.compile(r"^([a-z][a-z0-9]*):([A-Za-z0-9][A-Za-z0-9._\-]{0,199})$")

Progress = Callable[[float, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class GenerateArgs:
    model: str
    prompt: str | None = None
    image_urls: list[str] = field(default_factory=lambda: [])
    reference_image_urls: list[str] = field(default_factory=lambda: [])
    reference_video_urls: list[str] = field(default_factory=lambda: [])
    reference_audio_urls: list[str] = field(default_factory=lambda: [])
    video_url: str | None = None
    audio_setting: str | None = None
    duration: float | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    output_format: str | None = None
    audio: bool | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=lambda: {})
    wait_seconds: float = 0
    idempotency_key: str | None = None


class Service:
    def __init__(
        self, settings: Settings, client: httpx.AsyncClient, background: anyio.abc.TaskGroup | None = None
    ) -> None:
        self.settings = settings
        self.client = client
        self.background = background
        self.policy = InputPolicy(settings.allowed_dirs, settings.max_upload_bytes)
        self.downloader = Downloader(client, settings.output_dir, allow_private=settings.allow_private_urls)
        self.providers = Providers(settings, client)
        self._downloads: dict[str, DownloadJob] = {}
        self._submitting: dict[str, anyio.Event] = {}
        self._journalled: dict[str, tuple[Any, ...]] = {}
        self.journal = Journal(settings.db_path)
        self.download_budget = DOWNLOAD_BUDGET

    def provider(self, name: str) -> Provider:
        return self.providers.get(name)

    def build_request(self, args: GenerateArgs) -> GenerateRequest:
        prompt = args.prompt
        if prompt is not None and "\x00" in prompt:
            raise InvalidArgument("prompt", "must not contain NUL characters")
        image = self.policy.image
        remote = self.policy.remote
        return GenerateRequest(
            prompt=prompt,
            image_urls=tuple(image(f"image_urls[{i}]", v) for i, v in enumerate(args.image_urls)),
            reference_image_urls=tuple(
                image(f"reference_image_urls[{i}]", v) for i, v in enumerate(args.reference_image_urls)
            ),
            reference_video_urls=tuple(
                remote(f"reference_video_urls[{i}]", v) for i, v in enumerate(args.reference_video_urls)
            ),
            reference_audio_urls=tuple(
                remote(f"reference_audio_urls[{i}]", v) for i, v in enumerate(args.reference_audio_urls)
            ),
            video_url=remote("video_url", args.video_url) if args.video_url else None,
            audio_setting=args.audio_setting,
            duration=args.duration,
            aspect_ratio=args.aspect_ratio,
            resolution=args.resolution,
            output_format=args.output_format,
            audio=args.audio,
            negative_prompt=args.negative_prompt,
            seed=args.seed,
            extra=dict(args.extra),
        )

    async def generate(self, args: GenerateArgs, progress: Progress | None = None) -> Task:
        spec = await self.providers.resolve(args.model)
        request = self.build_request(args)
        start = anyio.current_time()
        task = await self.submit_once(spec, request, args)
        if args.wait_seconds > 0 and not task.terminal:
            task = await self.wait(task, args.wait_seconds, progress)
        return self.remember(await self.settle(task, self._left(start, args.wait_seconds)))

    async def submit_once(self, spec: ModelSpec, request: GenerateRequest, args: GenerateArgs) -> Task:
        """Journal first, then one POST. A repeated idempotency key returns the first task instead."""
        arguments = journal_arguments(args)
        key = args.idempotency_key
        while True:
            try:
                record = self.journal.begin(
                    provider=spec.provider, model=spec.full_id, arguments=arguments, idempotency_key=key
                )
            except IdempotencyConflict as exc:
                raise InvalidArgument(
                    "idempotency_key", f"already used with different arguments (task {exc.existing.task_id})"
                ) from exc
            if record.is_new:
                break
            if record.task_id is not None:
                return await self.get_task(record.task_id)
            pending = self._submitting.get(key or "")
            if record.status == "submitting" and pending is not None:
                await pending.wait()  # the same key is being submitted by a concurrent call: share its result
                continue
            raise UncertainSubmitError(
                f"an earlier generate with this idempotency_key (journal record {record.id}, {record.status}) may "
                "or may not have reached the provider; check list_tasks and the provider's dashboard before "
                "using a new key.",
                provider=spec.provider,
            )
        done = anyio.Event()
        if key:
            self._submitting[key] = done
        settled = False
        try:
            task = await self.provider(spec.provider).submit(spec, request)
            task = self.guide(task, spec.full_id)
            self.journal.submitted(record.id, task)
            settled = True
            return task
        except UncertainSubmitError as exc:
            self.journal.submit_failed(record.id, code=exc.code, message=exc.message, uncertain=True)
            settled = True
            exc.message += f" (journal record {record.id}; list_tasks shows it)"
            raise
        except MediagenError as exc:
            self.journal.submit_failed(
                record.id, code=exc.code, message=exc.message, uncertain=False, retryable=exc.retryable
            )
            settled = True
            raise
        finally:
            if not settled:  # cancelled mid-request: it may have reached the provider
                with anyio.CancelScope(shield=True):
                    self.journal.submit_failed(
                        record.id, code="cancelled", message="the call was cancelled during submit", uncertain=True
                    )
            if key:
                self._submitting.pop(key, None)
            done.set()

    def remember(self, task: Task) -> Task:
        """Journal what changed (a poll that changes nothing costs no write)."""
        state = (task.status, tuple(task.files), task.result, task.error, task.credits_used)
        if self._journalled.get(task.task_id) != state:
            if len(self._journalled) > 10_000:
                self._journalled.clear()
            self.journal.update(task)
            self._journalled[task.task_id] = state
        return task

    def list_tasks(self, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        return [r.to_summary() for r in self.journal.list(status=status, limit=limit)]

    def parse_task_id(self, value: str) -> tuple[str, str]:
        match = _TASK_ID.match(value.strip())
        if match is None:
            raise InvalidArgument(
                "task_id", "expected '<provider>:<id>' as returned by generate, e.g. 'sandbox:3f2a...'"
            )
        name, native = match.groups()
        if name not in registry.PROVIDERS:
            raise InvalidArgument("task_id", f"unknown provider {name!r}; providers: {', '.join(registry.PROVIDERS)}")
        return name, native

    async def get_task(self, value: str, wait_seconds: float = 0, progress: Progress | None = None) -> Task:
        name, native = self.parse_task_id(value)
        start = anyio.current_time()
        record = self.journal.get(f"{name}:{native}")
        finished = _from_record(record)
        if finished is not None:
            return self.guide(finished)  # terminal and saved: no provider call (polls cost quota)
        try:
            task = self.guide(await self.provider(name).fetch(native), record.model if record else None)
        except (NotFoundError, UpstreamError):
            # The provider may have forgotten the task or its URL expired: answer from the saved copy.
            probe = Task(task_id=f"{name}:{native}", provider=name, status="completed")
            files = saved_files(self.settings.output_dir, probe)
            if not files:
                raise
            probe.files = files
            probe.result = TaskResult(media_type=media_of(files[0]))
            return self.guide(probe, record.model if record else None)
        if wait_seconds > 0 and not task.terminal:
            task = await self.wait(task, wait_seconds, progress)
        if record is not None and not task.terminal and task.progress and 0 < task.progress < 100:
            elapsed = time.time() - record.created_at
            left = elapsed * (100 - task.progress) / task.progress
            task.next_action += f" About {left:.0f} s left at the current pace."
        return self.remember(await self.settle(task, self._left(start, wait_seconds)))

    def _left(self, start: float, wait_seconds: float) -> float:
        """What is left of this call's budget for saving results (downloads go on in the background after)."""
        if wait_seconds <= 0:
            return self.download_budget
        return max(min(2.0, self.download_budget), min(MAX_WAIT_SECONDS, wait_seconds) - (anyio.current_time() - start))

    async def settle(self, task: Task, budget: float) -> Task:
        """For a completed task, make sure its results are saved (within `budget`, then in the background)."""
        if task.status != "completed" or task.files or task.result is None:
            return task
        existing = saved_files(self.settings.output_dir, task)
        if existing:
            task.files = existing
            return self.guide(task)
        if not (task.result.url or task.result.urls):
            return task
        job = self._downloads.get(task.task_id)
        if job is None or (job.error is not None and job.error.retryable):
            job = self._downloads[task.task_id] = DownloadJob()
            if self.background is not None:
                self.background.start_soon(job.run, self.downloader, task.model_copy(deep=True))
            else:
                with anyio.move_on_after(max(budget, self.download_budget)):
                    await job.run(self.downloader, task.model_copy(deep=True))
        with anyio.move_on_after(budget):
            await job.done.wait()
        if job.files:
            task.files = job.files
            self._downloads.pop(task.task_id, None)
        elif job.error is not None:
            task.next_action = (
                f"Done, but the file could not be saved ({job.error.message}); the result is at "
                f"{task.result.url or task.result.urls[0]} (provider links expire)."
            )
            return task
        else:
            task.poll_after_seconds = 3
            task.next_action = (
                f"Done; the file is still downloading. Call get_task with task_id={task.task_id!r} in 3 s "
                "to get its saved path."
            )
            return task
        return self.guide(task)

    async def wait(self, task: Task, wait_seconds: float, progress: Progress | None) -> Task:
        """Poll until terminal or the budget runs out; never sleeps past the budget.

        Progress goes out after every poll: the provider's percentage when it gives one, else the seconds
        elapsed (with a heartbeat between polls, so clients that reset their timeout on progress keep waiting).
        Values only ever increase, as MCP requires.
        """
        budget = min(MAX_WAIT_SECONDS, max(0.0, wait_seconds))
        start = anyio.current_time()
        provider = self.provider(task.provider)
        report = _Reporter(progress, start)
        while not task.terminal:
            delay = task.poll_after_seconds or POLL_DEFAULT.get(task.provider, 5.0)
            due = anyio.current_time() + delay
            if due - start > budget:
                break
            while (left := due - anyio.current_time()) > 0:
                await anyio.sleep(min(HEARTBEAT, left))
                if task.progress is None and anyio.current_time() < due:
                    await report(task)
            task = self.guide(await provider.fetch(task.native_id), task.model)
            await report(task)
        return task

    def guide(self, task: Task, model: str | None = None) -> Task:
        """Fill `poll_after_seconds` and `next_action` so the agent knows exactly what to do next."""
        if task.model is None and model is not None:
            task.model = model
        if task.terminal:
            task.poll_after_seconds = None
        else:
            floor = POLL_FLOOR.get(task.provider, 5.0)
            task.poll_after_seconds = round(
                max(floor, task.poll_after_seconds or POLL_DEFAULT.get(task.provider, 5)), 2
            )
        task.next_action = next_action(task)
        quota = getattr(self.providers.active.get(task.provider), "last_rate_limit", None)
        if quota is not None and not task.terminal:
            task.next_action += f" ({quota})"  # VicSee counts every poll against a daily quota
        return task

    def recover(self) -> list[Record]:
        """On start: submits a crash interrupted become "uncertain" (reported, never resent)."""
        records = self.journal.recover()
        for r in records:
            log.warning("journal record %d (%s) was cut off while submitting: outcome uncertain", r.id, r.model)
        return records

    async def aclose(self) -> None:
        await self.providers.aclose()
        self.journal.close()


@dataclass
class _Reporter:
    progress: Progress | None
    start: float
    last: float = -1.0

    async def __call__(self, task: Task) -> None:
        if self.progress is None:
            return
        if task.progress is not None:
            value, total, message = task.progress, 100.0, f"{task.status} {task.progress:.0f}%"
        else:
            value = round(anyio.current_time() - self.start, 1)
            total, message = None, f"{task.status}, {value:.0f} s elapsed"
        if value > self.last:
            self.last = value
            await self.progress(value, total, message)


def journal_arguments(args: GenerateArgs) -> dict[str, Any]:
    """What the journal keeps of a call: the arguments as given (data: URIs are shortened by the journal)."""
    kept = {k: v for k, v in args.__dict__.items() if k not in ("wait_seconds", "idempotency_key")}
    return {k: v for k, v in kept.items() if v not in (None, [], {})}


def _from_record(record: Record | None) -> Task | None:
    """A finished task rebuilt from the journal, when its saved files are all still there."""
    if record is None or record.task_id is None or record.status not in ("completed", "failed"):
        return None
    if record.status == "completed" and not (record.files and all(Path(f).exists() for f in record.files)):
        return None
    error = TaskError.model_validate(record.error) if record.status == "failed" and record.error else None
    if record.status == "failed" and error is None:
        return None
    urls = list(record.result_urls)
    result = (
        TaskResult(url=urls[0] if urls else None, urls=urls, media_type=media_of(record.files[0]))
        if record.files
        else None
    )
    return Task(
        task_id=record.task_id,
        provider=record.provider,
        model=record.model,
        status=record.status,  # type: ignore[arg-type]
        progress=100 if record.status == "completed" else None,
        result=result,
        files=list(record.files),
        error=error,
        credits_used=record.credits_used,
        cost_unit=record.cost_unit,
    )
