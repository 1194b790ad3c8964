"""The shared HTTP helper: deadlines, body caps, error mapping, and the retry policy (in one place).

Polls (GETs) retry on connect errors, timeouts, 408, 429 and 5xx with capped exponential backoff and jitter,
honouring `Retry-After` up to a cap. A submit (POST) is retried only when it provably never reached the
provider (connect failure) or was refused before a task existed (429); after it may have been sent, the
outcome is reported as uncertain and never resent: a repeated POST can bill twice.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import anyio
import httpx

from .errors import (
    AuthError,
    BadRequestError,
    InsufficientCreditsError,
    MediagenError,
    NotFoundError,
    RateLimitedError,
    UncertainSubmitError,
    UpstreamError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 30.0  # beyond this, fail fast and tell the agent when to retry
    deadline: float = 30.0  # whole-call budget: a GET's retries included, so no call outlives a client's timeout
    max_body: int = 16 * 1024 * 1024


# (status, provider's code, provider's message) -> an error, or None for the default mapping.
Classifier = Callable[[int, str | None, str], MediagenError | None]

_HTML = re.compile(r"<\s*(!doctype|html|head|body)\b", re.IGNORECASE)


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def clean_text(text: str, secret: str | None = None, limit: int = 300) -> str:
    """Provider text made safe to show: no key, no HTML page, one short line."""
    if secret:
        text = text.replace(secret, "[redacted]")
    if _HTML.search(text):
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = f"an HTML error page{': ' + title.group(1).strip() if title else ''}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from the common error envelopes: {error:{code,message}}, {error:"..."}, {message}, ..."""
    if not isinstance(body, dict):
        return None, body if isinstance(body, str) and body else None
    data = cast("dict[str, Any]", body)
    err: Any = data.get("error")
    code: Any = None
    message: Any = None
    if isinstance(err, dict):
        inner = cast("dict[str, Any]", err)
        code = inner.get("code") or inner.get("type")
        message = inner.get("message") or inner.get("msg")
    elif isinstance(err, str) and not data.get("message"):
        message = err  # NestJS bodies put the detail in "message" and a reason phrase in "error"
    code = code or data.get("code") or data.get("error_code")
    message = message or data.get("message") or data.get("error_message") or data.get("msg") or data.get("detail")
    if isinstance(message, list):
        message = "; ".join(str(m) for m in cast("list[Any]", message))
    return (str(code) if code not in (None, "") else None), (str(message) if message else None)


def error_for(
    response: httpx.Response, *, provider: str, key_env: str | None, secret: str | None, classify: Classifier | None
) -> MediagenError:
    """The one function that maps an error response to its error."""
    status = response.status_code
    try:
        code, message = error_fields(response.json())
    except ValueError:
        code, message = None, None
    message = message or response.text or None
    message = clean_text(message or response.reason_phrase or f"HTTP {status}", secret)
    if classify is not None:
        custom = classify(status, code, message)
        if custom is not None:
            custom.provider = custom.provider or provider
            custom.status = status
            custom.provider_code = custom.provider_code or code  # kept as data; `code` names the kind of failure
            return custom
    kw: dict[str, Any] = {"provider": provider, "status": status, "provider_code": code}
    detail = f"{provider} answered HTTP {status}: {message}"
    if status == 401 or (status == 403 and key_env and "key" in message.lower()):
        hint = f"; check {key_env}" if key_env else ""
        return AuthError(f"{provider} rejected the API key (HTTP {status}: {message}){hint}", **kw)
    if status == 402:
        return InsufficientCreditsError(f"{detail}. Top up your {provider} balance, then try again.", **kw)
    if status == 404:
        return NotFoundError(detail, **kw)
    if status == 413:
        return BadRequestError(f"{detail}. The request is too large: send smaller or hosted inputs.", **kw)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        when = f" Retry after {wait:.0f} s." if wait is not None else " Retry later."
        return RateLimitedError(detail + "." + when, retry_after=wait, **kw)
    if status == 408 or status >= 500:
        return UpstreamError(detail, **kw)
    return BadRequestError(detail, retryable=False, **kw)


def parse_json(response: httpx.Response, provider: str, secret: str | None = None) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        summary = clean_text(response.text, secret, limit=120)
        raise UpstreamError(
            f"{provider} sent an unreadable response (HTTP {response.status_code}): {summary}", provider=provider
        ) from exc


