"""UniAll (Vidu Q3 over /v1/video/generations): exact bodies, mode rules, polling, errors, and an end-to-end run."""

from __future__ import annotations

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
    InsufficientCreditsError,
    InvalidArgument,
    NotFoundError,
    UncertainSubmitError,
    UpstreamError,
)
from providers.http import RetryPolicy
from providers.uniall import UniallProvider, create
from tests.fakes.loopback import Recorder, serve
from tests.fakes.uniall import TINY_MP4, make_app
from tests.support import poll_to_end

pytestmark = pytest.mark.anyio

ORIGIN = "https://uniall.test"
KEY = "sk-test-secret"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAST = RetryPolicy(base_delay=0, max_delay=0, attempts=2)
SUBMITTED: dict[str, Any] = {
    "id": "task_xxxxx",
    "task_id": "task_xxxxx",
    "object": "video.generation.job",
    "model": "viduq3p-540p",
    "status": "queued",
    "progress": 0,
    "created_at": 1774507626,
}

# The seed's four request examples, verbatim (seed 002).
SEED_TEXT: dict[str, Any] = {
    "model": "viduq3p-720p",
    "prompt": " camera, and, slow camera push-in. ",
    "aspect_ratio": "16:9",
    "duration": 5,
    "extra_body": {"audio": False, "seed": 42, "bgm": False},
}
SEED_IMAGE: dict[str, Any] = {
    "model": "viduq3t-540p",
    "prompt": " camera, natural motion, camera. ",
    "image": "https://example.com/source.png",
    "duration": 5,
    "extra_body": {"seed": 42},
}
SEED_FIRST_LAST: dict[str, Any] = {
    "model": "viduq3p-1080p-offpeak",
    "prompt": ", keep identity stable, action. ",
    "image": "https://example.com/head.png",
    "last_image": "https://example.com/tail.png",
    "duration": 6,
}
SEED_REFERENCE: dict[str, Any] = {
    "model": "viduq3p-mix-720p",
    "prompt": "A @Image1 walking through a beach in the visual style of @Image2",
    "reference_image_urls": ["https://example.com/ref-1.png", "https://example.com/ref-2.png"],
    "aspect_ratio": "16:9",
    "duration": 5,
    "extra_body": {"audio": False, "seed": 42},
}


def url(*values: str) -> tuple[MediaInput, ...]:
    return tuple(MediaInput(url=v) for v in values)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def provider(client: httpx.AsyncClient) -> UniallProvider:
    return UniallProvider(ProviderConfig(name="uniall", api_key=KEY, base_url=ORIGIN), client, policy=FAST)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as r:
        yield r


def spec(provider: UniallProvider, model_id: str) -> ModelSpec:
    return next(m for m in provider.models() if m.id == model_id)


def first(route: respx.Route) -> httpx.Request:
    calls: Any = route.calls
    request: httpx.Request = calls[0].request
    return request


def sent(route: respx.Route) -> Any:
    return json.loads(first(route).content)


# --- catalog -------------------------------------------------------------------------------------------------------


async def test_the_catalog_lists_pro_turbo_offpeak_and_mix_ids_with_no_resolution_option(
    provider: UniallProvider,
) -> None:
    ids = [m.id for m in provider.models()]
    base = [f"viduq3{t}-{r}" for t in "pt" for r in ("540p", "720p", "1080p")]
    assert sorted(ids) == sorted(
        base + [f"{b}-offpeak" for b in base] + [f"viduq3p-mix-{r}" for r in ("540p", "720p", "1080p")]
    )
    for model in provider.models():
        assert model.full_id == f"uniall/{model.id}" and model.media_type == "video"
        assert all(p.field != "resolution" for p in model.params.values())
        duration = model.params["duration"]
        assert (duration.type, duration.min, duration.max) == ("integer", 1, 16)
        assert model.params["reference_image_urls"].max_items == 4
        # UniAll publishes no list of ratios, so any value passes and the known ones are only suggested.
        assert model.params["aspect_ratio"].values is None
        assert "not published" in model.params["aspect_ratio"].description
    plain = spec(provider, "viduq3t-720p-offpeak")
    assert plain.modes == ["text-to-video", "image-to-video", "first-last-frame", "reference-to-video"]
    assert spec(provider, "viduq3p-mix-1080p").modes == ["reference-to-video"]


