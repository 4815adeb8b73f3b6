from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tools.backends.kommo import sandbox
from tools.backends.kommo.adapter import KommoBackend
from tools.backends.kommo.data import KommoData, generate
from tools.backends.kommo.simulator import KommoCore, create_app
from tools.backends.registry import create_backend

BASE = "http://kommo.test"
UNTHROTTLED = 1_000_000


def small_data() -> KommoData:
    return generate(seed=11, leads=160, contacts=100, companies=40, customers=40)


@pytest.fixture(scope="session")
def data() -> KommoData:
    return small_data()


def make_sim(data: KommoData, **options: Any) -> KommoCore:
    options.setdefault("rate_limit", None)
    return create_app(data, token=sandbox.TOKEN, **options)


@pytest.fixture
def sim(data: KommoData) -> KommoCore:
    return make_sim(data)


def make_backend(sim: KommoCore, *, token: str | None = None, **options: Any) -> KommoBackend:
    settings = sandbox.settings(BASE, rate_limit_per_minute=UNTHROTTLED)
    if token is not None:
        settings = settings.model_copy(update={"token": SecretStr(token)})
    backend = create_backend(settings, transport=httpx.ASGITransport(app=sim), **options)
    assert isinstance(backend, KommoBackend)
    return backend


@pytest.fixture
async def backend(sim: KommoCore) -> AsyncIterator[KommoBackend]:
    b = make_backend(sim)
    yield b
    await b.aclose()
