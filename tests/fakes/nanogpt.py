"""A loopback fake of NanoGPT: `POST /api/generate-video` (202), `GET /api/video/status`, the synchronous
`POST /v1/images/generations`, and the model lists.

It speaks the wire format of seed 003 and the NanoGPT docs, checks the key (`x-api-key`, or Bearer on the image
route), refuses bodies NanoGPT would choke on (an image URL and a data URL together, inline data over 4 MB),
moves a video job IN_QUEUE -> IN_PROGRESS -> COMPLETED over `steps` polls (FAILED when the prompt contains
"[fail]"), and serves the result files itself.
"""

from __future__ import annotations

import base64
import itertools
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import Recorder

# The smallest thing that sniffs as an MP4: an `ftyp` box and an empty `mdat` box.
TINY_MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41" + b"\x00\x00\x00\x08mdat"
INLINE_LIMIT = 4 * 1024 * 1024


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xc8\x1e\x1e" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


TINY_PNG = _png()
VIDEO_MODELS: list[dict[str, Any]] = [
    {
        "id": "veo2-video",
        "object": "model",
        "name": "Veo 2",
        "architecture": {"modality": "video", "input_modalities": ["text", "image"], "output_modalities": ["video"]},
        "pricing": {"currency": "USD", "per_second": 0.5},
        "capabilities": {"video_generation": True, "text_to_video": True, "image_to_video": True},
        "supported_parameters": {"duration": ["5s", "8s"]},
    },
    {
        "id": "fake-new-video",
        "object": "model",
        "name": "A model only the live list knows",
        "architecture": {"modality": "video", "input_modalities": ["text"], "output_modalities": ["video"]},
        "pricing": {"currency": "USD", "per_video": 0.2},
        "capabilities": {"video_generation": True, "text_to_video": True, "audio_generation": True},
        "supported_parameters": {},
    },
]
IMAGE_MODELS: list[dict[str, Any]] = [
    {
        "id": "hidream",
        "object": "model",
        "name": "HiDream",
        "pricing": {"currency": "USD", "per_image": {"1024*1024": 0.01}},
        "capabilities": {"image_generation": True, "image_to_image": False},
        "supported_parameters": {"resolutions": ["1024x1024", "1376x768"]},
    }
]


@dataclass
class FakeJob:
    native_id: str
    model: str
    prompt: str
    polls: int = 0


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def _check_video(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    data: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(data.get("model"), str):
        return "model is required"
    for url_field, data_field in (("imageUrl", "imageDataUrl"), ("videoUrl", "videoDataUrl")):
        if url_field in data and data_field in data:
            return f"send either {url_field} or {data_field}, not both"
    for name in ("imageDataUrl", "videoDataUrl", "audioDataUrl"):
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or not value.startswith("data:")):
            return f"{name} must be a data URL"
        if isinstance(value, str) and len(value) > INLINE_LIMIT:
            return "Uploads must be 4 MB or smaller"
    if "duration" in data and not isinstance(data["duration"], str):
        return "duration must be a string"
    return None


