"""Fault injection for loopback fakes: a pure-ASGI middleware that wraps any ASGI app (a provider fake) and, on demand,
answers matching requests with a real HTTP-level failure over the socket instead of passing them through.

    faults = Faults(make_app(recorder))
    with serve(faults) as origin:
        faults.inject("status", method="POST", path="/api/v1/generate", status=429, headers={"Retry-After": "2"})
        faults.inject("reset_after_read", path="/api/v1/tasks/", times=2)
        ...
        assert faults.hits == [("status", "POST", "/api/v1/generate"), ...]

Faults are tried in injection order; the first that matches (method, path prefix) and still has `times` left is served
and counted down (`times=-1` serves it forever). A request matching no fault goes to the wrapped app untouched, so the
fake's own `Recorder` sees exactly the requests that passed through; every faulted request is recorded here instead, in
`hits` as `(kind, method, path)` and its request body in `bodies` (same index). The request body is always read in full
before the fault is served.

Kinds and their options (anything else is refused by `inject`):

- "status": `status` (500), `headers` (mapping), `body` (bytes, str, or a JSON-able value sent as application/json;
  default `{"error": "injected fault: HTTP <status>"}`). E.g. 429 with Retry-After, 502, 503.
- "html": `status` (502) with a realistic ~2 KB nginx-style HTML error page (text/html).
- "malformed_json": `status` (200), application/json body `{"id": "abc", ` (truncated).
- "no_id": `status` (200), application/json body `{"status": "queued"}` (no id anywhere), or `body` to override.
- "slow_drip": `status` (200), a JSON body of `bytes` (100) bytes with a matching Content-Length, one byte every
  `interval` (0.5) seconds after the headers; only a client deadline ends it.
- "reset_after_read": reads the whole request, then drops the connection without any response. `rst` (True) sets
  SO_LINGER 0 so the peer gets a TCP RST (httpx: ReadError "connection reset"); `rst=False` closes with a FIN (httpx:
  RemoteProtocolError "Server disconnected without sending a response").
- "read_timeout": reads the request, then waits `seconds` (30) before answering; if the client is still there it is then
  passed through to the wrapped app (so a small `seconds` is plain added latency).
- "huge_body": `status` (200), a body of `size` (200 MiB) bytes in `chunk` (64 KiB) pieces from one reused buffer, never
  held in memory; Content-Length is sent unless `chunked=True`; `content_type` (application/octet-stream).
- "redirect": `status` (302) to `location` (default the cloud metadata URL http://169.254.169.254/latest/meta-data/).
  The URL is only handed to the client; the fake never follows or contacts it.

How "reset_after_read" drops the connection: under uvicorn, an ASGI app that raises before `http.response.start`
gets a `500 Internal Server Error` written for it, and one that returns without responding gets the same 500 (unless
the client already disconnected). So this fault reaches the connection's transport through uvicorn's `send`, a bound
method of its per-request cycle object (`send.__self__.transport`, in both the h11 and httptools implementations),
aborts it, then waits for uvicorn to notice the disconnect (`receive()` yields `http.disconnect`) before returning,
which makes uvicorn write nothing. This needs `Faults` to be the outermost app handed to uvicorn (as with `serve()`);
otherwise the fault raises a RuntimeError saying so.

Every slow kind (slow_drip, read_timeout, huge_body) watches `receive()` for `http.disconnect` while it runs and stops
as soon as the client goes away, so an abandoned fault never holds the server's shutdown for its full duration.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import anyio
import anyio.lowlevel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METADATA_URL = "http://169.254.169.254/latest/meta-data/"
MALFORMED_JSON = b'{"id": "abc", '
NO_ID_JSON: dict[str, Any] = {"status": "queued"}
DEFAULT_HUGE_SIZE = 200 * 1024 * 1024

# nginx pads its error pages so browsers do not swap in their own "friendly" error page.
NGINX_502_PAGE = (
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>502 Bad Gateway</title>
<style>
  html { color-scheme: light dark; }
  body { width: 35em; margin: 0 auto; font-family: Tahoma, Verdana, Arial, sans-serif; }
  h1 { font-weight: normal; border-bottom: 1px solid #ccc; padding-bottom: 0.3em; }
  p.detail { color: #666; font-size: 0.9em; }
  code { background: #f4f4f4; padding: 0 0.3em; }
  ul { padding-left: 1.2em; line-height: 1.5; }
</style>
</head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<p>The server, while acting as a gateway or proxy, received an invalid response from the upstream server it accessed
in attempting to fulfill the request.</p>
<p>Sorry for the inconvenience. Please try again in a few moments. If the problem persists, contact the site
administrator and quote the request id below.</p>
<ul>
  <li>The upstream application may be restarting or overloaded.</li>
  <li>The upstream connection may have been closed before a complete response was received.</li>
  <li>A network or firewall problem may be preventing the proxy from reaching the upstream server.</li>
</ul>
<p class="detail">Request id: <code>7f3c9a1e-02b4-4c1d-9e8a-5d6b2f0c4a17</code><br>
Upstream: <code>api-backend-pool</code> &middot; Edge: <code>fra1-edge-04</code></p>
<hr><center>nginx/1.25.3</center>
</body>
</html>
"""
    + "<!-- a padding to disable MSIE and Chrome friendly error page -->\n" * 6
)

