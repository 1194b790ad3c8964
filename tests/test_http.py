"""The shared HTTP helper: GET retries, POSTs never resent once sent, caps, and clean error mapping."""

from __future__ import annotations

import httpx
import pytest
import respx

from providers.errors import (
    AuthError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitedError,
    UncertainSubmitError,
    UpstreamError,
)
from providers.http import Http, RetryPolicy, clean_text, error_fields, retry_after_seconds

pytestmark = pytest.mark.anyio
ORIGIN = "https://api.example.test"
SECRET = "sk-very-secret-key"


def http(client: httpx.AsyncClient, **policy: float) -> Http:
    return Http(
        client,
        provider="demo",
        base_url=ORIGIN,
        headers={"Authorization": f"Bearer {SECRET}"},
        key_env="DEMO_API_KEY",
        secret=SECRET,
        policy=RetryPolicy(base_delay=0, max_delay=0, **policy),  # type: ignore[arg-type]
    )


async def test_a_get_is_retried_after_5xx_and_429_then_succeeds() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.get("/t").mock(
            side_effect=[
                httpx.Response(503),
                httpx.Response(429, headers={"Retry-After": "0"}),
                httpx.Response(200, json={"ok": 1}),
            ]
        )
        async with httpx.AsyncClient() as client:
            response = await http(client).get("/t")
    assert response.json() == {"ok": 1} and route.call_count == 3


async def test_a_get_with_a_long_retry_after_fails_fast_saying_when_to_retry() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.get("/t").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
        async with httpx.AsyncClient() as client:
            with pytest.raises(RateLimitedError) as info:
                await http(client).get("/t")
    assert route.call_count == 1 and info.value.retry_after == 3600 and "3600" in info.value.message


async def test_a_get_is_retried_on_connection_errors_then_reports_a_clear_error() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.get("/t").mock(side_effect=httpx.ConnectError("refused"))
        async with httpx.AsyncClient() as client:
            with pytest.raises(UpstreamError, match="could not be reached"):
                await http(client, attempts=3).get("/t")
    assert route.call_count == 3


async def test_a_post_that_got_500_is_not_resent() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.post("/s").mock(return_value=httpx.Response(500, json={"message": "boom"}))
        async with httpx.AsyncClient() as client:
            with pytest.raises(UpstreamError):
                await http(client).post("/s", json={})
    assert route.call_count == 1


async def test_a_post_that_timed_out_after_sending_is_uncertain_and_not_resent() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.post("/s").mock(side_effect=httpx.ReadTimeout("slow"))
        async with httpx.AsyncClient() as client:
            with pytest.raises(UncertainSubmitError, match="may or may not"):
                await http(client).post("/s", json={})
    assert route.call_count == 1


async def test_a_post_that_never_connected_is_retried() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.post("/s").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={})])
        async with httpx.AsyncClient() as client:
            await http(client).post("/s", json={})
    assert route.call_count == 2


async def test_a_post_refused_with_429_is_retried_after_the_given_delay() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        route = router.post("/s").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json={})]
        )
        async with httpx.AsyncClient() as client:
            await http(client).post("/s", json={})
    assert route.call_count == 2


async def test_a_body_larger_than_the_cap_is_refused() -> None:
    with respx.mock(base_url=ORIGIN) as router:
        router.get("/big").mock(return_value=httpx.Response(200, content=b"x" * 5000))
        async with httpx.AsyncClient() as client:
            with pytest.raises(UpstreamError, match="larger than"):
                await http(client, max_body=1000).get("/big")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (402, InsufficientCreditsError),
        (404, NotFoundError),
        (400, BadRequestError),
        (502, UpstreamError),
    ],
)
async def test_error_statuses_map_to_their_error_kind_without_the_key(status: int, kind: type[Exception]) -> None:
    with respx.mock(base_url=ORIGIN) as router:
        router.get("/e").mock(return_value=httpx.Response(status, json={"error": {"message": f"bad key {SECRET}"}}))
        async with httpx.AsyncClient() as client:
            with pytest.raises(kind) as info:
                await http(client, attempts=1).get("/e")
    assert SECRET not in str(info.value)
    if status == 401:
        assert "DEMO_API_KEY" in str(info.value)


async def test_an_html_error_page_is_summarised_not_passed_through() -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    with respx.mock(base_url=ORIGIN) as router:
        router.get("/e").mock(return_value=httpx.Response(502, text=page))
        async with httpx.AsyncClient() as client:
            with pytest.raises(UpstreamError) as info:
                await http(client, attempts=1).get("/e")
    assert "HTML error page: 502 Bad Gateway" in info.value.message and "<" not in info.value.message


def test_error_fields_read_the_common_envelopes() -> None:
    assert error_fields({"error": {"code": "X", "message": "m"}}) == ("X", "m")
    assert error_fields({"error": "plain"}) == (None, "plain")
    assert error_fields({"message": "top", "code": 7}) == ("7", "top")
    assert error_fields({"statusCode": 400, "message": ["a", "b"]}) == (None, "a; b")


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("2") == 2 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_clean_text_redacts_the_key_and_shortens() -> None:
    assert clean_text(f"key {SECRET} " + "y" * 1000, SECRET).startswith("key [redacted]")
    assert len(clean_text("z" * 1000)) == 300
