"""The built-in offline provider: no key, no network. It makes real files so the whole flow can be rehearsed.

A task's state lives in a small JSON file under `<output_dir>/.sandbox/`, and its status is computed from the
time since submission, so a task id keeps working after the server restarts.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread
import httpx

from .base import GenerateRequest, MediaInput, ModelSpec, ProviderConfig, Task, TaskError, TaskResult, task_id
from .catalog import load_catalog, validate
from .errors import InvalidArgument, NotFoundError

_ID = re.compile(r"^[0-9a-f]{32}$")
FAIL_MARKER = "[fail]"


class SandboxProvider:
    name = "sandbox"

    def __init__(self, config: ProviderConfig) -> None:
        self.output_dir = Path(config.output_dir)
        self.state_dir = self.output_dir / ".sandbox"
        self.delay = config.sandbox_delay

    def models(self) -> list[ModelSpec]:
        return list(load_catalog(self.name))

    async def live_models(self) -> list[ModelSpec]:
        return self.models()

    async def submit(self, model: ModelSpec, request: GenerateRequest) -> Task:
        wire = validate(model, request)
        native = uuid.uuid4().hex
        source: MediaInput | None = wire.pop("image", None)
        if source is not None and source.url is not None:
            raise InvalidArgument(
                "image_urls[0]", "the offline sandbox cannot download URLs; pass a local image file or a data: URI"
            )
        params = {k: v for k, v in wire.items() if k != "prompt"}
        state: dict[str, Any] = {
            "id": native,
            "model": model.id,
            "prompt": wire["prompt"],
            "params": params,
            "created": time.time(),
            "delay": self.delay,
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if source is not None:
            (self.state_dir / f"{native}.src").write_bytes(source.raw())
        _write_json(self.state_dir / f"{native}.json", state)
        return await self.fetch(native)

    async def fetch(self, native_id: str) -> Task:
        if not _ID.match(native_id):
            raise NotFoundError(f"no sandbox task {native_id!r}", provider=self.name)
        path = self.state_dir / f"{native_id}.json"
        try:
            state: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            raise NotFoundError(f"no sandbox task {native_id!r} in {self.output_dir}", provider=self.name) from None
        task = self._task(state, time.time())
        if task.status == "completed":
            out = self._output_path(state)
            if not out.exists():
                await anyio.to_thread.run_sync(self._render, state, out)
            task.files = [str(out)]
            task.result = TaskResult(url=out.as_uri(), urls=[out.as_uri()], media_type=_media(state))
        return task

    async def aclose(self) -> None:
        return None

    def _task(self, state: dict[str, Any], now: float) -> Task:
        elapsed = now - float(state["created"])
        delay = float(state["delay"])
        base = task_id(self.name, state["id"])
        model = f"{self.name}/{state['model']}"
        if elapsed >= delay:
            if FAIL_MARKER in state["prompt"].lower():
                error = TaskError(
                    code="sandbox_failure",
                    message="The sandbox failed this task on purpose because the prompt contains [fail].",
                    retryable=False,
                )
                return Task(task_id=base, provider=self.name, model=model, status="failed", error=error, progress=None)
            return Task(task_id=base, provider=self.name, model=model, status="completed", progress=100, credits_used=0)
        progress = round(100 * elapsed / delay, 1) if delay else 0.0
        status = "pending" if elapsed < delay * 0.2 else "processing"
        return Task(
            task_id=base,
            provider=self.name,
            model=model,
            status=status,
            progress=progress,
            credits_used=0,
            poll_after_seconds=round(max(0.2, min(2.0, delay - elapsed)), 2),
        )

    def _output_path(self, state: dict[str, Any]) -> Path:
        ext = "mp4" if _media(state) == "video" else state["params"].get("output_format", "png")
        ext = "jpg" if ext == "jpeg" else ext
        return self.output_dir / f"sandbox-{state['model']}-{state['id']}.{ext}"

    def _render(self, state: dict[str, Any], out: Path) -> None:
        from . import sandbox_media

        params: dict[str, Any] = state["params"]
        src_path = self.state_dir / f"{state['id']}.src"
        source = src_path.read_bytes() if src_path.exists() else None
        media = _media(state)
        width, height = sandbox_media.output_size(params.get("aspect_ratio"), params.get("resolution"), media=media)
        if media == "video":
            seconds = float(params.get("duration", 4))
            sandbox_media.render_video(out, state["prompt"], width=width, height=height, seconds=seconds, source=source)
        else:
            fmt = params.get("output_format", "png")
            sandbox_media.render_image(out, state["prompt"], width=width, height=height, fmt=fmt, source=source)


def _media(state: dict[str, Any]) -> Literal["image", "video"]:
    return "video" if state["model"] == "video" else "image"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), "utf-8")
    os.replace(tmp, path)


def create(config: ProviderConfig, client: httpx.AsyncClient) -> SandboxProvider:
    return SandboxProvider(config)
