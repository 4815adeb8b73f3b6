from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tools.backends.registry import create_backend
from tools.backends.yuuvis import sandbox
from tools.backends.yuuvis.adapter import YuuvisBackend
from tools.backends.yuuvis.data import YuuvisData, generate
from tools.backends.yuuvis.simulator import create_app
from tools.sim import SimulatorCore

BASE = "http://yuuvis.test"
LIST_PATH = "/bpm-engine/api/processes"
UNTHROTTLED = 1_000_000
SEED, INSTANCES = 11, 200


@pytest.fixture(scope="session")
def data() -> YuuvisData:
    return generate(seed=SEED, instances=INSTANCES)


@pytest.fixture
def sim(data: YuuvisData) -> SimulatorCore:
    return create_app(data, strict=True)


def ordinary(data: YuuvisData) -> dict[str, Any]:
    """The busy ordinary (non-admin) user of the generated data."""
    return data.users[1]


def make_backend(
    sim: SimulatorCore,
    data: YuuvisData,
    *,
    username: str | None = None,
    update: dict[str, Any] | None = None,
    **options: Any,
) -> YuuvisBackend:
    """The admin by bearer token, or `username` by Basic auth; `update` changes settings."""
    settings = sandbox.settings(BASE, data, rate_limit_per_minute=UNTHROTTLED, username=username)
    if update:
        settings = settings.model_copy(update=update)
    backend = create_backend(settings, transport=httpx.ASGITransport(app=sim), **options)
    assert isinstance(backend, YuuvisBackend)
    return backend


@pytest.fixture
async def backend(sim: SimulatorCore, data: YuuvisData) -> AsyncIterator[YuuvisBackend]:
    b = make_backend(sim, data)
    yield b
    await b.aclose()


@pytest.fixture
async def user_backend(sim: SimulatorCore, data: YuuvisData) -> AsyncIterator[YuuvisBackend]:
    """An ordinary user signed in with Basic auth, its user id configured."""
    b = make_backend(sim, data, username=ordinary(data)["username"])
    yield b
    await b.aclose()
