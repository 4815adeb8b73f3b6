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


def company_only_leads(data: KommoData) -> list[tuple[int, str]]:
    """(id, company) of leads whose company is only in their Company text field."""
    out = []
    for lead in data.leads:
        for cf in lead["custom_fields_values"] or ():
            company = cf["values"][0]["value"]
            if cf["field_name"] == "Company" and company.casefold() not in lead["name"].casefold():
                out.append((lead["id"], company))
    return out


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
