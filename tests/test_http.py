"""The shared HTTP client: addressing, limits, retries, error mapping and redaction.

Faked at the transport (httpx.MockTransport) and the clock; nothing really sleeps.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest
from anyio.lowlevel import checkpoint
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sim.virtual_time import FakeTime, VirtualTime
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    BackendRateLimitedError,
    BackendRequestError,
    BackendResponseError,
    BackendUnavailableError,
    ConfigError,
)
from tools.http import (
    USER_AGENT,
    BackendHttp,
    ClientConfig,
    ParamValue,
    QuotaLimiter,
    RateLimit,
    RetryPolicy,
    Timeouts,
    create_client,
    default_error_message,
    header_retry_after,
)
from tools.sim import busiest_window

TOKEN = "tok-9f8e7d6c5b4a"
BASE = "http://tallyfy.test/api"


# --------------------------------------------------------------------------- fakes


class MaxRandom(random.Random):
    """Always picks the top of the range: makes backoff and jitter bounds observable."""

    def uniform(self, a: float, b: float) -> float:
        return b


Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


class Backend:
    """Answers from a script of responses (or exceptions) and records what it was sent."""

    def __init__(self, *script: httpx.Response | Exception, time: FakeTime | None = None) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []
        self.sent_at: list[float] = []
        self.time = time

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.time is not None:
            self.sent_at.append(self.time.now)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return item


def make_client(
    handler: Handler,
    time: FakeTime | None = None,
    **overrides: Any,
) -> BackendHttp:
    time = time or FakeTime()
    options: dict[str, Any] = {
        "backend": "tallyfy",
        "base_url": BASE,
        "headers": {"Authorization": f"Bearer {TOKEN}", "X-Tallyfy-Client": "APIClient"},
        "transport": httpx.MockTransport(handler),
        "clock": time.clock,
        "sleep": time.sleep,
        "rng": random.Random(7),
    }
    options.update(overrides)
    return create_client(ClientConfig(**options))


def ok(body: Any = None, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json={"data": []} if body is None else body, **kwargs)


# --------------------------------------------------------------------------- addressing


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("base_url", "path"),
    [
        ("http://h/api", "/organizations/x"),
        ("http://h/api/", "/organizations/x"),
        ("http://h/api", "organizations/x"),
    ],
)
async def test_relative_path_joins_under_the_base_path_prefix(base_url, path):
    backend = Backend(ok())
    async with make_client(backend, base_url=base_url) as http:
        await http.get_json(path)
    assert str(backend.requests[0].url) == "http://h/api/organizations/x"


@pytest.mark.anyio
async def test_sends_user_agent_and_configured_headers():
    backend = Backend(ok())
    async with make_client(backend) as http:
        await http.get_json("/me")
    headers = backend.requests[0].headers
    assert headers["user-agent"] == USER_AGENT
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-tallyfy-client"] == "APIClient"


@pytest.mark.anyio
async def test_repeated_query_keys_keep_their_order():
    backend = Backend(ok())
    params: list[tuple[str, ParamValue]] = [
        ("filter[id][]", "1"),
        ("page", 2),
        ("filter[id][]", "2"),
        ("with", "a b"),
    ]
    async with make_client(backend) as http:
        await http.get_json("/api/v4/leads", params=params)
    assert backend.requests[0].url.query == b"filter[id][]=1&page=2&filter[id][]=2&with=a%20b"


@pytest.mark.anyio
async def test_params_are_appended_to_a_query_already_in_the_link():
    backend = Backend(ok())
    async with make_client(backend) as http:
        await http.get_json(f"{BASE}/runs?page=2", params={"per_page": "100", "archived": True})
    assert str(backend.requests[0].url) == f"{BASE}/runs?page=2&per_page=100&archived=true"


@pytest.mark.anyio
async def test_absolute_link_to_the_same_origin_is_followed():
    backend = Backend(ok())
    async with make_client(backend) as http:
        await http.get_json("http://tallyfy.test:80/api/runs?page=3")
    assert backend.requests[0].url.path == "/api/runs"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "link",
    [
        "http://evil.test/api/runs?token=stolen-token-1",
        "https://tallyfy.test/api/runs",
        "http://tallyfy.test:8080/api/runs",
        "//evil.test/api/runs",
    ],
)
async def test_absolute_link_to_another_origin_is_refused_without_sending(link):
    backend = Backend(ok())
    async with make_client(backend) as http:
        with pytest.raises(BackendResponseError) as caught:
            await http.get_json(link)
    assert backend.requests == []
    assert "refusing to follow a link to another origin" in caught.value.message
    assert "stolen-token-1" not in caught.value.for_model()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "organizations/o1/runs/zz/../4f1c0000000000000000000000000000",
        "organizations/o1/runs/..",
        "organizations/o1/runs/.",
        "organizations/o1/runs/%2e%2E/other",
        "organizations/o1/runs/./x",
        "../../etc/passwd",
        "organizations/o1/runs/4f1c?x=y",
        "organizations/o1/runs/4f1c#x",
        "organizations/o1/runs/?a=b",
        "organizations/o1/runs\\..\\x",
    ],
)
async def test_a_relative_path_with_dot_segments_or_a_raw_query_is_refused_unsent(path):
    backend = Backend(ok())
    async with make_client(backend) as http:
        with pytest.raises(BackendRequestError) as caught:
            await http.get_json(path, params={"with": "steps"})
    assert backend.requests == []
    assert caught.value.message.startswith("refused before sending: ")
    assert "base URL" not in caught.value.for_model()
    assert "an id is never a path" in caught.value.for_model()


@pytest.mark.anyio
async def test_quoted_ids_and_dots_inside_a_segment_are_sent_as_they_are():
    backend = Backend(ok())
    async with make_client(backend) as http:
        await http.get_json("runs/zz%2F..%2Fx%3Fa%3Db/v1.2")
    assert backend.requests[0].url.raw_path == b"/api/runs/zz%2F..%2Fx%3Fa%3Db/v1.2"


def test_invalid_base_url_is_a_config_error():
    with pytest.raises(ConfigError):
        create_client(ClientConfig(backend="x", base_url="ftp://h/"))
    with pytest.raises(ConfigError):
        create_client(ClientConfig(backend="x", base_url="/relative/only"))


# --------------------------------------------------------------------------- success paths


@pytest.mark.anyio
async def test_accepted_404_is_returned_and_get_json_gives_none():
    backend = Backend(httpx.Response(404, json={"message": "gone"}))
    async with make_client(backend) as http:
        response = await http.request("GET", "/runs/x", accept={404})
        body = await http.get_json("/runs/x", accept={404})
    assert response.status_code == 404
    assert body is None


@pytest.mark.anyio
async def test_204_empty_body_gives_none():
    backend = Backend(httpx.Response(204))
    async with make_client(backend) as http:
        assert await http.get_json("/api/v4/leads", params={"page": "9"}) is None


@pytest.mark.anyio
async def test_post_json_sends_the_body_and_decodes_the_answer():
    backend = Backend(ok({"_data": [1], "_meta": {"hasMore": False}}))
    async with make_client(backend) as http:
        body = await http.post_json("/v1/list", json={"limit": 100})
    assert body == {"_data": [1], "_meta": {"hasMore": False}}
    assert json.loads(backend.requests[0].content) == {"limit": 100}


@pytest.mark.anyio
async def test_malformed_json_raises_backend_response_error_with_scrubbed_snippet():
    backend = Backend(httpx.Response(200, text=f"{{'data': oops {TOKEN} " + "x" * 500))
    async with make_client(backend) as http:
        with pytest.raises(BackendResponseError) as caught:
            await http.get_json("/runs")
    text = caught.value.for_model()
    assert "malformed JSON in response" in text
    assert TOKEN not in text
    assert len(caught.value.message) < 300


# --------------------------------------------------------------------------- retries


@pytest.mark.anyio
async def test_get_retries_503_then_succeeds():
    time = FakeTime()
    backend = Backend(httpx.Response(503), ok({"data": [1]}))
    async with make_client(backend, time) as http:
        assert await http.get_json("/runs") == {"data": [1]}
        assert (http.stats.requests, http.stats.retries) == (2, 1)
        assert http.stats.waited_seconds == pytest.approx(sum(time.sleeps))
    assert len(time.sleeps) == 1


@pytest.mark.anyio
async def test_5xx_on_post_is_not_retried_by_default():
    backend = Backend(httpx.Response(503), ok())
    async with make_client(backend) as http:
        with pytest.raises(BackendUnavailableError) as caught:
            await http.request("POST", "/runs", json={})
        assert http.stats.requests == 1
    assert "not retried" in caught.value.message


@pytest.mark.anyio
async def test_5xx_on_post_is_retried_when_marked_idempotent():
    backend = Backend(httpx.Response(502), ok())
    async with make_client(backend) as http:
        await http.request("POST", "/list", json={}, idempotent=True)
        await http.post_json("/list", json={}, idempotent=True)  # a read (Chakra's list)
        assert http.stats.requests == 3


@pytest.mark.anyio
async def test_post_json_is_not_retried_on_5xx_unless_marked_as_a_read():
    backend = Backend(httpx.Response(503), ok())
    async with make_client(backend) as http:
        with pytest.raises(BackendUnavailableError):
            await http.post_json("/runs", json={})
        assert http.stats.requests == 1


@pytest.mark.anyio
async def test_429_is_retried_even_for_a_non_idempotent_post():
    backend = Backend(httpx.Response(429), ok())
    async with make_client(backend) as http:
        await http.request("POST", "/runs", json={})
        assert http.stats.requests == 2


@pytest.mark.anyio
async def test_429_honours_retry_after_seconds_plus_at_most_ten_percent():
    time = FakeTime()
    backend = Backend(httpx.Response(429, headers={"Retry-After": "3"}), ok())
    async with make_client(backend, time, rng=MaxRandom()) as http:
        await http.get_json("/runs")
    assert time.sleeps == [pytest.approx(3.3)]


@pytest.mark.anyio
async def test_429_honours_retry_after_http_date():
    time = FakeTime()
    headers = {
        "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
        "Retry-After": "Wed, 21 Oct 2015 07:28:07 GMT",
    }
    backend = Backend(httpx.Response(429, headers=headers), ok())
    async with make_client(backend, time) as http:
        await http.get_json("/runs")
    assert 7.0 <= time.sleeps[0] <= 7.7


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT",
                "Date": "Wed, 21 Oct 2015 07:29:00 GMT",
            },
            0.0,
        ),
    ],
)
def test_header_retry_after_parses_seconds_and_dates_and_rejects_garbage(headers, expected):
    assert header_retry_after(httpx.Response(429, headers=headers)) == expected


def test_header_retry_after_date_without_date_header_is_relative_to_now():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    value = header_retry_after(httpx.Response(429, headers={"Retry-After": when}))
    assert value is not None
    assert 55 <= value <= 60


@pytest.mark.anyio
async def test_retry_after_longer_than_the_call_can_wait_fails_fast_without_waiting():
    time = FakeTime()
    backend = Backend(httpx.Response(429, headers={"Retry-After": "120"}), ok())
    async with make_client(backend, time) as http:
        with pytest.raises(BackendRateLimitedError) as caught:
            await http.get_json("/runs")
        assert http.stats.requests == 1
    assert time.sleeps == []
    assert caught.value.retry_after == 120
    assert caught.value.status == 429
    assert "120 seconds" in (caught.value.hint or "")


@pytest.mark.anyio
async def test_retry_after_beyond_the_remaining_budget_fails_fast():
    time = FakeTime()
    backend = Backend(httpx.Response(429, headers={"Retry-After": "6"}))
    retry = RetryPolicy(budget=10.0)
    async with make_client(backend, time, retry=retry) as http:
        with pytest.raises(BackendRateLimitedError) as caught:
            await http.get_json("/runs")
        assert http.stats.requests == 2  # waited once (6 s); 6 more would pass 10 s
    assert len(time.sleeps) == 1
    assert caught.value.retry_after == 6


@pytest.mark.anyio
async def test_backend_specific_retry_after_reader_is_used():
    # Kommo sends its delay in the body, not in a header.
    time = FakeTime()
    backend = Backend(httpx.Response(429, json={"retry_after": 2}), ok())

    def body_retry_after(response: httpx.Response) -> float | None:
        return float(response.json()["retry_after"])

    async with make_client(backend, time, retry_after=body_retry_after) as http:
        await http.get_json("/api/v4/leads")
    assert 2.0 <= time.sleeps[0] <= 2.2


@pytest.mark.anyio
async def test_backoff_delays_stay_within_full_jitter_bounds():
    time = FakeTime()
    retry = RetryPolicy(max_attempts=8, backoff_base=0.5, backoff_cap=4.0, budget=1000.0)
    backend = Backend(httpx.Response(503))
    async with make_client(backend, time, retry=retry, rng=random.Random(1)) as http:
        with pytest.raises(BackendUnavailableError):
            await http.get_json("/runs")
    assert len(time.sleeps) == 7
    for attempt, delay in enumerate(time.sleeps, start=1):
        assert 0.0 <= delay <= min(4.0, 0.5 * 2 ** (attempt - 1))


@pytest.mark.anyio
async def test_backoff_grows_exponentially_and_is_capped():
    time = FakeTime()
    retry = RetryPolicy(max_attempts=7, backoff_base=0.5, backoff_cap=4.0, budget=1000.0)
    async with make_client(Backend(httpx.Response(504)), time, retry=retry, rng=MaxRandom()) as h:
        with pytest.raises(BackendUnavailableError):
            await h.get_json("/runs")
    assert time.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.anyio
async def test_max_attempts_is_respected():
    backend = Backend(httpx.Response(503))
    async with make_client(backend, retry=RetryPolicy(max_attempts=2)) as http:
        with pytest.raises(BackendUnavailableError) as caught:
            await http.get_json("/runs")
        assert http.stats.requests == 2
    assert "gave up after 2 attempts" in caught.value.message
    assert caught.value.status == 503


@pytest.mark.anyio
async def test_backoff_stops_when_the_budget_is_used_up():
    time = FakeTime()
    retry = RetryPolicy(max_attempts=10, backoff_base=1.0, budget=2.5)
    async with make_client(Backend(httpx.Response(503)), time, retry=retry, rng=MaxRandom()) as h:
        with pytest.raises(BackendUnavailableError) as caught:
            await h.get_json("/runs")
    assert time.sleeps == [1.0]  # the next wait (2 s) would not fit in the 1.5 s left
    assert "budget" in caught.value.message


@pytest.mark.anyio
async def test_attempt_timeouts_are_cut_to_the_remaining_budget():
    time = FakeTime()
    backend = Backend(httpx.Response(503, headers={"Retry-After": "10"}), ok())
    retry = RetryPolicy(budget=25.0)
    async with make_client(backend, time, rng=MaxRandom(), retry=retry) as http:
        await http.get_json("/runs")
    first, second = (r.extensions["timeout"] for r in backend.requests)
    assert first["read"] == 20.0
    assert second["read"] == pytest.approx(25.0 - 11.0)


@pytest.mark.anyio
async def test_timeouts_are_retried_for_get_then_become_unavailable():
    backend = Backend(httpx.ReadTimeout("timed out"))
    async with make_client(backend, timeouts=Timeouts(read=20.0)) as http:
        with pytest.raises(BackendUnavailableError) as caught:
            await http.get_json("/runs")
        assert http.stats.requests == 4
    assert caught.value.message.startswith("timed out after 20 s")
    assert caught.value.status is None


@pytest.mark.anyio
async def test_timeout_on_post_is_not_retried():
    backend = Backend(httpx.ReadTimeout("timed out"))
    async with make_client(backend) as http:
        with pytest.raises(BackendUnavailableError):
            await http.request("POST", "/runs", json={})
        assert http.stats.requests == 1


@pytest.mark.anyio
async def test_connect_error_is_retried_even_for_post_because_nothing_was_sent():
    backend = Backend(httpx.ConnectError("refused"), ok())
    async with make_client(backend) as http:
        await http.request("POST", "/runs", json={})
        assert http.stats.requests == 2


@pytest.mark.anyio
async def test_connection_failure_becomes_unavailable_with_a_scrubbed_message():
    backend = Backend(httpx.ConnectError(f"cannot reach proxy with {TOKEN}"))
    async with make_client(backend) as http:
        with pytest.raises(BackendUnavailableError) as caught:
            await http.get_json("/runs")
    assert caught.value.message.startswith("could not connect: cannot reach proxy with ***")
    assert TOKEN not in caught.value.for_model()


# --------------------------------------------------------------------------- error mapping


@pytest.mark.anyio
async def test_401_error_names_backend_and_status_but_never_the_token():
    body = {"message": f"token {TOKEN} is not valid", "code": "UNAUTHENTICATED", "error": True}
    backend = Backend(httpx.Response(401, json=body))
    async with make_client(backend) as http:
        with pytest.raises(BackendAuthError) as caught:
            await http.get_json("/me")
    text = caught.value.for_model()
    assert TOKEN not in text
    assert f"Bearer {TOKEN}" not in text
    assert "tallyfy" in text
    assert "401" in text
    assert "token" in (caught.value.hint or "")
    assert caught.value.vendor_message == "token *** is not valid"


@pytest.mark.anyio
async def test_auth_hint_from_config_is_used():
    backend = Backend(httpx.Response(401, text="Unauthorized."))
    hint = "Set TALLYFY_TOKEN; the X-Tallyfy-Client header is sent for you."
    async with make_client(backend, auth_hint=hint) as http:
        with pytest.raises(BackendAuthError) as caught:
            await http.get_json("/me")
    assert caught.value.hint == hint
    assert caught.value.vendor_message == "Unauthorized."


@pytest.mark.anyio
async def test_secrets_in_query_params_and_vendor_messages_are_scrubbed_from_errors():
    body = {"message": "bad key qk-55501 for account acct-secret-77"}
    backend = Backend(httpx.Response(400, json=body))
    async with make_client(backend, secrets=("acct-secret-77",)) as http:
        with pytest.raises(BackendRequestError) as caught:
            await http.get_json("/runs", params={"api_key": "qk-55501", "page": "1"})
    error = caught.value
    text = error.for_model()
    assert "qk-55501" not in text
    assert "acct-secret-77" not in text
    assert error.request is not None
    assert error.request.url == f"{BASE}/runs?api_key=***&page=1"
    assert error.vendor_message == "bad key *** for account ***"


@pytest.mark.anyio
async def test_html_403_is_an_auth_error_that_names_the_html_page():
    page = "<html><head><title>403 Forbidden</title></head><body><h1>nginx</h1></body></html>"
    backend = Backend(httpx.Response(403, text=page, headers={"Content-Type": "text/html"}))
    async with make_client(backend, backend="acme-crm") as http:
        with pytest.raises(BackendAuthError) as caught:
            await http.get_json("/api/v4/leads")
    assert caught.value.vendor_message == "HTML page: 403 Forbidden"
    assert "HTML page" in caught.value.message
    assert "[acme-crm]" in caught.value.for_model()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (404, BackendNotFoundError),
        (422, BackendRequestError),
        (500, BackendUnavailableError),
        (302, BackendResponseError),
    ],
)
async def test_statuses_map_to_typed_errors(status, error_type):
    backend = Backend(httpx.Response(status, headers={"Location": "https://h/login"}))
    async with make_client(backend) as http:
        with pytest.raises(error_type) as caught:
            await http.get_json("/runs/abc")
    assert caught.value.status == status
    assert caught.value.backend == "tallyfy"
    assert caught.value.hint


@pytest.mark.anyio
async def test_a_vendor_that_keeps_answering_429_is_waited_for_until_the_deadline():
    # Waiting is not failing: 429s do not use up the attempts, only the call's time.
    time = FakeTime(start=0.0)
    backend = Backend(httpx.Response(429, headers={"Retry-After": "1"}))
    async with make_client(backend, time) as http:
        with pytest.raises(BackendRateLimitedError) as caught:
            await http.get_json("/runs")
        assert http.stats.requests > 4
        assert http.stats.rate_limited == http.stats.requests
    assert sum(time.sleeps) <= 45.0  # no operation: the retry budget is the deadline
    assert caught.value.retry_after == 1.0
    assert "Wait 1 seconds" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "Run not found", "code": "RUN_NOT_FOUND", "error": True}, "Run not found"),
        ({"type": "t", "title": "Bad Request", "status": 400, "detail": "PageSize"}, "PageSize"),
        ({"title": "Not Found", "status": 404}, "Not Found"),
        ({"error": "invalid_client"}, "invalid_client"),
        ({"error": {"code": "SEAT", "message": "No seats left"}}, "No seats left"),
        ({"_data": None, "_meta": {}, "_errors": ["bad where"]}, "bad where"),
        ({"errors": {"per_page": ["too big"]}}, "per_page: too big"),
        ({"errors": [{"message": "first"}, {"message": "second"}]}, "first"),
        (
            {"message": "The given data was invalid.", "errors": {"status": ["unknown"]}},
            "The given data was invalid. (status: unknown)",
        ),
        (
            {
                "detail": "Request validation failed",
                "validation-errors": [{"errors": [{"path": "limit", "detail": "max 250"}]}],
            },
            "Request validation failed (limit: max 250)",
        ),
    ],
)
def test_default_error_message_reads_each_vendor_shape(body, expected):
    assert default_error_message(httpx.Response(400, json=body)) == expected


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(401, text="Unauthorized."), "Unauthorized."),
        (httpx.Response(502, text=""), None),
        (httpx.Response(403, text="<!DOCTYPE html><html><body>no</body></html>"), "HTML page"),
        (
            httpx.Response(403, text="<HTML><TITLE>\n Access &amp; Denied </TITLE></HTML>"),
            "HTML page: Access & Denied",
        ),
    ],
)
def test_default_error_message_handles_text_and_html_bodies(response, expected):
    assert default_error_message(response) == expected


def test_default_error_message_is_whole_so_the_client_scrubs_before_it_cuts():
    # The client cuts to 300 characters after scrubbing (tests/test_secret_canary.py).
    message = default_error_message(httpx.Response(500, json={"message": "x" * 1000}))
    assert message == "x" * 1000


# --------------------------------------------------------------------------- logging


@pytest.mark.anyio
async def test_debug_log_line_has_the_format_and_no_secret(caplog):
    caplog.set_level(logging.DEBUG, logger="process_mcp.http")
    backend = Backend(ok())
    async with make_client(backend) as http:
        await http.get_json("/runs", params={"access_token": TOKEN, "page": "1"})
    lines = [r.getMessage() for r in caplog.records if r.name == "process_mcp.http"]
    assert lines == [f"GET {BASE}/runs?access_token=***&page=1 -> 200 in 0 ms (attempt 1)"]
    assert TOKEN not in caplog.text


@pytest.mark.anyio
async def test_each_retry_is_logged_as_a_warning_with_reason_and_wait(caplog):
    caplog.set_level(logging.DEBUG, logger="process_mcp.http")
    backend = Backend(httpx.Response(503), ok())
    async with make_client(backend, rng=MaxRandom()) as http:
        await http.get_json("/runs")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"GET {BASE}/runs: HTTP 503; retrying in 0.50 s (attempt 1 of 4)"]
    assert TOKEN not in caplog.text


# --------------------------------------------------------------------------- rate limiting


@pytest.mark.anyio
async def test_rate_limit_spaces_request_starts_to_the_vendor_window():
    time = FakeTime(start=0.0)
    backend = Backend(ok(), time=time)
    async with make_client(backend, time, rate_limit=RateLimit(2, 1.0)) as http:
        for _ in range(5):
            await http.get_json("/runs")
        assert http.stats.throttled_seconds == pytest.approx(2.0)
    assert backend.sent_at == [0.0, 0.0, 1.0, 1.0, 2.0]


@pytest.mark.anyio
async def test_every_published_window_holds_a_minute_one_and_an_hour_one():
    time = FakeTime(start=0.0)
    backend = Backend(ok(), time=time)
    limit = RateLimit(2, 1.0, also=(RateLimit(3, 10.0),))
    async with make_client(backend, time, rate_limit=limit) as http:
        for _ in range(5):
            await http.get_json("/runs")
    assert backend.sent_at == [0.0, 0.0, 1.0, 10.0, 10.0]


def test_tallyfy_declares_both_of_its_published_windows():
    from tools.backends.tallyfy.adapter import TallyfyBackend

    limit = TallyfyBackend.default_rate_limit
    assert limit is not None
    assert limit.windows == ((1000, 3600.0), (100, 60.0))


@pytest.mark.anyio
async def test_rate_limiter_is_acquired_before_every_attempt_including_retries():
    time = FakeTime(start=0.0)
    backend = Backend(httpx.Response(503), ok(), time=time)
    retry = RetryPolicy(budget=100.0)
    async with make_client(backend, time, rate_limit=RateLimit(1, 10.0), retry=retry) as http:
        await http.get_json("/runs")
    assert len(backend.sent_at) == 2
    assert backend.sent_at[1] - backend.sent_at[0] >= 10.0


@pytest.mark.anyio
async def test_max_concurrency_caps_requests_in_flight():
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await checkpoint()
        in_flight -= 1
        return ok()

    limit = RateLimit(max_requests=1000, per_seconds=1.0, max_concurrency=2)
    async with make_client(handler, rate_limit=limit) as http, anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(http.get_json, "/runs")
    assert peak == 2


async def simulate_arrivals(
    max_requests: int, window: float, requests: list[tuple[float, float, float]]
) -> list[tuple[float, float, float]]:
    """Each request is (when it is wanted, latency to the vendor, latency back); returns
    (start, arrival, completion) of each, paced by one limiter in virtual time."""
    time = VirtualTime()
    limiter = QuotaLimiter(max_requests, window, clock=time.clock, sleep=time.sleep)
    seen: list[tuple[float, float, float]] = []

    def job(wanted: float, there: float, back: float) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            await time.sleep(wanted)
            async with limiter.slot():
                start = time.clock()
                await time.sleep(there)
                arrival = time.clock()
                await time.sleep(back)
            seen.append((start, arrival, time.clock()))

        return run

    await time.run(*(job(*r) for r in requests))
    return seen


latencies = st.floats(min_value=0.0, max_value=2.0)


@settings(max_examples=150, deadline=None)
@given(
    max_requests=st.integers(min_value=1, max_value=6),
    window=st.floats(min_value=0.05, max_value=10.0),
    requests=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=3.0), latencies, latencies),
        min_size=1,
        max_size=30,
    ),
)
def test_limiter_never_lets_more_than_n_arrivals_into_any_window_whatever_the_latency(
    max_requests, window, requests
):
    wanted = list(itertools.accumulate(r[0] for r in requests))
    paced = [(w, there, back) for w, (_, there, back) in zip(wanted, requests, strict=True)]
    seen = anyio.run(simulate_arrivals, max_requests, window, paced)

    assert len(seen) == len(requests)
    arrivals = sorted(arrival for _, arrival, _ in seen)
    assert busiest_window(arrivals, window) <= max_requests
    for start, arrival, done in seen:
        assert start <= arrival <= done


@pytest.mark.anyio
async def test_limiter_paces_a_burst_by_completion_so_late_arrivals_still_fit():
    # Seven requests that take 0.3 s to arrive, then an eighth that arrives at once: paced
    # by starts, the eighth would go at t=1.0 and land 0.7 s after the seventh arrivals.
    time = VirtualTime()
    limiter = QuotaLimiter(7, 1.0, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    def job(latency: float) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            async with limiter.slot():
                starts.append(time.clock())
                await time.sleep(latency)

        return run

    await time.run(*(job(0.3) for _ in range(7)), job(0.0))
    assert sorted(starts) == pytest.approx([0.0] * 7 + [1.3])


@pytest.mark.anyio
async def test_limiter_lets_a_full_window_through_without_waiting():
    time = FakeTime(start=0.0)
    limiter = QuotaLimiter(7, 1.0, clock=time.clock, sleep=time.sleep)
    waits = []
    for _ in range(8):
        async with limiter.slot() as waited:
            waits.append(waited)
    assert waits == [0.0] * 7 + [1.0]
    assert time.sleeps == [1.0]


@pytest.mark.anyio
async def test_a_cancelled_request_still_frees_its_slot_one_window_later():
    time = VirtualTime()
    limiter = QuotaLimiter(1, 1.0, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    async def abandoned() -> None:
        async def request() -> None:
            async with limiter.slot():
                await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(request)
            await time.sleep(0.2)  # cancelled in flight, before any response came
            tg.cancel_scope.cancel()

    async def next_one() -> None:
        await time.sleep(0.1)  # while the first is in flight: it waits for the cancel
        async with limiter.slot():
            starts.append(time.clock())

    await time.run(abandoned, next_one)
    assert starts == [pytest.approx(1.2)]
