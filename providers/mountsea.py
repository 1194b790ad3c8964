"""Mountsea Hub adapter: `POST /hub/v1/video` or `/hub/v1/image` with `{"model", "input"}`, then
`GET /hub/v1/tasks/{id}` until `ready` (PROVIDER_FACTS.md §4).

The per-model wire names and types (duration "8s" / "5" / 5, string `safety_tolerance`, ...) live in
`catalogs/mountsea.json`, generated from seed 004 by `scripts/mountsea_catalog.py`; the generic validator applies
them. Only what the caller gave is sent: the Hub applies its own defaults.
Where the Hub is undocumented (the submit answer's id key, the shape of a finished task's `data`, error bodies) the
parsing is deliberately lenient: see PROVIDER_FACTS.md §5 rows 14-17.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .base import (
    GenerateRequest,
    MediaType,
    ModelSpec,
    ProviderConfig,
    Status,
    Task,
    TaskError,
    TaskResult,
    task_id,
)
from .catalog import load_catalog, validate
from .errors import AuthError, ContentPolicyError, InvalidArgument, MediagenError, UncertainSubmitError, UpstreamError
from .http import Http, RetryPolicy, clean_text, error_fields
from .parse import is_url, items, obj, progress, to_wire, urls_in

NAME = "mountsea"
KEY_ENV = "MOUNTSEA_API_KEY"
POLL_SECONDS = 5.0  # Mountsea's newer API recommends polling every 3-5 s; the Hub says nothing
SEEDANCE_MAX_REFERENCE_FILES = 12  # seed 004: "Total files across all modalities must not exceed 12"

log = logging.getLogger("mediagen.mountsea")

_PENDING = frozenset({"pending", "queued", "waiting", "submitted", "created"})
_COMPLETED = frozenset({"completed", "succeeded", "success"})
_FAILED = frozenset({"failed", "error"})
_TIMEOUT = frozenset({"timeout", "timed_out"})
_CANCELLED = frozenset({"cancelled", "canceled"})
_TERMINAL_FAILURES = _FAILED | _TIMEOUT | _CANCELLED
_POLICY = re.compile(r"content[ _-]?policy|moderation|nsfw|sensitive content|unsafe content|prohibited", re.IGNORECASE)
_VIDEO_EXT = (".mp4", ".mov", ".webm", ".m4v", ".mkv")
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif")


def create(config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> MountseaProvider:
    return MountseaProvider(config, client, policy=policy)


def _classify(status: int, code: str | None, message: str) -> MediagenError | None:
    if status in (400, 403, 422) and _POLICY.search(f"{code or ''} {message}"):
        return ContentPolicyError(f"{NAME} refused the input on content policy grounds: {message}", provider_code=code)
    return None


class MountseaProvider:
    name = NAME

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> None:
        self._key = config.api_key
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = Http(
            client,
            provider=NAME,
            base_url=config.base_url,
            headers=headers,
            key_env=KEY_ENV,
            secret=config.api_key,
            classify=_classify,
            policy=policy,
        )
        self._models: dict[str, ModelSpec] = {m.id: m for m in load_catalog(NAME)}

    def models(self) -> list[ModelSpec]:
        return list(self._models.values())

    async def live_models(self) -> list[ModelSpec]:
        # The shapes of /hub/v1/models and /hub/v1/models/{id} are undocumented (§4.4): the bundled catalog is the
        # only list we can vouch for, so nothing is fetched.
        return self.models()

    async def submit(self, model: ModelSpec, request: GenerateRequest) -> Task:
        wire = validate(model, request)
        _check_references(model, wire)
        self._require_key()
        body = {"model": model.id, "input": {name: to_wire(value) for name, value in wire.items()}}
        endpoint = model.endpoint or model.media_type
        _, answer_json = await self._http.post_json(f"/hub/v1/{endpoint}", json=body)
        raw = _unwrap(answer_json)
        answer = obj(raw)
        native = _submitted_id(answer) or _submitted_id(obj(answer.get("data")))
        if native is None:
            shown = clean_text(str(raw), self._key, limit=200)
            raise UncertainSubmitError(
                f"{NAME} accepted the request but its answer holds no task id ({shown}); the task may exist and be "
                "billed when it completes: check your Mountsea dashboard before trying again",
                provider=NAME,
            )
        return self._task(answer, native, model)

    async def fetch(self, native_id: str) -> Task:
        native = native_id.strip()
        if not native:
            raise InvalidArgument("task_id", "the Mountsea task id after 'mountsea:' is empty")
        self._require_key()
        response = await self._http.get(f"/hub/v1/tasks/{quote(native, safe='')}")
        raw = _unwrap(self._http.json(response))
        if not isinstance(raw, dict):
            raise UpstreamError(f"{NAME} sent a task that is not a JSON object", provider=NAME)
        answer = obj(raw)
        model = self._models.get(str(answer.get("model") or ""))
        return self._task(answer, native, model)

    async def aclose(self) -> None:
        return None  # the client belongs to the server

    def _require_key(self) -> None:
        if not self._key:
            raise AuthError(f"{NAME} is not configured: set {KEY_ENV}", provider=NAME)

    def _task(self, body: dict[str, Any], native: str, model: ModelSpec | None) -> Task:
        status_text = str(body.get("status") or "").strip().lower()
        ready = body.get("ready") is True or str(body.get("ready")).lower() == "true"
        if body.get("elapsed_ms") is not None:
            log.debug(
                "mountsea task %s: status=%s ready=%s elapsed_ms=%s", native, status_text, ready, body["elapsed_ms"]
            )
        base: dict[str, Any] = {
            "task_id": task_id(NAME, native),
            "provider": NAME,
            "model": model.full_id if model else None,
        }
        if status_text in _TERMINAL_FAILURES:
            return Task(**base, status="failed", error=self._failure(status_text, body))
        if status_text in _COMPLETED or ready:
            urls = find_urls(_output(body))
            if urls:
                kind = _media_type(model, body, urls[0])
                result = TaskResult(url=urls[0], urls=urls, media_type=kind)
                return Task(**base, status="completed", progress=100, result=result)
            shown = status_text or "no status"
            error = TaskError(
                code="no_result",
                message=f"{NAME} reported the task finished ({shown}) but sent no result URL",
                retryable=False,
            )
            return Task(**base, status="failed", error=error)
        status: Status = "pending" if status_text in _PENDING or not status_text else "processing"
        return Task(**base, status=status, progress=progress(body.get("progress")), poll_after_seconds=POLL_SECONDS)

    def _failure(self, status_text: str, body: dict[str, Any]) -> TaskError:
        provider_code, message = error_fields(body)
        text = clean_text(message, self._key) if message else ""
        if status_text in _TIMEOUT:
            code, retryable, fallback = "timeout", True, "the task timed out at Mountsea (failed tasks are not billed)"
        elif status_text in _CANCELLED:
            code, retryable, fallback = "cancelled", False, "the task was cancelled at Mountsea"
        elif _POLICY.search(f"{provider_code or ''} {text}"):
            code, retryable, fallback = "content_policy", False, "the input was refused by content policy"
        else:
            code, retryable = provider_code or "failed", False
            fallback = "Mountsea reported the task failed without a reason"
        text = text or fallback
        if provider_code and provider_code != code:
            text += f" (provider code: {clean_text(provider_code, self._key, limit=60)})"
        return TaskError(code=code, message=text, retryable=retryable)


def _check_references(model: ModelSpec, wire: dict[str, Any]) -> None:
    """Seedance ref rules the catalog cannot express (seed 004)."""
    if "audio_urls" not in model.params:
        return
    if "audio_urls" in wire and "image_urls" not in wire and "video_urls" not in wire:
        raise InvalidArgument(
            "reference_audio_urls",
            f"{model.full_id} needs at least one reference image or video (reference_image_urls or "
            "reference_video_urls) when reference audio is given",
        )
    total = sum(len(wire[k]) for k in ("image_urls", "video_urls", "audio_urls") if isinstance(wire.get(k), list))
    if total > SEEDANCE_MAX_REFERENCE_FILES:
        raise InvalidArgument(
            "reference_image_urls",
            f"{model.full_id} takes at most {SEEDANCE_MAX_REFERENCE_FILES} reference files in total across "
            f"reference_image_urls, reference_video_urls and reference_audio_urls (got {total})",
        )


def _unwrap(body: Any) -> Any:
    """A `{code, message, data: {task...}}` envelope around the documented flat task (not seen, but cheap)."""
    outer = obj(body)
    keys = ("task_id", "taskId", "id", "status", "ready")
    inner = obj(outer.get("data"))
    if outer and not any(k in outer for k in keys) and any(k in inner for k in keys):
        return inner
    return body


def _submitted_id(body: dict[str, Any]) -> str | None:
    """`task_id` (OpenAPI) ?? `taskId` (seed, zh docs) ?? `id`: PROVIDER_FACTS §5 row 14."""
    for key in ("task_id", "taskId", "id"):
        value = body.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _output(body: dict[str, Any]) -> Any:
    for key in ("data", "result", "output"):
        if body.get(key) is not None:
            return body[key]
    return None


def _urls_at(value: Any) -> list[str]:
    """URLs directly at `value`: a URL string, `{url}`, or a list of either."""
    found = [obj(item).get("url") if isinstance(item, dict) else item for item in (items(value) or [value])]
    return list(dict.fromkeys(url for url in found if is_url(url)))


def _extension_kind(url: str) -> MediaType | None:
    path = urlsplit(url).path.lower()
    if path.endswith(_VIDEO_EXT):
        return "video"
    if path.endswith(_IMAGE_EXT):
        return "image"
    return None


def find_urls(data: Any) -> list[str]:
    """Result URLs of a finished task's `data`, whose shape is undocumented (§4.3): the fal-style places first,
    then any http(s) URL anywhere inside (media-looking ones first)."""
    fields = obj(data)
    for key in ("video", "videos", "images", "url", "video_url"):
        found = _urls_at(fields.get(key))
        if found:
            return found
    if "output" in fields:
        found = find_urls(fields["output"])
        if found:
            return found
    return sorted(urls_in(data), key=lambda u: _extension_kind(u) is None)


def _media_type(model: ModelSpec | None, body: dict[str, Any], url: str) -> MediaType | None:
    if model is not None:
        return model.media_type
    capability = body.get("capability")
    if capability in ("video", "image"):
        return capability
    return _extension_kind(url)
