"""A loopback fake of VicSee's API (`/api/v1/...`), speaking its wire format, for end-to-end tests.

- `POST /api/v1/generate` takes `{"model", "input": {...}}` only (the legacy `options` body is refused), checks the
  Bearer key, and answers with VicSee's error codes (MISSING_MODEL, INVALID_MODEL, MISSING_PROMPT, INVALID_JSON, the
  401 auth codes, INSUFFICIENT_CREDITS).
- `GET /api/v1/tasks/{id}` moves a task pending -> processing -> completed over `polls_to_complete` polls; a prompt
  containing "[fail]" ends failed with `error: {code, key, message}` (HTTP 200, as VicSee does).
- `GET /api/v1/models` is public; `POST /api/v1/upload` + `PUT /storage/{key}` mimic the presigned upload.
- Results point at `/cdn/{file}` on the fake itself, which serves a real tiny PNG or MP4.
Every response carries `X-RateLimit-Limit/-Remaining/-Reset`; every request is recorded.
"""

from __future__ import annotations

import io
import json
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.catalog import load_catalog
from tests.fakes.loopback import Recorder

API_KEY = "sk-test-secret"
MODELS: list[dict[str, Any]] = [
    {"id": "seedance-2-0-text-to-video", "type": "video", "credits": 440},
    {"id": "seedance-2-0-reference-to-video", "type": "video", "credits": 440, "maxImages": 7},
    {"id": "happyhorse-video-edit", "type": "video"},
    {"id": "nano-banana-pro-text-to-image", "type": "image", "credits": 30},
    {"id": "kling-3-0-text-to-video", "type": "video", "credits": 300},
    {"id": "suno-v5", "type": "music", "credits": 10},
]


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def _mp4() -> bytes:
    from providers.sandbox_media import render_video

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        render_video(path, "vicsee fake", width=64, height=36, seconds=0.5, fps=4)
        return path.read_bytes()


