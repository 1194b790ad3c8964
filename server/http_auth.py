"""Guards for the HTTP transports (a plain ASGI wrapper): bearer token and a per-client concurrency limit."""

from __future__ import annotations

import hmac
from collections import defaultdict
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_ACTIVE = 256  # concurrent POSTs per client; more wait their turn...
MAX_WAITING = 1024  # ...up to this many, then 429


async def _reply(send: Send, status: int, message: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": b'{"error":"' + message + b'"}'})


class HttpGuard:
    """Refuses requests without `Authorization: Bearer <token>` (constant-time compare, when a token is set) and
    keeps one client from monopolising the server. SSE GET streams are long-lived, so only POSTs are counted."""

    def __init__(self, app: ASGIApp, token: str | None, max_active: int = MAX_ACTIVE, max_waiting: int = MAX_WAITING):
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_waiting = max_waiting
        self.slots: defaultdict[str, anyio.CapacityLimiter] = defaultdict(lambda: anyio.CapacityLimiter(max_active))
        self.waiting: defaultdict[str, int] = defaultdict(int)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if self.expected is not None:
            given = next((v for k, v in headers if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                await _reply(send, 401, b"missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
                return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        client: Any = scope.get("client") or ("?", 0)
        key = str(client[0])
        limiter = self.slots[key]
        try:
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            if self.waiting[key] >= self.max_waiting:
                await _reply(send, 429, b"too many concurrent requests from this client", [(b"retry-after", b"1")])
                return
            self.waiting[key] += 1
            try:
                await limiter.acquire()
            finally:
                self.waiting[key] -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release()


def guarded(app: Any, token: str | None) -> Any:
    return HttpGuard(app, token)
