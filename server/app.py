"""The MCP server: three tools over `Service`. Errors become tool errors naming the field and what is allowed."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
import anyio.abc
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import (
    CallToolResult,
    ContentBlock,
    ImageContent,
    InputRequiredResult,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, Field, ValidationError

from providers.base import Mode, Task
from providers.errors import InvalidArgument, MediagenError

from . import __version__
from .config import Settings
from .guidance import MAX_WAIT_SECONDS, summary
from .models import ModelList
from .previews import b64, preview_jpeg
from .schema import compact

if TYPE_CHECKING:
    import httpx

    from .service import Service

log = logging.getLogger("mediagen")

INSTRUCTIONS = f"""Generate images and videos. Flow: list_models (filter by media_type/mode/query) -> generate \
(returns a task at once) -> get_task until status is completed or failed; follow each task's next_action and \
poll_after_seconds, or pass wait_seconds (max {MAX_WAIT_SECONDS:g}) to wait inside the call. Finished files are \
listed in files. sandbox/image and sandbox/video work offline with no account; put [fail] in a sandbox prompt \
to rehearse a failure."""

ClientFactory = Callable[[], "httpx.AsyncClient"]


def default_client() -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False)


class AppState:
    """The service and its HTTP client, built on the first tool call rather than at start: a client spawns the
    server long before it calls a tool, and httpx, the journal and the adapters cost start-up time."""

    def __init__(self, settings: Settings, client_factory: ClientFactory, background: anyio.abc.TaskGroup) -> None:
        self.settings = settings
        self.client_factory = client_factory
        self.background = background
        self.lock = anyio.Lock()
        self.client: httpx.AsyncClient | None = None
        self.built: Service | None = None

    async def service(self) -> Service:
        if self.built is None:
            async with self.lock:
                if self.built is None:
                    from .service import Service

                    self.client = self.client_factory()
                    service = Service(self.settings, self.client, self.background)
                    service.recover()
                    self.built = service
        return self.built

    async def aclose(self) -> None:
        if self.built is not None:
            await self.built.aclose()
        if self.client is not None:
            await self.client.aclose()


Wait = Annotated[
    float,
    Field(
        ge=0, le=MAX_WAIT_SECONDS, description=f"Seconds to wait here for the task to finish (0-{MAX_WAIT_SECONDS:g})"
    ),
]
Urls = Annotated[list[str] | None, Field(max_length=16)]
MediaType = Literal["image", "video"]


TaskState = Literal["submitting", "uncertain", "submit_failed", "pending", "processing", "completed", "failed"]


class TaskList(BaseModel):
    tasks: list[dict[str, Any]]