async def test_create_builds_a_provider_without_a_key_for_listing_only(client: httpx.AsyncClient) -> None:
    bare = create(ProviderConfig(name="uniall", api_key=None, base_url=ORIGIN), client)
    assert bare.name == "uniall" and len(bare.models()) == 15


# --- the four modes: exact bodies ----------------------------------------------------------------------------------


async def test_text_to_video_sends_the_seed_text_example_body_with_bearer_auth(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    request = GenerateRequest(
        prompt=SEED_TEXT["prompt"], aspect_ratio="16:9", duration=5, audio=False, seed=42, extra={"bgm": False}
    )
    task = await provider.submit(spec(provider, "viduq3p-720p"), request)
    assert sent(route) == SEED_TEXT
    assert first(route).headers["authorization"] == f"Bearer {KEY}"
    assert first(route).headers["content-type"] == "application/json"
    assert task.task_id == "uniall:task_xxxxx" and task.provider == "uniall" and task.model == "uniall/viduq3p-720p"
    assert (task.status, task.progress, task.result, task.error) == ("pending", 0, None, None)
    assert task.poll_after_seconds is not None and task.poll_after_seconds > 0


async def test_image_to_video_sends_image_urls_0_as_image(provider: UniallProvider, router: respx.MockRouter) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    request = GenerateRequest(
        prompt=SEED_IMAGE["prompt"], image_urls=url("https://example.com/source.png"), duration=5, seed=42
    )
    await provider.submit(spec(provider, "viduq3t-540p"), request)
    assert sent(route) == SEED_IMAGE


async def test_first_last_frame_sends_image_and_last_image_and_no_extra_body(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    frames = url("https://example.com/head.png", "https://example.com/tail.png")
    request = GenerateRequest(prompt=SEED_FIRST_LAST["prompt"], image_urls=frames, duration=6)
    await provider.submit(spec(provider, "viduq3p-1080p-offpeak"), request)
    assert sent(route) == SEED_FIRST_LAST
    assert list(sent(route)) == ["model", "prompt", "image", "last_image", "duration"]


async def test_reference_to_video_sends_the_reference_list_on_the_mix_model(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    refs = url("https://example.com/ref-1.png", "https://example.com/ref-2.png")
    request = GenerateRequest(
        prompt=SEED_REFERENCE["prompt"],
        reference_image_urls=refs,
        aspect_ratio="16:9",
        duration=5,
        audio=False,
        seed=42,
    )
    await provider.submit(spec(provider, "viduq3p-mix-720p"), request)
    assert sent(route) == SEED_REFERENCE


async def test_reference_images_also_work_on_a_plain_id_even_without_an_image_tag_in_the_prompt(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    request = GenerateRequest(prompt="a cat on a beach", reference_image_urls=url("https://example.com/cat.png"))
    await provider.submit(spec(provider, "viduq3p-1080p"), request)
    assert sent(route) == {
        "model": "viduq3p-1080p",
        "prompt": "a cat on a beach",
        "reference_image_urls": ["https://example.com/cat.png"],
    }


async def test_a_local_image_is_sent_as_a_base64_data_uri(provider: UniallProvider, router: respx.MockRouter) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    local = MediaInput(data=b"\x89PNG\r\n", mime="image/png", local=True)
    await provider.submit(spec(provider, "viduq3t-720p"), GenerateRequest(prompt="move", image_urls=(local,)))
    assert sent(route)["image"] == "data:image/png;base64,iVBORw0K"


async def test_a_float_duration_with_no_fraction_is_sent_as_an_integer(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    await provider.submit(spec(provider, "viduq3t-540p"), GenerateRequest(prompt="waves", duration=8.0))
    assert sent(route) == {"model": "viduq3t-540p", "prompt": "waves", "duration": 8}
    assert isinstance(sent(route)["duration"], int)


# --- refusals before any request -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "request_", "field", "words"),
    [
        (
            "viduq3p-720p",
            GenerateRequest(
                prompt="p", image_urls=url("https://e.com/a.png"), reference_image_urls=url("https://e.com/r.png")
            ),
            "reference_image_urls",
            ["image_urls[0]", "image_urls[1]", "reference_image_urls", "reference-to-video", "image-to-video"],
        ),
        (
            "viduq3p-720p",
            GenerateRequest(prompt="p", image_urls=url("https://e.com/a.png"), aspect_ratio="16:9"),
            "aspect_ratio",
            ["aspect_ratio", "image_urls", "the image decides"],
        ),
        (
            "viduq3p-720p",
            GenerateRequest(
                prompt="p", image_urls=url("https://e.com/a.png", "https://e.com/b.png"), aspect_ratio="1:1"
            ),
            "aspect_ratio",
            ["aspect_ratio", "first-last-frame takes image_urls[0] + image_urls[1]"],
        ),
        (
            "viduq3t-540p",
            GenerateRequest(prompt="p", extra={"last_image": "https://e.com/b.png"}),
            "image_urls",
            ["last frame needs a first frame"],
        ),
        (
            "viduq3t-540p",
            GenerateRequest(
                prompt="p", image_urls=url("https://e.com/a.png", "https://e.com/b.png", "https://e.com/c.png")
            ),
            "image_urls",
            ["at most 2"],
        ),
        (
            "viduq3p-720p",
            GenerateRequest(prompt="p", reference_image_urls=url(*(f"https://e.com/{i}.png" for i in range(5)))),
            "reference_image_urls",
            ["at most 4"],
        ),
        ("viduq3p-mix-540p", GenerateRequest(prompt="p"), "reference_image_urls", ["required"]),
        (
            "viduq3p-mix-540p",
            GenerateRequest(prompt="p", image_urls=url("https://e.com/a.png")),
            "image_urls",
            ["not accepted"],
        ),
        ("viduq3p-720p", GenerateRequest(aspect_ratio="16:9"), "prompt", ["required"]),
        ("viduq3p-720p", GenerateRequest(prompt="p", duration=5.5), "duration", ["whole number"]),
        ("viduq3p-720p", GenerateRequest(prompt="p", extra={"fps": 24}), "extra.fps", ["bgm"]),
        ("viduq3p-720p", GenerateRequest(prompt="p", negative_prompt="blur"), "negative_prompt", ["not accepted"]),
    ],
)
async def test_mixed_or_invalid_inputs_are_refused_naming_the_fields_before_any_request(
    provider: UniallProvider,
    router: respx.MockRouter,
    model_id: str,
    request_: GenerateRequest,
    field: str,
    words: list[str],
) -> None:
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    with pytest.raises(InvalidArgument) as info:
        await provider.submit(spec(provider, model_id), request_)
    assert info.value.field == field
    for word in words:
        assert word in info.value.message
    assert route.call_count == 0 and not router.calls


@pytest.mark.parametrize("duration", [0, 17])
async def test_duration_outside_1_to_16_is_refused(
    provider: UniallProvider, router: respx.MockRouter, duration: int
) -> None:
    with pytest.raises(InvalidArgument) as info:
        await provider.submit(spec(provider, "viduq3p-720p"), GenerateRequest(prompt="p", duration=duration))
    assert info.value.field == "duration"
    assert ("minimum 1" if duration == 0 else "maximum 16") in info.value.message
    assert not router.calls


async def test_resolution_is_refused_and_points_at_the_model_id_suffix(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    with pytest.raises(InvalidArgument) as info:
        await provider.submit(spec(provider, "viduq3p-720p"), GenerateRequest(prompt="p", resolution="1080p"))
    assert info.value.field == "resolution"
    assert "part of the model id" in info.value.message and "-1080p" in info.value.message
    assert "use uniall/viduq3p-1080p" in info.value.message
    with pytest.raises(InvalidArgument, match="resolution: uniall/viduq3t-540p-offpeak takes no resolution"):
        await provider.submit(spec(provider, "viduq3t-540p-offpeak"), GenerateRequest(prompt="p", resolution="4k"))
    assert not router.calls


# --- submit responses and errors -----------------------------------------------------------------------------------


async def test_a_submit_answer_with_only_task_id_is_read(provider: UniallProvider, router: respx.MockRouter) -> None:
    router.post("/v1/video/generations").respond(
        200, json={"task_id": "abc", "status": "in_progress", "progress": "12"}
    )
    task = await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert (task.task_id, task.status, task.progress) == ("uniall:abc", "processing", 12)


async def test_a_submit_answer_without_an_id_but_with_an_error_is_a_bad_request(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    router.post("/v1/video/generations").respond(200, json={"error": {"message": "model disabled"}})
    with pytest.raises(BadRequestError, match="model disabled"):
        await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))


async def test_a_submit_answer_without_an_id_or_reason_is_an_uncertain_submit(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    route = router.post("/v1/video/generations").respond(200, json={"object": "video.generation.job"})
    with pytest.raises(UncertainSubmitError, match="may or may not"):
        await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert route.call_count == 1


async def test_401_names_uniall_api_key_and_never_its_value(provider: UniallProvider, router: respx.MockRouter) -> None:
    body = {"error": {"message": f"invalid token {KEY}", "type": "new_api_error"}}
    route = router.post("/v1/video/generations").respond(401, json=body)
    with pytest.raises(AuthError) as info:
        await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert "UNIALL_API_KEY" in info.value.message and KEY not in info.value.message
    assert "[redacted]" in info.value.message
    assert route.call_count == 1


async def test_an_html_error_page_is_cleaned_to_its_title(provider: UniallProvider, router: respx.MockRouter) -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    route = router.post("/v1/video/generations").respond(502, text=page, headers={"content-type": "text/html"})
    with pytest.raises(UpstreamError) as info:
        await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert "an HTML error page: 502 Bad Gateway" in info.value.message
    assert "<" not in info.value.message and "nginx" not in info.value.message
    assert route.call_count == 1  # a submit is never resent after it may have arrived


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "prompt too long", "type": "invalid_request_error", "code": "bad"}}, "prompt too long"),
        ({"message": "duration invalid", "success": False}, "duration invalid"),
        ({"status": "fail", "reason": {"why": "model offline"}}, '"why":"model offline"'),
    ],
)
async def test_error_text_comes_from_error_message_then_message_then_a_summary_of_the_body(
    provider: UniallProvider, router: respx.MockRouter, body: dict[str, Any], expected: str
) -> None:
    router.post("/v1/video/generations").mock(
        return_value=httpx.Response(400, content=json.dumps(body, separators=(",", ":")).encode())
    )
    with pytest.raises(BadRequestError) as info:
        await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert expected in info.value.message and "HTTP 400" in info.value.message


