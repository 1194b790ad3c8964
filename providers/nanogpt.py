"""NanoGPT (nano-gpt.com): videos through `POST /api/generate-video` (flat camelCase fields of seed 003, HTTP 202)
polled at `GET /api/video/status?requestId=`, images through the synchronous OpenAI-compatible endpoint (see
`nanogpt_images`). Facts and their sources: shared/docs/PROVIDER_FACTS.md section 3.

Media wire names: the catalog names each media param by its URL field (`imageUrl`, `videoUrl`, `audioUrl`,
`referenceImages`, `referenceVideos`) and the adapter sends an inline input under the matching data field
(`imageDataUrl`...). Only params the model lists are ever sent: NanoGPT jobs can fail on extra media fields.
`reference_audio_urls[0]` becomes `audioUrl` (driving audio); `extra.audioUrl` works too where a model lists it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from . import nanogpt_images as img
from .base import (
    GenerateRequest,
    MediaInput,
    Mode,
    ModelSpec,
    ParamSpec,
    ProviderConfig,
    Status,
    Task,
    TaskError,
    TaskResult,
)
from .base import task_id as make_task_id
from .catalog import load_catalog, validate
from .errors import AuthError, ContentPolicyError, MediagenError, UncertainSubmitError
from .http import Http, RetryPolicy, clean_text
from .parse import items, message_of, num, obj, progress, text, urls_in

NAME = img.NAME
KEY_ENV = "NANOGPT_API_KEY"
POLL_SECONDS = 5.0  # NanoGPT's own guidance: poll every 5 s
FAILED_LIST_TTL = 300.0  # after a failed live listing, serve the bundled list this long before asking again
_DATA_FIELD = {"imageUrl": "imageDataUrl", "videoUrl": "videoDataUrl", "audioUrl": "audioDataUrl"}
_HOST_IT = "Host it at an https URL and pass that URL instead."
_DONE = {"completed", "complete", "success", "succeeded"}
_FAILED = {"failed", "failure", "error", "canceled", "cancelled"}
_QUEUED = {"in_queue", "queued", "pending"}
_LIST_FIELDS = ("image_urls", "reference_image_urls", "reference_video_urls", "reference_audio_urls")


def classify(status: int, code: str | None, message: str) -> MediagenError | None:
    """NanoGPT-specific mappings; everything else takes the shared default (401 names the key, 402, 413, 429...)."""
    words = f"{code or ''} {message}".lower()
    if status == 403 and "origin" in words:
        return AuthError(
            f"NanoGPT refused {KEY_ENV} from this origin (api_key_origin_not_allowed: {message}). The key is limited "
            "to certain browser origins; use a key without an origin restriction for this server.",
            provider_code="api_key_origin_not_allowed",
        )
    if status in (400, 403, 422) and ("content_policy" in words or "content policy" in words or "nsfw" in words):
        return ContentPolicyError(
            f"NanoGPT refused the request under its content policy: {message}. Change the prompt or inputs "
            "(blocked requests are not charged).",
            retryable=False,
        )
    return None


class NanoGPTProvider:
    name = NAME

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> None:
        self.secret = config.api_key
        policy = policy or RetryPolicy()
        headers = {"x-api-key": config.api_key} if config.api_key else {}
        common: dict[str, Any] = {
            "provider": NAME,
            "base_url": config.base_url,
            "key_env": KEY_ENV,
            "secret": config.api_key,
            "classify": classify,
        }
        self.http = Http(client, headers=headers, policy=policy, **common)
        # The OpenAI-compatible image route documents Bearer auth; generation runs inside the request.
        image_headers = {**headers, "Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        image_policy = dataclasses.replace(policy, deadline=max(policy.deadline, img.IMAGE_TIMEOUT.read or 0.0))
        self.images = img.NanoImages(
            Http(client, headers=image_headers, policy=image_policy, **common), output_dir=config.output_dir
        )
        self._lock = anyio.Lock()
        self._live: list[ModelSpec] | None = None
        self._live_failed_at: float | None = None

    def models(self) -> list[ModelSpec]:
        return list(load_catalog(NAME))

    async def live_models(self) -> list[ModelSpec]:
        async with self._lock:
            if self._live is not None:
                return list(self._live)
            if self._live_failed_at is not None and time.monotonic() - self._live_failed_at < FAILED_LIST_TTL:
                return self.models()
            live = await self._video_list() + await self._image_list()
            if not live:
                self._live_failed_at = time.monotonic()
                return self.models()
            self._live = merge(self.models(), live)
            return list(self._live)

    async def submit(self, model: ModelSpec, request: GenerateRequest) -> Task:
        wire = validate(model, request)
        if model.media_type == "image":
            return await self.images.generate(model, wire)
        body = video_body(model, wire)
        _, answer = await self.http.post_json("/api/generate-video", json=body)
        return self._submitted(model, answer)

    async def fetch(self, native_id: str) -> Task:
        if native_id.startswith("img_"):
            return self.images.load(native_id)
        response = await self.http.get("/api/video/status", params={"requestId": native_id})
        return self._status(native_id, self.http.json(response))

    async def aclose(self) -> None:
        return None  # the client belongs to the server

    def _submitted(self, model: ModelSpec, payload: Any) -> Task:
        body = obj(payload)
        native = text(body.get("runId")) or text(body.get("id"))
        if not native:
            raise UncertainSubmitError(
                "NanoGPT accepted the video request but sent no job id; check your NanoGPT dashboard before retrying "
                "(it may have been charged).",
                provider=NAME,
            )
        cost = num(body.get("cost"))
        remaining = num(body.get("remainingBalance"))
        state = _status_of(text(body.get("status")) or "pending")
        failed = state == "failed"
        known = cost is not None or remaining is not None
        return Task(
            task_id=make_task_id(NAME, native),
            provider=NAME,
            model=model.full_id,
            # a URL only ever comes from the status endpoint, so "completed" here still needs a poll
            status="processing" if state == "completed" else state,
            error=TaskError(code="generation_failed", message="NanoGPT failed the job at once") if failed else None,
            credits_used=cost,
            credits_remaining=remaining,
            cost_unit=(text(body.get("paymentSource")) or "USD") if known else None,
            poll_after_seconds=None if failed else POLL_SECONDS,
        )

    def _status(self, native_id: str, payload: Any) -> Task:
        root = obj(payload)
        data = obj(root.get("data"))
        raw = text(data.get("status")) or text(root.get("status")) or ""
        model = text(root.get("model")) or text(data.get("model"))
        cost = num(data.get("cost") if data.get("cost") is not None else root.get("cost"))
        task = Task(
            task_id=make_task_id(NAME, native_id),
            provider=NAME,
            model=f"{NAME}/{model}" if model else None,
            status="processing",
            progress=progress(data.get("progress") if data.get("progress") is not None else root.get("progress")),
            credits_used=cost,
            cost_unit="USD" if cost is not None else None,
        )
        status = _status_of(raw)
        if status == "completed":
            urls = video_urls(root, data)
            if urls:
                task.status, task.progress = "completed", 100
                task.result = TaskResult(url=urls[0], urls=urls, media_type="video")
                return task
            task.status = "failed"
            task.error = TaskError(code="no_result", message="NanoGPT reported the job completed but sent no video URL")
            return task
        if status == "failed":
            task.status = "failed"
            task.error = self._failure(raw, root, data)
            return task
        task.status = status
        task.poll_after_seconds = POLL_SECONDS
        return task

    def _failure(self, raw: str, root: dict[str, Any], data: dict[str, Any]) -> TaskError:
        found = [message_of(data.get(k)) for k in ("userFriendlyError", "error", "details")]
        found.append(message_of(root.get("error")))
        texts = [t for t in found if t]
        detail = clean_text(texts[0], self.secret) if texts else "no reason given"
        everything = " ".join(texts).lower()
        if data.get("isNSFWError") is True or "content policy" in everything or "content_policy" in everything:
            return TaskError(
                code="content_policy",
                message=f"NanoGPT blocked the video under its content policy: {detail}. Change the prompt or inputs.",
                retryable=False,
            )
        if raw.lower() in ("canceled", "cancelled"):
            return TaskError(code="canceled", message=f"The NanoGPT job was canceled: {detail}", retryable=False)
        # NanoGPT refunds failed jobs, so trying again costs nothing extra.
        return TaskError(
            code="generation_failed", message=f"NanoGPT could not generate the video: {detail}", retryable=True
        )

    async def _video_list(self) -> list[ModelSpec]:
        try:
            entries = await self._entries("/api/v1/video-models")
        except (MediagenError, ValueError):
            entries = []
        if not entries:
            try:
                entries = [e for e in await self._entries("/api/v1/models") if _makes_video(e)]
            except (MediagenError, ValueError):
                return []
        return _specs(entries, video_spec)

    async def _image_list(self) -> list[ModelSpec]:
        try:
            entries = await self._entries("/api/v1/image-models")
        except (MediagenError, ValueError):
            return []
        return _specs(entries, img.image_spec)

    async def _entries(self, path: str) -> list[dict[str, Any]]:
        body: Any = self.http.json(await self.http.get(path, params={"detailed": "true"}))
        listed = items(body) or items(obj(body).get("data"))
        return [obj(e) for e in listed if isinstance(e, dict)]


def video_body(model: ModelSpec, wire: dict[str, Any]) -> dict[str, Any]:
    """The flat body: wire params as named in the catalog, inline media under the matching data field."""
    body: dict[str, Any] = {"model": model.id}
    for key, value in wire.items():
        param = model.params.get(key)
        field = param.field if param and param.field else f"extra.{key}"
        if isinstance(value, MediaInput):
            if value.is_remote:
                body[key] = value.url
            else:
                shown = f"{field}[0]" if field in _LIST_FIELDS else field
                body[_DATA_FIELD.get(key, key)] = img.inline_uri(value, shown, _HOST_IT)
        elif isinstance(value, list) and value and all(isinstance(v, MediaInput) for v in value):  # pyright: ignore[reportUnknownVariableType]
            media: list[MediaInput] = value  # pyright: ignore[reportUnknownVariableType]
            body[key] = [m.url or img.inline_uri(m, f"{field}[{i}]", _HOST_IT) for i, m in enumerate(media)]
        else:
            body[key] = value
    return body


def _specs(entries: list[dict[str, Any]], build: Callable[[dict[str, Any]], ModelSpec | None]) -> list[ModelSpec]:
    """Specs for the usable entries; one odd entry does not spoil the list."""
    out: list[ModelSpec] = []
    for entry in entries:
        try:
            spec = build(entry)
        except ValueError:  # pydantic's ValidationError: an id or value our ModelSpec cannot hold
            continue
        if spec is not None:
            out.append(spec)
    return out


def _status_of(raw: str) -> Status:
    value = raw.strip().lower()
    if value in _DONE:
        return "completed"
    if value in _FAILED:
        return "failed"
    return "pending" if value in _QUEUED else "processing"


def video_urls(root: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Where the documented shapes put the URL(s), then any https URL under `data.output` (Midjourney sends 4)."""
    output = obj(data.get("output"))
    candidates: list[Any] = [
        obj(output.get("video")).get("url"),
        root.get("videoUrl"),
        data.get("videoUrl"),
        output.get("url"),
        output.get("video_url"),
    ]
    candidates += urls_in(output)
    urls: list[str] = []
    for value in candidates:
        url = text(value)
        if url and url.startswith(("https://", "http://")) and url not in urls:
            urls.append(url)
    return urls


