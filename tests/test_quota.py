"""One quota per instance: every tool of one instance (get, list, export, discovery) shares
one pacing, measured where the vendor counts, at the simulator's arrival timestamps.

Client, limiter and simulator share virtual time (tests/sim/virtual_time.py), so seconds of
jittered latency and quota windows pass in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.sim.virtual_time import VirtualTime
from tools.backends.kommo import sandbox as kommo_sandbox
from tools.backends.kommo.adapter import KommoBackend
from tools.backends.kommo.data import generate
from tools.backends.kommo.simulator import create_app
from tools.backends.registry import create_backend
from tools.backends.tallyfy import sandbox as tallyfy_sandbox
from tools.backends.tallyfy.data import generate as tallyfy_generate
from tools.backends.tallyfy.simulator import create_app as tallyfy_app
from tools.export_process import export_process
from tools.get_process import get_process
from tools.instances import Instances
from tools.operation import operation
from tools.sim import RateLimit


@pytest.mark.anyio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_kommo_export_right_after_get_calls_never_has_8_arrivals_in_1_s(
    tmp_path: Path, seed: int
) -> None:
    time = VirtualTime()
    data = generate(seed=3, leads=1500, contacts=20, companies=10, customers=5)
    vendor = create_app(
        data, token=kommo_sandbox.TOKEN, rate_limit=RateLimit(7, 1.0), clock=time.clock
    )
    # Network latency of 20-320 ms: a request sent later can arrive earlier.
    vendor.sleep, vendor.latency, vendor.latency_jitter = time.sleep, 0.02, 0.3
    vendor.rng.seed(seed)
    # Kommo's own published limit, as the adapter declares it (no override in settings).
    settings = kommo_sandbox.settings("http://kommo.test")
    backend = create_backend(
        settings,
        transport=httpx.ASGITransport(app=vendor),
        clock=time.clock,
        sleep=time.sleep,
    )
    assert isinstance(backend, KommoBackend)
    instances = Instances([backend])
    ids = [str(lead["id"]) for lead in data.leads[:3]]

    async def session() -> None:
        with operation(None, clock=time.clock):
            for lead_id in ids:
                await get_process(instances, {"backend": settings.name, "id": lead_id})
            result = await export_process(
                instances,
                {"backend": settings.name, "format": "jsonl"},
                directory=tmp_path,
            )
        assert result.rows == len(data.leads)

    await time.run(session)
    await instances.aclose()

    assert len(vendor.arrivals) > 14  # the burst runs over several windows
    assert vendor.rate_limited == 0
    assert vendor.busiest_window(1.0) <= 7


@pytest.mark.anyio
async def test_tallyfy_gets_then_export_keep_to_the_organizations_window(tmp_path: Path) -> None:
    """The same burst at Tallyfy, with the window shrunk to 5 a minute (as an instance's
    `rate_limit_per_minute` does) so that a few requests span several windows."""
    time = VirtualTime()
    data = tallyfy_generate(seed=4, runs=160)
    vendor = tallyfy_app(
        data, token=tallyfy_sandbox.TOKEN, rate_limit=RateLimit(5, 60.0), clock=time.clock
    )
    vendor.sleep, vendor.latency, vendor.latency_jitter = time.sleep, 0.05, 2.0
    settings = tallyfy_sandbox.settings("http://tallyfy.test", data.org_id, rate_limit_per_minute=5)
    backend = create_backend(
        settings, transport=httpx.ASGITransport(app=vendor), clock=time.clock, sleep=time.sleep
    )
    instances = Instances([backend])

    async def session() -> None:
        # One operation that may wait as long as it takes (as an export may).
        with operation(None, clock=time.clock):
            for run in data.runs[:8]:
                await get_process(instances, {"backend": settings.name, "id": run["id"]})
            result = await export_process(
                instances, {"backend": settings.name, "format": "csv"}, directory=tmp_path
            )
        assert result.rows == len(data.runs)

    await time.run(session)
    await instances.aclose()

    assert len(vendor.arrivals) > 10
    assert vendor.rate_limited == 0
    assert vendor.busiest_window(60.0) <= 5
