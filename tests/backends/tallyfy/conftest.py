from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tools.backends.registry import create_backend
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.adapter import TallyfyBackend
from tools.backends.tallyfy.data import TallyfyData, generate
from tools.backends.tallyfy.simulator import create_app
from tools.sim import SimulatorCore

BASE = "http://tallyfy.test"
UNTHROTTLED = 1_000_000


@pytest.fixture(scope="session")
def data() -> TallyfyData:
    return generate(seed=11, runs=160)


@pytest.fixture
def sim(data: TallyfyData) -> SimulatorCore:
    return create_app(data, token=sandbox.TOKEN, strict=True, rate_limit=None)


def make_backend(
    sim: SimulatorCore, data: TallyfyData, *, token: str | None = None, **options: Any
) -> TallyfyBackend:
    settings = sandbox.settings(BASE, data.org_id, rate_limit_per_minute=UNTHROTTLED)
    if token is not None:
        settings = settings.model_copy(update={"token": SecretStr(token)})
    backend = create_backend(settings, transport=httpx.ASGITransport(app=sim), **options)
    assert isinstance(backend, TallyfyBackend)
    return backend


@pytest.fixture
async def backend(sim: SimulatorCore, data: TallyfyData) -> AsyncIterator[TallyfyBackend]:
    b = make_backend(sim, data)
    yield b
    await b.aclose()
