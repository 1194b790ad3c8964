"""The Mountsea Hub adapter: its catalog (seed 004), exact request bodies for all 25 video models and the 8 image
models, validation before any request, lenient task parsing, and an end-to-end run over stdio against a fake."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import anyio
import httpx
import pytest
import respx

from providers import mountsea
from providers.base import GenerateRequest, MediaInput, ModelSpec, ProviderConfig
from providers.catalog import load_catalog
from providers.errors import (
    AuthError,
    BadRequestError,
    ContentPolicyError,
    InvalidArgument,
    NotFoundError,
    UncertainSubmitError,
    UpstreamError,
)
from providers.http import RetryPolicy
from tests.fakes.loopback import Recorder, serve
from tests.fakes.mountsea import make_app, media_bytes
from tests.support import generate_and_poll

pytestmark = pytest.mark.anyio

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "https://api.mountsea.test"
KEY = "sk-test-secret"
FAST = RetryPolicy(attempts=3, base_delay=0, max_delay=0, deadline=10)
SEED_NAME = "004_a934ddb4537b37fd.txt"
CATALOG: dict[str, ModelSpec] = {m.id: m for m in load_catalog("mountsea")}
VIDEO_IDS = [m.id for m in CATALOG.values() if m.media_type == "video"]
IMAGE_IDS = [m.id for m in CATALOG.values() if m.media_type == "image"]

P = "A red fox runs through fresh snow at dawn"
IMG = "https://img.example.com/first.png"
IMG2 = "https://img.example.com/last.png"
VID = "https://video.example.com/clip.mp4"
AUD = "https://audio.example.com/voice.mp3"
MULTI = [{"prompt": "the fox wakes", "duration": "5"}, {"prompt": "the fox runs", "duration": "7"}]


def media(url: str) -> MediaInput:
    return MediaInput(url=url)


def request(args: dict[str, Any], **changes: Any) -> GenerateRequest:
    return GenerateRequest(**{**args, **changes})


@pytest.fixture
async def provider() -> AsyncIterator[mountsea.MountseaProvider]:
    async with httpx.AsyncClient() as client:
        yield mountsea.create(ProviderConfig(name="mountsea", api_key=KEY, base_url=ORIGIN), client, policy=FAST)


def sent_request(route: respx.Route, index: int = 0) -> httpx.Request:
    return cast(httpx.Request, route.calls[index].request)  # pyright: ignore[reportUnknownMemberType]


def submitted(route: respx.Route) -> Any:
    return json.loads(sent_request(route).content)


# ---------------------------------------------------------------------------------------------------------------
# (a) The catalog: a fresh parse of seed 004, and an independent check against PROVIDER_FACTS.md §4.8


# A copy of the seed is kept in the repository so this check can never be skipped.
SEED_PATH = PROJECT_ROOT / "docs" / "seeds" / SEED_NAME


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mountsea_catalog", PROJECT_ROOT / "scripts" / "mountsea_catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bundled_catalog_is_exactly_what_the_script_parses_from_seed_004() -> None:
    seed = SEED_PATH
    script = _script()
    fresh = script.build_catalog(seed.read_text("utf-8"))
    path = PROJECT_ROOT / "providers" / "catalogs" / "mountsea.json"
    bundled = json.loads(path.read_text("utf-8"))
    assert [m["id"] for m in bundled["models"]] == [m["id"] for m in fresh["models"]]
    for got, want in zip(bundled["models"], fresh["models"], strict=True):
        assert got == want, got["id"]
    assert path.read_text("utf-8") == script.render(fresh)  # deterministic, byte for byte


def test_the_script_types_defaults_and_values_as_the_wire_type() -> None:
    script = _script()
    spec, _ = script.parse_row("duration", " `integer` |     | `5`     | `2` `3` `15` | Output video duration (2-15). ")
    assert spec == {
        "type": "integer",
        "required": False,
        "default": 5,
        "values": [2, 3, 15],
        "field": "duration",
        "description": "Output video duration (2-15).",
    }
    spec, _ = script.parse_row("cfg_scale", " `number` | | `0.5` | – | The CFG scale. ")
    assert spec["default"] == 0.5 and spec["field"] is None
    spec, _ = script.parse_row("seed", " `integer` | ✓ | – | `0`-`10` | Seed. ")
    assert (spec["required"], spec["min"], spec["max"]) == (True, 0, 10)
    long = "word " * 40
    assert len(script.short_description(long + ". Second.")) <= 100


VEO_D = ("string", ["4s", "6s", "8s"], "8s")
KLING_D = ("string", ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"], "5")
WAN_D = ("integer", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], 5)
WAN_REF_D = ("integer", [2, 3, 4, 5, 6, 7, 8, 9, 10], 5)
SEED_D = ("string", ["4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"], "4")
EDIT_D = ("string", ["0", "2", "3", "4", "5", "6", "7", "8", "9", "10"], "0")
RES_4K = (["720p", "1080p", "4k"], "720p")
RES_HD = (["720p", "1080p"], "720p")
RES_WAN = (["720p", "1080p"], "1080p")
RES_SD3 = (["480p", "720p", "1080p"], "720p")
RES_SD2 = (["480p", "720p"], "720p")
AR_VEO = (["16:9", "9:16"], "16:9")
AR_VEO_AUTO = (["auto", "16:9", "9:16"], "auto")
AR_KLING = (["16:9", "9:16", "1:1"], "16:9")
AR_WAN = (["16:9", "9:16", "1:1", "4:3", "3:4"], "16:9")
AR_SD = (["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"], "auto")
AR_EDIT = (["16:9", "9:16", "1:1", "4:3", "3:4"], None)
T2V, I2V, REF, FL, EDIT = "text-to-video", "image-to-video", "reference-to-video", "first-last-frame", "video-edit"

# PROVIDER_FACTS.md §4.8, transcribed by hand: (id, mode, required wire inputs, duration, resolution, aspect_ratio).
TABLE_4_8: list[tuple[str, str, list[str], Any, Any, Any]] = [
    ("veo-3.1", T2V, ["prompt"], VEO_D, RES_4K, AR_VEO),
    ("veo-3.1-fast", T2V, ["prompt"], VEO_D, RES_4K, AR_VEO),
    ("veo-3.1-lite", T2V, ["prompt"], VEO_D, RES_HD, AR_VEO),
    ("veo-3", T2V, ["prompt"], VEO_D, RES_HD, AR_VEO),
    ("kling-v3-standard", T2V, [], KLING_D, None, AR_KLING),
    ("kling-v3-pro", T2V, [], KLING_D, None, AR_KLING),
    ("wan-2.7", T2V, ["prompt"], WAN_D, RES_WAN, AR_WAN),
    ("seedance-2.0", T2V, ["prompt"], SEED_D, RES_SD3, AR_SD),
    ("seedance-2.0-fast", T2V, ["prompt"], SEED_D, RES_SD2, AR_SD),
    ("veo-3.1-image", I2V, ["prompt", "image_url"], VEO_D, RES_4K, AR_VEO_AUTO),
    ("veo-3.1-fast-image", I2V, ["prompt", "image_url"], VEO_D, RES_4K, AR_VEO_AUTO),
    ("veo-3.1-lite-image", I2V, ["prompt", "image_url"], VEO_D, RES_HD, AR_VEO_AUTO),
    ("veo-3-image", I2V, ["prompt", "image_url"], VEO_D, RES_HD, AR_VEO_AUTO),
    ("kling-v3-standard-image", I2V, ["start_image_url"], KLING_D, None, None),
    ("kling-v3-pro-image", I2V, ["start_image_url"], KLING_D, None, None),
    ("wan-2.7-image", I2V, [], WAN_D, RES_WAN, None),
    ("seedance-2.0-image", I2V, ["prompt", "image_url"], SEED_D, RES_SD3, AR_SD),
    ("seedance-2.0-fast-image", I2V, ["prompt", "image_url"], SEED_D, RES_SD2, AR_SD),
    ("veo-3.1-ref", REF, ["prompt", "image_urls"], VEO_D, RES_4K, AR_VEO),
    ("veo-3.1-fast-ref", REF, ["prompt", "image_urls"], VEO_D, RES_4K, AR_VEO),
    ("wan-2.7-ref", REF, ["prompt"], WAN_REF_D, RES_WAN, AR_WAN),
    ("seedance-2.0-ref", REF, ["prompt"], SEED_D, RES_SD3, AR_SD),
    ("seedance-2.0-fast-ref", REF, ["prompt"], SEED_D, RES_SD2, AR_SD),
    ("veo-3.1-first-last", FL, ["prompt", "last_frame_url", "first_frame_url"], VEO_D, RES_4K, AR_VEO_AUTO),
    ("wan-2.7-edit", EDIT, ["prompt", "video_url"], EDIT_D, RES_WAN, AR_EDIT),
]


def test_the_catalog_holds_the_25_video_models_in_the_seed_order_and_the_8_image_models() -> None:
    assert VIDEO_IDS == [row[0] for row in TABLE_4_8]
    modes = [CATALOG[i].modes[0] for i in VIDEO_IDS]
    assert {m: modes.count(m) for m in set(modes)} == {T2V: 9, I2V: 9, REF: 5, FL: 1, EDIT: 1}
    assert sorted(IMAGE_IDS) == sorted(
        [
            "nano-banana",
            "nano-banana-2",
            "nano-banana-pro",
            "gpt-image-2",
            "nano-banana-edit",
            "nano-banana-2-edit",
            "nano-banana-pro-edit",
            "gpt-image-2-edit",
        ]
    )


@pytest.mark.parametrize(
    ("model_id", "mode", "required", "duration", "resolution", "aspect"),
    TABLE_4_8,
    ids=[row[0] for row in TABLE_4_8],
)
def test_each_video_model_matches_the_provider_facts_table(
    model_id: str, mode: str, required: list[str], duration: Any, resolution: Any, aspect: Any
) -> None:
    model = CATALOG[model_id]
    assert (model.media_type, model.modes, model.endpoint) == ("video", [mode], "video")
    assert sorted(model.required_params()) == sorted(required)
    d = model.params["duration"]
    assert (d.type, d.values, d.default, d.field) == (*duration, "duration")
    for name, expected in (("resolution", resolution), ("aspect_ratio", aspect)):
        if expected is None:
            assert name not in model.params
        else:
            param = model.params[name]
            assert (param.type, param.values, param.default, param.field) == ("string", *expected, name)


def test_the_catalog_keeps_the_type_quirks_and_the_reference_field_names_of_each_family() -> None:
    for model_id in VIDEO_IDS:
        params = CATALOG[model_id].params
        if "safety_tolerance" in params:
            st = params["safety_tolerance"]
            assert (st.type, st.default, st.values, st.field) == ("string", "4", ["1", "2", "3", "4", "5", "6"], None)
        if "generate_audio" in params:
            assert params["generate_audio"].field == "audio"
    assert CATALOG["veo-3.1-ref"].params["image_urls"].field == "reference_image_urls"
    assert "seed" not in CATALOG["veo-3.1-ref"].params and "negative_prompt" not in CATALOG["veo-3.1-ref"].params
    sd = CATALOG["seedance-2.0-ref"].params
    assert [(sd[k].field, sd[k].max_items) for k in ("image_urls", "video_urls", "audio_urls")] == [
        ("reference_image_urls", 9),
        ("reference_video_urls", 3),
        ("reference_audio_urls", 3),
    ]
    wan_ref = CATALOG["wan-2.7-ref"].params
    assert wan_ref["reference_image_urls"].field == "reference_image_urls"
    assert wan_ref["reference_video_urls"].field == "reference_video_urls"
    edit = CATALOG["wan-2.7-edit"].params["reference_image_url"]
    assert (edit.type, edit.field) == ("string", "reference_image_urls")
    kling = CATALOG["kling-v3-pro-image"]
    assert kling.one_of == [["prompt", "multi_prompt"]]
    assert (kling.params["start_image_url"].field, kling.params["end_image_url"].field) == (
        "image_urls[0]",
        "image_urls[1]",
    )
    assert kling.params["multi_prompt"].field is None and kling.params["elements"].field is None
    assert CATALOG["wan-2.7-image"].exclusive == [["image_url", "video_url"]]
    first_last = CATALOG["veo-3.1-first-last"].params
    assert (first_last["first_frame_url"].field, first_last["last_frame_url"].field) == (
        "image_urls[0]",
        "image_urls[1]",
    )


def test_image_models_take_the_nano_banana_params_and_edit_models_require_image_urls() -> None:
    for model_id in IMAGE_IDS:
        model = CATALOG[model_id]
        assert (model.media_type, model.endpoint) == ("image", "image")
        edit = model_id.endswith("-edit")
        assert model.modes == ["image-to-image" if edit else "text-to-image"]
        assert sorted(model.required_params()) == (["image_urls", "prompt"] if edit else ["prompt"])
        assert model.params["safety_tolerance"].default == "4" and model.params["num_images"].default == 1
        assert model.params["aspect_ratio"].values == [
            "21:9",
            "16:9",
            "3:2",
            "4:3",
            "5:4",
            "1:1",
            "4:5",
            "3:4",
            "2:3",
            "9:16",
        ]
        assert model.params["output_format"].values == ["jpeg", "png", "webp"]
        if model_id != "nano-banana":
            assert "GUESS" in model.description
    assert not CATALOG["gpt-image-2"].strict and CATALOG["nano-banana"].strict


# ---------------------------------------------------------------------------------------------------------------
# (b) The exact body for every video model

BODY_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "veo-3.1",
        dict(
            prompt=P,
            duration=8,
            aspect_ratio="9:16",
            resolution="1080p",
            audio=False,
            seed=7,
            negative_prompt="blur",
            extra={"safety_tolerance": 2, "auto_fix": False},
        ),
        {
            "prompt": P,
            "duration": "8s",
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "generate_audio": False,
            "seed": 7,
            "negative_prompt": "blur",
            "safety_tolerance": "2",
            "auto_fix": False,
        },
    ),
    (
        "veo-3.1-fast",
        dict(prompt=P, duration=4, resolution="4k", audio=True, extra={"safety_tolerance": "6"}),
        {"prompt": P, "duration": "4s", "resolution": "4k", "generate_audio": True, "safety_tolerance": "6"},
    ),
    (
        "veo-3.1-lite",
        dict(prompt=P, duration=6.0, aspect_ratio="16:9"),
        {"prompt": P, "duration": "6s", "aspect_ratio": "16:9"},
    ),
    (
        "veo-3",
        dict(prompt=P, duration=8, audio=True, seed=0),
        {"prompt": P, "duration": "8s", "generate_audio": True, "seed": 0},
    ),
    (
        "kling-v3-standard",
        dict(
            prompt=P,
            duration=10,
            aspect_ratio="1:1",
            audio=True,
            negative_prompt="smears",
            extra={"cfg_scale": 0.7, "shot_type": "intelligent"},
        ),
        {
            "prompt": P,
            "duration": "10",
            "aspect_ratio": "1:1",
            "generate_audio": True,
            "negative_prompt": "smears",
            "cfg_scale": 0.7,
            "shot_type": "intelligent",
        },
    ),
    (
        "kling-v3-pro",
        dict(duration=15, audio=False, extra={"multi_prompt": MULTI}),
        {"duration": "15", "generate_audio": False, "multi_prompt": MULTI},
    ),
    (
        "wan-2.7",
        dict(
            prompt=P,
            duration=12,
            resolution="720p",
            aspect_ratio="4:3",
            seed=42,
            negative_prompt="text",
            extra={"audio_url": AUD, "enable_prompt_expansion": False},
        ),
        {
            "prompt": P,
            "duration": 12,
            "resolution": "720p",
            "aspect_ratio": "4:3",
            "seed": 42,
            "negative_prompt": "text",
            "audio_url": AUD,
            "enable_prompt_expansion": False,
        },
    ),
    (
        "seedance-2.0",
        dict(
            prompt=P,
            duration=5,
            resolution="1080p",
            aspect_ratio="21:9",
            audio=False,
            seed=1,
            extra={"end_user_id": "user-1"},
        ),
        {
            "prompt": P,
            "duration": "5",
            "resolution": "1080p",
            "aspect_ratio": "21:9",
            "generate_audio": False,
            "seed": 1,
            "end_user_id": "user-1",
        },
    ),
    (
        "seedance-2.0-fast",
        dict(prompt=P, duration=15, resolution="480p", aspect_ratio="auto", audio=True),
        {"prompt": P, "duration": "15", "resolution": "480p", "aspect_ratio": "auto", "generate_audio": True},
    ),
    (
        "veo-3.1-image",
        dict(prompt=P, image_urls=(media(IMG),), duration=6, aspect_ratio="auto", resolution="4k", audio=True),
        {
            "prompt": P,
            "image_url": IMG,
            "duration": "6s",
            "aspect_ratio": "auto",
            "resolution": "4k",
            "generate_audio": True,
        },
    ),
    (
        "veo-3.1-fast-image",
        dict(prompt=P, image_urls=(media(IMG),), duration=4, aspect_ratio="9:16", extra={"auto_fix": True}),
        {"prompt": P, "image_url": IMG, "duration": "4s", "aspect_ratio": "9:16", "auto_fix": True},
    ),
    (
        "veo-3.1-lite-image",
        dict(prompt=P, image_urls=(media(IMG),), duration=8, resolution="1080p", audio=False),
        {"prompt": P, "image_url": IMG, "duration": "8s", "resolution": "1080p", "generate_audio": False},
    ),
    (
        "veo-3-image",
        dict(
            prompt=P,
            image_urls=(media(IMG),),
            duration=8,
            negative_prompt="noise",
            seed=3,
            extra={"safety_tolerance": 5},
        ),
        {
            "prompt": P,
            "image_url": IMG,
            "duration": "8s",
            "negative_prompt": "noise",
            "seed": 3,
            "safety_tolerance": "5",
        },
    ),
    (
        "kling-v3-standard-image",
        dict(prompt=P, image_urls=(media(IMG), media(IMG2)), duration=3, audio=True),
        {"prompt": P, "start_image_url": IMG, "end_image_url": IMG2, "duration": "3", "generate_audio": True},
    ),
    (
        "kling-v3-pro-image",
        dict(image_urls=(media(IMG),), duration=12, extra={"multi_prompt": MULTI, "elements": [{"image_url": IMG2}]}),
        {"start_image_url": IMG, "duration": "12", "multi_prompt": MULTI, "elements": [{"image_url": IMG2}]},
    ),
    (
        "wan-2.7-image",
        dict(
            prompt=P,
            image_urls=(media(IMG), media(IMG2)),
            duration=2,
            resolution="720p",
            extra={"enable_safety_checker": False},
        ),
        {
            "prompt": P,
            "image_url": IMG,
            "end_image_url": IMG2,
            "duration": 2,
            "resolution": "720p",
            "enable_safety_checker": False,
        },
    ),
    (
        "seedance-2.0-image",
        dict(prompt=P, image_urls=(media(IMG), media(IMG2)), duration=4, aspect_ratio="3:4", audio=True),
        {
            "prompt": P,
            "image_url": IMG,
            "end_image_url": IMG2,
            "duration": "4",
            "aspect_ratio": "3:4",
            "generate_audio": True,
        },
    ),
    (
        "seedance-2.0-fast-image",
        dict(prompt=P, image_urls=(media(IMG),), duration=9, resolution="720p", audio=False),
        {"prompt": P, "image_url": IMG, "duration": "9", "resolution": "720p", "generate_audio": False},
    ),
    (
        "veo-3.1-ref",
        dict(prompt=P, reference_image_urls=(media(IMG), media(IMG2)), duration=8, aspect_ratio="16:9", audio=True),
        {"prompt": P, "image_urls": [IMG, IMG2], "duration": "8s", "aspect_ratio": "16:9", "generate_audio": True},
    ),
    (
        "veo-3.1-fast-ref",
        dict(
            prompt=P, reference_image_urls=(media(IMG),), duration=6, resolution="1080p", extra={"safety_tolerance": 1}
        ),
        {"prompt": P, "image_urls": [IMG], "duration": "6s", "resolution": "1080p", "safety_tolerance": "1"},
    ),
    (
        "wan-2.7-ref",
        dict(
            prompt=P,
            reference_image_urls=(media(IMG),),
            reference_video_urls=(media(VID),),
            duration=10,
            aspect_ratio="1:1",
            extra={"multi_shots": True},
        ),
        {
            "prompt": P,
            "reference_image_urls": [IMG],
            "reference_video_urls": [VID],
            "duration": 10,
            "aspect_ratio": "1:1",
            "multi_shots": True,
        },
    ),
    (
        "seedance-2.0-ref",
        dict(
            prompt=P,
            reference_image_urls=(media(IMG),),
            reference_video_urls=(media(VID),),
            reference_audio_urls=(media(AUD),),
            duration=6,
            audio=True,
        ),
        {
            "prompt": P,
            "image_urls": [IMG],
            "video_urls": [VID],
            "audio_urls": [AUD],
            "duration": "6",
            "generate_audio": True,
        },
    ),
    (
        "seedance-2.0-fast-ref",
        dict(prompt=P, reference_image_urls=(media(IMG), media(IMG2)), duration=7, resolution="480p", audio=False),
        {"prompt": P, "image_urls": [IMG, IMG2], "duration": "7", "resolution": "480p", "generate_audio": False},
    ),
    (
        "veo-3.1-first-last",
        dict(prompt=P, image_urls=(media(IMG), media(IMG2)), duration=4, aspect_ratio="auto", audio=False),
        {
            "prompt": P,
            "first_frame_url": IMG,
            "last_frame_url": IMG2,
            "duration": "4s",
            "aspect_ratio": "auto",
            "generate_audio": False,
        },
    ),
    (
        "wan-2.7-edit",
        dict(
            prompt=P,
            video_url=media(VID),
            duration=0,
            reference_image_urls=(media(IMG),),
            audio_setting="origin",
            resolution="720p",
        ),
        {
            "prompt": P,
            "video_url": VID,
            "duration": "0",
            "reference_image_url": IMG,
            "audio_setting": "origin",
            "resolution": "720p",
        },
    ),
]
CASES = {case[0]: case for case in BODY_CASES}


def test_every_video_model_has_a_body_case() -> None:
    assert [case[0] for case in BODY_CASES] == VIDEO_IDS


@pytest.mark.parametrize(("model_id", "args", "expected"), BODY_CASES, ids=[c[0] for c in BODY_CASES])
async def test_each_video_model_receives_exactly_the_wire_names_and_types_it_documents(
    provider: mountsea.MountseaProvider, model_id: str, args: dict[str, Any], expected: dict[str, Any]
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"task_id": "hub-1", "status": "pending"})
        task = await provider.submit(CATALOG[model_id], request(args))
    assert route.call_count == 1
    assert submitted(route) == {"model": model_id, "input": expected}
    sent = sent_request(route)
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert task.task_id == "mountsea:hub-1"
    assert (task.provider, task.model, task.status, task.poll_after_seconds) == (
        "mountsea",
        f"mountsea/{model_id}",
        "pending",
        mountsea.POLL_SECONDS,
    )


async def test_veo_duration_8_is_sent_as_the_string_8s_and_no_default_is_added(
    provider: mountsea.MountseaProvider,
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"taskId": "u-1"})
        await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P, duration=8))
    assert submitted(route) == {"model": "veo-3.1", "input": {"prompt": P, "duration": "8s"}}


async def test_wan_edit_duration_5_is_the_string_5(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"taskId": "u-1"})
        await provider.submit(CATALOG["wan-2.7-edit"], GenerateRequest(prompt=P, video_url=media(VID), duration=5))
    assert submitted(route)["input"] == {"prompt": P, "video_url": VID, "duration": "5"}


async def test_wan_image_continues_from_a_video_url_instead_of_a_first_frame(
    provider: mountsea.MountseaProvider,
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"taskId": "u-1"})
        await provider.submit(CATALOG["wan-2.7-image"], GenerateRequest(video_url=media(VID), duration=15))
    assert submitted(route)["input"] == {"video_url": VID, "duration": 15}


async def test_a_local_image_is_sent_inline_as_a_base64_data_uri(provider: mountsea.MountseaProvider) -> None:
    local = MediaInput(data=b"\x89PNG fake", mime="image/png", local=True)
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"taskId": "u-1"})
        await provider.submit(CATALOG["veo-3.1-image"], GenerateRequest(prompt=P, image_urls=(local,)))
    assert submitted(route)["input"]["image_url"] == "data:image/png;base64,iVBORyBmYWtl"


# ---------------------------------------------------------------------------------------------------------------
# (c) Validation happens before any request


async def _refused(provider: mountsea.MountseaProvider, model_id: str, req: GenerateRequest) -> InvalidArgument:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.post("/hub/v1/video").respond(200, json={"taskId": "u-1"})
        router.post("/hub/v1/image").respond(200, json={"taskId": "u-1"})
        with pytest.raises(InvalidArgument) as caught:
            await provider.submit(CATALOG[model_id], req)
    assert not router.calls
    return caught.value


@pytest.mark.parametrize("model_id", VIDEO_IDS)
async def test_a_duration_the_model_does_not_allow_is_refused_naming_duration(
    provider: mountsea.MountseaProvider, model_id: str
) -> None:
    error = await _refused(provider, model_id, request(CASES[model_id][1], duration=1))
    assert error.field == "duration"
    assert "allowed" in error.message and model_id in error.message


@pytest.mark.parametrize("model_id", VIDEO_IDS)
async def test_an_aspect_ratio_the_model_does_not_allow_is_refused_naming_aspect_ratio(
    provider: mountsea.MountseaProvider, model_id: str
) -> None:
    error = await _refused(provider, model_id, request(CASES[model_id][1], aspect_ratio="7:5"))
    assert error.field == "aspect_ratio"
    if "aspect_ratio" in CATALOG[model_id].params:
        assert "allowed" in error.message
    else:
        assert "not accepted" in error.message


# model -> (changes that drop a required input, the field the error must name)
MISSING: dict[str, tuple[dict[str, Any], str]] = {
    "veo-3.1": ({"prompt": None}, "prompt"),
    "veo-3.1-fast": ({"prompt": "  "}, "prompt"),
    "veo-3.1-lite": ({"prompt": None}, "prompt"),
    "veo-3": ({"prompt": None}, "prompt"),
    "kling-v3-standard": ({"prompt": None}, "prompt"),
    "kling-v3-pro": ({"extra": {}}, "prompt"),
    "wan-2.7": ({"prompt": None}, "prompt"),
    "seedance-2.0": ({"prompt": None}, "prompt"),
    "seedance-2.0-fast": ({"prompt": None}, "prompt"),
    "veo-3.1-image": ({"image_urls": ()}, "image_urls[0]"),
    "veo-3.1-fast-image": ({"image_urls": ()}, "image_urls[0]"),
    "veo-3.1-lite-image": ({"prompt": None}, "prompt"),
    "veo-3-image": ({"image_urls": ()}, "image_urls[0]"),
    "kling-v3-standard-image": ({"image_urls": ()}, "image_urls[0]"),
    "kling-v3-pro-image": ({"image_urls": ()}, "image_urls[0]"),
    "wan-2.7-image": ({"image_urls": ()}, "image_urls[0]"),
    "seedance-2.0-image": ({"image_urls": ()}, "image_urls[0]"),
    "seedance-2.0-fast-image": ({"image_urls": ()}, "image_urls[0]"),
    "veo-3.1-ref": ({"reference_image_urls": ()}, "reference_image_urls"),
    "veo-3.1-fast-ref": ({"reference_image_urls": ()}, "reference_image_urls"),
    "wan-2.7-ref": ({"prompt": None}, "prompt"),
    "seedance-2.0-ref": ({"prompt": None}, "prompt"),
    "seedance-2.0-fast-ref": ({"prompt": None}, "prompt"),
    "veo-3.1-first-last": ({"image_urls": (media(IMG),)}, "image_urls[1]"),
    "wan-2.7-edit": ({"video_url": None}, "video_url"),
}


def test_every_video_model_has_a_missing_input_case() -> None:
    assert sorted(MISSING) == sorted(VIDEO_IDS)


@pytest.mark.parametrize("model_id", VIDEO_IDS)
async def test_a_missing_required_input_is_refused_naming_the_field(
    provider: mountsea.MountseaProvider, model_id: str
) -> None:
    changes, field = MISSING[model_id]
    error = await _refused(provider, model_id, request(CASES[model_id][1], **changes))
    assert error.field == field
    assert model_id in error.message


async def test_seedance_reference_audio_alone_is_refused_naming_reference_audio_urls(
    provider: mountsea.MountseaProvider,
) -> None:
    req = GenerateRequest(prompt=P, reference_audio_urls=(media(AUD),))
    error = await _refused(provider, "seedance-2.0-ref", req)
    assert error.field == "reference_audio_urls"
    assert "reference_image_urls" in error.message and "reference_video_urls" in error.message


async def test_seedance_reference_audio_with_one_video_is_accepted(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"taskId": "u-1"})
        req = GenerateRequest(prompt=P, reference_video_urls=(media(VID),), reference_audio_urls=(media(AUD),))
        await provider.submit(CATALOG["seedance-2.0-fast-ref"], req)
    assert submitted(route)["input"] == {"prompt": P, "video_urls": [VID], "audio_urls": [AUD]}


async def test_seedance_reference_limits_per_kind_and_in_total_are_enforced(
    provider: mountsea.MountseaProvider,
) -> None:
    ten = tuple(media(f"https://img.example.com/{i}.png") for i in range(10))
    error = await _refused(provider, "seedance-2.0-ref", GenerateRequest(prompt=P, reference_image_urls=ten))
    assert error.field == "reference_image_urls" and "at most 9" in error.message
    four = tuple(media(f"https://video.example.com/{i}.mp4") for i in range(4))
    error = await _refused(provider, "seedance-2.0-ref", GenerateRequest(prompt=P, reference_video_urls=four))
    assert error.field == "reference_video_urls" and "at most 3" in error.message
    req = GenerateRequest(
        prompt=P, reference_image_urls=ten[:9], reference_video_urls=four[:3], reference_audio_urls=(media(AUD),)
    )
    error = await _refused(provider, "seedance-2.0-ref", req)
    assert "at most 12" in error.message


async def test_kling_refuses_both_prompt_and_multi_prompt(provider: mountsea.MountseaProvider) -> None:
    req = GenerateRequest(prompt=P, extra={"multi_prompt": MULTI})
    error = await _refused(provider, "kling-v3-standard", req)
    assert error.field == "prompt" and "exactly one" in error.message


async def test_wan_image_refuses_a_first_frame_combined_with_a_video_to_continue(
    provider: mountsea.MountseaProvider,
) -> None:
    req = GenerateRequest(prompt=P, image_urls=(media(IMG),), video_url=media(VID))
    error = await _refused(provider, "wan-2.7-image", req)
    assert "image_urls[0]" in error.message and "video_url" in error.message


@pytest.mark.parametrize(
    ("model_id", "req", "field"),
    [
        ("veo-3.1-ref", GenerateRequest(prompt=P, reference_image_urls=(media(IMG),), seed=1), "seed"),
        ("veo-3.1-lite", GenerateRequest(prompt=P, resolution="4k"), "resolution"),
        ("kling-v3-pro", GenerateRequest(prompt=P, resolution="720p"), "resolution"),
        ("veo-3.1-image", GenerateRequest(prompt=P, image_urls=(media(IMG), media(IMG2))), "image_urls"),
        ("veo-3.1", GenerateRequest(prompt=P, extra={"safety_tolerance": "7"}), "extra.safety_tolerance"),
        ("veo-3.1", GenerateRequest(prompt=P, extra={"quality": "high"}), "extra.quality"),
        ("wan-2.7", GenerateRequest(prompt=P, duration=5.5), "duration"),
        ("wan-2.7-edit", GenerateRequest(prompt=P, video_url=media(VID), audio_setting="keep"), "audio_setting"),
        (
            "wan-2.7-edit",
            GenerateRequest(prompt=P, video_url=media(VID), reference_image_urls=(media(IMG), media(IMG2))),
            "reference_image_urls",
        ),
        ("nano-banana", GenerateRequest(aspect_ratio="1:1"), "prompt"),
        ("nano-banana-edit", GenerateRequest(prompt=P), "image_urls"),
        ("nano-banana-pro", GenerateRequest(prompt=P, output_format="gif"), "output_format"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_other_inputs_a_model_does_not_take_are_refused_naming_the_field(
    provider: mountsea.MountseaProvider, model_id: str, req: GenerateRequest, field: str
) -> None:
    error = await _refused(provider, model_id, req)
    assert error.field == field


# ---------------------------------------------------------------------------------------------------------------
# (d) Submit answers, polling, and errors


@pytest.mark.parametrize(
    ("answer", "native"),
    [
        ({"taskId": "0f1e2d3c-aaaa-bbbb-cccc-000000000001"}, "0f1e2d3c-aaaa-bbbb-cccc-000000000001"),
        (
            {
                "task_id": "hub-42",
                "status": "pending",
                "capability": "video",
                "model": "veo-3.1",
                "vendor": "Google",
                "mode": "text-to-video",
                "created_at": "2026-01-01T00:00:00Z",
            },
            "hub-42",
        ),
        ({"id": "plain-id"}, "plain-id"),
        ({"data": {"task_id": "hub-wrapped"}}, "hub-wrapped"),
        ({"code": 0, "message": "ok", "data": {"taskId": "camel-wrapped", "status": "queued"}}, "camel-wrapped"),
        ({"task_id": "hub-7", "taskId": "other", "id": "third"}, "hub-7"),
        ({"status": "pending", "data": {"task_id": "hub-in-data"}}, "hub-in-data"),
        ({"taskId": 12345}, "12345"),
    ],
)
async def test_every_submit_answer_form_yields_the_task_id(
    provider: mountsea.MountseaProvider, answer: dict[str, Any], native: str
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.post("/hub/v1/video").respond(200, json=answer)
        task = await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))
    assert task.task_id == f"mountsea:{native}"
    assert task.status == "pending"


async def test_a_submit_answer_without_any_task_id_is_an_uncertain_outcome_and_is_not_resent(
    provider: mountsea.MountseaProvider,
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(200, json={"status": "pending", "note": KEY})
        with pytest.raises(UncertainSubmitError) as caught:
            await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))
    assert route.call_count == 1
    assert not caught.value.retryable
    assert KEY not in caught.value.message


def _poll(router: respx.Router, native: str, *bodies: dict[str, Any]) -> respx.Route:
    return router.get(f"/hub/v1/tasks/{native}").mock(side_effect=[httpx.Response(200, json=b) for b in bodies])


async def test_a_task_goes_pending_then_processing_then_completed_with_its_video_url(
    provider: mountsea.MountseaProvider,
) -> None:
    url = "https://cdn.mountsea.test/out/hub-1.mp4"
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = _poll(
            router,
            "hub-1",
            {"task_id": "hub-1", "status": "pending", "ready": False},
            {"task_id": "hub-1", "status": "processing", "ready": False, "progress": 40, "elapsed_ms": 9000},
            {
                "task_id": "hub-1",
                "status": "completed",
                "ready": True,
                "model": "veo-3.1",
                "elapsed_ms": 61000,
                "data": {"video": {"url": url, "content_type": "video/mp4", "file_name": "out.mp4", "file_size": 1}},
            },
        )
        tasks = [await provider.fetch("hub-1") for _ in range(3)]
    assert [t.status for t in tasks] == ["pending", "processing", "completed"]
    assert [t.poll_after_seconds for t in tasks] == [5.0, 5.0, None]
    assert tasks[1].progress == 40
    done = tasks[2]
    assert done.result is not None
    assert (done.result.url, done.result.urls, done.result.media_type) == (url, [url], "video")
    assert done.model == "mountsea/veo-3.1" and done.error is None and done.progress == 100
    assert tasks[0].model is None  # the poll did not say which model
    assert all(sent_request(route, i).headers["authorization"] == f"Bearer {KEY}" for i in range(route.call_count))


async def test_a_failed_task_carries_the_provider_code_and_reason(provider: mountsea.MountseaProvider) -> None:
    body = {
        "task_id": "hub-2",
        "status": "failed",
        "ready": True,
        "error_code": "GENERATION_FAILED",
        "error_message": "upstream model <b>crashed</b>",
    }
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-2", body)
        task = await provider.fetch("hub-2")
    assert task.status == "failed" and task.result is None and task.poll_after_seconds is None
    assert task.error is not None
    assert (task.error.code, task.error.retryable) == ("GENERATION_FAILED", False)
    assert "crashed" in task.error.message


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [("timeout", "timeout", True), ("cancelled", "cancelled", False), ("canceled", "cancelled", False)],
)
async def test_timed_out_and_cancelled_tasks_are_failed_with_their_own_code(
    provider: mountsea.MountseaProvider, status: str, code: str, retryable: bool
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-3", {"task_id": "hub-3", "status": status, "ready": True, "error_code": "E_TASK"})
        task = await provider.fetch("hub-3")
    assert task.status == "failed" and task.error is not None
    assert (task.error.code, task.error.retryable) == (code, retryable)
    assert "E_TASK" in task.error.message


async def test_a_failure_that_reads_as_content_policy_gets_the_content_policy_code(
    provider: mountsea.MountseaProvider,
) -> None:
    body = {"status": "failed", "ready": True, "error_message": "Rejected by content moderation"}
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-4", body)
        task = await provider.fetch("hub-4")
    assert task.error is not None and task.error.code == "content_policy"


async def test_a_failure_without_any_reason_still_explains_itself(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-5", {"status": "failed", "ready": True})
        task = await provider.fetch("hub-5")
    assert task.error is not None and task.error.code == "failed" and task.error.message


@pytest.mark.parametrize(
    ("data", "urls"),
    [
        ({"video": {"url": "https://c.test/a.mp4"}}, ["https://c.test/a.mp4"]),
        (
            {"videos": [{"url": "https://c.test/a.mp4"}, {"url": "https://c.test/b.mp4"}]},
            ["https://c.test/a.mp4", "https://c.test/b.mp4"],
        ),
        (
            {"images": [{"url": "https://c.test/a.png"}, {"url": "https://c.test/b.png"}], "description": "two"},
            ["https://c.test/a.png", "https://c.test/b.png"],
        ),
        ({"url": "https://c.test/a.mp4"}, ["https://c.test/a.mp4"]),
        ({"video_url": "https://c.test/a.mp4"}, ["https://c.test/a.mp4"]),
        ({"output": "https://c.test/a.mp4"}, ["https://c.test/a.mp4"]),
        ({"output": {"videos": [{"url": "https://c.test/a.mp4"}]}}, ["https://c.test/a.mp4"]),
        ({"video": "https://c.test/a.mp4"}, ["https://c.test/a.mp4"]),
        ("https://c.test/a.mp4", ["https://c.test/a.mp4"]),
    ],
)
async def test_result_urls_are_found_in_every_likely_place(
    provider: mountsea.MountseaProvider, data: Any, urls: list[str]
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-6", {"task_id": "hub-6", "status": "completed", "ready": True, "data": data})
        task = await provider.fetch("hub-6")
    assert task.status == "completed" and task.result is not None
    assert (task.result.url, task.result.urls) == (urls[0], urls)


async def test_a_result_in_an_unforeseen_shape_is_found_by_the_recursive_walk(
    provider: mountsea.MountseaProvider,
) -> None:
    data = {
        "meta": {"seed": 3, "link": "https://mountsea.test/help"},
        "generations": [{"assets": {"primary": {"href": "https://cdn.test/final/render.mp4?sig=abc"}}}],
    }
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-7", {"task_id": "hub-7", "status": "completed", "ready": True, "data": data})
        task = await provider.fetch("hub-7")
    assert task.result is not None
    assert task.result.urls == ["https://cdn.test/final/render.mp4?sig=abc", "https://mountsea.test/help"]
    assert task.result.media_type == "video"  # guessed from the extension: the poll named no model


async def test_unexpected_extra_fields_are_ignored(provider: mountsea.MountseaProvider) -> None:
    body = {
        "task_id": "hub-8",
        "status": "Completed",
        "ready": True,
        "capability": "image",
        "vendor": "Google",
        "cost": {"credits": 12},
        "trace": ["a", {"b": None}],
        "elapsed_ms": "n/a",
        "data": {"images": [{"url": "https://c.test/x", "width": 1024}], "timings": {"inference": 1.2}},
    }
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-8", body)
        task = await provider.fetch("hub-8")
    assert task.status == "completed" and task.result is not None
    assert (task.result.url, task.result.media_type) == ("https://c.test/x", "image")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"task_id": "hub-9"}, "pending"),
        ({"task_id": "hub-9", "status": "queued", "ready": False}, "pending"),
        ({"task_id": "hub-9", "status": "running", "ready": False}, "processing"),
        ({"task_id": "hub-9", "status": "PROCESSING"}, "processing"),
    ],
)
async def test_in_flight_states_map_to_pending_or_processing(
    provider: mountsea.MountseaProvider, body: dict[str, Any], status: str
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-9", body)
        task = await provider.fetch("hub-9")
    assert (task.status, task.poll_after_seconds, task.result, task.error) == (status, 5.0, None, None)


async def test_ready_without_a_status_but_with_a_result_is_completed(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-10", {"ready": True, "data": {"images": [{"url": "https://c.test/p.webp"}]}})
        task = await provider.fetch("hub-10")
    assert task.status == "completed" and task.result is not None and task.result.media_type == "image"


async def test_completed_without_any_url_is_failed_with_no_result(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-11", {"status": "completed", "ready": True, "data": {"text": "nothing here"}})
        task = await provider.fetch("hub-11")
    assert task.status == "failed" and task.error is not None and task.error.code == "no_result"


async def test_a_poll_retries_a_server_error_then_reads_the_task(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/hub/v1/tasks/hub-12").mock(
            side_effect=[
                httpx.Response(502, text="<html><title>Bad gateway</title></html>"),
                httpx.Response(200, json={"status": "processing"}),
            ]
        )
        task = await provider.fetch("hub-12")
    assert route.call_count == 2 and task.status == "processing"


async def test_the_task_id_is_escaped_in_the_poll_path(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.get("/hub/v1/tasks/a%2F..%2Fb").respond(200, json={"status": "pending"})
        task = await provider.fetch("a/../b")
    assert route.call_count == 1 and task.task_id == "mountsea:a/../b"


async def test_an_unknown_task_is_not_found(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.get("/hub/v1/tasks/nope").respond(
            404, json={"statusCode": 404, "message": "Task nope not found", "error": "Not Found"}
        )
        with pytest.raises(NotFoundError) as caught:
            await provider.fetch("nope")
    assert "Task nope not found" in caught.value.message


async def test_a_rejected_key_names_the_env_variable_and_never_the_key(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(401, json={"message": f"bad key {KEY}"})
        with pytest.raises(AuthError) as caught:
            await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))
    assert route.call_count == 1
    assert "MOUNTSEA_API_KEY" in caught.value.message and KEY not in caught.value.message


async def test_a_nestjs_style_400_reports_the_detail_not_the_reason_phrase(
    provider: mountsea.MountseaProvider,
) -> None:
    body = {"statusCode": 400, "message": ["input.duration must be one of 4s, 6s, 8s"], "error": "Bad Request"}
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(400, json=body)
        with pytest.raises(BadRequestError) as caught:
            await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))
    assert route.call_count == 1
    assert "input.duration must be one of" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"error_message": "prompt violates the content policy"},
        {"error": {"message": "blocked by moderation"}},
        {"msg": "NSFW input"},
    ],
)
async def test_a_submit_refused_on_content_grounds_is_a_content_policy_error(
    provider: mountsea.MountseaProvider, body: dict[str, Any]
) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        router.post("/hub/v1/video").respond(400, json=body)
        with pytest.raises(ContentPolicyError):
            await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))


async def test_a_submit_server_error_is_not_resent(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/video").respond(500, json={"message": "internal"})
        with pytest.raises(UpstreamError):
            await provider.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))
    assert route.call_count == 1


async def test_live_models_is_the_bundled_catalog_without_any_request(provider: mountsea.MountseaProvider) -> None:
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        live = await provider.live_models()
    assert not router.calls
    assert [m.id for m in live] == [m.id for m in provider.models()] == list(CATALOG)


async def test_without_a_key_nothing_is_sent() -> None:
    async with httpx.AsyncClient() as client:
        bare = mountsea.create(ProviderConfig(name="mountsea", api_key=None, base_url=ORIGIN), client, policy=FAST)
        with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
            with pytest.raises(AuthError):
                await bare.submit(CATALOG["veo-3.1"], GenerateRequest(prompt=P))
            with pytest.raises(AuthError):
                await bare.fetch("hub-1")
        assert not router.calls


# ---------------------------------------------------------------------------------------------------------------
# (e) Image models go to /hub/v1/image


async def test_nano_banana_is_submitted_to_the_image_endpoint_with_its_exact_body(
    provider: mountsea.MountseaProvider,
) -> None:
    req = GenerateRequest(
        prompt=P,
        aspect_ratio="16:9",
        output_format="webp",
        seed=5,
        extra={"num_images": 2, "safety_tolerance": 3, "sync_mode": False},
    )
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        video = router.post("/hub/v1/video").respond(200, json={"taskId": "wrong"})
        image = router.post("/hub/v1/image").respond(200, json={"task_id": "hub-img", "status": "pending"})
        task = await provider.submit(CATALOG["nano-banana"], req)
    assert video.call_count == 0
    assert submitted(image) == {
        "model": "nano-banana",
        "input": {
            "prompt": P,
            "aspect_ratio": "16:9",
            "output_format": "webp",
            "seed": 5,
            "num_images": 2,
            "safety_tolerance": "3",
            "sync_mode": False,
        },
    }
    assert (task.task_id, task.model) == ("mountsea:hub-img", "mountsea/nano-banana")


@pytest.mark.parametrize("model_id", [i for i in IMAGE_IDS if i.endswith("-edit")])
async def test_edit_models_send_every_image_in_image_urls(provider: mountsea.MountseaProvider, model_id: str) -> None:
    local = MediaInput(data=b"abc", mime="image/jpeg", local=True)
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/image").respond(200, json={"taskId": "e-1"})
        await provider.submit(CATALOG[model_id], GenerateRequest(prompt=P, image_urls=(media(IMG), local)))
    assert submitted(route) == {
        "model": model_id,
        "input": {"prompt": P, "image_urls": [IMG, "data:image/jpeg;base64,YWJj"]},
    }


async def test_gpt_image_2_passes_options_nano_banana_does_not_document(provider: mountsea.MountseaProvider) -> None:
    req = GenerateRequest(prompt=P, aspect_ratio="3:2", extra={"quality": "high", "size": "1536x1024"})
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        route = router.post("/hub/v1/image").respond(200, json={"taskId": "g-1"})
        await provider.submit(CATALOG["gpt-image-2"], req)
    assert submitted(route)["input"] == {"prompt": P, "aspect_ratio": "3:2", "quality": "high", "size": "1536x1024"}


async def test_a_finished_image_task_of_a_known_model_is_an_image(provider: mountsea.MountseaProvider) -> None:
    body = {
        "status": "completed",
        "ready": True,
        "model": "nano-banana",
        "data": {"images": [{"url": "https://c.test/i"}]},
    }
    with respx.mock(base_url=ORIGIN, assert_all_called=False) as router:
        _poll(router, "hub-13", body)
        task = await provider.fetch("hub-13")
    assert task.result is not None and task.result.media_type == "image" and task.model == "mountsea/nano-banana"


# ---------------------------------------------------------------------------------------------------------------
# (f) The loopback fake, through the adapter and through the real server over stdio


async def test_the_adapter_drives_the_loopback_fake_to_completion() -> None:
    recorder = Recorder()
    with serve(make_app(recorder, camel_case_submit=True)) as origin:
        async with httpx.AsyncClient() as client:
            adapter = mountsea.create(
                ProviderConfig(name="mountsea", api_key=KEY, base_url=origin), client, policy=FAST
            )
            with anyio.fail_after(30):
                task = await adapter.submit(CATALOG["nano-banana"], GenerateRequest(prompt=P, output_format="png"))
                states = [task.status]
                while not task.terminal:
                    task = await adapter.fetch(task.native_id)
                    states.append(task.status)
                assert task.result is not None and task.result.url is not None
                download = await client.get(task.result.url)
    assert states == ["pending", "pending", "processing", "completed"]
    assert task.result.media_type == "image" and download.content.startswith(b"\x89PNG")
    assert recorder.matching("POST", "/hub/v1/image")[0].json() == {
        "model": "nano-banana",
        "input": {"prompt": P, "output_format": "png"},
    }


def _server_env(origin: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        {
            "MOUNTSEA_API_KEY": KEY,
            "MOUNTSEA_BASE_URL": origin,
            "MEDIAGEN_OUTPUT_DIR": str(tmp_path),
            "MEDIAGEN_ALLOW_PRIVATE_URLS": "1",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    return env


async def _run_over_stdio(
    origin: str, tmp_path: Path, arguments: dict[str, Any], refused: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Run the real server, optionally make one `generate` call that must be refused (its text is returned), then
    generate with `arguments` and poll get_task until terminal; returns every task object seen."""
    from mcp import Client, StdioServerParameters
    from mcp.types import TextContent

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "server"], cwd=str(PROJECT_ROOT), env=_server_env(origin, tmp_path)
    )
    refusal = ""
    with anyio.fail_after(90):
        async with Client(params) as client:
            if refused is not None:
                bad = await client.call_tool("generate", refused)
                assert bad.is_error
                refusal = " ".join(c.text for c in bad.content if isinstance(c, TextContent))
            seen = await generate_and_poll(client, arguments)
    return seen, refusal