# kind -> the options it accepts, with their defaults.
KINDS: dict[str, dict[str, Any]] = {
    "status": {"status": 500, "headers": None, "body": None},
    "html": {"status": 502},
    "malformed_json": {"status": 200},
    "no_id": {"status": 200, "body": NO_ID_JSON},
    "slow_drip": {"status": 200, "interval": 0.5, "bytes": 100},
    "reset_after_read": {"rst": True},
    "read_timeout": {"seconds": 30.0},
    "huge_body": {
        "status": 200,
        "size": DEFAULT_HUGE_SIZE,
        "chunk": 64 * 1024,
        "chunked": False,
        "content_type": "application/octet-stream",
    },
    "redirect": {"status": 302, "location": METADATA_URL},
}


@dataclass
class Fault:
    """One injected fault: `kind` served to the next `times` requests matching `method` and the `path` prefix."""

    kind: str
    method: str | None = None
    path: str | None = None
    times: int = 1
    options: dict[str, Any] = field(default_factory=lambda: {})

    def matches(self, method: str, path: str) -> bool:
        if self.times == 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or path.startswith(self.path)


class Faults:
    """ASGI middleware wrapping `app`; `inject()` faults into it while it is being served (thread-safe)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.hits: list[tuple[str, str, str]] = []
        self.bodies: list[bytes] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    # -- the test-facing API ---------------------------------------------------------------------------------------

    def inject(
        self, kind: str, *, method: str | None = None, path: str | None = None, times: int = 1, **options: Any
    ) -> None:
        """Queue a fault for the next `times` requests (-1: forever) matching `method` and the `path` prefix."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        unknown = set(options) - set(KINDS[kind])
        if unknown:
            raise TypeError(f"fault {kind!r} takes no option(s) {sorted(unknown)}; it takes {sorted(KINDS[kind])}")
        if times == 0 or times < -1:
            raise ValueError("times must be a positive count, or -1 for forever")
        fault = Fault(kind, method.upper() if method else None, path, times, {**KINDS[kind], **options})
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every pending fault (what was already served stays in `hits`/`bodies`)."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """The faults that can still fire, in the order they will be tried."""
        with self._lock:
            return [f for f in self._faults if f.times != 0]

    # -- ASGI ------------------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self._take(scope) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left while sending its request
            return
        self.hits.append((fault.kind, scope["method"], scope["path"]))
        self.bodies.append(body)
        handler: Callable[[Fault, Scope, Receive, Send, bytes], Awaitable[None]] = getattr(self, f"_serve_{fault.kind}")
        await handler(fault, scope, receive, send, body)

    def _take(self, scope: Scope) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(scope["method"], scope["path"]):
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- one method per kind ---------------------------------------------------------------------------------------

    async def _serve_status(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        o = fault.options
        content = o["body"] if o["body"] is not None else {"error": f"injected fault: HTTP {o['status']}"}
        await _respond(send, o["status"], content, headers=o["headers"])

    async def _serve_html(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        page = NGINX_502_PAGE.replace("502 Bad Gateway", _status_line(fault.options["status"]))
        await _respond(send, fault.options["status"], page.encode(), content_type="text/html")

    async def _serve_malformed_json(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes
    ) -> None:
        await _respond(send, fault.options["status"], MALFORMED_JSON, content_type="application/json")

    async def _serve_no_id(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        await _respond(send, fault.options["status"], fault.options["body"])

    async def _serve_slow_drip(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        o = fault.options
        payload = _drip_payload(o["bytes"])
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]

        async def drip() -> None:
            await send({"type": "http.response.start", "status": o["status"], "headers": headers})
            if not payload:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            for i in range(len(payload)):
                await anyio.sleep(o["interval"])
                await send(
                    {"type": "http.response.body", "body": payload[i : i + 1], "more_body": i < len(payload) - 1}
                )

        await _until_disconnect(receive, drip)

    async def _serve_reset_after_read(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes
    ) -> None:
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if not isinstance(transport, asyncio.Transport):
            raise RuntimeError(
                "reset_after_read needs uvicorn's own `send` (a bound method of its request cycle holding the "
                "transport): serve Faults as the outermost ASGI app"
            )
        if fault.options["rst"]:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        # Return only once uvicorn has seen the connection go; returning earlier makes it write a 500.
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _serve_read_timeout(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        seconds = fault.options["seconds"]

        async def wait() -> None:
            await anyio.sleep(seconds)

        if await _until_disconnect(receive, wait):
            await self.app(scope, _replay(body, receive), send)

    async def _serve_huge_body(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        o = fault.options
        size, chunk_size = int(o["size"]), int(o["chunk"])
        headers = [(b"content-type", o["content_type"].encode())]
        if not o["chunked"]:
            headers.append((b"content-length", str(size).encode()))
        block = b"\0" * min(chunk_size, size)

        async def stream() -> None:
            await send({"type": "http.response.start", "status": o["status"], "headers": headers})
            left = size
            while left > 0:
                piece = block if left >= len(block) else block[:left]
                left -= len(piece)
                # uvicorn's send waits while the socket is backed up (flow control), so nothing piles up in memory;
                # the checkpoint lets the disconnect watcher run once the client is gone (send no longer waits then).
                await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
                await anyio.lowlevel.checkpoint()
            if size == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await _until_disconnect(receive, stream)

    async def _serve_redirect(self, fault: Fault, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        o = fault.options
        await _respond(send, o["status"], b"", headers={"location": o["location"]}, content_type=None)


# -- helpers -----------------------------------------------------------------------------------------------------------


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the already-read `body` once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _until_disconnect(receive: Receive, work: Callable[[], Awaitable[None]]) -> bool:
    """Run `work` until it finishes (True) or the client disconnects (False, `work` cancelled)."""
    finished = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not finished:
                group.cancel_scope.cancel()

        async def run() -> None:
            nonlocal finished
            await work()
            finished = True
            group.cancel_scope.cancel()

        group.start_soon(watch)
        group.start_soon(run)
    return finished


async def _respond(
    send: Send,
    status: int,
    content: Any,
    *,
    headers: Mapping[str, str] | None = None,
    content_type: str | None = "application/json",
) -> None:
    if isinstance(content, bytes):
        payload = content
    elif isinstance(content, str):
        payload = content.encode()
        content_type = "text/plain; charset=utf-8" if content_type == "application/json" else content_type
    else:
        payload = json.dumps(content).encode()
    raw: list[tuple[bytes, bytes]] = [(b"content-length", str(len(payload)).encode())]
    names = {k.lower() for k in (headers or {})}
    if content_type is not None and "content-type" not in names:
        raw.append((b"content-type", content_type.encode()))
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _drip_payload(size: int) -> bytes:
    """`size` bytes of JSON (valid JSON when `size` leaves room for it)."""
    head, tail = b'{"id": "drip-1", "pad": "', b'"}'
    if size < len(head) + len(tail):
        return (head + tail)[:size]
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
