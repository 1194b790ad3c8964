"""VicSee (vicsee.com): `POST /api/v1/generate`, poll `GET /api/v1/tasks/{id}`, models at `GET /api/v1/models`.

The submit body is `{"model": id, "input": {...}}` with the unified argument names inside `input`, exactly as
VicSee's own MCP server builds it (PROVIDER_FACTS §1.3): `extra` first, then the named arguments so they win. The
`{prompt, options: {camelCase}}` body of seed 001 is legacy and never sent.
Every VicSee request, polls included, counts against a DAILY per-user quota (§1.8): the poll hints stay generous
and the `X-RateLimit-*` headers of every response are kept in `last_rate_limit`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from . import vicsee_models
from .base import GenerateRequest, MediaInput, ModelSpec, ProviderConfig, Status, Task, TaskError, TaskResult, task_id
from .catalog import load_catalog, validate
from .errors import (
    AuthError,
    BadRequestError,
    InsufficientCreditsError,
    InvalidArgument,
    MediagenError,
    NotFoundError,
    RateLimitedError,
    UncertainSubmitError,
    UpstreamError,
)
from .http import Http, RetryPolicy, clean_text, error_for, retry_after_seconds
from .parse import is_url, progress
from .vicsee_models import RateLimit, number

NAME = "vicsee"
DEFAULT_ORIGIN = "https://vicsee.com"
KEY_ENV = "VICSEE_API_KEY"
USER_AGENT = "mediagen-mcp/0.1"
# Local images above this go through the upload flow instead of inline base64. Base64 grows a file by a third, and
# request bodies of serverless APIs like VicSee's are commonly capped near 4.5 MB: 3 MiB of raw image (4 MiB once
# encoded) keeps the generate body under that. The budget is shared by all images of one request.
INLINE_BUDGET = 3 * 1024 * 1024
# The image types VicSee's /api/v1/upload allowlist takes (per its MCP server); anything else is inlined.
UPLOAD_MIMES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif", "image/heic", "image/heif"}
)
_SUCCESS = frozenset({"completed", "success"})
_FAILURE = frozenset({"failed", "error"})
_PENDING = frozenset({"pending", "queued"})
_AUTH_CODES = frozenset({"MISSING_AUTH_HEADER", "INVALID_AUTH_FORMAT", "INVALID_KEY_FORMAT", "INVALID_API_KEY"})
_POLICY_WORDS = ("POLICY", "NSFW", "SENSITIVE", "MODERATION", "SAFETY", "CONTENT_FILTER")
_TRANSIENT = frozenset({"GENERATION_FAILED", "INTERNAL_ERROR", "TIMEOUT", "UPSTREAM_ERROR", "SERVICE_UNAVAILABLE"})


class FieldError(BadRequestError):
    """A provider rejection the caller fixes in one named argument (shown like an `InvalidArgument`)."""

    def __init__(self, field: str, message: str, **kwargs: Any) -> None:
        super().__init__(f"{field}: {message}", **kwargs)
        self.field = field


_AUTH = "VicSee rejected the API key ({said}). Check {env}: it must be an active key starting with sk- from vicsee.com."
# VicSee's error code -> (error, the argument to fix, message); {said} is VicSee's own code and message.
_MESSAGES: dict[str, tuple[type[MediagenError], str | None, str]] = {
    "MISSING_MODEL": (FieldError, "model", "VicSee does not know this model ({said}); use list_models to pick an id"),
    "INVALID_MODEL": (FieldError, "model", "VicSee does not know this model ({said}); use list_models to pick an id"),
    "MISSING_PROMPT": (FieldError, "prompt", "VicSee requires a prompt for this model ({said}); pass prompt"),
    "INVALID_JSON": (BadRequestError, None, "VicSee could not read the request ({said}); check the values in extra"),
    "INSUFFICIENT_CREDITS": (
        InsufficientCreditsError,
        None,
        "Not enough VicSee credits ({said}). Top up credits at vicsee.com, then try again.",
    ),
    **dict.fromkeys(_AUTH_CODES, (AuthError, None, _AUTH)),
    "FORBIDDEN": (
        AuthError,
        None,
        "VicSee refused access ({said}): API access needs a paid plan or a credit pack on the account of {env}; "
        "on get_task it can also mean the task belongs to another account.",
    ),
    "TASK_NOT_FOUND": (
        NotFoundError,
        None,
        "VicSee has no such task ({said}); use a task_id that generate returned for the account of {env}.",
    ),
    "HTTP_502": (UpstreamError, None, "VicSee's upstream model provider failed ({said}); try again in a minute."),
}


@dataclass
class _Budget:
    left: int


class VicSeeProvider:
    name = NAME

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> None:
        self._secret = config.api_key
        base = config.base_url or DEFAULT_ORIGIN
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        common: dict[str, Any] = {
            "provider": NAME,
            "base_url": base,
            "key_env": KEY_ENV,
            "secret": config.api_key,
            "classify": self._classify,
            "on_response": self._note,
        }
        self._http = Http(client, headers=headers, policy=policy, **common)
        # The public model list gets few retries: on failure the bundled catalog is a fine answer.
        quick = dataclasses.replace(policy or RetryPolicy(), attempts=min(2, (policy or RetryPolicy()).attempts))
        self._public = Http(client, headers={"User-Agent": USER_AGENT}, policy=quick, **common)
        # Upload PUTs go to presigned storage URLs: no key, and no VicSee error codes (a 403 there is a bad signature).
        self._storage = Http(client, provider=NAME, base_url=base, secret=config.api_key, policy=policy)
        self._catalog = list(load_catalog(NAME))
        self._live: dict[str, list[ModelSpec]] = {}
        self.last_rate_limit: RateLimit | None = None  # for the server to show; None until a response had the headers
        self._seen: RateLimit | None = None  # the quota headers of the latest response (None if it had none)
        self._retry_after: float | None = None  # its Retry-After

    # --- models ---------------------------------------------------------------------------------------
    def models(self) -> list[ModelSpec]:
        return list(self._catalog)

    async def live_models(self, media_type: str | None = None) -> list[ModelSpec]:
        """The catalog plus the models only `GET /api/v1/models[?type=]` lists (public: no key sent)."""
        key = media_type or ""
        if key in self._live:
            return list(self._live[key])
        try:
            response = await self._public.get(
                "/api/v1/models",
                auth=False,
                headers={"User-Agent": USER_AGENT},
                params={"type": media_type} if media_type else None,
            )
            found = vicsee_models.entries(self._public.json(response))
        except MediagenError:
            found = None
        if found is None:
            return [m for m in self._catalog if media_type not in ("image", "video") or m.media_type == media_type]
        self._live[key] = vicsee_models.merge(self._catalog, found, media_type)
        return list(self._live[key])

    # --- submit ---------------------------------------------------------------------------------------
    async def submit(self, model: ModelSpec, request: GenerateRequest) -> Task:
        wire = validate(model, request)
        _check(model, wire)
        budget = _Budget(INLINE_BUDGET)
        payload: dict[str, Any] = {}
        for key, value in wire.items():
            payload[key] = await self._wire_value(key, value, budget)
        response, _ = await self._http.post_json("/api/v1/generate", json={"model": model.id, "input": payload})
        data = self._unwrap(response)
        if not isinstance(data.get("id"), str | int) or data.get("id") == "":
            raise UncertainSubmitError(
                "VicSee accepted the request but returned no task id; it may still be generating (and billed). "
                "Check your VicSee dashboard before trying again.",
                provider=NAME,
            )
        return self._task(data, model.full_id, submitted=True)

    async def _wire_value(self, key: str, value: Any, budget: _Budget) -> Any:
        if key == "duration" and isinstance(value, float):
            return int(value) if value.is_integer() else value  # the same JSON number, written as VicSee writes it
        if isinstance(value, MediaInput):
            return await self._media(value, budget)
        if isinstance(value, list):
            items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
            return [await self._media(v, budget) if isinstance(v, MediaInput) else v for v in items]
        return value

    async def _media(self, item: MediaInput, budget: _Budget) -> str:
        if item.url is not None:
            return item.wire()
        if item.local and item.mime in UPLOAD_MIMES and item.size > budget.left:
            return await self._upload(item)
        budget.left = max(0, budget.left - item.size)
        return item.data_uri()

    async def _upload(self, item: MediaInput) -> str:
        """Host a local file on VicSee's storage: sign, PUT the bytes (no API key), use the public URL."""
        mime = item.mime or "application/octet-stream"
        signed = self._unwrap(
            await self._http.post("/api/v1/upload", json={"contentType": mime, "sizeBytes": item.size})
        )
        upload_url, public_url = signed.get("uploadUrl"), signed.get("publicUrl")
        if not (is_url(upload_url) and is_url(public_url)):
            raise UpstreamError("VicSee's upload endpoint returned no uploadUrl/publicUrl", provider=NAME)
        await self._storage.put(str(upload_url), auth=False, content=item.raw(), headers={"Content-Type": mime})
        return str(public_url)

    # --- poll -----------------------------------------------------------------------------------------
    async def fetch(self, native_id: str) -> Task:
        data = self._unwrap(await self._http.get(f"/api/v1/tasks/{quote(native_id, safe='')}"))
        data.setdefault("id", native_id)
        model = data.get("model")
        return self._task(data, f"{NAME}/{model}" if isinstance(model, str) and model else None, submitted=False)

    async def aclose(self) -> None:
        return None  # the client belongs to the server

    # --- parsing --------------------------------------------------------------------------------------
    def _note(self, response: httpx.Response) -> None:
        headers = response.headers
        self._seen = RateLimit.from_headers(headers)
        self._retry_after = retry_after_seconds(headers.get("retry-after"))
        if self._seen is not None:
            self.last_rate_limit = self._seen

    def _unwrap(self, response: httpx.Response) -> dict[str, Any]:
        """`data` of a 2xx envelope; a 2xx with `success: false` is an error like any other."""
        body: Any = self._http.json(response)
        envelope: dict[str, Any] = body if isinstance(body, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        if envelope.get("success") is False:
            raise error_for(response, provider=NAME, key_env=KEY_ENV, secret=self._secret, classify=self._classify)
        data: Any = envelope.get("data", envelope)
        if not isinstance(data, dict) or not data:
            shown = clean_text(response.text, self._secret, 120)
            raise UpstreamError(f"VicSee sent an unexpected response: {shown}", provider=NAME)
        fields: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
        return fields

    def _task(self, data: dict[str, Any], model: str | None, *, submitted: bool) -> Task:
        status = _status(data.get("status"))
        result: TaskResult | None = None
        error: TaskError | None = None
        if status == "completed":
            result = vicsee_models.result(data)
            if result is None and submitted:
                status = "processing"  # the result appears on the first poll
            elif result is None:
                status = "failed"
                error = TaskError(
                    code="NO_RESULT",
                    message="VicSee reported the task completed but sent no result URL; "
                    "generate again or check your VicSee dashboard.",
                    retryable=False,
                )
        if status == "failed" and error is None:
            error = self._task_error(data.get("error"))
        return Task(
            task_id=task_id(NAME, str(data["id"])),
            provider=NAME,
            model=model,
            status=status,
            progress=100.0 if status == "completed" else progress(data.get("progress")),
            result=result,
            error=error,
            credits_used=number(data, "creditsUsed", "credits_used", "cost"),
            credits_remaining=number(data, "creditsRemaining", "credits_remaining"),
            cost_unit="credits",
            poll_after_seconds=self._poll_after(status),
        )

    def _task_error(self, raw: Any) -> TaskError:
        err: dict[str, Any] = raw if isinstance(raw, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        code = str(err.get("code") or "GENERATION_FAILED")
        key = str(err.get("key") or "")
        text = err.get("message") or (raw if isinstance(raw, str) else "") or "VicSee reported the task failed"
        message = clean_text(str(text), self._secret)
        shown = f"{message} (VicSee {code}{', ' + key if key else ''})"
        if any(word in f"{code} {key}".upper() for word in _POLICY_WORDS):
            return TaskError(code="content_policy", message=shown, retryable=False)
        return TaskError(code=code, message=shown, retryable=code.upper() in _TRANSIENT or key == "generic")

    def _poll_after(self, status: Status) -> float | None:
        if status in ("completed", "failed"):
            return None
        wait = 10.0 if status == "processing" else 8.0
        left = self.last_rate_limit.remaining if self.last_rate_limit else None
        if left is not None and left <= 5:
            return 60.0
        if left is not None and left <= 25:
            return 30.0
        return wait

    def _classify(self, status: int, code: str | None, message: str) -> MediagenError | None:
        """VicSee's error codes (PROVIDER_FACTS §1.3, §1.4) mapped to errors that say what to do."""
        code = (code or "").upper()
        said = f"{code}: {message}" if code else message
        kw: dict[str, Any] = {"provider": NAME, "provider_code": code or None}
        if code == "RATE_LIMITED" or status == 429:
            return self._rate_limited(said, kw)
        known = (
            code if code in _MESSAGES else {402: "INSUFFICIENT_CREDITS", 403: "FORBIDDEN", 502: "HTTP_502"}.get(status)
        )
        if known is None:
            return None
        kind, field, template = _MESSAGES[known]
        text = template.format(said=said, env=KEY_ENV)
        if field is not None:
            return FieldError(field, text, retryable=False, **kw)
        return kind(text, retryable=kind is UpstreamError, **kw)

    def _rate_limited(self, said: str, kw: dict[str, Any]) -> RateLimitedError:
        quota = self._seen
        wait = self._retry_after if self._retry_after is not None else quota.seconds_to_reset() if quota else None
        state = f" {quota}." if quota else ""
        when = f" Retry after {wait:.0f} s." if wait is not None else " Retry later (the quota is daily)."
        return RateLimitedError(
            f"VicSee's daily request quota is used up ({said}).{state} Polls count against it too.{when}",
            retry_after=wait,
            **kw,
        )


def _status(raw: Any) -> Status:
    """Success is `completed` (older docs: `success`); failure `failed` (or `error`); anything else is in flight."""
    text = str(raw or "").strip().lower()
    if text in _SUCCESS:
        return "completed"
    if text in _FAILURE:
        return "failed"
    return "pending" if text in _PENDING or not text else "processing"


def _check(model: ModelSpec, wire: dict[str, Any]) -> None:
    """Rules the generic validator cannot express."""
    if not model.strict or "reference-to-video" not in model.modes:
        return
    if model.id.startswith("minimax-h3-") and not (
        wire.get("reference_image_urls") or wire.get("reference_video_urls")
    ):
        raise InvalidArgument(
            "reference_image_urls",
            f"{model.full_id} needs at least one reference image or video (reference audio alone is rejected)",
        )
    refs = ("reference_image_urls", "reference_video_urls", "reference_audio_urls")
    if not any(wire.get(name) for name in refs):
        raise InvalidArgument(
            "reference_image_urls",
            f"{model.full_id} needs at least one reference "
            "(reference_image_urls, reference_video_urls or reference_audio_urls)",
        )


def create(config: ProviderConfig, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None) -> VicSeeProvider:
    return VicSeeProvider(config, client, policy=policy)
