"""A loopback fake of UniAll's Vidu gateway: `POST /v1/video/generations`, both query paths, `GET /v1/models`.

It speaks the seed-002 wire format, checks the bearer key and the body, moves a task queued -> in_progress ->
completed over `steps` polls (or to failed when the prompt contains "[fail]"), and serves the result file itself.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import Recorder

# The smallest thing that sniffs as an MP4: an `ftyp` box and an empty `mdat` box.
TINY_MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41" + b"\x00\x00\x00\x08mdat"
BODY_KEYS = {"model", "prompt", "image", "last_image", "reference_image_urls", "aspect_ratio", "duration", "extra_body"}
LISTED = ["viduq3p-720p", "viduq3t-540p", "viduq2-pro", "gpt-4o"]


@dataclass
class FakeTask:
    native_id: str
    model: str
    prompt: str
    created_at: int
    polls: int = 0


def _error(status: int, message: str, code: str = "invalid_request") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "uniall_api_error", "code": code}}, status_code=status)


def _check_body(body: Any) -> str | None:
    """What a strict gateway would refuse, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    data: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
    unknown = sorted(set(data) - BODY_KEYS)
    if unknown:
        return f"unknown field(s): {', '.join(unknown)}"
    if not str(data.get("model", "")).startswith("viduq3"):
        return "model must be a Vidu Q3 id"
    if not isinstance(data.get("prompt"), str) or not data["prompt"].strip():
        return "prompt is required"
    if "last_image" in data and "image" not in data:
        return "last_image needs image"
    if "reference_image_urls" in data and "image" in data:
        return "reference_image_urls cannot be combined with image"
    duration = data.get("duration", 5)
    if not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= 16:
        return "duration must be an integer from 1 to 16"
    if not isinstance(data.get("extra_body", {}), dict):
        return "extra_body must be an object"
    return None


def make_app(
    recorder: Recorder, *, api_key: str = "sk-test-secret", steps: int = 3, generations_path: bool = True
) -> Starlette:
    """`steps`: polls until a task is done. `generations_path=False` makes `/v1/video/generations/{id}` 404."""
    tasks: dict[str, FakeTask] = {}
    ids = itertools.count(1)

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {api_key}"

    async def submit(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request):
            return _error(401, "Invalid token", "invalid_api_key")
        try:
            body: Any = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        problem = _check_body(body)
        if problem:
            return _error(400, problem)
        native = f"task_{next(ids):05d}"
        task = FakeTask(native, body["model"], body["prompt"], int(time.time()))
        tasks[native] = task
        return JSONResponse(
            {
                "id": native,
                "task_id": native,
                "object": "video.generation.job",
                "model": task.model,
                "status": "queued",
                "progress": 0,
                "created_at": task.created_at,
            }
        )

    async def query(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request):
            return _error(401, "Invalid token", "invalid_api_key")
        task = tasks.get(request.path_params["id"])
        if task is None:
            return _error(404, "task not found", "not_found")
        task.polls += 1
        out: dict[str, Any] = {
            "id": task.native_id,
            "task_id": task.native_id,
            "object": "video.generation.job",
            "model": task.model,
            "prompt": task.prompt,
            "created_at": task.created_at,
            "error": None,
            "video_url": None,
        }
        if task.polls >= steps and "[fail]" in task.prompt:
            out.update(status="failed", progress=100, error={"message": "the prompt was refused", "code": "moderation"})
        elif task.polls >= steps:
            url = f"{str(request.base_url).rstrip('/')}/files/{task.native_id}.mp4"
            out.update(status="completed", progress=100, video_url=url, result={"outputs": [url], "video_url": url})
        elif task.polls == 1:
            out.update(status="queued", progress=0)
        else:
            out.update(status="in_progress", progress=min(99, 100 * task.polls // steps))
        return JSONResponse(out)

    async def query_generations(request: Request) -> Response:
        if not generations_path:
            await recorder.record(request)
            return Response("404 page not found", status_code=404, media_type="text/plain")
        return await query(request)

    async def models(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request):
            return _error(401, "Invalid token", "invalid_api_key")
        data = [{"id": mid, "object": "model", "created": 0, "owned_by": "uniall"} for mid in LISTED]
        return JSONResponse({"object": "list", "data": data})

    async def files(request: Request) -> Response:
        await recorder.record(request)
        name: str = request.path_params["name"]
        if name.removesuffix(".mp4") not in tasks:
            return Response("not found", status_code=404)
        return Response(TINY_MP4, media_type="video/mp4")

    return Starlette(
        routes=[
            Route("/v1/video/generations", submit, methods=["POST"]),
            Route("/v1/video/generations/{id}", query_generations, methods=["GET"]),
            Route("/v1/videos/{id}", query, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/files/{name}", files, methods=["GET"]),
        ]
    )