def _makes_video(entry: dict[str, Any]) -> bool:
    arch = obj(entry.get("architecture"))
    outputs = [text(m) for m in items(arch.get("output_modalities"))]
    modality = (text(arch.get("modality")) or "").lower()
    return (
        "video" in outputs
        or modality.endswith("video")
        or obj(entry.get("capabilities")).get("video_generation") is True
    )


def _choices(supported: dict[str, Any], *names: str) -> list[Any] | None:
    """Allowed values from a loosely shaped `supported_parameters` entry (a list, or {values|options: [...]})."""
    for name in names:
        raw = supported.get(name)
        listed = items(raw) or items(obj(raw).get("values")) or items(obj(raw).get("options"))
        values = [str(v) for v in listed if isinstance(v, str | int | float) and not isinstance(v, bool)]
        if values:
            return values
    return None


def video_spec(entry: dict[str, Any]) -> ModelSpec | None:
    """A lenient ModelSpec from one live video-model entry (None when it has no usable id)."""
    model_id = text(entry.get("id"))
    if not model_id:
        return None
    caps = obj(entry.get("capabilities"))
    supported = obj(entry.get("supported_parameters"))
    inputs = [text(m) for m in items(obj(entry.get("architecture")).get("input_modalities"))]
    modes: list[Mode] = []
    params: dict[str, ParamSpec] = {"prompt": ParamSpec(type="string", field="prompt")}
    if caps.get("text_to_video") is not False:
        modes.append("text-to-video")
    if caps.get("image_to_video") is True or "image" in inputs:
        modes.append("image-to-video")
        params["imageUrl"] = ParamSpec(type="string", field="image_urls[0]", description="imageUrl or imageDataUrl")
    if "video" in inputs or any(w in model_id for w in ("extend", "edit", "upscal")):
        modes.append("video-edit")
        params["videoUrl"] = ParamSpec(type="string", field="video_url")
    params["duration"] = ParamSpec(type="string", field="duration", values=_choices(supported, "duration", "durations"))
    params["aspect_ratio"] = ParamSpec(
        field="aspect_ratio", values=_choices(supported, "aspect_ratio", "aspect_ratios")
    )
    params["resolution"] = ParamSpec(field="resolution", values=_choices(supported, "resolution", "resolutions"))
    params["negative_prompt"] = ParamSpec(field="negative_prompt")
    params["seed"] = ParamSpec(type="integer", field="seed")
    if caps.get("audio_generation") is True:
        params["generateAudio"] = ParamSpec(type="boolean", field="audio")
    return ModelSpec(
        id=model_id,
        provider=NAME,
        name=text(entry.get("name")) or model_id,
        media_type="video",
        modes=modes or ["text-to-video"],
        params=params,
        price=img.price_text(entry.get("pricing")),
        description=(
            (text(entry.get("description")) or "") + " (from NanoGPT's live list; options not checked)"
        ).strip(),
        strict=False,
    )


def merge(bundled: list[ModelSpec], live: list[ModelSpec]) -> list[ModelSpec]:
    """Bundled entries keep their params (they know wire forms the live list does not say) and gain a live price;
    live-only models are added leniently."""
    by_id = {m.id: m for m in live}
    out = [m.model_copy(update={"price": m.price or by_id[m.id].price}) if m.id in by_id else m for m in bundled]
    known = {m.id for m in bundled}
    return out + [m for m in live if m.id not in known]


def create(config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> NanoGPTProvider:
    return NanoGPTProvider(config, client, policy=policy)
