"""A loopback fake of the Mountsea Hub: `POST /hub/v1/{video,image}`, `GET /hub/v1/tasks/{id}`, result files.

It speaks the documented wire format (PROVIDER_FACTS.md §4): Bearer auth, `{"model", "input"}` bodies (any other
top-level key, an unknown model, a model posted to the wrong capability, or an input key the model does not take
is a NestJS-style 400), the OpenAPI submit answer (or the seed's `{"taskId"}` with `camel_case_submit=True`), and
tasks that go pending -> processing -> completed (`ready: true`, fal-style `data`) over `polls_to_complete` polls.
A prompt containing "[fail]" ends failed with `error_code` / `error_message`. Result URLs point at the fake itself,
which serves a tiny real MP4 or PNG there.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.catalog import load_catalog
from tests.fakes.loopback import Recorder

API_KEY = "sk-test-secret"


@cache
def media_bytes(kind: str) -> bytes:
    """A tiny playable MP4 ("video") or PNG ("image"), rendered once per process."""
    from providers.sandbox_media import render_image, render_video

    with tempfile.TemporaryDirectory() as tmp:
        if kind == "video":
            path = Path(tmp) / "out.mp4"
            render_video(path, "mountsea fake", width=64, height=36, seconds=0.25, fps=4)
        else:
            path = Path(tmp) / "out.png"
            render_image(path, "mountsea fake", width=32, height=32, fmt="png")
        return path.read_bytes()


def _nest_error(status: int, message: str | list[str], error: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "message": message, "error": error}, status_code=status)


def make_app(
    recorder: Recorder,
    *,
    api_key: str = API_KEY,
    polls_to_complete: int = 3,
    camel_case_submit: bool = False,
) -> Starlette:
    models = {m.id: m for m in load_catalog("mountsea")}
    tasks: dict[str, dict[str, Any]] = {}

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {api_key}"

    async def submit(request: Request) -> Response:
        entry = await recorder.record(request)
        if not authorized(request):
            return _nest_error(401, "Invalid API key", "Unauthorized")
        capability = request.url.path.rsplit("/", 1)[-1]
        try:
            raw: Any = entry.json()
        except ValueError:
            return _nest_error(400, "body must be JSON", "Bad Request")
        body = cast("dict[str, Any]", raw) if isinstance(raw, dict) else {}
        if set(body) != {"model", "input"} or not isinstance(body["input"], dict):
            return _nest_error(400, "body must be exactly {model, input}", "Bad Request")
        model = models.get(str(body["model"]))
        if model is None or model.endpoint != capability:
            return _nest_error(400, f"unknown {capability} model {body['model']!r}", "Bad Request")
        inputs = cast("dict[str, Any]", body["input"])
        unknown = sorted(set(inputs) - set(model.params))
        if unknown:
            return _nest_error(400, [f"property input.{k} should not exist" for k in unknown], "Bad Request")
        native = f"hub-{uuid.uuid4()}"
        prompt = inputs.get("prompt")
        tasks[native] = {"model": model.id, "capability": capability, "prompt": str(prompt or ""), "polls": 0}
        if camel_case_submit:
            return JSONResponse({"taskId": native})
        return JSONResponse(
            {
                "task_id": native,
                "status": "pending",
                "capability": capability,
                "model": model.id,
                "vendor": "Fake",
                "mode": model.modes[0],
                "created_at": datetime.now(UTC).isoformat(),
            }
        )

    async def get_task(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request):
            return _nest_error(401, "Invalid API key", "Unauthorized")
        native = request.path_params["task_id"]
        task = tasks.get(native)
        if task is None:
            return _nest_error(404, f"Task {native} not found", "Not Found")
        task["polls"] += 1
        polls: int = task["polls"]
        out: dict[str, Any] = {"task_id": native, "model": task["model"], "elapsed_ms": polls * 1000}
        if polls < polls_to_complete:
            return JSONResponse({**out, "status": "pending" if polls == 1 else "processing", "ready": False})
        if "[fail]" in task["prompt"]:
            failed = {"status": "failed", "ready": True, "error_code": "GENERATION_FAILED"}
            return JSONResponse({**out, **failed, "error_message": "the fake was asked to fail"})
        origin = str(request.base_url).rstrip("/")
        if task["capability"] == "image":
            data: dict[str, Any] = {"images": [{"url": f"{origin}/files/{native}.png", "content_type": "image/png"}]}
        else:
            video = {"url": f"{origin}/files/{native}.mp4", "content_type": "video/mp4", "file_name": "out.mp4"}
            data = {"video": video}
        return JSONResponse({**out, "status": "completed", "ready": True, "data": data})

    async def get_file(request: Request) -> Response:
        await recorder.record(request)
        name: str = request.path_params["name"]
        native, _, ext = name.rpartition(".")
        if native not in tasks or ext not in ("mp4", "png"):
            return Response(status_code=404)
        kind, mime = ("video", "video/mp4") if ext == "mp4" else ("image", "image/png")
        return Response(media_bytes(kind), media_type=mime)

    return Starlette(
        routes=[
            Route("/hub/v1/video", submit, methods=["POST"]),
            Route("/hub/v1/image", submit, methods=["POST"]),
            Route("/hub/v1/tasks/{task_id}", get_task, methods=["GET"]),
            Route("/files/{name}", get_file, methods=["GET"]),
        ]
    )
