"""No silent coercion: a value of the wrong JSON type is refused with the type expected,
never bent into something else (issue 14, item 1). Through the real server in memory,
every sandbox backend behind its simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.export.conftest import memory_client, open_sim
from tests.server.conftest import rows, text
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio
SIMS = {s.settings.name: s for s in (open_sim(m, seed=9) for m in SANDBOXES)}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with memory_client(list(SIMS.values()), tmp_path) as c:
        yield c


async def refused(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, text(result)
    message = text(result)
    assert "\nHow to fix: " in message
    return message


@pytest.mark.parametrize(
    ("tool", "args", "problem", "fix"),
    [
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "created_after": 20260101},
            "created_after: the number 20260101 is not a date",
            '"2026-01-01"',
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "updated_before": 1767225600},
            "the number 1767225600 is not a date",
            '"2025-01-31"',
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "created_after": ""},
            "created_after: empty date",
            "ISO 8601 string",
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "limit": True},
            "limit must be an integer, not true",
            "e.g. 20",
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "limit": "5"},
            'limit must be an integer, not the string "5"',
            "never converted",
        ),
        (
            "export_process",
            {"backend": "tallyfy-sandbox", "max_rows": "5"},
            'max_rows must be an integer, not the string "5"',
            "e.g. 500",
        ),
        (
            "export_process",
            {"backend": "tallyfy-sandbox", "overwrite": "yes"},
            'overwrite must be true or false, not the string "yes"',
            "e.g. true",
        ),
        (
            "export_process",
            {"backend": "tallyfy-sandbox", "overwrite": 1},
            "overwrite must be true or false, not the number 1",
            "e.g. true",
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "collection": ""},
            "collection is empty",
            "leave collection out",
        ),
        (
            "get_process",
            {"backend": "tallyfy-sandbox", "id": "x", "collection": ""},
            "collection is empty",
            "leave collection out",
        ),
        (
            "export_process",
            {"backend": "tallyfy-sandbox", "collection": ""},
            "collection is empty",
            "leave collection out",
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "status": []},
            "status is an empty array",
            "use any of: open",
        ),
        (
            "list_processes",
            {"backend": "tallyfy-sandbox", "text": 5},
            "text must be a string, not the number 5",
            '"onboarding"',
        ),
        (
            "get_process",
            {"backend": "tallyfy-sandbox", "id": 123},
            "id must be a string, not the number 123",
            "send id as a string",
        ),
        (
            "get_process",
            {"backend": "tallyfy-sandbox", "id": "   "},
            "",
            "",
        ),
    ],
)
async def test_a_wrong_json_type_is_refused_with_the_type_expected(
    client: Client, tool: str, args: dict[str, Any], problem: str, fix: str
) -> None:
    message = await refused(client, tool, args)
    assert problem in message
    assert fix in message.split("How to fix:")[1]


@pytest.mark.parametrize(
    ("backend", "collection", "where", "problem", "fix"),
    [
        (
            "chakra-sandbox",
            "lead",
            'budget >= "abc"',
            'where.budget is a number attribute of chakra-sandbox (lead); the string "abc"',
            "budget >= 100",
        ),
        (
            "chakra-sandbox",
            "lead",
            'city = "Pune" or budget >= "40000"',
            "where.budget is a number attribute",
            "budget >= 40000",
        ),
        (
            "chakra-sandbox",
            "ticket",
            'reopened = "true"',
            "where.reopened is a boolean attribute",
            "reopened = true",
        ),
        (
            "chakra-sandbox",
            "lead",
            "city = 5",
            "where.city is a text attribute",
            'city = "5"',
        ),
        (
            "kommo-sandbox",
            "leads",
            'price > "1000"',
            "where.price is a number attribute of kommo-sandbox (leads)",
            "price > 1000",
        ),
        (
            "frends-sandbox",
            "processes",
            'version in ("2")',
            "where.version is a number attribute of frends-sandbox (processes)",
            "version = 2",
        ),
        (
            "yuuvis-sandbox",
            "instances",
            'durationInMillis > "a day"',
            "where.durationInMillis is a number attribute of yuuvis-sandbox (instances)",
            "a number (no quotes)",
        ),
        (
            # The object form of earlier versions is still read, and checked the same way.
            "chakra-sandbox",
            "lead",
            {"or": [{"city": "Pune"}, {"budget": {">=": "40000"}}]},
            "where.budget is a number attribute",
            "budget >= 40000",
        ),
    ],
)
async def test_a_where_value_of_the_wrong_type_for_its_attribute_is_refused_before_any_request(
    client: Client,
    backend: str,
    collection: str,
    where: str | dict[str, Any],
    problem: str,
    fix: str,
) -> None:
    sim = SIMS[backend].core
    sim.requests.clear()
    args = {"backend": backend, "collection": collection, "where": where}
    message = await refused(client, "list_processes", args)
    assert problem in message
    assert fix in message.split("How to fix:")[1]
    # Discovery may read the vendor's schema; no list request was sent.
    assert not [r for r in sim.requests if r.method == "POST" or "list" in r.path]


async def test_a_where_value_of_the_right_type_still_filters(client: Client) -> None:
    args = {"backend": "chakra-sandbox", "collection": "lead", "where": "budget >= 40000"}
    result = await client.call_tool("list_processes", args)
    assert not result.is_error, text(result)
    assert result.structured_content["count"] > 0


async def test_a_json_text_array_is_still_decoded_for_clients_that_send_one(
    client: Client,
) -> None:
    result = await client.call_tool(
        "list_processes", {"backend": "tallyfy-sandbox", "status": '["open"]', "limit": 2}
    )
    assert not result.is_error, text(result)
    assert {p["status"] for p in rows(result)} == {"open"}
