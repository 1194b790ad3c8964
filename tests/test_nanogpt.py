"""NanoGPT: exact video bodies per mode, both status shapes, the model lists, the synchronous image flow, errors,
the loopback fake, and an end-to-end run over stdio."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from providers.base import GenerateRequest, MediaInput, ModelSpec, ProviderConfig, Task
from providers.errors import (
    AuthError,
    BadRequestError,
    ContentPolicyError,
    InsufficientCreditsError,
    InvalidArgument,
    MediagenError,
    NotFoundError,
    RateLimitedError,
    UncertainSubmitError,
    UpstreamError,
)
from providers.http import RetryPolicy
from providers.nanogpt import NanoGPTProvider, create
from tests.fakes.loopback import Recorder, serve
from tests.fakes.nanogpt import TINY_MP4, TINY_PNG, make_app
from tests.support import poll_to_end

pytestmark = pytest.mark.anyio

ORIGIN = "https://nano-gpt.test"
KEY = "sk-nano-test-secret"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAST = RetryPolicy(base_delay=0, max_delay=0, attempts=2)
ACCEPTED = {
    "runId": "vid_m1abc123def456",
    "id": "vid_m1abc123def456",
    "status": "pending",
    "model": "veo2-video",
    "cost": 0.35,
    "paymentSource": "USD",
    "remainingBalance": 12.5,
    "prechargeLabel": "precharge",
}
STATUS_PATH = "/api/video/status"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def provider(client: httpx.AsyncClient, tmp_path: Path) -> NanoGPTProvider:
    return make(client, tmp_path)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as r:
        yield r


def make(client: httpx.AsyncClient, out: Path, base_url: str = ORIGIN, key: str = KEY) -> NanoGPTProvider:
    config = ProviderConfig(name="nanogpt", api_key=key, base_url=base_url, output_dir=str(out))
    return create(config, client, policy=FAST)


def spec(provider: NanoGPTProvider, model_id: str) -> ModelSpec:
    return next(m for m in provider.models() if m.id == model_id)


def first(route: respx.Route) -> httpx.Request:
    calls: Any = route.calls
    request: httpx.Request = calls[0].request
    return request


def sent(route: respx.Route) -> Any:
    return json.loads(first(route).content)


def url(*values: str) -> tuple[MediaInput, ...]:
    return tuple(MediaInput(url=v) for v in values)


def local_png(size: int = 0) -> MediaInput:
    return MediaInput(data=TINY_PNG + b"\x00" * size, mime="image/png", local=True)


def data_uri(media: MediaInput) -> str:
    return "data:image/png;base64," + base64.b64encode(media.data or b"").decode("ascii")


# --- the catalog ----------------------------------------------------------------------------------------------------


async def test_the_bundled_catalog_has_the_documented_video_ids_and_some_image_ids(provider: NanoGPTProvider) -> None:
    ids = {m.id for m in provider.models()}
    documented = {
        "veo2-video", "veo3-video", "veo3-1-video", "sora-2", "kling-video-v2", "kling-v21-pro", "seedance-video",
        "wan-video-22", "minimax-hailuo-02", "vidu-video", "midjourney-video", "veo3-1-extend",
        "wan-wavespeed-25-extend",
    }  # fmt: skip
    assert documented <= ids
    assert {"hidream", "flux-kontext", "gpt-image-1"} <= {m.id for m in provider.models() if m.media_type == "image"}
    assert all(not m.strict and m.provider == "nanogpt" for m in provider.models())


async def test_create_works_without_a_key_for_listing_only(client: httpx.AsyncClient, tmp_path: Path) -> None:
    bare = create(ProviderConfig(name="nanogpt", api_key=None, base_url=ORIGIN), client)
    assert bare.name == "nanogpt" and len(bare.models()) > 10


# --- video submit: exact bodies -------------------------------------------------------------------------------------


async def test_text_to_video_sends_the_flat_body_with_x_api_key_and_reads_the_202(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    request = GenerateRequest(
        prompt="an eagle over peaks", duration=5, aspect_ratio="16:9", negative_prompt="blur", seed=42
    )
    task = await provider.submit(spec(provider, "veo2-video"), request)
    assert sent(route) == {
        "model": "veo2-video",
        "prompt": "an eagle over peaks",
        "duration": "5s",
        "aspect_ratio": "16:9",
        "negative_prompt": "blur",
        "seed": 42,
    }
    headers = first(route).headers
    assert headers["x-api-key"] == KEY and "authorization" not in headers
    assert headers["content-type"] == "application/json"
    assert (task.task_id, task.provider, task.model) == ("nanogpt:vid_m1abc123def456", "nanogpt", "nanogpt/veo2-video")
    assert (task.status, task.result, task.error) == ("pending", None, None)
    assert (task.credits_used, task.credits_remaining, task.cost_unit) == (0.35, 12.5, "USD")
    assert task.poll_after_seconds == 5.0


async def test_kling_duration_is_sent_as_the_plain_string_10(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    await provider.submit(spec(provider, "kling-video-v2"), GenerateRequest(prompt="a cat", duration=10))
    assert sent(route) == {"model": "kling-video-v2", "prompt": "a cat", "duration": "10"}


async def test_a_lenient_model_without_listed_durations_gets_str_of_the_integer(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    await provider.submit(spec(provider, "vidu-video"), GenerateRequest(prompt="a cat", duration=7.0))
    assert sent(route) == {"model": "vidu-video", "prompt": "a cat", "duration": "7"}


async def test_sora_duration_is_sent_as_seconds(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    request = GenerateRequest(prompt="a dog", duration=8, extra={"orientation": "portrait"})
    await provider.submit(spec(provider, "sora-2"), request)
    assert sent(route) == {"model": "sora-2", "prompt": "a dog", "seconds": "8", "orientation": "portrait"}


async def test_unified_audio_is_sent_as_generate_audio(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    await provider.submit(spec(provider, "veo3-video"), GenerateRequest(prompt="rain", audio=True, duration=8))
    assert sent(route) == {"model": "veo3-video", "prompt": "rain", "generateAudio": True, "duration": "8s"}


async def test_an_https_start_image_is_sent_as_image_url(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    request = GenerateRequest(
        prompt="walks forward", image_urls=url("https://assets.example.com/w.jpg"), duration=5, aspect_ratio="16:9"
    )
    await provider.submit(spec(provider, "kling-v21-pro"), request)
    assert sent(route) == {
        "model": "kling-v21-pro",
        "prompt": "walks forward",
        "imageUrl": "https://assets.example.com/w.jpg",
        "duration": "5",
        "aspect_ratio": "16:9",
    }


async def test_a_local_start_image_is_sent_as_image_data_url(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    image = local_png()
    await provider.submit(spec(provider, "kling-v21-pro"), GenerateRequest(prompt="wave", image_urls=(image,)))
    assert sent(route) == {"model": "kling-v21-pro", "prompt": "wave", "imageDataUrl": data_uri(image)}


async def test_an_inline_image_over_4_mb_is_refused_before_any_request(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    big = local_png(3 * 1024 * 1024 + 200)  # just over 4 MB once base64-encoded
    with pytest.raises(InvalidArgument) as caught:
        await provider.submit(spec(provider, "kling-v21-pro"), GenerateRequest(prompt="wave", image_urls=(big,)))
    assert caught.value.field == "image_urls[0]"
    assert "4 MB" in caught.value.message and "https URL" in caught.value.message
    assert route.call_count == 0 and not router.calls


async def test_references_are_sent_as_arrays_and_reference_audio_as_audio_url(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    inline = local_png()
    request = GenerateRequest(
        prompt="@Image1 dances",
        reference_image_urls=(MediaInput(url="https://e.com/a.png"), inline),
        reference_video_urls=url("https://e.com/move.mp4"),
        reference_audio_urls=url("https://e.com/beat.mp3"),
    )
    await provider.submit(spec(provider, "wan-wavespeed-26"), request)
    assert sent(route) == {
        "model": "wan-wavespeed-26",
        "prompt": "@Image1 dances",
        "referenceImages": ["https://e.com/a.png", data_uri(inline)],
        "referenceVideos": ["https://e.com/move.mp4"],
        "audioUrl": "https://e.com/beat.mp3",
    }


@pytest.mark.parametrize("model_id", ["veo3-1-extend", "wan-wavespeed-25-extend", "wan-wavespeed-video-edit"])
async def test_extend_and_edit_models_send_the_source_as_video_url(
    provider: NanoGPTProvider, router: respx.MockRouter, model_id: str
) -> None:
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    request = GenerateRequest(prompt="keep going", video_url=MediaInput(url="https://e.com/clip.mp4"))
    await provider.submit(spec(provider, model_id), request)
    assert sent(route) == {"model": model_id, "prompt": "keep going", "videoUrl": "https://e.com/clip.mp4"}


@pytest.mark.parametrize(
    ("model_id", "request_", "field"),
    [
        ("kling-video-v2", GenerateRequest(prompt="p", image_urls=url("https://e.com/a.png")), "image_urls"),
        ("veo2-video", GenerateRequest(prompt="p", video_url=MediaInput(url="https://e.com/v.mp4")), "video_url"),
        ("veo2-video", GenerateRequest(prompt="p", reference_image_urls=url("https://e/a")), "reference_image_urls"),
        ("veo3-1-extend", GenerateRequest(prompt="p"), "video_url"),
        ("kling-v21-pro", GenerateRequest(prompt="p"), "image_urls[0]"),
        ("wan-wavespeed-26", GenerateRequest(prompt="p", reference_audio_urls=url("https://e/1", "https://e/2")),
         "reference_audio_urls"),
    ],
)  # fmt: skip
async def test_media_the_model_does_not_take_or_needs_is_refused_before_any_request(
    provider: NanoGPTProvider, router: respx.MockRouter, model_id: str, request_: GenerateRequest, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await provider.submit(spec(provider, model_id), request_)
    assert caught.value.field == field
    assert not router.calls


async def test_any_2xx_submit_answer_is_accepted_and_id_stands_in_for_run_id(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.post("/api/generate-video").respond(200, json={"id": "vid_only_id", "status": "pending", "model": "x"})
    task = await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="p"))
    assert task.task_id == "nanogpt:vid_only_id" and task.credits_used is None and task.cost_unit is None


async def test_payment_source_becomes_the_cost_unit(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    router.post("/api/generate-video").respond(202, json={**ACCEPTED, "paymentSource": "XNO"})
    task = await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="p"))
    assert task.cost_unit == "XNO"


async def test_a_submit_answer_without_a_job_id_is_an_uncertain_outcome_that_is_not_retried(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/api/generate-video").respond(202, json={"status": "pending"})
    with pytest.raises(UncertainSubmitError) as caught:
        await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="p"))
    assert not caught.value.retryable and route.call_count == 1


# --- video status ---------------------------------------------------------------------------------------------------


def nested(status: str, **data: Any) -> dict[str, Any]:
    return {"requestId": "vid_1", "model": "sora-2", "data": {"status": status, "requestId": "vid_1", **data}}


async def fetch_with(provider: NanoGPTProvider, router: respx.MockRouter, body: dict[str, Any]) -> Task:
    router.get(STATUS_PATH).respond(200, json=body)
    return await provider.fetch("vid_1")


async def test_fetch_polls_the_unified_status_endpoint_with_request_id(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.get(STATUS_PATH).respond(200, json=nested("IN_PROGRESS", details="rendering"))
    task = await provider.fetch("vid_m1abc123def456")
    assert dict(first(route).url.params) == {"requestId": "vid_m1abc123def456"}
    assert first(route).headers["x-api-key"] == KEY
    assert (task.task_id, task.model, task.status) == ("nanogpt:vid_m1abc123def456", "nanogpt/sora-2", "processing")
    assert task.poll_after_seconds == 5.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IN_QUEUE", "pending"), ("queued", "pending"), ("pending", "pending"), ("Pending", "pending"),
        ("IN_PROGRESS", "processing"), ("processing", "processing"), ("generating", "processing"),
        ("delivering", "processing"), ("unknown", "processing"), ("", "processing"),
        ("COMPLETED", "completed"), ("completed", "completed"), ("success", "completed"), ("SUCCEEDED", "completed"),
        ("FAILED", "failed"), ("failed", "failed"), ("ERROR", "failed"), ("CANCELED", "failed"),
        ("CANCELLED", "failed"), ("cancelled", "failed"),
    ],
)  # fmt: skip
async def test_each_status_value_maps_in_both_shapes(
    provider: NanoGPTProvider, router: respx.MockRouter, raw: str, expected: str
) -> None:
    video = "https://storage.example.com/video.mp4"
    router.get(STATUS_PATH).mock(
        side_effect=[
            httpx.Response(200, json=nested(raw, output={"video": {"url": video}})),
            httpx.Response(200, json={"requestId": "vid_1", "status": raw, "videoUrl": video, "error": None}),
        ]
    )
    for _ in range(2):
        task = await provider.fetch("vid_1")
        assert task.status == expected
        assert (task.poll_after_seconds is None) == (expected in ("completed", "failed"))


async def test_a_completed_nested_status_gives_the_url_and_final_cost(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    body = nested("COMPLETED", output={"video": {"url": "https://storage.example.com/v.mp4"}}, cost=0.42)
    task = await fetch_with(provider, router, body)
    assert task.status == "completed" and task.progress == 100 and task.result is not None
    assert (task.result.url, task.result.urls, task.result.media_type) == (
        "https://storage.example.com/v.mp4", ["https://storage.example.com/v.mp4"], "video"
    )  # fmt: skip
    assert (task.credits_used, task.cost_unit, task.error) == (0.42, "USD", None)


async def test_a_completed_flat_status_gives_video_url_and_progress_is_read(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    running = await fetch_with(provider, router, {"requestId": "vid_1", "status": "processing", "progress": 40})
    assert (running.status, running.progress, running.model) == ("processing", 40, None)
    done = await fetch_with(
        provider, router, {"requestId": "vid_1", "status": "completed", "videoUrl": "https://s/v.mp4"}
    )
    assert done.result is not None and done.result.url == "https://s/v.mp4"


async def test_midjourney_outputs_are_all_listed(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    videos = [{"url": f"https://cdn.example.com/{i}.mp4"} for i in range(4)]
    task = await fetch_with(provider, router, nested("COMPLETED", output={"videos": videos}))
    assert task.result is not None and task.result.urls == [v["url"] for v in videos]


async def test_a_completed_status_without_a_url_is_reported_as_failed(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    task = await fetch_with(provider, router, nested("COMPLETED"))
    assert task.status == "failed" and task.error is not None and task.error.code == "no_result"


async def test_an_nsfw_failure_is_a_content_policy_error_with_the_friendly_text(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    body = nested("FAILED", error="Content policy violation", isNSFWError=True, userFriendlyError="Content flagged.")
    task = await fetch_with(provider, router, body)
    assert task.status == "failed" and task.error is not None
    assert (task.error.code, task.error.retryable) == ("content_policy", False)
    assert "Content flagged." in task.error.message


async def test_failure_text_mentioning_content_policy_is_a_content_policy_error(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    task = await fetch_with(provider, router, {"status": "failed", "error": "Rejected by the content policy filter"})
    assert task.error is not None and task.error.code == "content_policy"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (nested("FAILED", error={"message": "GPU exploded", "code": 500}), "GPU exploded"),
        (nested("FAILED", error="upstream timeout", userFriendlyError="Please try again"), "Please try again"),
        ({"status": "failed", "error": "flat failure"}, "flat failure"),
        ({"status": "FAILED", "error": {"message": "object failure"}}, "object failure"),
        (nested("FAILED"), "no reason given"),
    ],
)
async def test_a_generic_failure_reads_the_error_as_a_string_or_an_object(
    provider: NanoGPTProvider, router: respx.MockRouter, body: dict[str, Any], message: str
) -> None:
    task = await fetch_with(provider, router, body)
    assert task.status == "failed" and task.error is not None
    assert (task.error.code, task.error.retryable) == ("generation_failed", True)
    assert message in task.error.message


async def test_a_canceled_job_says_so(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    task = await fetch_with(provider, router, nested("CANCELED", error="user canceled"))
    assert task.error is not None and (task.error.code, task.error.retryable) == ("canceled", False)


async def test_an_unknown_job_is_not_found(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    router.get(STATUS_PATH).respond(404, json={"error": "Video job not found"})
    with pytest.raises(NotFoundError, match="Video job not found"):
        await provider.fetch("vid_missing")


async def test_a_poll_server_error_is_retried(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    route = router.get(STATUS_PATH).mock(
        side_effect=[httpx.Response(503, json={"error": "busy"}), httpx.Response(200, json=nested("IN_QUEUE"))]
    )
    task = await provider.fetch("vid_1")
    assert task.status == "pending" and route.call_count == 2


# --- model lists ----------------------------------------------------------------------------------------------------

LIVE_VIDEO = {
    "object": "list",
    "data": [
        {
            "id": "veo2-video",
            "pricing": {"currency": "USD", "per_second": 0.5},
            "capabilities": {"text_to_video": True, "image_to_video": True},
        },
        {
            "id": "brand-new-video",
            "name": "Brand new",
            "architecture": {
                "modality": "video",
                "input_modalities": ["text", "image"],
                "output_modalities": ["video"],
            },
            "pricing": {"currency": "USD", "per_video": {"5s": 0.3, "10s": 0.6}},
            "capabilities": {"text_to_video": True, "image_to_video": True, "audio_generation": True},
            "supported_parameters": {"duration": {"type": "enum", "values": ["5s", "10s"]}},
        },
    ],
    "meta": {"count": 2},
}
LIVE_IMAGES = {
    "object": "list",
    "data": [
        {
            "id": "pruna-ai/p-image/text-to-image",
            "pricing": {"per_image": {"1024*1024": 0.005}, "currency": "USD"},
            "capabilities": {"image_generation": True, "image_to_image": False},
            "supported_parameters": {"resolutions": ["1024x1024", "1376x768", "1184x896"]},
        }
    ],
}


async def test_live_models_merges_video_and_image_lists_and_caches_them(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    videos = router.get("/api/v1/video-models").respond(200, json=LIVE_VIDEO)
    images = router.get("/api/v1/image-models").respond(200, json=LIVE_IMAGES)
    models = {m.id: m for m in await provider.live_models()}
    assert dict(first(videos).url.params) == {"detailed": "true"}
    assert models["veo2-video"].params == spec(provider, "veo2-video").params  # bundled wire forms kept
    assert models["veo2-video"].price == "USD per_second 0.5"
    new = models["brand-new-video"]
    assert (new.strict, new.media_type, new.modes) == (False, "video", ["text-to-video", "image-to-video"])
    assert new.params["duration"].values == ["5s", "10s"] and new.params["generateAudio"].field == "audio"
    assert new.price == "USD per_video: 5s 0.3, 10s 0.6"
    pruna = models["pruna-ai/p-image/text-to-image"]
    assert pruna.media_type == "image" and pruna.params["aspect_ratio"].values == ["1:1", "16:9", "4:3"]
    assert "hidream" in models  # bundled entries stay
    await provider.live_models()
    assert (videos.call_count, images.call_count) == (1, 1)


async def test_a_live_model_lowers_its_duration_to_the_listed_form(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.get("/api/v1/video-models").respond(200, json=LIVE_VIDEO)
    router.get("/api/v1/image-models").respond(200, json=LIVE_IMAGES)
    route = router.post("/api/generate-video").respond(202, json=ACCEPTED)
    new = next(m for m in await provider.live_models() if m.id == "brand-new-video")
    await provider.submit(new, GenerateRequest(prompt="p", duration=10, audio=True, extra={"fps": 24}))
    assert sent(route) == {
        "model": "brand-new-video",
        "prompt": "p",
        "duration": "10s",
        "generateAudio": True,
        "fps": 24,
    }


async def test_without_video_models_the_general_list_is_filtered_for_video_output(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.get("/api/v1/video-models").respond(404, json={"error": {"message": "Not found", "type": "not_found_error"}})
    general = router.get("/api/v1/models").respond(
        200,
        json={
            "object": "list",
            "data": [
                {"id": "gpt-5", "architecture": {"input_modalities": ["text", "video"], "output_modalities": ["text"]}},
                {"id": "old-video", "architecture": {"modality": "text->video"}},
                {"id": "flagged-video", "capabilities": {"video_generation": True}},
            ],
        },
    )
    router.get("/api/v1/image-models").respond(500)
    ids = {m.id for m in await provider.live_models()}
    assert dict(first(general).url.params) == {"detailed": "true"}
    assert {"old-video", "flagged-video"} <= ids and "gpt-5" not in ids


async def test_live_models_falls_back_to_the_bundled_list_on_any_error(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.get("/api/v1/video-models").respond(200, text="<html>oops</html>")
    router.get("/api/v1/models").mock(side_effect=httpx.ConnectError("down"))
    router.get("/api/v1/image-models").respond(401, json={"error": "Invalid API key"})
    assert await provider.live_models() == provider.models()
    before = len(router.calls)
    assert await provider.live_models() == provider.models()
    assert len(router.calls) == before  # a failed listing is not retried on every call


async def test_submit_never_fetches_the_model_lists(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    router.post("/api/generate-video").respond(202, json=ACCEPTED)
    await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="p"))
    calls: Any = router.calls
    assert [c.request.url.path for c in calls] == ["/api/generate-video"]


# --- images: the synchronous flow -----------------------------------------------------------------------------------


def image_answer(**item: str) -> dict[str, Any]:
    return {"created": 1, "data": [item], "cost": 0.01, "paymentSource": "USD", "remainingBalance": 9.99}


async def test_a_url_image_completes_at_once_with_its_url_for_the_server_to_save_and_survives_a_restart(
    provider: NanoGPTProvider, router: respx.MockRouter, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    route = router.post("/v1/images/generations").respond(200, json=image_answer(url="https://cdn.example.com/i.png"))
    cdn = router.get("https://cdn.example.com/i.png").respond(200, content=TINY_PNG)
    task = await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="a sunset", resolution="1024x1024"))
    assert sent(route) == {
        "prompt": "a sunset",
        "model": "hidream",
        "n": 1,
        "response_format": "url",
        "size": "1024x1024",
    }
    headers = first(route).headers
    assert headers["x-api-key"] == KEY and headers["authorization"] == f"Bearer {KEY}"
    assert not cdn.called  # the server downloads URL results, with its private-address checks
    assert task.status == "completed" and task.native_id.startswith("img_") and task.model == "nanogpt/hidream"
    assert task.result is not None and task.result.url == "https://cdn.example.com/i.png"
    assert task.result.media_type == "image" and task.poll_after_seconds is None
    assert (task.credits_used, task.credits_remaining, task.cost_unit) == (0.01, 9.99, "USD")
    assert task.files == []
    restarted = make(client, tmp_path)
    again = await restarted.fetch(task.native_id)
    assert again.model_dump() == task.model_dump()
    assert route.call_count == 1


async def test_a_b64_json_image_is_saved_and_the_file_is_the_result(
    provider: NanoGPTProvider, router: respx.MockRouter, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    router.post("/v1/images/generations").respond(
        200, json=image_answer(b64_json=base64.b64encode(TINY_PNG).decode("ascii"))
    )
    task = await provider.submit(spec(provider, "recraft-v3"), GenerateRequest(prompt="a logo"))
    [saved] = task.files
    assert Path(saved).read_bytes() == TINY_PNG and Path(saved).name.startswith("nanogpt-recraft-v3-img_")
    assert task.result is not None and task.result.url == Path(saved).as_uri()
    record = json.loads((tmp_path / ".nanogpt" / f"{task.native_id}.json").read_text())
    assert record["model"] == "recraft-v3" and record["files"] == [saved]
    assert (await make(client, tmp_path).fetch(task.native_id)).files == [saved]


async def test_an_aspect_ratio_is_mapped_to_the_size_with_that_ratio(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/images/generations").respond(
        200, json=image_answer(b64_json=base64.b64encode(TINY_PNG).decode())
    )
    await provider.submit(spec(provider, "gpt-image-1"), GenerateRequest(prompt="p", aspect_ratio="3:2", seed=None))
    assert sent(route)["size"] == "1536x1024"
    with pytest.raises(InvalidArgument) as caught:
        await provider.submit(spec(provider, "gpt-image-1"), GenerateRequest(prompt="p", aspect_ratio="21:9"))
    assert caught.value.field == "aspect_ratio" and route.call_count == 1


async def test_one_input_image_is_sent_as_image_data_url_and_several_as_image_data_urls(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/images/generations").respond(
        200, json=image_answer(b64_json=base64.b64encode(TINY_PNG).decode())
    )
    one, two = local_png(), MediaInput(data=TINY_PNG, mime="image/png")
    await provider.submit(
        spec(provider, "flux-kontext"), GenerateRequest(prompt="watercolor", image_urls=(one,), seed=7)
    )
    await provider.submit(spec(provider, "flux-kontext"), GenerateRequest(prompt="merge", image_urls=(one, two)))
    calls: Any = route.calls
    assert json.loads(calls[0].request.content) == {
        "prompt": "watercolor", "model": "flux-kontext", "n": 1, "response_format": "url",
        "imageDataUrl": data_uri(one), "seed": 7,
    }  # fmt: skip
    assert json.loads(calls[1].request.content)["imageDataUrls"] == [data_uri(one), data_uri(two)]


@pytest.mark.parametrize(
    ("images", "field", "text"),
    [
        ((MediaInput(url="https://e.com/a.png"),), "image_urls[0]", "inline images only"),
        ((local_png(), local_png(3 * 1024 * 1024 + 200)), "image_urls[1]", "4 MB"),
    ],
)
async def test_image_inputs_must_be_inline_and_at_most_4_mb(
    provider: NanoGPTProvider, router: respx.MockRouter, images: tuple[MediaInput, ...], field: str, text: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await provider.submit(spec(provider, "gpt-image-1"), GenerateRequest(prompt="p", image_urls=images))
    assert caught.value.field == field and text in caught.value.message
    assert not router.calls


async def test_a_text_only_image_model_refuses_input_images(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    with pytest.raises(InvalidArgument, match="image_urls"):
        await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p", image_urls=(local_png(),)))
    assert not router.calls


async def test_a_url_that_does_not_serve_an_image_still_completes_with_the_url_but_no_file(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.post("/v1/images/generations").respond(200, json=image_answer(url="https://cdn.example.com/x"))
    router.get("https://cdn.example.com/x").respond(200, text="<html>expired</html>")
    task = await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p"))
    assert task.status == "completed" and task.files == []
    assert task.result is not None and task.result.url == "https://cdn.example.com/x"


async def test_a_plain_http_result_url_off_the_origin_is_not_downloaded(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.post("/v1/images/generations").respond(200, json=image_answer(url="http://169.254.169.254/latest"))
    task = await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p"))
    assert task.status == "completed" and task.files == []
    assert len(router.calls) == 1


async def test_an_image_that_cannot_be_saved_is_an_error_naming_the_folder(
    client: httpx.AsyncClient, router: respx.MockRouter, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    provider = make(client, blocker)
    router.post("/v1/images/generations").respond(200, json=image_answer(b64_json=base64.b64encode(TINY_PNG).decode()))
    with pytest.raises(MediagenError, match="could not be saved under"):
        await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p"))


async def test_an_answer_without_any_image_is_an_upstream_error(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.post("/v1/images/generations").respond(200, json={"created": 1, "data": []})
    with pytest.raises(UpstreamError):
        await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p"))


async def test_b64_json_that_is_not_an_image_is_an_upstream_error(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    router.post("/v1/images/generations").respond(200, json=image_answer(b64_json=base64.b64encode(b"hi").decode()))
    with pytest.raises(UpstreamError, match="not an image"):
        await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p"))


@pytest.mark.parametrize("native", ["img_" + "0" * 32, "img_../../etc/passwd", "img_x"])
async def test_fetching_an_unknown_image_id_is_not_found(
    provider: NanoGPTProvider, router: respx.MockRouter, native: str
) -> None:
    with pytest.raises(NotFoundError):
        await provider.fetch(native)
    assert not router.calls


# --- errors ---------------------------------------------------------------------------------------------------------


async def submit_error(provider: NanoGPTProvider, router: respx.MockRouter, response: httpx.Response) -> Exception:
    route = router.post("/api/generate-video").mock(return_value=response)
    with pytest.raises(Exception) as caught:  # noqa: B017 - the exact class is asserted by each caller
        await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="p"))
    assert route.call_count == 1
    return caught.value


async def test_an_openai_style_400_is_a_bad_request_with_its_message(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    body = {
        "error": {
            "message": "duration must be 5s-8s",
            "type": "invalid_request_error",
            "code": "invalid_parameter_value",
        }
    }
    error = await submit_error(provider, router, httpx.Response(400, json=body))
    assert isinstance(error, BadRequestError) and "duration must be 5s-8s" in error.message and not error.retryable


async def test_the_simple_402_form_is_insufficient_credits(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    body = {"error": "Insufficient balance", "status": 402, "requiredBalance": 0.35}
    error = await submit_error(provider, router, httpx.Response(402, json=body))
    assert isinstance(error, InsufficientCreditsError) and "Insufficient balance" in error.message


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "Your prompt was blocked", "type": "CONTENT_POLICY_VIOLATION"}},
        {"error": "Content policy violation", "status": 400},
        {"error": {"message": "Blocked", "type": "invalid_request_error", "code": "content_policy_violation"}},
    ],
)
async def test_a_400_content_policy_refusal_is_a_content_policy_error_that_is_not_retryable(
    provider: NanoGPTProvider, router: respx.MockRouter, body: dict[str, Any]
) -> None:
    error = await submit_error(provider, router, httpx.Response(400, json=body))
    assert isinstance(error, ContentPolicyError) and not error.retryable and error.code == "content_policy"


async def test_413_says_the_request_is_too_large(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    error = await submit_error(provider, router, httpx.Response(413, json={"error": "Payload too large"}))
    assert isinstance(error, BadRequestError) and "too large" in error.message


async def test_429_carries_retry_after(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    response = httpx.Response(
        429,
        headers={"Retry-After": "120"},
        json={"error": {"message": "daily cap", "code": "daily_rpd_limit_exceeded"}},
    )
    error = await submit_error(provider, router, response)
    assert isinstance(error, RateLimitedError) and error.retry_after == 120 and error.retryable


async def test_401_names_nanogpt_api_key_and_never_its_value(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    error = await submit_error(
        provider, router, httpx.Response(401, json={"error": f"Invalid API key {KEY}", "status": 401})
    )
    assert isinstance(error, AuthError) and "NANOGPT_API_KEY" in error.message and KEY not in error.message


async def test_403_origin_not_allowed_says_so(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    body = {
        "error": {
            "message": "API key origin not allowed",
            "type": "permission_error",
            "code": "api_key_origin_not_allowed",
        }
    }
    error = await submit_error(provider, router, httpx.Response(403, json=body))
    assert isinstance(error, AuthError) and error.provider_code == "api_key_origin_not_allowed"
    assert "NANOGPT_API_KEY" in error.message and "origin" in error.message and KEY not in error.message


async def test_the_int_error_form_of_the_openapi_schema_is_read(
    provider: NanoGPTProvider, router: respx.MockRouter
) -> None:
    error = await submit_error(provider, router, httpx.Response(400, json={"error": 400, "message": "Model not found"}))
    assert isinstance(error, BadRequestError) and "Model not found" in error.message


async def test_image_route_errors_map_the_same_way(provider: NanoGPTProvider, router: respx.MockRouter) -> None:
    router.post("/v1/images/generations").respond(402, json={"error": "Insufficient balance", "status": 402})
    with pytest.raises(InsufficientCreditsError):
        await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="p"))


# --- against the loopback fake --------------------------------------------------------------------------------------


async def poll(provider: NanoGPTProvider, task: Task) -> Task:
    with anyio.fail_after(20):
        while not task.terminal:
            task = await provider.fetch(task.native_id)
    return task


@pytest.mark.parametrize("shape", ["nested", "flat"])
async def test_the_adapter_runs_a_video_to_completion_against_the_fake(
    client: httpx.AsyncClient, tmp_path: Path, shape: str
) -> None:
    recorder = Recorder()
    with serve(make_app(recorder, api_key=KEY, status_shape=shape)) as origin:
        provider = make(client, tmp_path, origin)
        request = GenerateRequest(prompt="waves", image_urls=(local_png(),), duration=5)
        task = await poll(provider, await provider.submit(spec(provider, "seedance-video"), request))
        assert task.status == "completed" and task.result is not None and task.result.url is not None
        assert (await client.get(task.result.url)).content == TINY_MP4
    assert len(recorder.matching("GET", STATUS_PATH)) == 3
    posted = recorder.matching("POST", "/api/generate-video")[0]
    assert posted.json() == {
        "model": "seedance-video",
        "prompt": "waves",
        "imageDataUrl": data_uri(local_png()),
        "duration": "5",
    }
    assert posted.headers["x-api-key"] == KEY


async def test_against_the_fake_a_fail_prompt_fails_with_content_policy(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    with serve(make_app(Recorder(), api_key=KEY, steps=2)) as origin:
        provider = make(client, tmp_path, origin)
        task = await poll(
            provider, await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="[fail]"))
        )
    assert task.status == "failed" and task.error is not None and task.error.code == "content_policy"


@pytest.mark.parametrize("image_format", ["url", "b64_json"])
async def test_against_the_fake_an_image_completes_at_once_with_a_file(
    client: httpx.AsyncClient, tmp_path: Path, image_format: str
) -> None:
    recorder = Recorder()
    with serve(make_app(recorder, api_key=KEY, image_format=image_format)) as origin:
        provider = make(client, tmp_path, origin)
        task = await provider.submit(spec(provider, "hidream"), GenerateRequest(prompt="a fox"))
    assert task.status == "completed" and task.result is not None
    if image_format == "url":  # saved later by the server's downloader
        assert task.files == [] and task.result.url and task.result.url.startswith(origin)
    else:
        assert Path(task.files[0]).read_bytes() == TINY_PNG
    assert not recorder.matching("GET", "/files/")


async def test_the_fake_refuses_a_wrong_key_and_the_adapter_names_the_variable(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    with serve(make_app(Recorder(), api_key=KEY)) as origin:
        provider = make(client, tmp_path, origin, key="sk-wrong")
        with pytest.raises(AuthError, match="NANOGPT_API_KEY"):
            await provider.submit(spec(provider, "veo2-video"), GenerateRequest(prompt="p"))


# --- end to end over stdio ------------------------------------------------------------------------------------------


async def test_end_to_end_video_and_image_over_stdio_against_the_fake(tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    recorder = Recorder()
    with serve(make_app(recorder, api_key=KEY)) as origin:
        env = {
            **os.environ,
            "NANOGPT_API_KEY": KEY,
            "NANOGPT_BASE_URL": origin,
            "MEDIAGEN_OUTPUT_DIR": str(tmp_path),
            "MEDIAGEN_ALLOW_PRIVATE_URLS": "1",
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "server"], cwd=str(PROJECT_ROOT), env=env)
        with anyio.fail_after(60):
            async with Client(params) as mcp_client:
                r = await mcp_client.call_tool(
                    "generate",
                    {"model": "nanogpt/veo2-video", "prompt": "an eagle", "duration": 5, "aspect_ratio": "16:9"},
                )
                assert not r.is_error, r.content
                task = r.structured_content
                assert task is not None and task["task_id"].startswith("nanogpt:vid_")
                assert task["status"] == "pending" and task["model"] == "nanogpt/veo2-video"
                task = (await poll_to_end(mcp_client, task))[-1]
                assert task["status"] == "completed"
                assert task["result"]["url"].startswith(origin) and task["result"]["media_type"] == "video"
                assert KEY not in json.dumps(task)

                r = await mcp_client.call_tool("generate", {"model": "nanogpt/hidream", "prompt": "a fox"})
                assert not r.is_error, r.content
                image = r.structured_content
                assert (
                    image is not None and image["status"] == "completed" and image["task_id"].startswith("nanogpt:img_")
                )
                assert image["files"] and Path(image["files"][0]).read_bytes() == TINY_PNG
                r = await mcp_client.call_tool("get_task", {"task_id": image["task_id"]})
                assert not r.is_error and r.structured_content is not None
                assert r.structured_content["files"] == image["files"]
    posted = recorder.matching("POST", "/api/generate-video")
    assert len(posted) == 1
    assert posted[0].json() == {"model": "veo2-video", "prompt": "an eagle", "duration": "5s", "aspect_ratio": "16:9"}
    assert posted[0].headers["x-api-key"] == KEY