def make_app(
    recorder: Recorder,
    *,
    api_key: str = API_KEY,
    polls_to_complete: int = 2,
    credits: int = 5000,
    daily_limit: int = 500,
    models: list[dict[str, Any]] | None = None,
) -> Starlette:
    tasks: dict[str, dict[str, Any]] = {}
    stored: dict[str, bytes] = {}
    files: dict[str, bytes] = {}
    quota = {"left": daily_limit, "credits": credits}
    reset = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def headers() -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(daily_limit),
            "X-RateLimit-Remaining": str(max(0, quota["left"])),
            "X-RateLimit-Reset": reset,
        }

    def ok(data: Any) -> JSONResponse:
        return JSONResponse({"success": True, "data": data}, headers=headers())

    def fail(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"success": False, "error": {"code": code, "message": message}}, status, headers())

    def denied(request: Request) -> JSONResponse | None:
        """VicSee's auth checks, in its order; also spends one request of the daily quota."""
        value = request.headers.get("authorization")
        if value is None:
            return fail(401, "MISSING_AUTH_HEADER", "No Authorization header provided")
        if not value.startswith("Bearer "):
            return fail(401, "INVALID_AUTH_FORMAT", 'Invalid Authorization format (use "Bearer sk-xxx")')
        key = value.removeprefix("Bearer ")
        if not key.startswith("sk-"):
            return fail(401, "INVALID_KEY_FORMAT", "Key doesn't start with sk-")
        if key != api_key:
            return fail(401, "INVALID_API_KEY", "Key not found or inactive")
        quota["left"] -= 1
        if quota["left"] < 0:
            return fail(429, "RATE_LIMITED", f"Limit: {daily_limit}/day. Resets at: {reset}")
        return None

    async def generate(request: Request) -> Response:
        await recorder.record(request)
        if (refused := denied(request)) is not None:
            return refused
        try:
            parsed: Any = json.loads(await request.body())
        except ValueError:
            return fail(400, "INVALID_JSON", "Request body is not valid JSON")
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return fail(400, "MISSING_MODEL", "No model specified")
        known = {m["id"] for m in (models or MODELS)} | {m.id for m in load_catalog("vicsee")}
        if model not in known:
            return fail(400, "INVALID_MODEL", f"Model {model} does not exist")
        payload: Any = body.get("input")
        if "options" in body or not isinstance(payload, dict):
            return fail(400, "INVALID_JSON", "Expected {model, input}")
        fields: dict[str, Any] = payload  # pyright: ignore[reportUnknownVariableType]
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return fail(400, "MISSING_PROMPT", "No prompt provided")
        cost = 60
        if quota["credits"] < cost:
            return fail(402, "INSUFFICIENT_CREDITS", f"Required: {cost}, Available: {quota['credits']}")
        quota["credits"] -= cost
        native = f"task_{secrets.token_hex(6)}"
        kind = "image" if model.endswith("-to-image") else "video"
        tasks[native] = {"model": model, "prompt": prompt, "polls": 0, "kind": kind}
        return ok(
            {
                "id": native,
                "model": model,
                "status": "pending",
                "creditsUsed": cost,
                "creditsRemaining": quota["credits"],
                "createdAt": datetime.now(UTC).isoformat(),
            }
        )

    async def task(request: Request) -> Response:
        await recorder.record(request)
        if (refused := denied(request)) is not None:
            return refused
        native = request.path_params["task_id"]
        entry = tasks.get(native)
        if entry is None:
            return fail(404, "TASK_NOT_FOUND", "Task not found")
        entry["polls"] += 1
        data: dict[str, Any] = {
            "id": native,
            "model": entry["model"],
            "mediaType": entry["kind"],
            "prompt": entry["prompt"],
            "result": None,
            "error": None,
        }
        if entry["polls"] < polls_to_complete:
            data["status"] = "pending" if entry["polls"] == 1 else "processing"
        elif "[fail]" in entry["prompt"]:
            data["status"] = "failed"
            data["error"] = {"code": "GENERATION_FAILED", "key": "generic", "message": "The model failed (fake)."}
        else:
            name = f"{native}.{'png' if entry['kind'] == 'image' else 'mp4'}"
            data["status"] = "completed"
            data["result"] = {"url": f"{str(request.base_url).rstrip('/')}/cdn/{name}", "type": entry["kind"]}
        return ok(data)

    async def list_models(request: Request) -> Response:
        await recorder.record(request)
        kind = request.query_params.get("type")
        listed = [m for m in (models or MODELS) if kind is None or m.get("type") == kind]
        return ok(listed)

    async def upload(request: Request) -> Response:
        await recorder.record(request)
        if (refused := denied(request)) is not None:
            return refused
        body = json.loads(await request.body())
        key = f"uploads/{secrets.token_hex(6)}"
        base = str(request.base_url).rstrip("/")
        expires = (datetime.now(UTC) + timedelta(minutes=15)).isoformat()
        stored[key] = b""
        return ok(
            {
                "uploadUrl": f"{base}/storage/{key}?sig=fake&type={body.get('contentType')}",
                "publicUrl": f"{base}/cdn/{key}",
                "key": key,
                "expiresAt": expires,
            }
        )

    async def storage(request: Request) -> Response:
        entry = await recorder.record(request)
        key = request.path_params["key"]
        if "authorization" in entry.headers or key not in stored:
            return Response("signature mismatch", 403)
        stored[key] = entry.body
        files[key] = entry.body
        return Response(status_code=200)

    async def cdn(request: Request) -> Response:
        await recorder.record(request)
        name = request.path_params["name"]
        if name in files:
            return Response(files[name], media_type="application/octet-stream")
        if name.endswith(".png"):
            return Response(files.setdefault(name, _png()), media_type="image/png")
        if name.endswith(".mp4"):
            return Response(files.setdefault(name, _mp4()), media_type="video/mp4")
        return Response("not found", 404)

    return Starlette(
        routes=[
            Route("/api/v1/generate", generate, methods=["POST"]),
            Route("/api/v1/tasks/{task_id}", task, methods=["GET"]),
            Route("/api/v1/models", list_models, methods=["GET"]),
            Route("/api/v1/upload", upload, methods=["POST"]),
            Route("/storage/{key:path}", storage, methods=["PUT"]),
            Route("/cdn/{name:path}", cdn, methods=["GET"]),
        ]
    )