async def test_an_exhausted_quota_is_reported_as_insufficient_credits(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    body = {"error": {"message": "user quota is not enough", "code": "insufficient_user_quota"}}
    router.post("/v1/video/generations").respond(403, json=body)
    with pytest.raises(InsufficientCreditsError, match="Top up your uniall balance") as info:
        await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert info.value.provider == "uniall" and info.value.status == 403
    assert info.value.code == "insufficient_credits" and info.value.provider_code == "insufficient_user_quota"


# --- polling -------------------------------------------------------------------------------------------------------


def done(**extra: Any) -> dict[str, Any]:
    return {"id": "t1", "object": "video.generation.job", "model": "viduq3p-720p", "status": "completed", **extra}


async def test_fetch_polls_the_generations_path_first(provider: UniallProvider, router: respx.MockRouter) -> None:
    main = router.get("/v1/video/generations/t1").respond(200, json=done(video_url="https://cdn.e.com/v.mp4"))
    compat = router.get("/v1/videos/t1").respond(200, json={})
    task = await provider.fetch("t1")
    assert main.call_count == 1 and compat.call_count == 0
    assert first(main).headers["authorization"] == f"Bearer {KEY}"
    assert task.status == "completed" and task.model == "uniall/viduq3p-720p" and task.poll_after_seconds is None
    assert task.result is not None and task.result.media_type == "video"
    assert (task.result.url, task.result.urls) == ("https://cdn.e.com/v.mp4", ["https://cdn.e.com/v.mp4"])


async def test_fetch_falls_back_to_v1_videos_on_404_and_remembers_it(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    main = router.get("/v1/video/generations/t1").respond(404, text="404 page not found")
    compat = router.get("/v1/videos/t1").respond(200, json={"id": "t1", "status": "in_progress", "progress": 40})
    first = await provider.fetch("t1")
    second = await provider.fetch("t1")
    assert (first.status, first.progress, first.model) == ("processing", 40, None)
    assert second.status == "processing"
    assert main.call_count == 1 and compat.call_count == 2


async def test_fetch_of_an_unknown_task_on_both_paths_is_not_found(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    router.get("/v1/video/generations/gone").respond(404, json={"error": {"message": "task not found"}})
    router.get("/v1/videos/gone").respond(404, json={"error": {"message": "task not found"}})
    with pytest.raises(NotFoundError, match="knows no task 'gone'"):
        await provider.fetch("gone")


async def test_fetch_escapes_the_task_id_in_the_path(provider: UniallProvider, router: respx.MockRouter) -> None:
    route = router.get("/v1/video/generations/a%2Fb").respond(200, json={"status": "queued"})
    assert (await provider.fetch("a/b")).status == "pending"
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", "pending"),
        ("pending", "pending"),
        ("in_progress", "processing"),
        ("processing", "processing"),
        ("IN_PROGRESS", "processing"),
        ("rendering", "processing"),
        ("completed", "completed"),
        ("succeeded", "completed"),
        ("success", "completed"),
        ("failed", "failed"),
        ("failure", "failed"),
        ("error", "failed"),
        ("cancelled", "failed"),
        ("canceled", "failed"),
    ],
)
async def test_each_status_spelling_maps_to_the_unified_status(
    provider: UniallProvider, router: respx.MockRouter, raw: str, status: str
) -> None:
    router.get("/v1/video/generations/t1").respond(
        200, json={"id": "t1", "status": raw, "progress": 55, "video_url": "https://cdn.e.com/v.mp4"}
    )
    task = await provider.fetch("t1")
    assert task.status == status and task.progress == 55
    assert (task.poll_after_seconds is None) == (status in ("completed", "failed"))
    assert (task.error is not None) == (status == "failed")
    assert (task.result is not None) == (status == "completed")


@pytest.mark.parametrize(
    "body",
    [
        {"video_url": "https://cdn.e.com/1.mp4"},
        {"video_url": None, "result": {"video_url": "https://cdn.e.com/1.mp4"}},
        {"result": {"outputs": ["https://cdn.e.com/1.mp4"]}},
        {"result": {"outputs": [{"url": "https://cdn.e.com/1.mp4"}]}},
        {"url": "https://cdn.e.com/1.mp4"},
        {"data": {"video_url": "https://cdn.e.com/1.mp4"}},
    ],
)
async def test_the_video_url_is_found_in_each_documented_location(
    provider: UniallProvider, router: respx.MockRouter, body: dict[str, Any]
) -> None:
    router.get("/v1/video/generations/t1").respond(200, json=done(**body))
    task = await provider.fetch("t1")
    assert task.status == "completed" and task.result is not None
    assert task.result.url == "https://cdn.e.com/1.mp4" and task.result.urls == ["https://cdn.e.com/1.mp4"]


async def test_video_url_wins_over_the_result_block_and_outputs_fill_urls(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    outputs = ["https://cdn.e.com/a.mp4", "https://cdn.e.com/b.mp4"]
    body = done(
        video_url="https://cdn.e.com/a.mp4", result={"video_url": "https://cdn.e.com/x.mp4", "outputs": outputs}
    )
    router.get("/v1/video/generations/t1").respond(200, json=body)
    task = await provider.fetch("t1")
    assert task.result is not None and task.result.url == "https://cdn.e.com/a.mp4" and task.result.urls == outputs


async def test_a_completed_task_without_a_url_is_reported_as_failed(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    router.get("/v1/video/generations/t1").respond(200, json=done(video_url=None, result={"outputs": []}))
    task = await provider.fetch("t1")
    assert task.status == "failed" and task.error is not None and task.error.code == "no_result"


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        ("the prompt was refused", "generation_failed", "the prompt was refused"),
        ({"message": "face detection failed", "code": "invalid_image"}, "invalid_image", "face detection failed"),
        (
            {"message": f"upstream said <b>{KEY}</b>\n\n  twice"},
            "generation_failed",
            "upstream said <b>[redacted]</b> twice",
        ),
        (None, "generation_failed", "the task failed without a reason"),
    ],
)
async def test_a_failed_task_carries_its_error_as_a_string_or_an_object(
    provider: UniallProvider, router: respx.MockRouter, error: Any, code: str, message: str
) -> None:
    router.get("/v1/video/generations/t1").respond(200, json={"id": "t1", "status": "failed", "error": error})
    task = await provider.fetch("t1")
    assert task.status == "failed" and task.result is None
    assert task.error is not None and (task.error.code, task.error.message) == (code, message)


async def test_a_cancelled_task_says_so(provider: UniallProvider, router: respx.MockRouter) -> None:
    router.get("/v1/video/generations/t1").respond(200, json={"id": "t1", "status": "cancelled"})
    task = await provider.fetch("t1")
    assert task.error is not None and (task.error.code, task.error.message) == ("cancelled", "the task was cancelled")


async def test_a_poll_server_error_is_retried_then_reported(provider: UniallProvider, router: respx.MockRouter) -> None:
    route = router.get("/v1/video/generations/t1").respond(503, text="<html><title>busy</title></html>")
    with pytest.raises(UpstreamError, match="an HTML error page: busy"):
        await provider.fetch("t1")
    assert route.call_count == FAST.attempts


# --- live models ---------------------------------------------------------------------------------------------------


async def test_live_models_adds_unknown_vidu_ids_as_lenient_specs_and_caches_the_list(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    listed = {
        "object": "list",
        "data": [
            {"id": "viduq3p-720p"},
            {"id": "viduq2-pro"},
            {"id": "viduq3p-mix-4k"},
            {"id": "gpt-4o"},
            {"no": "id"},
            "viduq1",
            7,
        ],
    }
    route = router.get("/v1/models").respond(200, json=listed)
    models = await provider.live_models()
    again = await provider.live_models()
    assert route.call_count == 1 and again == models
    extra = {m.id: m for m in models[15:]}
    assert list(extra) == ["viduq2-pro", "viduq3p-mix-4k", "viduq1"]
    assert all(not m.strict and m.provider == "uniall" for m in extra.values())
    assert extra["viduq3p-mix-4k"].modes == ["reference-to-video"]
    assert first(route).headers["authorization"] == f"Bearer {KEY}"


async def test_a_lenient_live_model_passes_unknown_extras_inside_extra_body(
    provider: UniallProvider, router: respx.MockRouter
) -> None:
    router.get("/v1/models").respond(200, json={"data": [{"id": "viduq2-pro"}]})
    route = router.post("/v1/video/generations").respond(200, json=SUBMITTED)
    lenient = next(m for m in await provider.live_models() if m.id == "viduq2-pro")
    await provider.submit(lenient, GenerateRequest(prompt="p", duration=20, seed=1, extra={"movement": "large"}))
    assert sent(route) == {
        "model": "viduq2-pro",
        "prompt": "p",
        "duration": 20,
        "extra_body": {"seed": 1, "movement": "large"},
    }


@pytest.mark.parametrize("answer", [httpx.Response(500, text="oops"), httpx.Response(200, text="not json")])
async def test_live_models_falls_back_to_the_bundled_catalog_on_any_error(
    provider: UniallProvider, router: respx.MockRouter, answer: httpx.Response
) -> None:
    router.get("/v1/models").mock(return_value=answer)
    assert await provider.live_models() == provider.models()


async def test_without_a_key_live_models_makes_no_request_and_submit_is_refused(
    client: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    bare = UniallProvider(ProviderConfig(name="uniall", api_key=None, base_url=ORIGIN), client)
    assert await bare.live_models() == bare.models()
    with pytest.raises(AuthError, match="UNIALL_API_KEY"):
        await bare.submit(spec(bare, "viduq3p-540p"), GenerateRequest(prompt="p"))
    assert not router.calls


# --- the loopback fake ---------------------------------------------------------------------------------------------


async def poll(provider: UniallProvider, task: Task) -> Task:
    with anyio.fail_after(20):
        while not task.terminal:
            task = await provider.fetch(task.native_id)
    return task


async def test_the_adapter_runs_a_task_to_completion_against_the_loopback_fake(client: httpx.AsyncClient) -> None:
    recorder = Recorder()
    with serve(make_app(recorder)) as origin:
        provider = UniallProvider(ProviderConfig(name="uniall", api_key=KEY, base_url=origin), client, policy=FAST)
        request = GenerateRequest(
            prompt="waves", image_urls=url("https://e.com/a.png", "https://e.com/b.png"), duration=4
        )
        task = await poll(provider, await provider.submit(spec(provider, "viduq3t-720p"), request))
        assert task.status == "completed" and task.result is not None and task.result.url is not None
        assert task.result.url.startswith(origin)
        assert (await client.get(task.result.url)).content == TINY_MP4
    statuses = [r.path for r in recorder.matching("GET", "/v1/video/generations/")]
    assert len(statuses) == 3
    posted = recorder.matching("POST", "/v1/video/generations")[0]
    assert posted.json() == {
        "model": "viduq3t-720p",
        "prompt": "waves",
        "image": "https://e.com/a.png",
        "last_image": "https://e.com/b.png",
        "duration": 4,
    }
    assert posted.headers["authorization"] == f"Bearer {KEY}"


async def test_against_the_fake_a_fail_prompt_fails_and_the_compat_path_is_used_when_needed(
    client: httpx.AsyncClient,
) -> None:
    recorder = Recorder()
    with serve(make_app(recorder, generations_path=False, steps=2)) as origin:
        provider = UniallProvider(ProviderConfig(name="uniall", api_key=KEY, base_url=origin), client, policy=FAST)
        task = await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="[fail] storm"))
        task = await poll(provider, task)
    assert task.status == "failed" and task.error is not None
    assert (task.error.code, task.error.message) == ("moderation", "the prompt was refused")
    assert len(recorder.matching("GET", "/v1/video/generations/")) == 1  # tried once, then remembered
    assert len(recorder.matching("GET", "/v1/videos/")) == 2


async def test_the_fake_refuses_a_wrong_key_and_the_adapter_names_the_variable(client: httpx.AsyncClient) -> None:
    with serve(make_app(Recorder())) as origin:
        provider = UniallProvider(
            ProviderConfig(name="uniall", api_key="sk-wrong", base_url=origin), client, policy=FAST
        )
        with pytest.raises(AuthError, match="UNIALL_API_KEY"):
            await provider.submit(spec(provider, "viduq3p-540p"), GenerateRequest(prompt="p"))


# --- end to end over stdio -----------------------------------------------------------------------------------------


async def test_end_to_end_generate_and_get_task_over_stdio_against_the_fake(tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    recorder = Recorder()
    with serve(make_app(recorder)) as origin:
        env = {
            **os.environ,
            "UNIALL_API_KEY": KEY,
            "UNIALL_BASE_URL": origin,
            "MEDIAGEN_OUTPUT_DIR": str(tmp_path),
            "MEDIAGEN_ALLOW_PRIVATE_URLS": "1",
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "server"], cwd=str(PROJECT_ROOT), env=env)
        with anyio.fail_after(60):
            async with Client(params) as mcp_client:
                refused = await mcp_client.call_tool(
                    "generate", {"model": "uniall/viduq3p-720p", "prompt": "sunset", "resolution": "1080p"}
                )
                assert refused.is_error
                text = " ".join(getattr(c, "text", "") for c in refused.content)
                assert "resolution" in text and "uniall/viduq3p-1080p" in text
                assert not recorder.matching("POST")

                r = await mcp_client.call_tool(
                    "generate",
                    {"model": "uniall/viduq3p-720p", "prompt": "sunset", "aspect_ratio": "9:16", "duration": 5},
                )
                assert not r.is_error, r.content
                task = r.structured_content
                assert task is not None and task["task_id"].startswith("uniall:task_")
                assert task["status"] == "pending" and task["model"] == "uniall/viduq3p-720p"
                task = (await poll_to_end(mcp_client, task))[-1]
                assert task["status"] == "completed"
                assert task["result"]["url"].startswith(origin) and task["result"]["media_type"] == "video"
                assert KEY not in json.dumps(task)
    posted = recorder.matching("POST", "/v1/video/generations")
    assert len(posted) == 1
    assert posted[0].json() == {"model": "viduq3p-720p", "prompt": "sunset", "aspect_ratio": "9:16", "duration": 5}
    assert posted[0].headers["authorization"] == f"Bearer {KEY}"
