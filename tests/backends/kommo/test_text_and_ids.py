"""Kommo `text` means what Kommo's own `query` means, so no row Kommo found is dropped by
the local re-check; and ids are data, never paths. Through the adapter and through a real
MCP client over memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.kommo.conftest import BASE, company_only_leads
from tests.server.conftest import rows, text
from tools.backends.kommo import sandbox
from tools.backends.kommo.adapter import KommoBackend
from tools.backends.kommo.data import KommoData
from tools.backends.kommo.rows import Lookups, to_summary
from tools.backends.kommo.simulator import KommoCore
from tools.errors import InvalidArgumentError
from tools.paging import run_list
from tools.query import parse_query

pytestmark = pytest.mark.anyio
SORT = {"leads": "-created_at", "contacts": "-updated_at", "companies": "-updated_at"}
ORDER = {"leads": "order[created_at]=desc", "contacts": "order[updated_at]=desc"}
ORDER["companies"] = ORDER["contacts"]


async def kommo_found(sim: KommoCore, entity: str, needle: str) -> list[str]:
    """Ids Kommo's own `query` returns, in the order the adapter asks for."""
    out: list[str] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim),
        base_url=BASE,
        headers={"Authorization": f"Bearer {sandbox.TOKEN}"},
    ) as client:
        for page in range(1, 100):
            query = urlencode([("query", needle), ("limit", "250"), ("page", str(page))])
            r = await client.get(f"/api/v4/{entity}?{ORDER[entity]}&{query}")
            if r.status_code == 204:
                return out
            out += [str(row["id"]) for row in r.json()["_embedded"][entity]]
    raise AssertionError("Kommo's pages did not end")


async def listed(backend: KommoBackend, **args: Any) -> list[str]:
    page = await run_list([backend], parse_query({"backend": backend.name, **args}))
    assert not page.has_more
    return [r.id for r in page.processes]


def text_cases(data: KommoData) -> list[tuple[str, str]]:
    cases = [("leads", company) for _, company in company_only_leads(data)]
    cases += [("leads", "corp"), ("leads", "cmp-"), ("contacts", "+1 555")]
    cases += [("contacts", "ceo"), ("contacts", "mail.test"), ("companies", "main street")]
    return [*cases, ("companies", "https://"), ("companies", "+1 555")]


async def test_text_keeps_every_row_kommos_query_found(
    backend: KommoBackend, sim: KommoCore, data: KommoData
) -> None:
    for entity, needle in text_cases(data):
        kommo = await kommo_found(sim, entity, needle)
        assert kommo, (entity, needle)
        ours = await listed(backend, collection=entity, sort=SORT[entity], text=needle, limit=1000)
        assert ours == kommo, (entity, needle)


async def test_a_lead_is_found_by_the_company_only_its_custom_field_names(
    backend: KommoBackend, data: KommoData
) -> None:
    lead_id, company = company_only_leads(data)[0]
    assert str(lead_id) in await listed(backend, text=company.lower(), limit=1000)


def test_rows_of_every_entity_carry_their_text_like_custom_field_values() -> None:
    look = Lookups((), ())

    def cf(name: str, kind: str, *values: Any) -> dict[str, Any]:
        return {
            "field_id": hash(name) % 1000,
            "field_name": name,
            "field_type": kind,
            "values": [{"value": v} for v in values],
        }

    raw = {
        "id": 1,
        "name": "Rosa Chen inquiry",
        "custom_fields_values": [
            cf("Company", "text", "Globex Corp"),
            cf("Notes", "textarea", "met at the fair"),
            cf("Web", "url", "https://globex.test"),
            cf("Phone", "multitext", "+1 555 100", "+1 555 200"),
            cf("Source", "select", "Website"),
            cf("Seats", "numeric", "25"),
            cf("Signed", "checkbox", True),
        ],
    }
    for entity in ("leads", "contacts", "companies", "customers"):
        row = to_summary("k", entity, raw, look)
        assert row.search_text == (
            "Globex Corp",
            "met at the fair",
            "https://globex.test",
            "+1 555 100",
            "+1 555 200",
        )
    empty = to_summary("k", "leads", {"id": 2, "name": "x", "custom_fields_values": None}, look)
    assert empty.search_text == ()


