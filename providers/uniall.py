"""UniAll: Vidu Q3 through the OpenAI-style `/v1/video/generations` gateway (seed 002, PROVIDER_FACTS.md §2).

The body is the seed's `{model, prompt, image, last_image, reference_image_urls, aspect_ratio, duration, extra_body}`.
The resolution lives in the model id (`viduq3p-720p`), so there is no resolution option. The query response is not
documented for Vidu; it is parsed after UniAll's sibling query pages, leniently.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from .base import GenerateRequest, ModelSpec, ProviderConfig, Status, Task, TaskError, TaskResult, task_id
from .catalog import load_catalog, validate
from .errors import (
    AuthError,
    BadRequestError,
    InsufficientCreditsError,
    InvalidArgument,
    MediagenError,
    NotFoundError,
    UncertainSubmitError,
    UpstreamError,
)
from .http import Http, RetryPolicy, clean_text, error_fields
from .parse import is_url, items, obj, progress, to_wire

NAME = "uniall"
KEY_ENV = "UNIALL_API_KEY"
SUBMIT_PATH = "/v1/video/generations"
POLL_PATHS = ("/v1/video/generations/{id}", "/v1/videos/{id}")  # the second is the documented compatibility path
_EXTRA_BODY = ("audio", "seed", "bgm")
_TOP_LEVEL = ("prompt", "image", "last_image", "reference_image_urls", "aspect_ratio", "duration")
_SPELLINGS: dict[Status, str] = {
    "pending": "queued pending",
    "processing": "in_progress processing",
    "completed": "completed succeeded success",
    "failed": "failed failure error cancelled canceled",
}
_STATUSES: dict[str, Status] = {word: status for status, words in _SPELLINGS.items() for word in words.split()}
_POLL_AFTER: dict[Status, float] = {"pending": 5.0, "processing": 5.0}
_RESOLUTION = re.compile(r"(?<=-)(540p|720p|1080p)(?=-|$)")
_CREDITS = re.compile(r"insufficient|quota|balance|credit", re.IGNORECASE)


def create(config: ProviderConfig, client: httpx.AsyncClient) -> UniallProvider:
    return UniallProvider(config, client)


def _classify(status: int, code: str | None, message: str) -> MediagenError | None:
    # No error catalog is published [PROVIDER_FACTS §2.6]; OpenAI-style gateways report an empty balance as
    # 402/403/429 with a quota code. A guess, so only the wording decides, never the status alone.
    if status in (402, 403, 429) and _CREDITS.search(f"{code or ''} {message}"):
        return InsufficientCreditsError(
            f"{NAME} answered HTTP {status}: {message}. Top up your {NAME} balance, then try again.", provider_code=code
        )
    return None


class UniallProvider:
    name = NAME

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> None:
        self._key = config.api_key
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = Http(
            client,
            provider=NAME,
            base_url=config.base_url or "https://api.uniall.ai",
            headers=headers,
            key_env=KEY_ENV,
            secret=config.api_key,
            classify=_classify,
            policy=policy,
        )
        self._poll_path: str | None = None  # the query path that last worked, kept for the process
        self._live: list[ModelSpec] | None = None

    def models(self) -> list[ModelSpec]:
        return list(load_catalog(NAME))

    async def live_models(self) -> list[ModelSpec]:
        if self._live is not None:
            return self._live
        bundled = self.models()
        if not self._key:
            return bundled
        try:
            body = self._http.json(await self._http.get("/v1/models"))
        except MediagenError:
            return bundled
        self._live = bundled + [_lenient_spec(mid, bundled) for mid in _listed_vidu_ids(body, bundled)]
        return self._live

    async def submit(self, model: ModelSpec, request: GenerateRequest) -> Task:
        if request.resolution is not None:
            raise InvalidArgument("resolution", _resolution_hint(model, request.resolution))
        wire = validate(model, request)
        _check_mode(model, wire)
        body = build_body(model, wire)
        self._need_key()
        _, answer = await self._http.post_json(SUBMIT_PATH, json=body)
        data = obj(answer)
        native = _native_id(data)
        if native is None:
            message = error_fields(data)[1]
            if message:
                raise BadRequestError(f"{NAME} refused the request: {clean_text(message, self._key)}", provider=NAME)
            raise UncertainSubmitError(
                f"{NAME} answered without a task id ({clean_text(str(answer), self._key, limit=120)}); it may or may "
                "not have created (and billed) a task. Check the UniAll console before retrying.",
                provider=NAME,
            )
        return self._task(native, data, model.full_id)

    async def fetch(self, native_id: str) -> Task:
        self._need_key()
        paths = list(POLL_PATHS)
        if self._poll_path in paths:
            paths.remove(self._poll_path)
            paths.insert(0, self._poll_path)
        for path in paths:
            try:
                response = await self._http.get(path.format(id=quote(native_id, safe="")))
            except NotFoundError:
                continue
            self._poll_path = path
            answer: Any = self._http.json(response)
            if not isinstance(answer, dict):
                raise UpstreamError(
                    f"{NAME} sent a task that is not an object: {clean_text(str(answer))}", provider=NAME
                )
            data = obj(answer)
            listed = data.get("model")
            return self._task(native_id, data, f"{NAME}/{listed}" if isinstance(listed, str) and listed else None)
        raise NotFoundError(
            f"{NAME} knows no task {native_id!r} (asked {' and '.join(p.format(id=native_id) for p in paths)})",
            provider=NAME,
            status=404,
        )

    async def aclose(self) -> None:
        return None  # the client belongs to the server

    def _need_key(self) -> None:
        if not self._key:
            raise AuthError(f"{NAME} is not configured: set {KEY_ENV}", provider=NAME)

    def _task(self, native: str, data: dict[str, Any], model: str | None) -> Task:
        inner = _inner(data)
        raw = _first(data.get("status"), inner.get("status"))
        raw = raw if isinstance(raw, str) else None
        url, urls = result_urls(data)
        status = _status(raw, url)
        task = Task(
            task_id=task_id(NAME, native),
            provider=NAME,
            model=model,
            status=status,
            progress=progress(_first(data.get("progress"), inner.get("progress"))),
            poll_after_seconds=_POLL_AFTER.get(status),
        )
        if status == "completed":
            if url is None:
                task.status = "failed"
                task.error = TaskError(code="no_result", message=f"{NAME} reported the task done but sent no video URL")
            else:
                task.result = TaskResult(url=url, urls=urls, media_type="video")
        if task.status == "failed":
            task.error = task.error or self._task_error(data, raw)
        return task

    def _task_error(self, data: dict[str, Any], raw: str | None) -> TaskError:
        code, message = error_fields(data)
        if message is None:
            code, message = error_fields(_inner(data))
        cancelled = (raw or "").lower() in ("cancelled", "canceled")
        default = "the task was cancelled" if cancelled else "the task failed without a reason"
        return TaskError(
            code=code or ("cancelled" if cancelled else "generation_failed"),
            message=clean_text(message or default, self._key),
        )


def build_body(model: ModelSpec, wire: dict[str, Any]) -> dict[str, Any]:
    """The seed's body, keys in its order; only what was given. Unknown keys (lenient models) ride in extra_body."""
    body: dict[str, Any] = {"model": model.id}
    for key in _TOP_LEVEL:
        if key in wire:
            body[key] = to_wire(wire[key])
    extra = {k: wire[k] for k in _EXTRA_BODY if k in wire}
    extra.update({k: v for k, v in wire.items() if k not in _TOP_LEVEL and k not in _EXTRA_BODY})
    if extra:
        body["extra_body"] = extra
    return body