async def test_end_to_end_over_stdio_veo_3_1_is_generated_and_polled_to_completed(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(make_app(recorder)) as origin:
        seen, refusal = await _run_over_stdio(
            origin,
            tmp_path,
            {"model": "mountsea/veo-3.1", "prompt": P, "duration": 6, "aspect_ratio": "9:16"},
            refused={"model": "mountsea/veo-3.1", "prompt": P, "duration": 5},
        )
    assert "duration" in refusal and "4, 6, 8" in refusal
    first, last = seen[0], seen[-1]
    assert first["task_id"].startswith("mountsea:hub-") and first["status"] == "pending"
    assert first["model"] == "mountsea/veo-3.1"
    assert [t["status"] for t in seen] == ["pending", "pending", "processing", "completed"]
    assert last["result"]["url"].startswith(f"{origin}/files/") and last["result"]["media_type"] == "video"
    assert last["error"] is None
    saved = [Path(f) for f in last["files"]]
    assert saved and all(f.is_file() and f.resolve().is_relative_to(tmp_path.resolve()) for f in saved)
    assert saved[0].read_bytes() == media_bytes("video")
    posts = recorder.matching("POST", "/hub/v1/video")
    assert len(posts) == 1  # the refused call sent nothing
    assert posts[0].json() == {"model": "veo-3.1", "input": {"prompt": P, "duration": "6s", "aspect_ratio": "9:16"}}
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in recorder.requests if r.path.startswith("/hub/"))
    assert KEY not in json.dumps(seen)


async def test_end_to_end_over_stdio_a_failing_task_reports_the_provider_reason(tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(make_app(recorder, polls_to_complete=2)) as origin:
        seen, _ = await _run_over_stdio(
            origin, tmp_path, {"model": "mountsea/wan-2.7", "prompt": "[fail] a storm", "duration": 3}
        )
    last = seen[-1]
    assert last["status"] == "failed" and last["error"]["code"] == "GENERATION_FAILED"
    assert "asked to fail" in last["error"]["message"]
    assert recorder.matching("POST", "/hub/v1/video")[0].json()["input"] == {"prompt": "[fail] a storm", "duration": 3}
