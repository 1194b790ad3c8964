"""VicSee adapter: exact submit bodies per mode, the upload flow, error codes, task parsing, the live model list,
validation before any request, and an end-to-end run over stdio against the loopback fake."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest
import respx

from providers import vicsee
from providers.base import GenerateRequest, MediaInput, ModelSpec, ProviderConfig, Task
from providers.catalog import load_catalog
from providers.errors import (
    AuthError,
    BadRequestError,
    InsufficientCreditsError,
    InvalidArgument,
    MediagenError,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from providers.http import RetryPolicy
from tests.fakes.loopback import Recorder, serve
from tests.fakes.vicsee import make_app
from tests.support import PROJECT_ROOT, generate_and_poll, png_bytes

pytestmark = pytest.mark.anyio

ORIGIN = "https://vicsee.test"
KEY = "sk-test-secret"
# retry_after_cap=0: a 429 is reported at once instead of being slept through.
FAST = RetryPolicy(attempts=2, base_delay=0, max_delay=0, retry_after_cap=0, deadline=10)
CATALOG: dict[str, ModelSpec] = {m.id: m for m in load_catalog("vicsee")}
P = "A red fox runs through fresh snow at dawn"
IMG = "https://img.example.com/first.png"
IMG2 = "https://img.example.com/last.png"
VID = "https://video.example.com/clip.mp4"
AUD = "https://audio.example.com/voice.mp3"
STORAGE = "https://uploads.storage.test/bucket/u1?X-Sig=abc"
PUBLIC = "https://cdn.vicsee.com/uploads/u1.png"


def ok(data: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": data}, headers=headers)


def refused(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "error": {"code": code, "message": message}}, headers=headers)


def accepted(model: str = "seedance-2-0-text-to-video", status: str = "pending") -> httpx.Response:
    data = {"id": "task_abc123", "model": model, "status": status, "creditsUsed": 440, "creditsRemaining": 1450}
    return ok({**data, "createdAt": "2026-02-11T12:00:00Z"})


def sent(route: respx.Route, index: int = 0) -> httpx.Request:
    return cast(httpx.Request, route.calls[index].request)  # pyright: ignore[reportUnknownMemberType]


def body(route: respx.Route, index: int = 0) -> Any:
    return json.loads(sent(route, index).content)


def local_png(size: int | None = None) -> MediaInput:
    data = png_bytes()
    if size is not None:
        data = data + b"\0" * (size - len(data))  # still starts like a PNG; the size is what matters here
    return MediaInput(data=data, mime="image/png", local=True)


@pytest.fixture
async def provider() -> AsyncIterator[vicsee.VicSeeProvider]:
    async with httpx.AsyncClient() as client:
        yield vicsee.create(ProviderConfig(name="vicsee", api_key=KEY, base_url=ORIGIN), client, policy=FAST)


# --- (a) exact submit bodies, one per mode --------------------------------------------------------------------


async def test_text_to_video_sends_model_and_snake_case_input_with_duration_as_a_json_number(
    provider: vicsee.VicSeeProvider,
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=accepted())
        task = await provider.submit(
            CATALOG["seedance-2-0-text-to-video"],
            GenerateRequest(prompt=P, duration=8.0, aspect_ratio="9:16", resolution="1080p", audio=False),
        )
    payload = body(route)
    assert payload == {
        "model": "seedance-2-0-text-to-video",
        "input": {"prompt": P, "duration": 8, "aspect_ratio": "9:16", "resolution": "1080p", "audio": False},
    }
    assert type(payload["input"]["duration"]) is int
    assert b'"options"' not in sent(route).content
    headers = sent(route).headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "mediagen-mcp/0.1"
    assert task.task_id == "vicsee:task_abc123" and task.provider == "vicsee"
    assert task.model == "vicsee/seedance-2-0-text-to-video" and task.status == "pending"
    assert (task.credits_used, task.credits_remaining, task.cost_unit) == (440.0, 1450.0, "credits")
    assert task.result is None and task.error is None
    assert task.poll_after_seconds is not None and task.poll_after_seconds >= 5


async def test_image_to_video_sends_a_small_local_png_inline_as_a_data_uri(provider: vicsee.VicSeeProvider) -> None:
    image = local_png()
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        upload = router.post("/api/v1/upload")
        route = router.post("/api/v1/generate").mock(return_value=accepted("seedance-2-0-image-to-video"))
        await provider.submit(
            CATALOG["seedance-2-0-image-to-video"], GenerateRequest(prompt=P, image_urls=(image,), duration=5)
        )
    uri = "data:image/png;base64," + base64.b64encode(image.data or b"").decode()
    assert body(route) == {
        "model": "seedance-2-0-image-to-video",
        "input": {"prompt": P, "image_urls": [uri], "duration": 5},
    }
    assert upload.call_count == 0


async def test_first_and_last_frames_are_sent_in_image_urls_order(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=accepted("minimax-h3-image-to-video"))
        await provider.submit(
            CATALOG["minimax-h3-image-to-video"],
            GenerateRequest(image_urls=(MediaInput(url=IMG), MediaInput(url=IMG2)), duration=6, resolution="2K"),
        )
    assert body(route) == {
        "model": "minimax-h3-image-to-video",
        "input": {"image_urls": [IMG, IMG2], "duration": 6, "resolution": "2K"},
    }


async def test_reference_to_video_sends_every_reference_list_under_its_own_name(
    provider: vicsee.VicSeeProvider,
) -> None:
    request = GenerateRequest(
        prompt="@Image1 walks past @Image2",
        reference_image_urls=(MediaInput(url=IMG), MediaInput(url=IMG2)),
        reference_video_urls=(MediaInput(url=VID),),
        reference_audio_urls=(MediaInput(url=AUD),),
        duration=10,
        resolution="720p",
    )
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=accepted("seedance-2-0-reference-to-video"))
        await provider.submit(CATALOG["seedance-2-0-reference-to-video"], request)
    assert body(route) == {
        "model": "seedance-2-0-reference-to-video",
        "input": {
            "prompt": "@Image1 walks past @Image2",
            "reference_image_urls": [IMG, IMG2],
            "reference_video_urls": [VID],
            "reference_audio_urls": [AUD],
            "duration": 10,
            "resolution": "720p",
        },
    }


async def test_video_edit_sends_the_source_video_url_and_audio_setting(provider: vicsee.VicSeeProvider) -> None:
    request = GenerateRequest(
        prompt="make it snow", video_url=MediaInput(url=VID), audio_setting="origin", resolution="1080p", seed=42
    )
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=accepted("happyhorse-video-edit"))
        await provider.submit(CATALOG["happyhorse-video-edit"], request)
    assert body(route) == {
        "model": "happyhorse-video-edit",
        "input": {
            "prompt": "make it snow",
            "video_url": VID,
            "audio_setting": "origin",
            "resolution": "1080p",
            "seed": 42,
        },
    }


async def test_text_to_image_sends_resolution_aspect_ratio_and_output_format(provider: vicsee.VicSeeProvider) -> None:
    request = GenerateRequest(prompt="a lighthouse", resolution="2K", aspect_ratio="1:1", output_format="png")
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=accepted("nano-banana-pro-text-to-image"))
        await provider.submit(CATALOG["nano-banana-pro-text-to-image"], request)
    assert body(route) == {
        "model": "nano-banana-pro-text-to-image",
        "input": {"prompt": "a lighthouse", "resolution": "2K", "aspect_ratio": "1:1", "output_format": "png"},
    }


async def test_extra_is_merged_first_and_the_named_arguments_win(provider: vicsee.VicSeeProvider) -> None:
    request = GenerateRequest(prompt=P, duration=6, extra={"web_search": True, "duration": 12, "nsfw_checker": False})
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=accepted())
        await provider.submit(CATALOG["seedance-2-0-text-to-video"], request)
    payload = body(route)
    assert payload == {
        "model": "seedance-2-0-text-to-video",
        "input": {"web_search": True, "duration": 6, "nsfw_checker": False, "prompt": P},
    }
    assert list(payload["input"])[:3] == ["web_search", "duration", "nsfw_checker"]


# --- (b) the upload flow for large local images ---------------------------------------------------------------


async def test_a_large_local_image_is_uploaded_and_the_body_carries_the_public_url(
    provider: vicsee.VicSeeProvider,
) -> None:
    image = local_png(vicsee.INLINE_BUDGET + 1)
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        sign = router.post("/api/v1/upload").mock(
            return_value=ok({"uploadUrl": STORAGE, "publicUrl": PUBLIC, "key": "u1"})
        )
        put = router.put(STORAGE).mock(return_value=httpx.Response(200))
        route = router.post("/api/v1/generate").mock(return_value=accepted("seedance-2-0-image-to-video"))
        await provider.submit(CATALOG["seedance-2-0-image-to-video"], GenerateRequest(prompt=P, image_urls=(image,)))
    assert body(sign) == {"contentType": "image/png", "sizeBytes": vicsee.INLINE_BUDGET + 1}
    assert sent(sign).headers["authorization"] == f"Bearer {KEY}"
    uploaded = sent(put)
    assert "authorization" not in uploaded.headers
    assert uploaded.headers["content-type"] == "image/png"
    assert uploaded.content == image.data
    assert body(route) == {"model": "seedance-2-0-image-to-video", "input": {"prompt": P, "image_urls": [PUBLIC]}}


async def test_local_images_share_one_inline_budget_so_the_overflow_is_uploaded(
    provider: vicsee.VicSeeProvider,
) -> None:
    half = vicsee.INLINE_BUDGET * 2 // 3
    first, second = local_png(half), local_png(half)
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        sign = router.post("/api/v1/upload").mock(return_value=ok({"uploadUrl": STORAGE, "publicUrl": PUBLIC}))
        router.put(STORAGE).mock(return_value=httpx.Response(200))
        route = router.post("/api/v1/generate").mock(return_value=accepted("seedance-2-0-reference-to-video"))
        await provider.submit(
            CATALOG["seedance-2-0-reference-to-video"], GenerateRequest(prompt=P, reference_image_urls=(first, second))
        )
    refs = body(route)["input"]["reference_image_urls"]
    assert refs[0].startswith("data:image/png;base64,") and refs[1] == PUBLIC
    assert sign.call_count == 1


async def test_a_failed_upload_put_stops_before_generate(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.post("/api/v1/upload").mock(return_value=ok({"uploadUrl": STORAGE, "publicUrl": PUBLIC}))
        router.put(STORAGE).mock(return_value=httpx.Response(403, text="SignatureDoesNotMatch"))
        route = router.post("/api/v1/generate")
        with pytest.raises(MediagenError) as caught:
            await provider.submit(
                CATALOG["seedance-2-0-image-to-video"],
                GenerateRequest(prompt=P, image_urls=(local_png(vicsee.INLINE_BUDGET + 1),)),
            )
    assert route.call_count == 0
    assert "paid plan" not in caught.value.message  # a storage refusal is not VicSee's FORBIDDEN


# --- (c) error codes --------------------------------------------------------------------------------------------

ERRORS: list[tuple[int, str, str, type[MediagenError], list[str], bool]] = [
    (400, "MISSING_MODEL", "No model specified", BadRequestError, ["model:", "list_models"], False),
    (400, "INVALID_MODEL", "Model does not exist", BadRequestError, ["model:", "list_models"], False),
    (400, "MISSING_PROMPT", "No prompt provided", BadRequestError, ["prompt:", "pass prompt"], False),
    (400, "INVALID_JSON", "Invalid JSON body", BadRequestError, ["could not read the request", "extra"], False),
    (
        402,
        "INSUFFICIENT_CREDITS",
        "Required: 60, Available: 45",
        InsufficientCreditsError,
        ["Required: 60, Available: 45", "Top up credits at vicsee.com"],
        False,
    ),
    (401, "MISSING_AUTH_HEADER", "No Authorization header provided", AuthError, ["VICSEE_API_KEY"], False),
    (401, "INVALID_AUTH_FORMAT", "Invalid Authorization format", AuthError, ["VICSEE_API_KEY"], False),
    (401, "INVALID_KEY_FORMAT", "Key doesn't start with sk-", AuthError, ["VICSEE_API_KEY", "sk-"], False),
    (401, "INVALID_API_KEY", f"Key {KEY} not found or inactive", AuthError, ["VICSEE_API_KEY", "[redacted]"], False),
    (403, "FORBIDDEN", "API access requires a paid plan", AuthError, ["paid plan", "another account"], False),
    (502, "UPSTREAM_ERROR", "Provider error", UpstreamError, ["upstream", "try again"], True),
]


@pytest.mark.parametrize(
    ("status", "code", "message", "kind", "fragments", "retryable"), ERRORS, ids=[e[1] for e in ERRORS]
)
async def test_each_submit_error_code_maps_to_an_actionable_error_without_the_key(
    provider: vicsee.VicSeeProvider,
    status: int,
    code: str,
    message: str,
    kind: type[MediagenError],
    fragments: list[str],
    retryable: bool,
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(return_value=refused(status, code, message))
        with pytest.raises(kind) as caught:
            await provider.submit(CATALOG["seedance-2-0-text-to-video"], GenerateRequest(prompt=P))
    error = caught.value
    assert route.call_count == 1
    assert all(f in error.message for f in fragments), error.message
    assert error.retryable is retryable and error.provider == "vicsee" and error.provider_code == code
    assert error.code == kind.code  # the kind of failure; VicSee's own code is kept as data
    assert KEY not in error.message and KEY not in str(error)
    if code in ("MISSING_MODEL", "INVALID_MODEL", "MISSING_PROMPT"):
        assert isinstance(error, vicsee.FieldError) and error.field == fragments[0].rstrip(":")


async def test_rate_limited_reports_the_daily_quota_and_when_it_resets(provider: vicsee.VicSeeProvider) -> None:
    reset = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    quota = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/api/v1/generate").mock(
            return_value=refused(429, "RATE_LIMITED", f"Limit: 100/day. Resets at: {reset}", **quota)
        )
        with pytest.raises(RateLimitedError) as caught:
            await provider.submit(CATALOG["seedance-2-0-text-to-video"], GenerateRequest(prompt=P))
    error = caught.value
    assert route.call_count == 1  # hours away: never slept through or resent
    assert error.retryable and error.retry_after is not None and 3 * 3600 - 60 < error.retry_after <= 3 * 3600
    assert "daily" in error.message and f"0 VicSee requests left today (of 100), resets at {reset}" in error.message
    assert provider.last_rate_limit == vicsee.RateLimit(100, 0, reset)


async def test_rate_limited_prefers_retry_after_when_given(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.get("/api/v1/tasks/task_abc123").mock(
            return_value=refused(429, "RATE_LIMITED", "Too many requests", **{"Retry-After": "120"})
        )
        with pytest.raises(RateLimitedError) as caught:
            await provider.fetch("task_abc123")
    assert caught.value.retry_after == 120.0 and "Retry after 120 s" in caught.value.message


async def test_a_2xx_with_success_false_is_an_error(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.post("/api/v1/generate").mock(
            return_value=refused(200, "INSUFFICIENT_CREDITS", "Required: 60, Available: 45")
        )
        with pytest.raises(InsufficientCreditsError, match="Required: 60, Available: 45"):
            await provider.submit(CATALOG["seedance-2-0-text-to-video"], GenerateRequest(prompt=P))


async def test_an_unknown_task_is_not_found_and_names_the_task_id(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/api/v1/tasks/task_gone").mock(
            return_value=refused(404, "TASK_NOT_FOUND", "Task not found")
        )
        with pytest.raises(NotFoundError, match="task_id") as caught:
            await provider.fetch("task_gone")
    assert route.call_count == 1 and not caught.value.retryable


async def test_a_task_of_another_account_is_forbidden_not_retryable(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.get("/api/v1/tasks/task_x").mock(return_value=refused(403, "FORBIDDEN", "Not your task"))
        with pytest.raises(AuthError, match="another account") as caught:
            await provider.fetch("task_x")
    assert not caught.value.retryable


async def test_a_502_on_a_poll_is_retried_then_succeeds(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/api/v1/tasks/task_abc123").mock(
            side_effect=[
                refused(502, "UPSTREAM_ERROR", "bad gateway"),
                ok({"id": "task_abc123", "status": "processing"}),
            ]
        )
        task = await provider.fetch("task_abc123")
    assert route.call_count == 2 and task.status == "processing"


# --- (d) task parsing -------------------------------------------------------------------------------------------


async def poll(provider: vicsee.VicSeeProvider, data: dict[str, Any], **headers: str) -> Task:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/api/v1/tasks/task_abc123").mock(return_value=ok({"id": "task_abc123", **data}, **headers))
        task = await provider.fetch("task_abc123")
    assert sent(route).headers["authorization"] == f"Bearer {KEY}"
    return task


@pytest.mark.parametrize("spelling", ["completed", "success", "COMPLETED"])
async def test_both_success_spellings_complete_the_task_with_its_url(
    provider: vicsee.VicSeeProvider, spelling: str
) -> None:
    url = "https://cdn.vicsee.com/videos/abc123.mp4"
    task = await poll(
        provider,
        {
            "model": "seedance-2-0-text-to-video",
            "status": spelling,
            "mediaType": "video",
            "result": {"url": url, "type": "video"},
            "error": None,
        },
    )
    assert task.status == "completed" and task.progress == 100.0 and task.poll_after_seconds is None
    assert task.result is not None and task.result.url == url and task.result.urls == [url]
    assert task.result.media_type == "video" and task.error is None
    assert task.model == "vicsee/seedance-2-0-text-to-video" and task.task_id == "vicsee:task_abc123"


@pytest.mark.parametrize("spelling", ["failed", "error"])
async def test_a_failed_task_carries_vicsee_code_key_and_message(
    provider: vicsee.VicSeeProvider, spelling: str
) -> None:
    error = {"code": "IMAGE_TOO_LARGE", "key": "image_too_large", "message": "Input image exceeds 36MP"}
    task = await poll(provider, {"status": spelling, "result": None, "error": error})
    assert task.status == "failed" and task.result is None and task.poll_after_seconds is None
    assert task.error is not None and task.error.code == "IMAGE_TOO_LARGE" and not task.error.retryable
    assert "Input image exceeds 36MP" in task.error.message and "image_too_large" in task.error.message
    assert task.model is None  # the poll did not say


async def test_a_generic_generation_failure_is_marked_retryable(provider: vicsee.VicSeeProvider) -> None:
    error = {"code": "GENERATION_FAILED", "key": "generic", "message": "Generation failed"}
    task = await poll(provider, {"status": "failed", "error": error})
    assert task.error is not None and task.error.code == "GENERATION_FAILED" and task.error.retryable


async def test_a_content_moderation_failure_is_reported_as_content_policy(provider: vicsee.VicSeeProvider) -> None:
    error = {"code": "CONTENT_POLICY_VIOLATION", "key": "nsfw", "message": "Flagged by the safety filter"}
    task = await poll(provider, {"status": "failed", "error": error})
    assert task.error is not None and task.error.code == "content_policy" and not task.error.retryable
    assert "CONTENT_POLICY_VIOLATION" in task.error.message


@pytest.mark.parametrize(
    ("spelling", "status", "wait"),
    [
        ("pending", "pending", 8.0),
        ("queued", "pending", 8.0),
        ("processing", "processing", 10.0),
        ("running", "processing", 10.0),
        ("", "pending", 8.0),
    ],
)
async def test_in_flight_spellings_keep_polling_at_a_quota_friendly_pace(
    provider: vicsee.VicSeeProvider, spelling: str, status: str, wait: float
) -> None:
    task = await poll(provider, {"status": spelling, "result": None, "progress": 40})
    assert task.status == status and task.result is None and task.error is None
    assert task.poll_after_seconds == wait and task.progress == 40.0


async def test_urls_anywhere_in_the_result_are_collected_when_result_url_is_missing(
    provider: vicsee.VicSeeProvider,
) -> None:
    songs = {
        "songs": [
            {"audio_url": "https://cdn.vicsee.com/a.mp3", "title": "A"},
            {"audio_url": "https://cdn.vicsee.com/b.mp3"},
        ]
    }
    task = await poll(provider, {"status": "completed", "result": songs})
    assert task.result is not None and task.result.url == "https://cdn.vicsee.com/a.mp3"
    assert task.result.urls == ["https://cdn.vicsee.com/a.mp3", "https://cdn.vicsee.com/b.mp3"]
    images = {
        "url": "https://cdn.vicsee.com/1.png",
        "images": ["https://cdn.vicsee.com/1.png", "https://cdn.vicsee.com/2.png"],
    }
    task = await poll(provider, {"status": "completed", "mediaType": "image", "result": images})
    assert task.result is not None and task.result.urls == [
        "https://cdn.vicsee.com/1.png",
        "https://cdn.vicsee.com/2.png",
    ]
    assert task.result.media_type == "image"


async def test_a_completed_task_without_any_url_is_failed_with_no_result(provider: vicsee.VicSeeProvider) -> None:
    task = await poll(provider, {"status": "completed", "result": {"type": "video"}})
    assert task.status == "failed" and task.error is not None and task.error.code == "NO_RESULT"


async def test_the_quota_headers_are_kept_and_a_low_remainder_slows_polling(provider: vicsee.VicSeeProvider) -> None:
    reset = "2026-05-01T00:00:00Z"
    task = await poll(
        provider,
        {"status": "processing"},
        **{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "20", "X-RateLimit-Reset": reset},
    )
    assert task.poll_after_seconds == 30.0
    assert str(provider.last_rate_limit) == f"20 VicSee requests left today (of 100), resets at {reset}"
    task = await poll(provider, {"status": "processing"}, **{"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": reset})
    assert task.poll_after_seconds == 60.0
    task = await poll(
        provider, {"status": "processing"}, **{"X-RateLimit-Remaining": "400", "X-RateLimit-Reset": reset}
    )
    assert task.poll_after_seconds == 10.0


# --- (e) the live model list ------------------------------------------------------------------------------------

LIVE = [
    {"id": "seedance-2-0-text-to-video", "type": "video", "credits": 999},
    {"id": "nano-banana-pro-text-to-image", "type": "image", "credits": 30},
    {"id": "kling-3-0-image-to-video", "mediaType": "video", "cost": 250, "maxImages": 2},
    {"id": "suno-v5", "type": "music", "credits": 10},
    {"name": "no id"},
    "garbage",
]


@pytest.mark.parametrize("shape", ["array", "object"])
async def test_the_live_list_adds_lenient_models_and_the_catalog_wins(
    provider: vicsee.VicSeeProvider, shape: str
) -> None:
    data: Any = LIVE if shape == "array" else {"models": LIVE}
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/api/v1/models").mock(return_value=ok(data))
        models = await provider.live_models()
        again = await provider.live_models()
    assert route.call_count == 1 and again == models  # cached for the process
    assert "authorization" not in sent(route).headers  # public endpoint: the key is never sent
    by_id = {m.id: m for m in models}
    assert set(CATALOG) < set(by_id) and "suno-v5" not in by_id
    assert by_id["seedance-2-0-text-to-video"] == CATALOG["seedance-2-0-text-to-video"]
    assert by_id["nano-banana-pro-text-to-image"].price == "30 credits"  # filled only where the catalog has none
    kling = by_id["kling-3-0-image-to-video"]
    assert not kling.strict and kling.media_type == "video" and kling.modes == ["image-to-video"]
    assert kling.price == "250 credits" and "maxImages: 2" in kling.description
    assert {p.field for p in kling.params.values()} == set(kling.params)


async def test_a_type_filter_is_passed_as_a_query_parameter(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/api/v1/models").mock(return_value=ok([{"id": "flux-2-text-to-image", "type": "image"}]))
        models = await provider.live_models("image")
    assert sent(route).url.params["type"] == "image"
    assert {m.media_type for m in models} == {"image"} and "flux-2-text-to-image" in {m.id for m in models}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="oops"),
        httpx.Response(200, text="<html>maintenance</html>"),
        refused(200, "INTERNAL_ERROR", "x"),
        ok("nope"),
    ],
    ids=["http-500", "not-json", "success-false", "not-a-list"],
)
async def test_a_failing_model_list_falls_back_to_the_bundled_catalog(
    provider: vicsee.VicSeeProvider, answer: httpx.Response
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.get("/api/v1/models").mock(return_value=answer)
        models = await provider.live_models()
    assert models == list(CATALOG.values())


async def test_a_live_only_model_passes_any_argument_and_extra_through(provider: vicsee.VicSeeProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.get("/api/v1/models").mock(return_value=ok(LIVE))
        kling = next(m for m in await provider.live_models() if m.id == "kling-3-0-image-to-video")
        route = router.post("/api/v1/generate").mock(return_value=accepted("kling-3-0-image-to-video"))
        request = GenerateRequest(
            prompt=P,
            image_urls=(MediaInput(url=IMG),),
            duration=5.0,
            negative_prompt="blur",
            extra={"mode": "pro", "prompt": "x"},
        )
        await provider.submit(kling, request)
    assert body(route) == {
        "model": "kling-3-0-image-to-video",
        "input": {"mode": "pro", "prompt": P, "image_urls": [IMG], "duration": 5, "negative_prompt": "blur"},
    }


# --- (f) validation before any request --------------------------------------------------------------------------

INVALID: list[tuple[str, GenerateRequest, str]] = [
    ("seedance-2-0-text-to-video", GenerateRequest(prompt=P, duration=20), "duration"),
    ("seedance-2-0-text-to-video", GenerateRequest(prompt=P, duration=7.5), "duration"),
    ("seedance-2-0-text-to-video", GenerateRequest(prompt=P, resolution="4K"), "resolution"),
    ("seedance-2-0-text-to-video", GenerateRequest(), "prompt"),
    (
        "seedance-2-0-text-to-video",
        GenerateRequest(prompt=P, extra={"options": {"aspectRatio": "16:9"}}),
        "extra.options",
    ),
    ("seedance-2-5-text-to-video", GenerateRequest(prompt=P, resolution="1080p"), "resolution"),
    ("happyhorse-text-to-video", GenerateRequest(prompt=P, aspect_ratio="21:9"), "aspect_ratio"),
    ("happyhorse-text-to-video", GenerateRequest(prompt=P, seed=2**31), "seed"),
    ("happyhorse-video-edit", GenerateRequest(prompt=P), "video_url"),
    (
        "happyhorse-video-edit",
        GenerateRequest(prompt=P, video_url=MediaInput(url=VID), audio_setting="keep"),
        "audio_setting",
    ),
    ("seedance-2-0-image-to-video", GenerateRequest(prompt=P), "image_urls"),
    ("minimax-h3-image-to-video", GenerateRequest(image_urls=(MediaInput(url=IMG),), audio=True), "audio"),
    (
        "minimax-h3-image-to-video",
        GenerateRequest(image_urls=(MediaInput(url=IMG),), aspect_ratio="16:9"),
        "aspect_ratio",
    ),
    (
        "seedance-2-0-reference-to-video",
        GenerateRequest(prompt=P, reference_image_urls=tuple(MediaInput(url=IMG) for _ in range(8))),
        "reference_image_urls",
    ),
    (
        "seedance-2-5-reference-to-video",
        GenerateRequest(prompt=P, reference_image_urls=tuple(MediaInput(url=IMG) for _ in range(11))),
        "reference_image_urls",
    ),
    (
        "minimax-h3-reference-to-video",
        GenerateRequest(prompt=P, reference_image_urls=tuple(MediaInput(url=IMG) for _ in range(6))),
        "reference_image_urls",
    ),
    (
        "minimax-h3-reference-to-video",
        GenerateRequest(prompt=P, reference_audio_urls=(MediaInput(url=AUD),)),
        "reference_image_urls",
    ),
    ("seedance-2-0-reference-to-video", GenerateRequest(prompt=P), "reference_image_urls"),
    ("nano-banana-pro-text-to-image", GenerateRequest(prompt=P, duration=5), "duration"),
    ("nano-banana-pro-text-to-image", GenerateRequest(prompt=P, resolution="8K"), "resolution"),
]


@pytest.mark.parametrize(("model", "request_", "field"), INVALID, ids=[f"{m}-{f}" for m, _, f in INVALID])
async def test_invalid_arguments_are_refused_before_any_request(
    provider: vicsee.VicSeeProvider, model: str, request_: GenerateRequest, field: str
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        with pytest.raises(InvalidArgument) as caught:
            await provider.submit(CATALOG[model], request_)
        assert not router.calls  # (respx forgets the calls when the mock exits)
    assert caught.value.field == field, caught.value.message


def test_the_catalog_lists_the_documented_models_with_unified_field_names() -> None:
    expected = {
        "seedance-2-0-text-to-video",
        "seedance-2-0-image-to-video",
        "seedance-2-0-reference-to-video",
        "seedance-2-5-text-to-video",
        "seedance-2-5-reference-to-video",
        "minimax-h3-image-to-video",
        "minimax-h3-reference-to-video",
        "happyhorse-text-to-video",
        "happyhorse-video-edit",
        "veo-3-1-image-to-video",
        "nano-banana-pro-text-to-image",
    }
    assert set(CATALOG) == expected
    for spec in CATALOG.values():
        assert spec.provider == "vicsee" and spec.strict
        for wire, param in spec.params.items():
            assert param.field in (wire, None), (spec.id, wire)  # VicSee's wire names ARE the unified names
    assert CATALOG["seedance-2-0-reference-to-video"].params["reference_image_urls"].max_items == 7
    assert CATALOG["seedance-2-5-reference-to-video"].params["reference_image_urls"].max_items == 10
    assert CATALOG["minimax-h3-reference-to-video"].params["reference_image_urls"].max_items == 5
    assert CATALOG["happyhorse-text-to-video"].params["seed"].max == 2147483647


# --- (g) the loopback fake, through the adapter and through the real server over stdio --------------------------


async def test_the_adapter_drives_the_loopback_fake_through_upload_and_completion() -> None:
    recorder = Recorder()
    with serve(make_app(recorder, polls_to_complete=3)) as origin:
        async with httpx.AsyncClient() as client:
            adapter = vicsee.create(ProviderConfig(name="vicsee", api_key=KEY, base_url=origin), client, policy=FAST)
            big = local_png(vicsee.INLINE_BUDGET + 10)
            with anyio.fail_after(30):
                task = await adapter.submit(
                    CATALOG["seedance-2-0-image-to-video"], GenerateRequest(prompt=P, image_urls=(big,), duration=5)
                )
                seen = [task.status]
                while not task.terminal:
                    task = await adapter.fetch(task.native_id)
                    seen.append(task.status)
                media = await client.get(task.result.url if task.result and task.result.url else "")
    assert seen == ["pending", "pending", "processing", "completed"]
    assert task.result is not None and task.result.media_type == "video" and media.content[4:8] == b"ftyp"
    put = recorder.matching("PUT", "/storage/")[0]
    assert "authorization" not in put.headers and put.body == big.data
    posted = recorder.matching("POST", "/api/v1/generate")[0].json()
    assert posted["input"]["image_urls"][0].startswith(f"{origin}/cdn/uploads/")
    assert adapter.last_rate_limit is not None and adapter.last_rate_limit.remaining == 500 - 5


async def test_the_loopback_fake_rejects_a_wrong_key_with_vicsee_codes() -> None:
    recorder = Recorder()
    with serve(make_app(recorder)) as origin:
        async with httpx.AsyncClient() as client:
            adapter = vicsee.create(
                ProviderConfig(name="vicsee", api_key="sk-wrong", base_url=origin), client, policy=FAST
            )
            with anyio.fail_after(30), pytest.raises(AuthError, match="INVALID_API_KEY") as caught:
                await adapter.submit(CATALOG["seedance-2-0-text-to-video"], GenerateRequest(prompt=P))
    assert "sk-wrong" not in caught.value.message


def _server_env(origin: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        {
            "VICSEE_API_KEY": KEY,
            "VICSEE_BASE_URL": origin,
            "MEDIAGEN_OUTPUT_DIR": str(tmp_path),
            "MEDIAGEN_ALLOW_PRIVATE_URLS": "1",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    return env


async def _run_over_stdio(origin: str, tmp_path: Path, arguments: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "server"], cwd=str(PROJECT_ROOT), env=_server_env(origin, tmp_path)
    )
    with anyio.fail_after(90):
        async with Client(params) as client:
            seen = await generate_and_poll(client, arguments)
            listed = await client.call_tool("list_models", {"provider": "vicsee", "limit": 500})
    return seen, listed


async def test_end_to_end_over_stdio_seedance_is_generated_and_polled_to_completed(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(make_app(recorder)) as origin:
        seen, listed = await _run_over_stdio(
            origin,
            tmp_path,
            {"model": "vicsee/seedance-2-0-text-to-video", "prompt": P, "duration": 5, "aspect_ratio": "16:9"},
        )
    first, last = seen[0], seen[-1]
    assert first["task_id"].startswith("vicsee:task_") and first["status"] == "pending"
    assert first["model"] == "vicsee/seedance-2-0-text-to-video" and first["credits_used"] == 60
    assert first["poll_after_seconds"] >= 5
    assert [t["status"] for t in seen] == ["pending", "pending", "completed"]
    assert last["result"]["url"].startswith(f"{origin}/cdn/") and last["result"]["media_type"] == "video"
    assert last["error"] is None
    posts = recorder.matching("POST", "/api/v1/generate")
    assert len(posts) == 1
    assert posts[0].json() == {
        "model": "seedance-2-0-text-to-video",
        "input": {"prompt": P, "duration": 5, "aspect_ratio": "16:9"},
    }
    assert all(
        r.headers["authorization"] == f"Bearer {KEY}" for r in recorder.requests if r.path.startswith("/api/v1/tasks")
    )
    assert all("authorization" not in r.headers for r in recorder.matching("GET", "/api/v1/models"))
    assert KEY not in json.dumps(seen)
    assert not listed.is_error
    ids = {m["id"] for m in listed.structured_content["models"]}
    assert {"vicsee/seedance-2-0-text-to-video", "vicsee/kling-3-0-text-to-video"} <= ids


async def test_end_to_end_over_stdio_a_failing_task_reports_vicsee_reason(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(make_app(recorder)) as origin:
        seen, _ = await _run_over_stdio(
            origin, tmp_path, {"model": "vicsee/happyhorse-text-to-video", "prompt": "[fail] a storm"}
        )
    last = seen[-1]
    assert last["status"] == "failed" and last["error"]["code"] == "GENERATION_FAILED"
    assert "The model failed (fake)." in last["error"]["message"]