def result_urls(data: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The video URL: video_url, result.video_url, result.outputs[0], url, data.video_url (in that order)."""
    result = obj(data.get("result"))
    outputs = [u for u in (_url_of(o) for o in items(result.get("outputs"))) if u]
    candidates = [
        _url_of(data.get("video_url")),
        _url_of(result.get("video_url")),
        outputs[0] if outputs else None,
        _url_of(data.get("url")),
        _url_of(obj(data.get("data")).get("video_url")),
    ]
    url = next((c for c in candidates if c), None)
    urls = outputs if url in outputs else ([url] if url else [])
    return url, urls


def _check_mode(model: ModelSpec, wire: dict[str, Any]) -> None:
    """One mode per request, chosen by the inputs; mixed inputs are refused naming what goes together."""
    modes = (
        "text-to-video takes prompt (+ aspect_ratio); image-to-video takes image_urls[0]; first-last-frame takes "
        "image_urls[0] + image_urls[1]; reference-to-video takes reference_image_urls (+ aspect_ratio)"
    )
    framed = "image" in wire or "last_image" in wire
    if "reference_image_urls" in wire and framed:
        raise InvalidArgument(
            "reference_image_urls", f"cannot be combined with image_urls on {model.full_id}: {modes}. Send one set."
        )
    if "last_image" in wire and "image" not in wire:
        raise InvalidArgument("image_urls", "a last frame needs a first frame: send image_urls as [first, last]")
    if framed and "aspect_ratio" in wire:
        raise InvalidArgument(
            "aspect_ratio",
            f"not used with image_urls on {model.full_id}: the image decides the aspect ratio. Leave aspect_ratio "
            f"out, or drop image_urls for text-to-video ({modes})",
        )


def _resolution_hint(model: ModelSpec, wanted: str) -> str:
    text = f"{model.full_id} takes no resolution option: the resolution is part of the model id (-540p, -720p, -1080p)"
    wanted = wanted.strip().lower()
    if _RESOLUTION.search(model.id) and wanted in ("540p", "720p", "1080p"):
        text += f"; use {NAME}/{_RESOLUTION.sub(wanted, model.id)}"
    return text + ", and leave resolution out"


def _listed_vidu_ids(body: Any, bundled: list[ModelSpec]) -> list[str]:
    """New vidu-like ids from an OpenAI list `{data: [{id}]}` (or a bare list); anything odd is skipped."""
    listed: Any = obj(body).get("data") if isinstance(body, dict) else body
    known = {m.id for m in bundled}
    found: list[str] = []
    for item in items(listed):
        mid = obj(item).get("id") if isinstance(item, dict) else item
        if isinstance(mid, str) and "vidu" in mid.lower() and mid not in known and mid not in found:
            found.append(mid)
    return found


def _lenient_spec(model_id: str, bundled: list[ModelSpec]) -> ModelSpec:
    template = next(m for m in bundled if ("-mix-" in m.id) == ("-mix-" in model_id))
    return template.model_copy(
        update={
            "id": model_id,
            "name": model_id,
            "strict": False,
            "price": None,
            "description": f"Listed live by {NAME} but not in the bundled catalog: options are passed through "
            "unchecked (unknown extra keys go into extra_body).",
        }
    )


def _native_id(data: dict[str, Any]) -> str | None:
    inner = _inner(data)
    for value in (data.get("id"), data.get("task_id"), inner.get("id"), inner.get("task_id")):
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _status(raw: str | None, url: str | None) -> Status:
    if raw is None:
        return "completed" if url else "pending"
    return _STATUSES.get(raw.strip().lower(), "processing")  # an unknown spelling is treated as still running


def _inner(data: dict[str, Any]) -> dict[str, Any]:
    return obj(data.get("data"))


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _url_of(value: Any) -> str | None:
    url = obj(value).get("url") if isinstance(value, dict) else value
    return url if is_url(url) else None