class Http:
    """A provider's view of the shared `httpx.AsyncClient`: base URL, auth headers, retries and error mapping."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        key_env: str | None = None,
        secret: str | None = None,
        classify: Classifier | None = None,
        policy: RetryPolicy | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.client = client
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.key_env = key_env
        self.secret = secret
        self.classify = classify
        self.policy = policy or RetryPolicy()
        self.on_response = on_response  # sees every response, e.g. to read quota headers

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    async def _send(
        self, method: str, url: str, *, auth: bool = True, budget: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**(self.headers if auth else {}), **kwargs.pop("headers", {})}
        cap = self.policy.max_body
        with anyio.fail_after(budget if budget is not None else self.policy.deadline):
            async with self.client.stream(method, url, headers=headers, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise UpstreamError(
                            f"{self.provider} sent a response larger than {cap // (1024 * 1024)} MB",
                            provider=self.provider,
                        )
        complete = httpx.Response(
            response.status_code, headers=response.headers, content=bytes(body), request=response.request
        )
        if self.on_response is not None:
            self.on_response(complete)
        return complete

    def _error(self, response: httpx.Response) -> MediagenError:
        return error_for(
            response, provider=self.provider, key_env=self.key_env, secret=self.secret, classify=self.classify
        )

    def _delay(self, attempt: int) -> float:
        backoff = min(self.policy.max_delay, self.policy.base_delay * (2**attempt))
        return backoff * (0.5 + random.random() / 2)

    async def get(self, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        """A GET with retries, all within one deadline; returns a 2xx response or raises the mapped error."""
        end = anyio.current_time() + self.policy.deadline
        last = UpstreamError(
            f"{self.provider} did not answer within {self.policy.deadline:g} s", provider=self.provider
        )
        for attempt in range(self.policy.attempts):
            left = end - anyio.current_time()
            if left <= 0:
                break
            try:
                response = await self._send("GET", self.url(path), auth=auth, budget=left, **kwargs)
            except TimeoutError:
                break  # the whole budget is spent
            except httpx.TransportError as exc:
                last = UpstreamError(
                    f"{self.provider} could not be reached: {type(exc).__name__}", provider=self.provider
                )
                wait = self._delay(attempt)
            else:
                if response.is_success:
                    return response
                last = self._error(response)
                if not last.retryable:
                    raise last
                wait = self._delay(attempt)
                if isinstance(last, RateLimitedError) and last.retry_after is not None:
                    if last.retry_after > self.policy.retry_after_cap:
                        raise last
                    wait = last.retry_after
            if attempt + 1 >= self.policy.attempts or anyio.current_time() + wait >= end:
                break
            await anyio.sleep(wait)
        raise last

    async def post(self, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        """A submit: resent only if it provably never reached the provider, or was refused with 429."""
        last: MediagenError | None = None
        for attempt in range(self.policy.attempts):
            try:
                response = await self._send("POST", self.url(path), auth=auth, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = UpstreamError(
                    f"{self.provider} could not be reached: {type(exc).__name__}", provider=self.provider
                )
            except (httpx.TransportError, TimeoutError) as exc:
                raise UncertainSubmitError(
                    f"the request to {self.provider} was sent but no answer came back ({type(exc).__name__}); "
                    "it may or may not have been accepted (and billed). Check the provider's dashboard or task "
                    "list before trying again.",
                    provider=self.provider,
                ) from exc
            else:
                if response.is_success:
                    return response
                last = self._error(response)
                if not isinstance(last, RateLimitedError):
                    raise last
                wait = last.retry_after if last.retry_after is not None else self._delay(attempt)
                if wait > self.policy.retry_after_cap or attempt + 1 >= self.policy.attempts:
                    raise last
                await anyio.sleep(wait)
                continue
            if attempt + 1 < self.policy.attempts:
                await anyio.sleep(self._delay(attempt))
        assert last is not None
        raise last

    async def put(self, url: str, *, auth: bool = False, **kwargs: Any) -> httpx.Response:
        """An upload PUT (no API key unless asked): retried only on connect failures, like a submit."""
        response = await self.post_like("PUT", url, auth=auth, **kwargs)
        return response

    async def post_like(self, method: str, url: str, *, auth: bool, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._send(method, self.url(url), auth=auth, **kwargs)
        except (httpx.TransportError, TimeoutError) as exc:
            raise UpstreamError(f"{self.provider} upload failed: {type(exc).__name__}", provider=self.provider) from exc
        if not response.is_success:
            raise self._error(response)
        return response

    def json(self, response: httpx.Response) -> Any:
        return parse_json(response, self.provider, self.secret)

    async def post_json(self, path: str, **kwargs: Any) -> tuple[httpx.Response, Any]:
        """A submit and its JSON answer. A 2xx answer that cannot be read may still mean a task was created (and
        billed), so it is reported as an uncertain outcome, never as a plain failure that invites a resend."""
        response = await self.post(path, **kwargs)
        try:
            return response, response.json()
        except ValueError as exc:
            summary = clean_text(response.text, self.secret, limit=120)
            raise UncertainSubmitError(
                f"{self.provider} answered HTTP {response.status_code} with an unreadable body ({summary}); the task "
                "may or may not have been created (and billed). Check the provider's dashboard before trying again.",
                provider=self.provider,
            ) from exc
