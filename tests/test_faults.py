"""The fault-injection layer for loopback fakes: every fault kind is a real HTTP-level behaviour seen by httpx over a
127.0.0.1 socket, faults are matched and counted as injected, and unmatched requests reach the wrapped app untouched."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.faults import DEFAULT_HUGE_SIZE, METADATA_URL, Faults
from tests.fakes.loopback import Recorder, serve

pytestmark = pytest.mark.anyio

TIMEOUT = httpx.Timeout(5.0)


def trivial_app(recorder: Recorder) -> Starlette:
    async def anything(request: Request) -> JSONResponse:
        entry = await recorder.record(request)
        return JSONResponse({"id": "ok-1", "path": entry.path, "echo": entry.body.decode()})

    return Starlette(routes=[Route("/{rest:path}", anything, methods=["GET", "POST", "PUT", "DELETE"])])


@dataclass
class Fake:
    origin: str
    faults: Faults
    recorder: Recorder


@contextmanager
def faulty_fake() -> Generator[Fake, None, None]:
    recorder = Recorder()
    faults = Faults(trivial_app(recorder))
    with serve(faults) as origin:
        yield Fake(origin, faults, recorder)


@asynccontextmanager
async def client(fake: Fake, timeout: httpx.Timeout = TIMEOUT) -> AsyncGenerator[httpx.AsyncClient, None]:
    async with httpx.AsyncClient(base_url=fake.origin, timeout=timeout) as c:
        yield c


async def test_a_request_matching_no_fault_reaches_the_wrapped_app_untouched() -> None:
    with faulty_fake() as fake:
        async with client(fake) as c:
            response = await c.post("/api/v1/generate?x=1", content=b"hello", headers={"X-Key": "k"})
    assert response.status_code == 200
    assert response.json() == {"id": "ok-1", "path": "/api/v1/generate", "echo": "hello"}
    [seen] = fake.recorder.requests
    assert (seen.method, seen.path, seen.query, seen.body, seen.headers["x-key"]) == (
        "POST",
        "/api/v1/generate",
        "x=1",
        b"hello",
        "k",
    )
    assert fake.faults.hits == []


async def test_a_status_fault_answers_429_with_retry_after_and_the_app_never_sees_the_request() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=429, headers={"Retry-After": "2"}, body={"error": "slow down"})
        async with client(fake) as c:
            response = await c.post("/api/v1/generate", json={"prompt": "cat"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": "slow down"}
    assert fake.recorder.requests == []
    assert fake.faults.hits == [("status", "POST", "/api/v1/generate")]
    assert json.loads(fake.faults.bodies[0]) == {"prompt": "cat"}


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_status_fault_defaults_to_a_small_json_error_body(status: int) -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=status)
        async with client(fake) as c:
            response = await c.get("/x")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": f"injected fault: HTTP {status}"}


async def test_an_html_fault_serves_a_two_kilobyte_nginx_style_502_page() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("html")
        async with client(fake) as c:
            response = await c.get("/api/v1/tasks/1")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert 1500 < len(response.content) < 3000
    assert "<title>502 Bad Gateway</title>" in response.text
    assert "nginx" in response.text
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_a_malformed_json_fault_sends_truncated_json_that_fails_to_decode() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("malformed_json")
        async with client(fake) as c:
            response = await c.post("/api/v1/generate", json={})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"id": "abc", '
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_a_no_id_fault_sends_valid_json_without_any_id() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("no_id")
        async with client(fake) as c:
            response = await c.post("/api/v1/generate", json={})
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    assert "id" not in response.text


async def test_a_slow_drip_is_cut_by_the_client_read_timeout_after_the_headers_arrive() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("slow_drip", interval=0.5, bytes=20)
        with anyio.fail_after(2):
            async with client(fake, httpx.Timeout(5.0, read=0.2)) as c:
                async with c.stream("GET", "/api/v1/tasks/1") as response:
                    assert response.status_code == 200
                    assert response.headers["content-length"] == "20"
                    with pytest.raises(httpx.ReadTimeout):
                        await response.aread()
    assert fake.faults.hits == [("slow_drip", "GET", "/api/v1/tasks/1")]


async def test_a_slow_drip_faster_than_the_read_timeout_is_only_cut_by_an_overall_deadline() -> None:
    received = bytearray()
    with faulty_fake() as fake:
        fake.faults.inject("slow_drip", interval=0.05, bytes=100)
        async with client(fake, httpx.Timeout(5.0, read=1.0)) as c:
            with pytest.raises(TimeoutError):
                with anyio.fail_after(0.6):
                    async with c.stream("GET", "/slow") as response:
                        async for piece in response.aiter_bytes():
                            received += piece
    assert 0 < len(received) < 100
    assert bytes(received).startswith(b'{"id"')


async def test_a_slow_drip_left_to_finish_delivers_a_complete_json_body() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("slow_drip", interval=0.001, bytes=40)
        with anyio.fail_after(3):
            async with client(fake) as c:
                response = await c.get("/slow")
    assert len(response.content) == 40
    assert response.json()["id"] == "drip-1"


async def test_a_reset_after_read_drops_the_connection_with_a_tcp_reset_after_the_body_was_received() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("reset_after_read", method="POST")
        with anyio.fail_after(3):
            async with client(fake) as c:
                with pytest.raises(httpx.TransportError) as caught:
                    await c.post("/api/v1/generate", content=b"x" * 100_000)
                assert not isinstance(caught.value, httpx.TimeoutException)
                after = await c.post("/api/v1/generate", content=b"again")
    assert fake.faults.bodies == [b"x" * 100_000]
    assert fake.faults.hits == [("reset_after_read", "POST", "/api/v1/generate")]
    assert after.status_code == 200, "the fake keeps serving after the reset"
    assert [r.body for r in fake.recorder.requests] == [b"again"]


async def test_a_reset_after_read_without_rst_closes_quietly_and_httpx_sees_no_response_at_all() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("reset_after_read", rst=False)
        with anyio.fail_after(3):
            async with client(fake) as c:
                with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                    await c.post("/api/v1/generate", json={"prompt": "cat"})
    assert json.loads(fake.faults.bodies[0]) == {"prompt": "cat"}


async def test_a_read_timeout_fault_trips_the_client_timeout_and_does_not_hold_up_server_shutdown() -> None:
    started = time.monotonic()
    with faulty_fake() as fake:
        fake.faults.inject("read_timeout", seconds=5)
        with anyio.fail_after(2):
            async with client(fake, httpx.Timeout(0.3)) as c:
                with pytest.raises(httpx.ReadTimeout):
                    await c.post("/api/v1/generate", content=b"body")
    assert time.monotonic() - started < 3
    assert fake.faults.bodies == [b"body"]
    assert fake.recorder.requests == [], "the abandoned request never reaches the app"


async def test_a_short_read_timeout_fault_is_added_latency_before_the_app_answers() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("read_timeout", seconds=0.05)
        with anyio.fail_after(3):
            async with client(fake) as c:
                response = await c.post("/late", content=b"payload")
    assert response.json() == {"id": "ok-1", "path": "/late", "echo": "payload"}
    assert [r.body for r in fake.recorder.requests] == [b"payload"]
    assert fake.faults.hits == [("read_timeout", "POST", "/late")]


async def test_a_huge_body_is_streamed_with_its_content_length_without_being_held_in_memory() -> None:
    tracemalloc.start()
    try:
        with faulty_fake() as fake:
            fake.faults.inject("huge_body")
            received = 0
            with anyio.fail_after(5):
                async with client(fake) as c:
                    async with c.stream("GET", "/cdn/video.mp4") as response:
                        assert response.status_code == 200
                        assert response.headers["content-length"] == str(DEFAULT_HUGE_SIZE)
                        async for piece in response.aiter_raw():
                            received += len(piece)
                            if received >= 1024 * 1024:
                                break
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received >= 1024 * 1024
    assert peak < 32 * 1024 * 1024, f"peak traced memory {peak} bytes: the body must not be built up front"


async def test_a_chunked_huge_body_has_no_content_length_and_ends_with_exactly_size_bytes() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("huge_body", size=300_000, chunk=65_536, chunked=True)
        with anyio.fail_after(3):
            async with client(fake) as c:
                response = await c.get("/big")
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert len(response.content) == 300_000


@pytest.mark.parametrize("location", [METADATA_URL, "http://10.0.0.1/x"])
async def test_a_redirect_fault_hands_the_client_a_302_to_an_internal_address_without_following_it(
    location: str,
) -> None:
    with faulty_fake() as fake:
        fake.faults.inject("redirect", location=location)
        async with client(fake) as c:
            response = await c.get("/api/v1/tasks/1")
    assert response.status_code == 302
    assert response.headers["location"] == location
    assert response.is_redirect and response.next_request is not None
    assert len(response.history) == 0


async def test_a_fault_is_served_times_times_and_then_requests_pass_through_again() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=503, times=2)
        async with client(fake) as c:
            statuses = [(await c.get("/x")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert fake.faults.pending == []
    assert len(fake.recorder.requests) == 1


async def test_a_fault_with_times_minus_one_is_served_forever_until_cleared() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=500, times=-1)
        async with client(fake) as c:
            statuses = [(await c.get("/x")).status_code for _ in range(4)]
            fake.faults.clear()
            statuses.append((await c.get("/x")).status_code)
    assert statuses == [500, 500, 500, 500, 200]


async def test_method_and_path_prefix_filters_pick_which_requests_are_faulted() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=500, method="post", path="/api/v1/generate", times=-1)
        async with client(fake) as c:
            get_same_path = await c.get("/api/v1/generate")
            post_other_path = await c.post("/api/v1/upload")
            post_sub_path = await c.post("/api/v1/generate/video")
            post_exact = await c.post("/api/v1/generate")
    assert [get_same_path.status_code, post_other_path.status_code] == [200, 200]
    assert [post_sub_path.status_code, post_exact.status_code] == [500, 500]
    assert fake.faults.hits == [("status", "POST", "/api/v1/generate/video"), ("status", "POST", "/api/v1/generate")]


async def test_faults_are_served_in_injection_order() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=429)
        fake.faults.inject("status", status=503)
        fake.faults.inject("no_id", path="/api")
        async with client(fake) as c:
            responses = [await c.get("/api/v1/tasks/1") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 503, 200, 200]
    assert responses[2].json() == {"status": "queued"}
    assert responses[3].json()["id"] == "ok-1"
    assert [hit[0] for hit in fake.faults.hits] == ["status", "status", "no_id"]


async def test_clear_drops_pending_faults_but_keeps_the_record_of_served_ones() -> None:
    with faulty_fake() as fake:
        fake.faults.inject("status", status=500)
        fake.faults.inject("html", times=5)
        async with client(fake) as c:
            first = await c.get("/x")
            fake.faults.clear()
            second = await c.get("/x")
    assert (first.status_code, second.status_code) == (500, 200)
    assert fake.faults.pending == []
    assert fake.faults.hits == [("status", "GET", "/x")]


def test_unknown_kinds_options_and_counts_are_refused_at_injection() -> None:
    faults = Faults(trivial_app(Recorder()))
    with pytest.raises(ValueError, match="unknown fault kind"):
        faults.inject("teapot")
    with pytest.raises(TypeError, match="interval"):
        faults.inject("read_timeout", interval=1)
    with pytest.raises(ValueError, match="times"):
        faults.inject("status", times=0)
    assert faults.pending == []
