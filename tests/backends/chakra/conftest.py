from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tools.backends.chakra import sandbox
from tools.backends.chakra.adapter import ChakraBackend
from tools.backends.chakra.data import ChakraData, generate
from tools.backends.chakra.simulator import create_app
from tools.backends.registry import create_backend
from tools.sim import SimulatorCore

BASE = "http://chakra.test"
UNTHROTTLED = 1_000_000


@pytest.fixture(scope="session")
def data() -> ChakraData:
    return generate(seed=11, leads=130, tickets=70, visits=50)


@pytest.fixture
def sim(data: ChakraData) -> SimulatorCore:
    return create_app(data, token=sandbox.TOKEN, strict=True)


def make_backend(
    sim: SimulatorCore,
    *,
    token: str | None = None,
    settings: dict[str, Any] | None = None,
    **options: Any,
) -> ChakraBackend:
    """An instance talking to `sim` in memory; `settings` overrides ChakraSettings keys."""
    base = sandbox.settings(BASE, rate_limit_per_minute=UNTHROTTLED)
    update: dict[str, Any] = dict(settings or {})
    if token is not None:
        update["token"] = SecretStr(token)
    backend = create_backend(
        base.model_copy(update=update), transport=httpx.ASGITransport(app=sim), **options
    )
    assert isinstance(backend, ChakraBackend)
    return backend


@pytest.fixture
async def backend(sim: SimulatorCore) -> AsyncIterator[ChakraBackend]:
    b = make_backend(sim)
    await b.discover()
    yield b
    await b.aclose()
