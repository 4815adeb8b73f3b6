"""Kommo customers document no `order` and no default order (reference section 2), so
none is sent and the rows come in Kommo's own order. Through a real MCP client: the list
says so and pages exactly, an explicit sort is refused with the fix, a fan-out leaves
customers out with the fix, and an export streams them whole."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.kommo.conftest import BASE, make_sim
from tests.server.conftest import records, text
from tools.backends.kommo import sandbox
from tools.backends.kommo.data import KommoData
from tools.backends.kommo.simulator import KommoCore

pytestmark = pytest.mark.anyio
OWN_ORDER = f"{sandbox.NAME}: rows in Kommo's own order: customers cannot be sorted"


def kommo_order(data: KommoData) -> list[str]:
    """The order the simulator lists customers in (its choice: next purchase date)."""
    rows = sorted(data.customers, key=lambda c: (c["next_date"], c["id"]))
    return [str(c["id"]) for c in rows]


@pytest.fixture(params=[False, True], ids=["no-order", "order-accepted"])
def kommo(data: KommoData, request: pytest.FixtureRequest) -> KommoCore:
    """Both readings of the gap: `order` refused for customers (the default), accepted."""
    return make_sim(data, customers_order=request.param)


async def connect(sim: KommoCore, tmp_path: Path, *names: str) -> Client:
    names = names or (sandbox.NAME,)
    settings = Settings(
        instances=[sandbox.settings(BASE, name=n, rate_limit_per_minute=1_000_000) for n in names],
        export_dir=tmp_path,
    )
    transports = {n: httpx.ASGITransport(app=sim) for n in names}
    return Client(build_server(settings, transports=transports))


@pytest.fixture
async def client(kommo: KommoCore, tmp_path: Path) -> AsyncIterator[Client]:
    async with await connect(kommo, tmp_path) as c:
        yield c


async def call(client: Client, tool: str, args: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text(result)
    return result.structured_content


async def test_customers_page_exactly_in_kommos_own_order_and_say_so(
    client: Client, kommo: KommoCore, data: KommoData
) -> None:
    args: dict[str, Any] = {"backend": sandbox.NAME, "collection": "customers", "limit": 7}
    got: list[str] = []
    for _ in range(20):
        page = await call(client, "list_processes", args)
        assert OWN_ORDER in page["warnings"]
        got += [p["id"] for p in records(page)]
        if "next_cursor" not in page:
            break
        args["cursor"] = page["next_cursor"]
    assert got == kommo_order(data)  # no overlap, no gap, in the vendor's order
    lists = [r for r in kommo.requests if r.path == "/api/v4/customers"]
    assert lists
    assert not any(k.startswith("order") for r in lists for k, _ in r.query)


async def test_a_date_bound_on_customers_keeps_every_match(client: Client, data: KommoData) -> None:
    middle = sorted(c["created_at"] for c in data.customers)[len(data.customers) // 2]
    bound = datetime.fromtimestamp(middle, tz=UTC).isoformat()
    args = {"backend": sandbox.NAME, "collection": "customers", "created_before": bound}
    page = await call(client, "list_processes", {**args, "limit": 100})
    wanted = {str(c["id"]) for c in data.customers if c["created_at"] < middle}
    assert [p["id"] for p in records(page)] == [i for i in kommo_order(data) if i in wanted]


async def test_an_explicit_sort_on_customers_is_refused_with_the_fix(client: Client) -> None:
    for sort in ("-created_at", "updated_at", "name"):
        args = {"backend": sandbox.NAME, "collection": "customers", "sort": sort}
        for tool in ("list_processes", "export_process"):
            result = await client.call_tool(tool, args)
            assert result.is_error
            assert "cannot sort" in text(result)
            assert "leave sort out" in text(result)


async def test_a_fan_out_over_customers_leaves_kommo_out_and_names_the_fix(
    kommo: KommoCore, tmp_path: Path
) -> None:
    async with await connect(kommo, tmp_path, "crm-a", "crm-b") as client:
        args = {"backend": "all", "collection": "customers", "limit": 5}
        page = await call(client, "list_processes", args)
        assert records(page) == []
        for name in ("crm-a", "crm-b"):
            skipped = [w for w in page["warnings"] if w.startswith(f"{name} skipped:")]
            assert len(skipped) == 1
            assert f"ask backend={name} alone" in skipped[0]
        alone = await call(client, "list_processes", {**args, "backend": "crm-a"})
        assert len(records(alone)) == 5
        # Leads still merge across both instances.
        leads = await call(client, "list_processes", {"backend": "all", "limit": 4})
        assert {p["backend"] for p in records(leads)} == {"crm-a", "crm-b"}


async def test_customers_export_whole_in_kommos_own_order(
    client: Client, data: KommoData, tmp_path: Path
) -> None:
    args = {"backend": sandbox.NAME, "collection": "customers", "format": "csv"}
    exported = await call(client, "export_process", args)
    assert exported["rows"] == len(data.customers)
    assert OWN_ORDER in exported["warnings"]
    read = await client.read_resource(exported["uri"])
    lines = read.contents[0].text.splitlines()
    assert [row["id"] for row in csv.DictReader(lines)] == kommo_order(data)


async def test_list_backends_shows_customers_with_no_sort(client: Client) -> None:
    result = await client.call_tool("list_backends", {})
    kommo = result.structured_content["backends"][0]
    customers = next(c for c in kommo["collections"] if c["name"] == "customers")
    assert customers["sorts"] == []
    assert "Kommo documents no order for customers" in customers["description"]
    assert "sorts: none (rows come in the backend's own order)" in text(result)