async def test_list_backends_says_what_text_searches(backend: KommoBackend) -> None:
    caps = backend.capabilities()
    for entity in ("leads", "contacts", "companies", "customers"):
        info = caps.collection(entity)
        assert info is not None
        note = info.support("text").note or ""
        assert "name and the text, textarea, url and multitext custom fields" in note
    customers = caps.collection("customers")
    assert customers is not None
    assert customers.support("text").mode == "local"


# -- ids -----------------------------------------------------------------------------------

HOSTILE = ["zz/../{id}", "{id}?x=y", "{id}#x", "../../etc/passwd", " ", ".", "?a=b", "", "0"]
HOSTILE += ["{id}/", "-{id}", "{id}.0", "1e3", "%32%31", "{id}%2F..", "٣"]
COLLECTIONS = [("leads", "lead"), ("contacts", "contact"), ("companies", "company")]
COLLECTIONS += [("customers", "customer")]


@pytest.mark.parametrize(("collection", "one"), COLLECTIONS)
@pytest.mark.parametrize("pattern", HOSTILE)
async def test_a_hostile_id_is_refused_before_any_request(
    backend: KommoBackend,
    sim: KommoCore,
    data: KommoData,
    collection: str,
    one: str,
    pattern: str,
) -> None:
    hostile = pattern.format(id=data.rows(collection)[0]["id"])
    with pytest.raises(InvalidArgumentError) as caught:
        await backend.get(hostile, collection=collection, include=None, detail="summary")
    message = caught.value.for_model()
    quoted = json.dumps(hostile, ensure_ascii=False)
    assert f"not a valid Kommo {one} id: {quoted} (ids look like a positive whole" in message
    assert "base URL" not in message
    assert sim.requests == []


async def test_a_real_id_still_reaches_its_own_path(
    backend: KommoBackend, sim: KommoCore, data: KommoData
) -> None:
    lead = data.leads[3]
    detail = await backend.get(str(lead["id"]), collection=None, include=None, detail="summary")
    assert detail.id == str(lead["id"])
    assert f"/api/v4/leads/{lead['id']}" in [r.path for r in sim.requests]


# -- through a real MCP client ----------------------------------------------------------------


@pytest.fixture
async def client(sim: KommoCore) -> AsyncIterator[Client]:
    settings = Settings(instances=[sandbox.settings(BASE, rate_limit_per_minute=1_000_000)])
    transports = {sandbox.NAME: httpx.ASGITransport(app=sim)}
    async with Client(build_server(settings, transports=transports)) as c:
        yield c


async def test_an_mcp_client_finds_a_lead_by_its_company_field_and_is_told_how(
    client: Client, data: KommoData
) -> None:
    lead_id, company = company_only_leads(data)[0]
    result = await client.call_tool(
        "list_processes", {"backend": sandbox.NAME, "text": company, "limit": 50}
    )
    assert not result.is_error, text(result)
    assert str(lead_id) in [p["id"] for p in rows(result)]
    backends = await client.call_tool("list_backends", {})
    scope = "text searches the name and the text, textarea, url and multitext custom fields"
    assert text(backends).count(scope) == 4  # leads, contacts, companies, customers
    leads = backends.structured_content["backends"][0]["collections"][0]
    assert "re-checked over the same" in leads["filters"]["text"]["note"]


async def test_an_mcp_client_gets_a_clear_refusal_for_a_hostile_id(
    client: Client, sim: KommoCore, data: KommoData
) -> None:
    real = data.leads[0]["id"]
    for hostile in (f"zz/../{real}", f"{real}?x=y", f"{real}#x", "../../etc/passwd", " ", "."):
        result = await client.call_tool("get_process", {"backend": sandbox.NAME, "id": hostile})
        assert result.is_error
        assert "not a valid Kommo lead id" in text(result)
        assert "ids look like a positive whole number" in text(result)
    # Only the account's directories were read (discovery), never an entity path.
    assert all(r.path.endswith(("/pipelines", "/custom_fields")) for r in sim.requests)
