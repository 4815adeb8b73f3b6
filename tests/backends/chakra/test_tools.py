"""Chakra through the real server and the SDK's in-memory client: text over attributes,
owner by e-mail, rows named by key and title, and process ids that are data, not paths.

Expected rows are worked out here from the generated data, not with tools.query."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.chakra.conftest import BASE, UNTHROTTLED
from tests.server.conftest import rows
from tools.backends.chakra import sandbox
from tools.backends.chakra.data import ChakraData
from tools.backends.chakra.simulator import create_app
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
NAME = sandbox.NAME
# Attributes of a lead whose values `text` reads (text, email, phone, select, textarea).
LEAD_TEXT = ("lead_id", "name", "company", "email", "phone_number", "source", "city", "notes")
DISCOVERY = {"/v1/ext/config", "/v1/ext/users"}


@pytest.fixture
def chakra_sim(data: ChakraData) -> SimulatorCore:
    return create_app(data, token=sandbox.TOKEN, strict=True)


@pytest.fixture
async def client(chakra_sim: SimulatorCore, tmp_path: Path) -> AsyncIterator[Client]:
    inst = sandbox.settings(BASE, rate_limit_per_minute=UNTHROTTLED)
    settings = Settings(instances=[inst], export_dir=tmp_path / "exports")
    server = build_server(settings, transports={NAME: httpx.ASGITransport(app=chakra_sim)})
    async with Client(server) as c:
        yield c


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda p: (p["createdAt"], p["id"]), reverse=True)


def lead_matches(process: dict[str, Any], needle: str) -> bool:
    values = [str(process["data"][k]) for k in LEAD_TEXT if k in process["data"]]
    return any(needle.casefold() in v.casefold() for v in values)


# -- text ---------------------------------------------------------------------------------


async def test_text_finds_leads_whose_company_is_only_in_an_attribute(
    client: Client, data: ChakraData
) -> None:
    only = next(p for p in newest_first(data.processes["lead"]) if "company" not in p["data"])
    company = only["data"]["notes"].split("Works at ", 1)[-1].split(";")[0]
    company = company.replace("Buying for ", "").split(" (")[0]
    needle = company.split()[0].lower()
    want = [p["id"] for p in newest_first(data.processes["lead"]) if lead_matches(p, needle)]
    result = await client.call_tool("list_processes", {"backend": NAME, "text": needle, "limit": 3})
    assert not result.is_error, text(result)
    got = [p["id"] for p in rows(result)]
    cursor = result.structured_content.get("next_cursor")
    while cursor:
        more = await client.call_tool(
            "list_processes", {"backend": NAME, "text": needle, "limit": 3, "cursor": cursor}
        )
        got += [p["id"] for p in rows(more)]
        cursor = more.structured_content.get("next_cursor")
    assert got == want
    assert only["id"] in got  # its name (the key alone) does not hold the company
    [note] = [a for a in result.structured_content["applied"] if a["field"] == "text"]
    assert note["mode"] == "local"
    assert "notes" in note["note"]
    assert "text local" in text(result)


async def test_text_reads_ticket_subjects_and_select_values(
    client: Client, data: ChakraData
) -> None:
    want = [
        p["id"]
        for p in newest_first(data.processes["ticket"])
        if p["data"]["channel"] == "whatsapp" or "whatsapp" in p["data"]["subject"].lower()
    ]
    result = await client.call_tool(
        "list_processes",
        {"backend": NAME, "collection": "ticket", "text": "WhatsApp", "limit": 200},
    )
    assert [p["id"] for p in rows(result)] == want
    assert want


async def test_rows_are_named_by_key_and_company(client: Client, data: ChakraData) -> None:
    result = await client.call_tool("list_processes", {"backend": NAME, "limit": 5})
    newest = newest_first(data.processes["lead"])[:5]
    shown = text(result)
    for p in newest:
        if "company" in p["data"]:
            assert f"{p['data']['lead_id']} · {p['data']['company']}" in shown


# -- owner --------------------------------------------------------------------------------


async def test_owner_by_email_is_applied_as_the_username(client: Client, data: ChakraData) -> None:
    user = data.users[4]
    result = await client.call_tool(
        "list_processes", {"backend": NAME, "owner": user["email"], "limit": 200}
    )
    assert not result.is_error, text(result)
    got = [p["id"] for p in rows(result)]
    assert got == [
        p["id"] for p in newest_first(data.processes["lead"]) if p["assignedTo"] == user["id"]
    ]
    assert {p["owner"] for p in rows(result)} == {user["username"]}


async def test_an_unknown_owner_is_refused_with_how_to_find_one(client: Client) -> None:
    result = await client.call_tool(
        "list_processes", {"backend": NAME, "owner": "nobody@acme-field.test"}
    )
    assert result.is_error
    message = text(result)
    assert 'no user "nobody@acme-field.test"' in message
    assert "username, user uuid or e-mail" in message
    assert "users here:" in message


# -- list_backends ------------------------------------------------------------------------


async def test_list_backends_claims_no_state_status_map(client: Client) -> None:
    result = await client.call_tool("list_backends", {})
    shown = text(result)
    assert "statuses:" not in shown  # the config does not give one
    assert "the config does not link states to statuses" in shown
    [view] = result.structured_content["backends"]
    assert all(c["statuses"] == {} for c in view["collections"])


# -- ids are data -------------------------------------------------------------------------


def hostile(uuid: str) -> list[str]:
    return [
        f"zz/../{uuid}",
        f"{uuid}?x=y",
        f"{uuid}#x",
        f"{uuid}/",
        f"../{uuid}",
        "../../etc/passwd",
        " ",
        ".",
        "..",
        "?a=b",
        "#",
        "LEAD-0001/../LEAD-0002",
        "%2e%2e%2f",
        "LEAD-0001\\x",
    ]


async def test_hostile_ids_fetch_nothing_and_say_what_ids_look_like(
    client: Client, data: ChakraData, chakra_sim: SimulatorCore
) -> None:
    uuid = data.processes["lead"][0]["id"]
    for ref in hostile(uuid):
        result = await client.call_tool("get_process", {"backend": NAME, "id": ref})
        message = text(result)
        assert result.is_error, ref
        assert "not a valid Chakra process id" in message, message
        assert "ids look like a uuid" in message
        assert "base URL" not in message
    assert {r.path for r in chakra_sim.requests} <= DISCOVERY


async def test_a_uuid_is_fetched_by_its_own_path_and_a_key_through_the_list_where(
    client: Client, data: ChakraData, chakra_sim: SimulatorCore
) -> None:
    lead = data.processes["lead"][3]
    by_uuid = await client.call_tool("get_process", {"backend": NAME, "id": lead["id"]})
    by_key = await client.call_tool("get_process", {"backend": NAME, "id": lead["data"]["lead_id"]})
    assert by_uuid.structured_content["id"] == by_key.structured_content["id"] == lead["id"]
    calls = [r for r in chakra_sim.requests if r.path not in DISCOVERY]
    assert [r.path for r in calls] == [
        f"/v1/ext/procedure/lead/process/{lead['id']}",
        "/v1/ext/procedure/lead/process/list",
    ]
    assert calls[0].query == []
    assert json.loads(calls[1].body) == {
        "where": {"lead_id": lead["data"]["lead_id"]},
        "skip": 0,
        "limit": 1,
    }
