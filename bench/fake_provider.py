"""The provider the benchmarks talk to: `tests/fakes/uniall.make_app`, optionally wrapped in two tiny ASGI layers.

- `Latency` adds a fixed delay before every request is handled (a provider that takes 200 ms to answer).
- `TimedCompletion` makes a task finish a fixed time after it was submitted (instead of after N polls), and
  logs every poll with its time, so a benchmark can count the polls a server makes and the gaps between them.

`python -m bench.fake_provider [--latency S] [--steps N]` serves the fake in its own process (so it does not share
a GIL or an RSS with what is measured), prints its origin on one line, and exits when its stdin closes.

It is served by `tests/fakes/loopback.serve` (TCP_NODELAY on, so the fake answers at once).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import anyio

from tests.fakes.loopback import Recorder, serve
from tests.fakes.uniall import make_app

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

API_KEY = "sk-test-secret"
SUBMIT_PATH = "/v1/video/generations"
_POLL = re.compile(r"^/v1/(?:video/generations|videos)/([^/]+)$")


@dataclass
class Latency:
    """Every HTTP request waits `seconds` before the wrapped app sees it."""

    app: App
    seconds: float

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await anyio.sleep(self.seconds)
        await self.app(scope, receive, send)


@dataclass
class TimedCompletion:
    """A task is in progress until `done_after` seconds after its submit, then the wrapped fake completes it.

    Wrap a fake made with `steps=1`: the first poll that reaches it completes the task. `polls` holds
    `(native_id, monotonic time)` for every poll, answered here or passed on.
    """

    app: App
    done_after: float
    submitted: dict[str, float] = field(default_factory=lambda: {})
    polls: list[tuple[str, float]] = field(default_factory=lambda: [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["method"] == "POST" and path == SUBMIT_PATH:
            await self._submit(scope, receive, send)
            return
        match = _POLL.match(path) if scope["method"] == "GET" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        native = match.group(1)
        now = time.monotonic()
        self.polls.append((native, now))
        started = self.submitted.get(native)
        if started is not None and now - started < self.done_after:
            await _json(send, _in_progress(native, now - started, self.done_after))
            return
        await self.app(scope, receive, send)

    async def _submit(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    self._remember(bytes(body), started)
            await send(message)

        await self.app(scope, receive, capture)

    def _remember(self, body: bytes, started: float) -> None:
        try:
            answer: Any = json.loads(body)
        except ValueError:
            return
        native: Any = cast(dict[str, Any], answer).get("id") if isinstance(answer, dict) else None
        if isinstance(native, str):
            self.submitted[native] = started


def _in_progress(native: str, elapsed: float, done_after: float) -> dict[str, Any]:
    return {
        "id": native,
        "task_id": native,
        "object": "video.generation.job",
        "status": "in_progress",
        "progress": min(99, int(100 * elapsed / done_after)),
        "error": None,
        "video_url": None,
    }


async def _json(send: Send, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build(*, latency: float = 0.0, steps: int = 10**9) -> App:
    """The UniAll fake (tasks in flight for `steps` polls), behind `latency` seconds of delay when given."""
    app: App = make_app(Recorder(), api_key=API_KEY, steps=steps)
    return Latency(app, latency) if latency > 0 else app


def timed(done_after: float) -> TimedCompletion:
    """The UniAll fake whose tasks finish `done_after` seconds after their submit."""
    return TimedCompletion(make_app(Recorder(), api_key=API_KEY, steps=1), done_after)


@contextmanager
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_provider")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=10**9)
    args = parser.parse_args(argv)
    with serve(build(latency=args.latency, steps=args.steps)) as origin:
        print(origin, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