def make_app(
    recorder: Recorder,
    *,
    api_key: str = "sk-test-secret",
    steps: int = 3,
    status_shape: str = "nested",
    image_format: str = "url",
) -> Starlette:
    """`steps`: polls until a job is done; `status_shape` "nested" (the docs' examples) or "flat" (the OpenAPI
    schema); `image_format` "url" or "b64_json" (what the image route answers with)."""
    jobs: dict[str, FakeJob] = {}
    ids = itertools.count(1)

    def origin(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def authorized(request: Request, bearer: bool = False) -> bool:
        if request.headers.get("x-api-key") == api_key:
            return True
        return bearer and request.headers.get("authorization") == f"Bearer {api_key}"

    async def submit(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request):
            return JSONResponse({"error": "Invalid API key", "status": 401}, status_code=401)
        try:
            body: Any = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        problem = _check_video(body)
        if problem:
            return _error(400, problem)
        native = f"vid_fake{next(ids):06d}"
        jobs[native] = FakeJob(native, body["model"], str(body.get("prompt", "")))
        return JSONResponse(
            {
                "runId": native,
                "id": native,
                "status": "pending",
                "model": body["model"],
                "cost": 0.35,
                "paymentSource": "USD",
                "remainingBalance": 12.5,
                "prechargeLabel": "fake",
            },
            status_code=202,
        )

    def nested(job: FakeJob, state: str, request: Request) -> dict[str, Any]:
        data: dict[str, Any] = {"status": state, "requestId": job.native_id}
        if state == "COMPLETED":
            data.update(output={"video": {"url": f"{origin(request)}/files/{job.native_id}.mp4"}}, cost=0.35)
        elif state == "FAILED":
            data.update(
                error="Content policy violation",
                isNSFWError=True,
                userFriendlyError="Content flagged as inappropriate. Please modify your prompt and try again.",
            )
        return {"requestId": job.native_id, "model": job.model, "data": data}

    def flat(job: FakeJob, state: str, request: Request) -> dict[str, Any]:
        lower = {"IN_QUEUE": "queued", "IN_PROGRESS": "processing", "COMPLETED": "completed", "FAILED": "failed"}
        done = state == "COMPLETED"
        return {
            "requestId": job.native_id,
            "status": lower[state],
            "progress": 100 if done else 50 if state == "IN_PROGRESS" else 0,
            "videoUrl": f"{origin(request)}/files/{job.native_id}.mp4" if done else None,
            "error": "Generation failed upstream" if state == "FAILED" else None,
            "createdAt": "2026-01-01T00:00:00Z",
            "completedAt": "2026-01-01T00:01:00Z" if done else None,
        }

    async def status(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request):
            return JSONResponse({"error": "Invalid API key", "status": 401}, status_code=401)
        native = request.query_params.get("requestId") or request.query_params.get("runId")
        if not native:
            return JSONResponse({"error": "requestId is required"}, status_code=400)
        job = jobs.get(native)
        if job is None:
            return JSONResponse({"error": "Video job not found"}, status_code=404)
        job.polls += 1
        if job.polls >= steps:
            state = "FAILED" if "[fail]" in job.prompt else "COMPLETED"
        else:
            state = "IN_QUEUE" if job.polls == 1 else "IN_PROGRESS"
        shape = nested if status_shape == "nested" else flat
        return JSONResponse(shape(job, state, request))

    async def images(request: Request) -> Response:
        await recorder.record(request)
        if not authorized(request, bearer=True):
            return _error(401, "Invalid API key", "authentication_error")
        try:
            body: Any = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):  # pyright: ignore[reportUnknownMemberType]
            return _error(400, "prompt is required")
        if "[fail]" in body["prompt"]:
            return _error(400, "Content policy violation: the prompt was blocked", "CONTENT_POLICY_VIOLATION")
        name = f"img{next(ids):06d}.png"
        if image_format == "url":
            item: dict[str, str] = {"url": f"{origin(request)}/files/{name}"}
        else:
            item = {"b64_json": base64.b64encode(TINY_PNG).decode("ascii")}
        return JSONResponse(
            {"created": 1, "data": [item], "cost": 0.01, "paymentSource": "USD", "remainingBalance": 12.49}
        )

    async def listing(request: Request) -> Response:
        await recorder.record(request)
        data = VIDEO_MODELS if request.url.path.endswith("video-models") else IMAGE_MODELS
        return JSONResponse({"object": "list", "data": data, "meta": {"count": len(data)}})

    async def files(request: Request) -> Response:
        await recorder.record(request)
        name: str = request.path_params["name"]
        if name.endswith(".mp4") and name.removesuffix(".mp4") in jobs:
            return Response(TINY_MP4, media_type="video/mp4")
        if name.startswith("img") and name.endswith(".png"):
            return Response(TINY_PNG, media_type="image/png")
        return Response("not found", status_code=404)

    return Starlette(
        routes=[
            Route("/api/generate-video", submit, methods=["POST"]),
            Route("/api/video/status", status, methods=["GET"]),
            Route("/v1/images/generations", images, methods=["POST"]),
            Route("/api/v1/video-models", listing, methods=["GET"]),
            Route("/api/v1/image-models", listing, methods=["GET"]),
            Route("/files/{name}", files, methods=["GET"]),
        ]
    )
