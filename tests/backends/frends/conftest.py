from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tools.backends.frends import sandbox
from tools.backends.frends.adapter import FrendsBackend
from tools.backends.frends.data import FrendsData, generate
from tools.backends.frends.simulator import create_app
from tools.backends.registry import create_backend
from tools.sim import SimulatorCore

BASE = "http://frends.test"
UNTHROTTLED = 1_000_000


@pytest.fixture(scope="session")
def data() -> FrendsData:
    return generate(seed=11, processes=160, instances=500)


@pytest.fixture
def sim(data: FrendsData) -> SimulatorCore:
    return create_app(data, token=sandbox.TOKEN, strict=True)


def make_backend(sim: SimulatorCore, *, token: str | None = None, **changes: Any) -> FrendsBackend:
    """A backend over the simulator through the real client stack (registry, http, redaction).
    `changes` update the settings (agent_group, process_name_match, ...)."""
    settings = sandbox.settings(BASE, rate_limit_per_minute=UNTHROTTLED)
    if token is not None:
        changes["token"] = SecretStr(token)
    options = {k: changes.pop(k) for k in ("sleep", "clock") if k in changes}
    settings = settings.model_copy(update=changes)
    backend = create_backend(settings, transport=httpx.ASGITransport(app=sim), **options)
    assert isinstance(backend, FrendsBackend)
    return backend


@pytest.fixture
async def backend(sim: SimulatorCore) -> AsyncIterator[FrendsBackend]:
    b = make_backend(sim)
    yield b
    await b.aclose()
