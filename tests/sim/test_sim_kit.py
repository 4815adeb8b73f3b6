"""The shared simulator kit: faults, recording, latency, rate limits, the loopback server."""

from __future__ import annotations

import json
import random
import signal
import time
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.virtual_time import FakeClock
from tools.sim import (
    Fault,
    FaultPlan,
    RateLimit,
    SimServer,
    SimServerGroup,
    SimulatorCore,
    busiest_window,
    fake,
)


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"path": request.url.path, "body": body.decode()})


def vendor_error(status: int, message: str) -> tuple[bytes, str]:
    return json.dumps({"err": message, "status": status}).encode(), "application/vnd.test+json"


def make_core(**kwargs: object) -> SimulatorCore:
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    return SimulatorCore(app, error_body=vendor_error, **kwargs)  # type: ignore[arg-type]


def client(core: SimulatorCore) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=core), base_url="http://sim.test")


# -- FaultPlan counters ----------------------------------------------------------------


def test_fault_lets_after_requests_through_then_fires_times_then_is_spent() -> None:
    plan = FaultPlan()
    fault = plan.add(Fault("status", after=2, times=2))
    assert [plan.take("/x") for _ in range(5)] == [None, None, fault, fault, None]
    assert plan.pending == []


def test_fault_with_times_none_fires_forever() -> None:
    plan = FaultPlan()
    fault = plan.add(Fault("html", times=None))
    assert all(plan.take("/x") is fault for _ in range(50))
    assert plan.pending == [fault]


def test_fault_path_regex_only_counts_and_fires_on_matching_paths() -> None:
    plan = FaultPlan()
    fault = plan.add(Fault("status", path=r"/runs$", after=1))
    assert plan.take("/runs/abc") is None  # not matching: does not use up `after`
    assert plan.take("/org/runs") is None  # the one let through
    assert plan.take("/users") is None
    assert plan.take("/org/runs") is fault


def test_later_fault_fires_while_an_earlier_one_is_still_counting_down() -> None:
    plan = FaultPlan()
    plan.add(Fault("status", after=3))
    second = plan.add(Fault("html"))
    assert plan.take("/x") is second


def test_clear_disarms_every_fault() -> None:
    plan = FaultPlan()
    plan.add(Fault("status", times=None))
    plan.clear()
    assert plan.take("/x") is None


# -- each fault kind on the wire -------------------------------------------------------


@pytest.mark.anyio
async def test_status_fault_sends_vendor_error_body_and_whole_second_retry_after() -> None:
    core = make_core()
    core.faults.add(Fault("status", status=503, retry_after=3.0))
    async with client(core) as c:
        r = await c.get("/runs")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "3"
    assert r.headers["content-type"] == "application/vnd.test+json"
    assert r.json() == {"err": "Service Unavailable", "status": 503}


@pytest.mark.anyio
async def test_status_fault_body_override_is_sent_verbatim() -> None:
    core = make_core()
    core.faults.add(Fault("status", status=502, body='{"oops": true}', retry_after=1.5))
    async with client(core) as c:
        r = await c.get("/runs")
    assert (r.status_code, r.text, r.headers["retry-after"]) == (502, '{"oops": true}', "1.5")


@pytest.mark.anyio
async def test_html_fault_sends_an_nginx_page_as_text_html() -> None:
    core = make_core()
    core.faults.add(Fault("html", status=502))
    async with client(core) as c:
        r = await c.get("/runs")
    assert r.status_code == 502
    assert r.headers["content-type"] == "text/html"
    assert "<center>nginx</center>" in r.text
    assert "502 Bad Gateway" in r.text


@pytest.mark.anyio
async def test_malformed_fault_sends_200_with_truncated_json() -> None:
    core = make_core()
    core.faults.add(Fault("malformed"))
    async with client(core) as c:
        r = await c.get("/runs")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()


@pytest.mark.anyio
async def test_timeout_fault_holds_the_request_for_delay_then_answers_504() -> None:
    sleep = FakeSleep()
    core = make_core(sleep=sleep)
    core.faults.add(Fault("timeout", delay=30.0))
    async with client(core) as c:
        r = await c.get("/runs")
    assert sleep.calls == [30.0]
    assert r.status_code == 504
    assert "Gateway Time-out" in r.text


@pytest.mark.anyio
async def test_latency_fault_waits_then_lets_the_request_reach_the_app() -> None:
    sleep = FakeSleep()
    core = make_core(sleep=sleep)
    core.faults.add(Fault("latency", delay=2.5))
    async with client(core) as c:
        r = await c.get("/runs")
    assert sleep.calls == [2.5]
    assert r.status_code == 200
    assert r.json()["path"] == "/runs"


@pytest.mark.anyio
async def test_base_latency_applies_to_every_request() -> None:
    sleep = FakeSleep()
    core = make_core(sleep=sleep, latency=0.02)
    async with client(core) as c:
        for _ in range(3):
            await c.get("/runs")
    assert sleep.calls == [0.02, 0.02, 0.02]


