"""The quota window of an instance outlives the connections that use it: the server
rebuilds its backend instances when a client connects after the last one left, and the
vendor's window is still as full as before. Waiting is not failing: a call the window
cannot serve within its budget answers with when it can, and no request is lost to a 429."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.sim.virtual_time import FakeTime
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData
from tools.backends.tallyfy.simulator import create_app
from tools.limiter import Quotas
from tools.sim import RateLimit


@pytest.mark.anyio
async def test_a_new_connection_waits_for_the_window_the_previous_one_filled(
    tallyfy_data: TallyfyData, tmp_path: Path
) -> None:
    time = FakeTime(start=0.0)
    vendor = create_app(
        tallyfy_data, token=sandbox.TOKEN, rate_limit=RateLimit(2, 60.0), clock=time.clock
    )
    inst = sandbox.settings("http://tallyfy.test", tallyfy_data.org_id, rate_limit_per_minute=2)
    server = build_server(
        Settings(instances=[inst], export_dir=tmp_path),
        transports={inst.name: httpx.ASGITransport(app=vendor)},
        quotas=Quotas(clock=time.clock, sleep=time.sleep),
        clock=time.clock,
    )
    query = {"backend": inst.name, "limit": 5, "detail": "ids"}
    answers = []
    for _ in range(2):  # two connections, one after the other
        async with Client(server) as client:
            answers.append(await client.call_tool("list_processes", query))
    time.now += 60.0  # the caller comes back when told
    async with Client(server) as client:
        answers.append(await client.call_tool("list_processes", query))

    assert [a.is_error for a in answers] == [False, False, False]
    first, second, third = (a.structured_content or {} for a in answers)
    assert first["count"] == third["count"] == 5
    # The second connection met the window the first one filled: no rows, and when.
    assert second["count"] == 0
    assert any("the next page can start in 60 s" in w for w in second["warnings"])
    assert vendor.rate_limited == 0
    # Each full answer reads runs and users; the second sent nothing.
    assert [a.at for a in vendor.arrivals] == pytest.approx([0.0, 0.0, 60.0, 60.0])
    assert vendor.busiest_window(60.0) == 2
