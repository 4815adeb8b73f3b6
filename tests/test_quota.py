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
from tools.export_process import export_process
from tools.get_process import get_process
from tools.instances import Instances
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