def _error(exc: MediagenError) -> CallToolResult:
    field = getattr(exc, "field", None)
    data: dict[str, Any] = {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
    if exc.provider:
        data["provider"] = exc.provider
    if exc.provider_code:
        data["provider_code"] = exc.provider_code
    if field:
        data["field"] = field
    tag = f"[{exc.code}{', retryable' if exc.retryable else ''}] "
    return CallToolResult(
        content=[TextContent(type="text", text=tag + exc.message)], structured_content={"error": data}, is_error=True
    )


async def _task_result(task: Task) -> CallToolResult:
    content: list[ContentBlock] = [TextContent(type="text", text=summary(task))]
    if task.status == "completed" and task.files:
        path = Path(task.files[0])
        media = task.result.media_type if task.result else None
        jpeg = await anyio.to_thread.run_sync(preview_jpeg, path, media)
        if jpeg is not None:
            content.append(ImageContent(type="image", data=b64(jpeg), mime_type="image/jpeg"))
        if media == "video" or path.suffix == ".mp4":
            content.append(ResourceLink(type="resource_link", uri=path.as_uri(), name=path.name, mime_type="video/mp4"))
    return CallToolResult(content=content, structured_content=task.model_dump(mode="json"))


def _progress(ctx: Context[Any]) -> Callable[[float, float | None, str], Any]:
    async def report(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    return report


class _Server(MCPServer[Any]):
    """Arguments outside a tool's schema bounds (a 1 MB prompt, duration -1) are refused by the SDK before the tool
    runs; they get the same structured tool error as every other refusal, naming the field."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            first = cause.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "arguments"
            return _error(InvalidArgument(field, first["msg"]))


def build_server(settings: Settings | None = None, client_factory: ClientFactory = default_client) -> MCPServer[Any]:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncGenerator[AppState]:
        async with anyio.create_task_group() as background:
            state = AppState(settings, client_factory, background)
            try:
                yield state
            finally:
                background.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await state.aclose()

    mcp: MCPServer[Any] = _Server("mediagen-mcp", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan)

    async def service_of(ctx: Context[Any]) -> Service:
        state: AppState = ctx.request_context.lifespan_context
        return await state.service()

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
        description="Start an image or video generation; returns a task at once (see next_action). Costs credits "
        "on paid providers. Options are per model: see list_models.",
    )
    async def generate(
        ctx: Context[Any],
        model: Annotated[str, Field(description="'<provider>/<model>' from list_models, e.g. sandbox/video")],
        prompt: Annotated[str | None, Field(max_length=20000)] = None,
        image_urls: Annotated[
            Urls,
            Field(
                description="Images: https URL, data: URI or local file path (read from allowed folders). "
                "[0] = source/first frame, [1] = last frame where the model takes one"
            ),
        ] = None,
        reference_image_urls: Annotated[Urls, Field(description="Reference images (@Image1...), same forms")] = None,
        reference_video_urls: Annotated[Urls, Field(description="https URLs")] = None,
        reference_audio_urls: Annotated[Urls, Field(description="https URLs")] = None,
        video_url: Annotated[str | None, Field(description="Source video (edit models), https")] = None,
        audio_setting: Literal["auto", "origin"] | None = None,
        duration: Annotated[float | None, Field(gt=0, le=600, description="Seconds")] = None,
        aspect_ratio: Annotated[str | None, Field(max_length=20, description="e.g. 16:9")] = None,
        resolution: Annotated[str | None, Field(max_length=20, description="e.g. 720p, 1080p, 2K")] = None,
        output_format: Annotated[str | None, Field(max_length=10, description="Image format, e.g. png")] = None,
        audio: Annotated[bool | None, Field(description="Native audio on models that offer it")] = None,
        negative_prompt: Annotated[str | None, Field(max_length=5000)] = None,
        seed: Annotated[int | None, Field(ge=0, le=2**32 - 1)] = None,
        extra: Annotated[
            dict[str, Any] | None, Field(description="Model-specific options by wire name (list_models: extra.*)")
        ] = None,
        wait_seconds: Wait = 0,
        idempotency_key: Annotated[
            str | None,
            Field(max_length=200, description="Repeat-safe: the same key and arguments return the first task"),
        ] = None,
    ) -> Annotated[CallToolResult, Task]:
        from .service import GenerateArgs

        args = GenerateArgs(
            model=model,
            prompt=prompt,
            image_urls=image_urls or [],
            reference_image_urls=reference_image_urls or [],
            reference_video_urls=reference_video_urls or [],
            reference_audio_urls=reference_audio_urls or [],
            video_url=video_url,
            audio_setting=audio_setting,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            output_format=output_format,
            audio=audio,
            negative_prompt=negative_prompt,
            seed=seed,
            extra=extra or {},
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
        )
        try:
            return await _task_result(await (await service_of(ctx)).generate(args, _progress(ctx)))
        except MediagenError as exc:
            return _error(exc)

    @mcp.tool(
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
        description="The current state of a task from generate; saved files appear in files when completed.",
    )
    async def get_task(
        ctx: Context[Any],
        task_id: Annotated[str, Field(max_length=256, description="The task_id generate returned")],
        wait_seconds: Wait = 0,
    ) -> Annotated[CallToolResult, Task]:
        try:
            return await _task_result(await (await service_of(ctx)).get_task(task_id, wait_seconds, _progress(ctx)))
        except MediagenError as exc:
            return _error(exc)

    @mcp.tool(
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
        description="Models with their modes, options (allowed values, defaults), required inputs, price, and "
        "whether their provider is enabled.",
    )
    async def list_models(
        ctx: Context[Any],
        provider: Annotated[str | None, Field(description="sandbox, vicsee, nanogpt, mountsea, uniall")] = None,
        media_type: MediaType | None = None,
        mode: Mode | None = None,
        query: Annotated[
            str | None, Field(max_length=200, description="Free text, e.g. 'cheap 1080p with audio'")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> Annotated[CallToolResult, ModelList]:
        try:
            result = await (await service_of(ctx)).providers.listing(provider, media_type, mode, query, limit)
        except MediagenError as exc:
            return _error(exc)
        names = ", ".join(m.id for m in result.models[:8])
        more = f" (+{len(result.models) - 8} more)" if len(result.models) > 8 else ""
        text = f"{result.total} model(s): {names}{more}" if result.models else "No models match."
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=result.model_dump(mode="json")
        )

    @mcp.tool(
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
        description="Your recent tasks, newest first (from the local journal): find a task_id again.",
    )
    async def list_tasks(
        ctx: Context[Any],
        status: TaskState | None = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> Annotated[CallToolResult, TaskList]:
        tasks = (await service_of(ctx)).list_tasks(status, limit)
        lines = [f"{t['task_id'] or 'record ' + str(t['id'])} {t['status']} {t['model']}" for t in tasks[:5]]
        text = f"{len(tasks)} task(s)" + (": " + "; ".join(lines) if lines else "")
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=TaskList(tasks=tasks).model_dump(mode="json"),
        )

    @mcp.prompt(description="Walk through making a video: pick a model, generate, wait, check the result.")
    def make_video(idea: str, provider: str = "sandbox") -> str:
        return (
            f"Make a video of: {idea}\n"
            f"1. Call list_models with media_type='video' and provider='{provider}' (or a query describing what "
            "matters: price, resolution, audio). Pick a model whose provider is enabled; note its required inputs and "
            "allowed option values.\n"
            "2. Call generate with that model, a vivid prompt, and only options the model lists (duration in seconds, "
            "aspect_ratio...). Pass images in image_urls ([0] first frame, [1] last frame) as https URLs, data: URIs "
            "or local paths.\n"
            "3. Call get_task with wait_seconds=45 until status is completed or failed, following next_action.\n"
            "4. When completed, look at the preview, tell the user where the file was saved (files[0]); if failed, "
            "read error.message, fix the input and try once more."
        )

    @mcp.prompt(description="Walk through making an image: pick a model, generate, wait, check the result.")
    def make_image(idea: str, provider: str = "sandbox") -> str:
        return (
            f"Make an image of: {idea}\n"
            f"1. Call list_models with media_type='image' and provider='{provider}'; pick an enabled model and note "
            "its options.\n"
            "2. Call generate with a precise prompt and wait_seconds=30 (images are usually quick); for an edit, pass "
            "the source in image_urls.\n"
            "3. If the task is not finished, call get_task with wait_seconds=30 until it is.\n"
            "4. Look at the preview and tell the user where the file was saved (files[0])."
        )

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per provider request is noise on stderr
    for tool in mcp._tool_manager.list_tools():  # pyright: ignore[reportPrivateUsage]
        tool.parameters = compact(tool.parameters, output=False)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact(tool.fn_metadata.output_schema, output=True)
    return mcp