# -- recording -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_requests_are_recorded_in_wire_order_and_the_app_still_gets_the_body() -> None:
    core = make_core()
    async with client(core) as c:
        r = await c.post(
            "/runs?b=2&a=1&b=3&with=tasks%2Ctags",
            content=b"payload",
            headers={"X-Tallyfy-Client": "APIClient"},
        )
    assert r.json()["body"] == "payload"
    [seen] = core.requests
    assert (seen.method, seen.path, seen.body) == ("POST", "/runs", b"payload")
    assert seen.query == [("b", "2"), ("a", "1"), ("b", "3"), ("with", "tasks,tags")]
    assert seen.param("b") == "2"
    assert seen.headers["x-tallyfy-client"] == "APIClient"
    core.clear()
    assert core.requests == []


@pytest.mark.anyio
async def test_faulted_requests_are_recorded_too() -> None:
    core = make_core()
    core.faults.add(Fault("status", status=500))
    async with client(core) as c:
        await c.get("/a")
        await c.get("/b")
    assert [r.path for r in core.requests] == ["/a", "/b"]


@pytest.mark.anyio
async def test_request_id_header_is_added_to_app_and_fault_responses() -> None:
    core = make_core(request_id_header="X-Request-Id")
    core.faults.add(Fault("status"))
    async with client(core) as c:
        faulted, normal = await c.get("/a"), await c.get("/a")
    assert faulted.headers["x-request-id"]
    assert normal.headers["x-request-id"]
    assert faulted.headers["x-request-id"] != normal.headers["x-request-id"]


# -- rate limit ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sliding_window_rejects_with_retry_after_then_allows_once_the_window_moves() -> None:
    clock = FakeClock()
    core = make_core(rate_limit=RateLimit(3, 10.0), clock=clock, rate_limit_message="Slow down")
    async with client(core) as c:
        for offset in (0.0, 1.0, 2.0):
            clock.now = 1000.0 + offset
            assert (await c.get("/a")).status_code == 200
        clock.now = 1003.5
        blocked = await c.get("/a")
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == "7"  # the 1000.0 request leaves at 1010.0
        assert blocked.json() == {"err": "Slow down", "status": 429}
        clock.now = 1009.9
        assert (await c.get("/a")).status_code == 429  # rejected calls did not extend it
        clock.now = 1010.0
        assert (await c.get("/a")).status_code == 200
        assert (await c.get("/a")).status_code == 429  # 1001 and 1002 are still in the window


@pytest.mark.anyio
async def test_rate_limit_keeps_a_separate_window_per_key() -> None:
    clock = FakeClock()
    core = make_core(
        rate_limit=RateLimit(1, 60.0), clock=clock, rate_limit_key=lambda r: r.path.split("/")[1]
    )
    async with client(core) as c:
        assert (await c.get("/org1/runs")).status_code == 200
        assert (await c.get("/org2/runs")).status_code == 200
        assert (await c.get("/org1/runs")).status_code == 429


@pytest.mark.anyio
async def test_rate_limit_none_never_rejects_and_can_be_switched_on_later() -> None:
    clock = FakeClock()
    core = make_core(clock=clock)
    async with client(core) as c:
        assert all([(await c.get("/a")).status_code == 200 for _ in range(20)])
        core.rate_limit = RateLimit(1, 1.0)
        assert (await c.get("/a")).status_code == 200
        assert (await c.get("/a")).status_code == 429


@pytest.mark.anyio
async def test_arrivals_are_stamped_after_the_latency_where_the_vendor_counts_them() -> None:
    clock = FakeClock()
    sleep = FakeSleep()

    async def advancing(seconds: float) -> None:
        await sleep(seconds)
        clock.now += seconds

    core = make_core(rate_limit=RateLimit(1, 10.0), clock=clock, latency=0.5)
    core.sleep = advancing
    core.faults.add(Fault("status", status=503))  # refused by the proxy: never arrives
    async with client(core) as c:
        statuses = [(await c.get(path)).status_code for path in ("/a", "/b", "/c")]
    assert statuses == [503, 200, 429]
    assert [(a.at, a.path, a.limited) for a in core.arrivals] == [
        (1001.0, "/b", False),
        (1001.5, "/c", True),
    ]
    assert core.rate_limited == 1
    assert core.busiest_window(10.0) == 2
    core.clear()
    assert core.arrivals == []


@pytest.mark.anyio
async def test_arrivals_are_served_as_json_for_a_simulator_in_another_process() -> None:
    clock = FakeClock()
    core = make_core(rate_limit=RateLimit(1, 10.0), clock=clock)
    async with client(core) as c:
        await c.get("/a")
        clock.now += 1.5
        await c.get("/b")
        answer = await c.get("/__sim__/arrivals")
        again = await c.get("/__sim__/arrivals")
    assert answer.json() == {
        "clock": 1001.5,
        "arrivals": [
            {"at": 1000.0, "path": "/a", "limited": False},
            {"at": 1001.5, "path": "/b", "limited": True},
        ],
    }
    # Asking is neither a request the vendor saw nor one its quota counts.
    assert again.json() == answer.json()
    assert [r.path for r in core.requests] == ["/a", "/b"]


