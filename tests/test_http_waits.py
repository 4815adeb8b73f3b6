"""Waiting is not failing, and what is safe to retry is retried (issue 13, items 1 and 2).

Quota waits (our limiter's window, a 429's Retry-After) count against the operation's
deadline, never against a request's timeout or retry budget; reads are retried on 500s,
resets, timeouts and 2xx bodies that do not parse; the retries that cost time are the
answer's notes. Faked at the transport (httpx.MockTransport) and the clock; nothing sleeps.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from tests.sim.virtual_time import FakeTime, VirtualTime
from tests.test_http import Backend, MaxRandom, make_client, ok
from tools.errors import BackendResponseError, BackendUnavailableError, QuotaWaitError
from tools.http import RateLimit, RetryPolicy
from tools.limiter import Quotas
from tools.operation import operation
from tools.progress import Progress, reporting

pytestmark = pytest.mark.anyio

RUNS = {"data": [{"id": 1}]}
CUT = b'{"data": [{"id": 1}, {"na'  # a 200 whose body was cut off on the way


# --------------------------------------------------------------------------- waits


async def test_a_limiter_wait_leaves_the_request_its_whole_timeout():
    # Issue 13: the wait for our own window was taken out of the budget, and the request
    # then went out with 0.05 s left ("timed out after 0.05 s").
    time = FakeTime(start=0.0)
    backend = Backend(ok(RUNS), time=time)
    with operation(None, clock=time.clock):
        async with make_client(backend, time, rate_limit=RateLimit(1, 60.0)) as http:
            await http.get_json("/runs")
            await http.get_json("/runs")  # waits 60 s for the window first
    assert backend.sent_at == [0.0, 60.0]
    second = backend.requests[1].extensions["timeout"]
    assert second["read"] == 20.0


async def test_retry_after_waits_do_not_use_up_the_retry_budget_or_the_attempts():
    time = FakeTime(start=0.0)
    limited = httpx.Response(429, headers={"Retry-After": "30"})
    backend = Backend(limited, limited, limited, limited, limited, ok(RUNS), time=time)
    with operation(600.0, clock=time.clock):
        async with make_client(backend, time) as http:
            assert await http.get_json("/runs") == RUNS
            assert http.stats.rate_limited == 5
    # 150 s of waiting, far past the 45 s retry budget and the four attempts: still fine.
    assert sum(time.sleeps) >= 150.0
    assert backend.requests[-1].extensions["timeout"]["read"] == 20.0


async def test_a_wait_that_would_pass_the_deadline_is_not_started_and_says_when():
    time = FakeTime(start=0.0)
    backend = Backend(ok(RUNS), time=time)
    with operation(25.0, clock=time.clock):
        async with make_client(backend, time, rate_limit=RateLimit(2, 60.0)) as http:
            await http.get_json("/runs")
            await http.get_json("/runs")
            with pytest.raises(QuotaWaitError) as caught:
                await http.get_json("/runs")
    assert time.sleeps == []  # refused at once, not after waiting 25 s
    assert caught.value.ready_in == pytest.approx(60.0)
    assert caught.value.quota == "tallyfy allows 2 requests/min"
    assert "Wait 60 seconds" in (caught.value.hint or "")


async def test_a_429_holds_every_request_of_the_account_not_only_its_own():
    time = VirtualTime()
    sent: list[tuple[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, time.clock()))
        if request.url.path.endswith("/a") and len(sent) == 1:
            return httpx.Response(429, headers={"Retry-After": "10"})
        return ok(RUNS)

    quotas = Quotas(clock=time.clock, sleep=time.sleep)
    http = make_client(
        handler, time, rate_limit=RateLimit(100, 60.0), quotas=quotas, rng=random.Random(1)
    )

    async def first() -> None:
        await http.get_json("/a")

    async def second() -> None:
        await time.sleep(1.0)  # after the 429: the account is held, so this waits too
        await http.get_json("/b")

    with operation(None, clock=time.clock):
        await time.run(first, second)
    await http.aclose()
    after_hold = [at for path, at in sent[1:]]
    assert all(at >= 10.0 for at in after_hold), sent


async def test_a_429_without_retry_after_backs_off_up_to_one_window_of_the_quota():
    time = FakeTime(start=0.0)
    backend = Backend(*[httpx.Response(429)] * 8, ok(RUNS), time=time)
    with operation(None, clock=time.clock):
        async with make_client(
            backend, time, rate_limit=RateLimit(100, 60.0), rng=MaxRandom()
        ) as http:
            await http.get_json("/runs")
    waits = [b - a for a, b in zip(backend.sent_at, backend.sent_at[1:], strict=False)]
    assert waits == pytest.approx([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0])


async def test_quota_waits_show_in_progress_and_in_the_notes():
    time = FakeTime(start=0.0)
    messages: list[str] = []

    async def sink(done: float, total: float | None, message: str) -> None:
        messages.append(message)

    progress = Progress(sink, clock=time.clock)
    backend = Backend(ok(RUNS), time=time)
    with operation(None, clock=time.clock) as op, reporting(progress):
        async with make_client(backend, time, rate_limit=RateLimit(1, 41.0)) as http:
            await http.get_json("/runs")
            await http.get_json("/runs")
    assert "waiting 41 s for tallyfy's quota" in messages
    assert op.notes() == ["tallyfy: waited 41 s for the quota (tallyfy allows 1 request per 41 s)"]


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"message": "Server Error"}),
        httpx.Response(200, content=CUT, headers={"content-type": "application/json"}),
        httpx.RemoteProtocolError("peer closed connection without sending complete body"),
        httpx.ReadError("connection reset by peer"),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["500", "truncated-200", "reset-mid-body", "reset", "timeout"],
)
async def test_a_read_is_retried_after_a_failure_safe_to_repeat(failure: Any):
    time = FakeTime()
    backend = Backend(failure, ok(RUNS))
    async with make_client(backend, time) as http:
        assert await http.get_json("/runs") == RUNS
        assert http.stats.requests == 2


async def test_chakras_list_post_is_a_read_and_is_retried_on_a_cut_off_body():
    backend = Backend(httpx.Response(200, content=CUT), httpx.Response(500), ok(RUNS))
    async with make_client(backend) as http:
        assert await http.post_json("/list", json={}, idempotent=True) == RUNS
        assert http.stats.requests == 3


async def test_a_plain_post_is_not_repeated_after_a_cut_off_body_or_a_500():
    for failure in (httpx.Response(200, content=CUT), httpx.Response(500)):
        async with make_client(Backend(failure, ok(RUNS))) as http:
            with pytest.raises((BackendResponseError, BackendUnavailableError)):
                await http.post_json("/runs", json={})
            assert http.stats.requests == 1


async def test_a_body_that_never_parses_ends_as_the_malformed_json_error():
    async with make_client(Backend(httpx.Response(200, content=CUT))) as http:
        with pytest.raises(BackendResponseError) as caught:
            await http.get_json("/runs")
        assert http.stats.requests == 4
    assert "malformed JSON" in caught.value.message


async def test_the_retries_that_cost_time_are_the_operations_notes():
    time = FakeTime()
    backend = Backend(httpx.Response(500), httpx.Response(200, content=CUT), ok(RUNS))
    with operation(None, clock=time.clock) as op:
        async with make_client(backend, time, rng=MaxRandom()) as http:
            await http.get_json("/runs")
    assert op.notes() == [
        "tallyfy: 2 reads retried (HTTP 500, a body that does not parse), costing 1.5 s; "
        "the answer is complete"
    ]


async def test_the_retry_budget_counts_failures_only():
    # Two 20 s timeouts and their backoff fit the 45 s budget, and a third try follows.
    time = FakeTime(start=0.0)

    def handler(request: httpx.Request) -> httpx.Response:
        time.now += 20.0  # the network took the whole read timeout
        if len(backend.requests) < 3:
            raise httpx.ReadTimeout("timed out", request=request)
        return ok(RUNS)

    backend = Backend(ok(RUNS))

    def recorded(request: httpx.Request) -> httpx.Response:
        backend.requests.append(request)
        return handler(request)

    async with make_client(recorded, time, retry=RetryPolicy(backoff_cap=1.0)) as http:
        assert await http.get_json("/runs") == RUNS
    assert len(backend.requests) == 3
