"""The human command line (`models`, `generate`, `task`, `doctor`), built on the same Service as the tools."""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import httpx

from providers.base import Task
from providers.errors import MediagenError
from providers.registry import PROVIDERS

from .config import Settings
from .service import GenerateArgs, Service

STEP = 30.0  # seconds per wait round; --wait keeps going until the task ends


def _extra(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--extra expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


class Bar:
    """A one-line progress display on stderr (stdout carries only the result)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    async def __call__(self, progress: float, total: float | None, message: str) -> None:
        if total == 100:
            filled = int(progress / 5)
            line = f"[{'#' * filled}{'.' * (20 - filled)}] {message}"
        else:
            line = f"[{'~' * 20}] {message}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(60))
        elif line != self.last:
            sys.stderr.write(line + "\n")
        self.last = line
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.last:
            sys.stderr.write("\n")


def _print_task(task: Task, as_json: bool) -> None:
    if as_json:
        print(json.dumps(task.model_dump(mode="json"), indent=2))
        return
    print(f"task:   {task.task_id}")
    print(
        f"status: {task.status}"
        + (f" ({task.progress:.0f}%)" if task.progress is not None and not task.terminal else "")
    )
    if task.error:
        print(f"error:  [{task.error.code}] {task.error.message}")
    if task.result and task.result.url and not task.files:
        print(f"url:    {task.result.url}")
    for path in task.files:
        print(f"saved:  {path}")
    if not task.terminal:
        print(f"next:   {task.next_action}")


async def _until_done(service: Service, task: Task) -> Task:
    bar = Bar()
    await bar(task.progress or 0, 100, f"{task.status}")
    while not task.terminal:
        task = await service.get_task(task.task_id, STEP, bar)
    await bar(100, 100, task.status)
    bar.done()
    return task


async def _run(args: Any, settings: Settings) -> int:
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
        service = Service(settings, client)
        try:
            if args.command == "models":
                result = await service.providers.listing(args.provider, args.media_type, args.mode, args.query, 500)
                if args.json:
                    print(json.dumps(result.model_dump(mode="json"), indent=2))
                else:
                    for m in result.models:
                        state = "" if m.enabled else f"  (set {m.enable_with})"
                        print(f"{m.id:45} {m.media_type:5} {','.join(m.modes)}{state}")
                return 0
            if args.command == "generate":
                task = await service.generate(
                    GenerateArgs(
                        model=args.model,
                        prompt=args.prompt,
                        image_urls=args.image,
                        reference_image_urls=args.reference_image,
                        reference_video_urls=args.reference_video,
                        video_url=args.video_url,
                        duration=args.duration,
                        aspect_ratio=args.aspect_ratio,
                        resolution=args.resolution,
                        output_format=args.output_format,
                        audio=args.audio,
                        seed=args.seed,
                        negative_prompt=args.negative_prompt,
                        extra=_extra(args.extra),
                    )
                )
                if args.wait:
                    task = await _until_done(service, task)
                _print_task(task, args.json)
                return 1 if task.status == "failed" else 0
            if args.command == "task":
                task = await service.get_task(args.task_id)
                if args.wait:
                    task = await _until_done(service, task)
                _print_task(task, args.json)
                return 1 if task.status == "failed" else 0
            return await _doctor(settings, client)
        except MediagenError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        finally:
            await service.aclose()


async def _doctor(settings: Settings, client: httpx.AsyncClient) -> int:
    print(f"output dir:   {settings.output_dir}")
    print(f"allowed dirs: {', '.join(str(d) for d in settings.allowed_dirs)}")
    problems = 0
    for info in PROVIDERS.values():
        config = settings.providers[info.name]
        if info.key_env is None:
            print(f"{info.name:9} enabled (offline, no key)")
            continue
        if config.api_key is None:
            print(f"{info.name:9} disabled: set {info.key_env} to enable")
            continue
        try:
            with anyio.fail_after(10):
                response = await client.get(config.base_url, follow_redirects=False)
            reach = f"answers (HTTP {response.status_code})"
        except (httpx.HTTPError, TimeoutError) as exc:
            reach = f"does NOT answer ({type(exc).__name__})"
            problems += 1
        print(f"{info.name:9} enabled, {config.base_url} {reach}")
    return 1 if problems else 0


def run(args: Any, settings: Settings) -> int:
    return anyio.run(_run, args, settings)