@pytest.mark.anyio
async def test_latency_jitter_adds_a_seeded_random_share_to_each_request() -> None:
    sleep = FakeSleep()
    core = make_core(latency=0.1, latency_jitter=0.2, seed=4)
    core.sleep = sleep
    async with client(core) as c:
        for _ in range(20):
            await c.get("/a")
    delays = sleep.calls
    assert all(0.1 <= d <= 0.3 for d in delays)
    assert len(set(delays)) == 20
    again = make_core(latency=0.1, latency_jitter=0.2, seed=4)
    assert [round(0.1 + again.rng.uniform(0.0, 0.2), 12) for _ in range(20)] == [
        round(d, 12) for d in delays
    ]


@pytest.mark.parametrize(
    ("times", "window", "expected"),
    [
        ([], 1.0, 0),
        ([0.0, 0.5, 0.99], 1.0, 3),
        ([0.0, 0.5, 1.0], 1.0, 2),  # the vendor's window: a hit 1.0 s old has left it
        ([0.3, 0.0, 1.2, 0.9, 1.25], 1.0, 4),
        ([1.0, 1.0 + 1 / 3], 1 / 3, 1),  # same float comparison as SlidingWindow.hit
    ],
)
def test_busiest_window_counts_what_the_vendor_window_would(times, window, expected) -> None:
    assert busiest_window(times, window) == expected


# -- the loopback server ---------------------------------------------------------------


def test_sim_server_serves_on_an_ephemeral_loopback_port_and_prints_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    core = make_core()
    before = signal.getsignal(signal.SIGINT)
    with SimServer(core) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port > 0
        r = httpx.get(f"{server.url}/hello")
        assert r.status_code == 200
        assert r.json()["path"] == "/hello"
        assert "server" not in r.headers
        assert signal.getsignal(signal.SIGINT) is before  # no handlers off the main thread
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/hello")
    out, _err = capfd.readouterr()
    assert out == ""


def test_timeout_fault_releases_the_request_once_the_client_gives_up(
    capfd: pytest.CaptureFixture[str],
) -> None:
    core = make_core()
    core.faults.add(Fault("timeout", delay=60.0))
    server = SimServer(core).start()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.url}/slow", timeout=0.2)
    started = time.monotonic()
    server.stop()
    # A request still held would keep stop() waiting for the 1 s shutdown grace.
    assert time.monotonic() - started < 0.9
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_sim_server_answers_keep_alive_requests_without_a_nagle_stall() -> None:
    # Without TCP_NODELAY each reused-connection response waits ~40 ms for a delayed ACK.
    with SimServer(make_core()) as server, httpx.Client(base_url=server.url) as c:
        c.get("/warm-up")
        started = time.monotonic()
        for _ in range(20):
            c.get("/again")
        assert time.monotonic() - started < 0.4


def test_sim_server_stops_with_an_idle_keep_alive_client_still_connected() -> None:
    # The graceful path (a client connected) closes the idle connection instead of waiting
    # for the client to close it; the quick path (none) is what serve --sandbox takes.
    server = SimServer(make_core()).start()
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/kept").status_code == 200
        server.stop()
        assert not server.running
        with pytest.raises(httpx.TransportError):
            client.get("/after")


def test_sim_server_reports_a_port_already_in_use() -> None:
    with SimServer(make_core()) as first, pytest.raises(OSError, match="in use"):
        SimServer(make_core(), port=first.port).start()


@pytest.mark.anyio
async def test_sim_server_group_starts_and_stops_several_servers_from_async_code(
    capfd: pytest.CaptureFixture[str],
) -> None:
    group = SimServerGroup({"one": make_core(), "two": make_core()})
    async with group:
        urls = group.urls
        assert len(set(urls.values())) == 2
        async with httpx.AsyncClient() as c:
            for url in urls.values():
                assert (await c.get(f"{url}/x")).status_code == 200
    assert not any(s.running for s in group.servers.values())
    assert capfd.readouterr().out == ""


# -- fake data -------------------------------------------------------------------------


def test_fake_helpers_are_deterministic_for_a_seed() -> None:
    def draw(seed: int) -> tuple[object, ...]:
        rng = random.Random(seed)
        p = fake.person(rng)
        return p, fake.company(rng), fake.email(p, "acme.test"), fake.hex_id(rng)

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_fake_offers_at_least_60_company_names_and_ascii_emails() -> None:
    rng = random.Random(1)
    assert len({fake.company(rng) for _ in range(2000)}) >= 60
    person = fake.Person("Zoë", "O'Brien-Müller")
    assert fake.email(person, "acme.test") == "zoe.obrien.muller@acme.test"
    assert fake.slug("Ørsted Straße") == "orsted.strasse"


def test_datetime_between_stays_in_the_span_with_whole_seconds() -> None:
    rng = random.Random(5)
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    for _ in range(200):
        moment = fake.datetime_between(rng, start, end)
        assert start <= moment <= end
        assert moment.microsecond == 0
