"""Golden translations: a unified query becomes exactly this Chakra request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.backends.chakra.conftest import make_backend
from tools.backends.chakra.adapter import ChakraBackend
from tools.backends.chakra.data import ChakraData
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import RecordedRequest, SimulatorCore

pytestmark = pytest.mark.anyio


def list_requests(sim: SimulatorCore) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path.endswith("/process/list")]


def body(request: RecordedRequest) -> Any:
    return json.loads(request.body)


async def translate(backend: ChakraBackend, sim: SimulatorCore, **args: Any) -> Any:
    await run_list([backend], parse_query({"backend": backend.name, **args}))
    return body(list_requests(sim)[0])


async def where_of(backend: ChakraBackend, sim: SimulatorCore, **args: Any) -> Any:
    return (await translate(backend, sim, **args))["where"]


async def test_list_is_a_post_with_bearer_token_and_a_json_body(
    backend: ChakraBackend, sim: SimulatorCore
) -> None:
    await run_list([backend], parse_query({"backend": backend.name, "limit": 5}))
    [req] = list_requests(sim)
    assert (req.method, req.path) == ("POST", "/v1/ext/procedure/lead/process/list")
    assert req.headers["authorization"] == "Bearer sandbox-chakra-token"
    assert req.headers["content-type"] == "application/json"
    assert body(req) == {"where": {}, "skip": 0, "limit": 5}


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"status": ["completed"]}, {"status": "COMPLETED"}),
        ({"status": ["open", "cancelled"]}, {"status": ["OPEN", "CANCELLED"]}),
        # Every status is no condition at all.
        ({"status": ["open", "completed", "cancelled"]}, {}),
        ({"status": ["cancelled", "failed"]}, {"status": "CANCELLED"}),
        ({"native_status": ["won", "Lost"]}, {"state": ["WON", "LOST"]}),
        ({"native_status": ["NEW"], "status": ["open"]}, {"status": "OPEN", "state": "NEW"}),
        (
            {"created_after": "2026-01-01", "created_before": "2026-03-01T18:00:00+05:30"},
            {"createdAt": {">=": "2026-01-01T00:00:00.000Z", "<": "2026-03-01T12:30:00.000Z"}},
        ),
        # Objects carry whole milliseconds: a finer bound rounds up, both ways.
        (
            {"created_after": "2026-01-01T00:00:00.0004Z"},
            {"createdAt": {">=": "2026-01-01T00:00:00.001Z"}},
        ),
        ({"where": {"source": "website"}}, {"source": "website"}),
        (
            {"where": {"source": ["website", "referral"], "score": {">=": 50, "<": 90}}},
            {"source": ["website", "referral"], "score": {">=": 50, "<": 90}},
        ),
        (
            {"where": {"source": {"!=": ["website", "referral"]}}},
            {"source": {"!=": ["website", "referral"]}},
        ),
        (
            {
                "status": ["open"],
                "where": {
                    "or": [
                        {"city": "Pune"},
                        {
                            "and": [
                                {"budget": {">": 100000}},
                                {"or": [{"score": {"<=": 10}}, {"source": "whatsapp"}]},
                            ]
                        },
                    ]
                },
            },
            {
                "status": "OPEN",
                "or": [
                    {"city": "Pune"},
                    {
                        "and": [
                            {"budget": {">": 100000}},
                            {"or": [{"score": {"<=": 10}}, {"source": "whatsapp"}]},
                        ]
                    },
                ],
            },
        ),
        # text and updated_* are local, template is the path: none reaches the body.
        ({"text": "LEAD-01", "updated_after": "2026-01-01", "template": "Lead"}, {}),
    ],
)
async def test_query_translates_to_one_where_tree(
    backend: ChakraBackend, sim: SimulatorCore, args: dict[str, Any], where: Any
) -> None:
    assert await where_of(backend, sim, **args) == where


async def test_owner_becomes_the_username_whether_given_as_username_or_uuid(
    backend: ChakraBackend, sim: SimulatorCore, data: ChakraData
) -> None:
    user = data.users[4]
    assert await where_of(backend, sim, owner=user["username"].upper()) == {
        "assignedTo": user["username"]
    }
    sim.clear()
    assert await where_of(backend, sim, owner=user["id"]) == {"assignedTo": user["username"]}


async def test_every_filter_at_once_composes_into_one_object(
    backend: ChakraBackend, sim: SimulatorCore, data: ChakraData
) -> None:
    user = data.users[0]
    where = await where_of(
        backend,
        sim,
        status=["open"],
        native_status=["QUALIFIED", "NEW"],
        owner=user["username"],
        created_after="2025-11-15",
        where={"score": {">": 10}, "or": [{"city": "Oslo"}, {"city": "Seoul"}]},
    )
    assert where == {
        "status": "OPEN",
        "state": ["QUALIFIED", "NEW"],
        "assignedTo": user["username"],
        "createdAt": {">=": "2025-11-15T00:00:00.000Z"},
        "score": {">": 10},
        "or": [{"city": "Oslo"}, {"city": "Seoul"}],
    }


async def test_mixed_lists_go_through_the_equals_operator(
    backend: ChakraBackend, sim: SimulatorCore
) -> None:
    # A mixed list reaches the vendor only for an attribute of no checked type (the driver
    # refuses a string for a number attribute: tools/where.py).
    where = await where_of(backend, sim, where={"expected_close": [4, "8"], "city": ["Pune"]})
    assert where == {"expected_close": {"=": [4, "8"]}, "city": ["Pune"]}


async def test_booleans_go_through_the_equals_operator(
    backend: ChakraBackend, sim: SimulatorCore
) -> None:
    where = await where_of(backend, sim, collection="ticket", where={"reopened": True})
    assert where == {"reopened": {"=": True}}


async def test_or_style_spells_any_of_as_or_groups_and_moves_clashes_into_and(
    sim: SimulatorCore,
) -> None:
    backend = make_backend(sim, settings={"any_of": "or"})
    await backend.discover()
    where = await where_of(
        backend,
        sim,
        status=["open", "cancelled"],
        where={
            "source": {"!=": ["website", "referral"], ">": "a"},
            "or": [{"city": ["Oslo", "Seoul"]}, {"score": 5}],
        },
    )
    await backend.aclose()
    # The user's tree holds an `or` of its own, so it cannot share the root with the
    # status group: it goes, whole, into `and`.
    assert where == {
        "or": [{"status": "OPEN"}, {"status": "CANCELLED"}],
        "and": [
            {
                "source": {">": "a"},
                "and": [{"source": {"!=": "website"}}, {"source": {"!=": "referral"}}],
                "or": [{"or": [{"city": "Oslo"}, {"city": "Seoul"}]}, {"score": 5}],
            }
        ],
    }


async def test_collection_picks_the_procedure_in_the_path(
    backend: ChakraBackend, sim: SimulatorCore
) -> None:
    await run_list([backend], parse_query({"backend": backend.name, "collection": "fieldvisit"}))
    assert list_requests(sim)[0].path == "/v1/ext/procedure/fieldvisit/process/list"


async def test_local_filters_scan_in_pages_of_100(
    backend: ChakraBackend, sim: SimulatorCore
) -> None:
    request = await translate(backend, sim, text="LEAD-00", limit=3)
    assert (request["skip"], request["limit"]) == (0, 100)


async def test_the_cursor_resumes_with_skip_equal_to_rows_received(
    backend: ChakraBackend, sim: SimulatorCore
) -> None:
    first = await run_list([backend], parse_query({"backend": backend.name, "limit": 5}))
    args = {"backend": backend.name, "limit": 5, "cursor": first.next_cursor}
    await run_list([backend], parse_query(args))
    assert [(body(r)["skip"], body(r)["limit"]) for r in list_requests(sim)] == [(0, 5), (5, 5)]


async def test_long_reads_fetch_pages_of_100_in_parallel_and_stop_at_has_more(
    backend: ChakraBackend, sim: SimulatorCore, data: ChakraData
) -> None:
    result = await run_list([backend], parse_query({"backend": backend.name, "limit": 1000}))
    assert len(result.processes) == len(data.processes["lead"])
    assert result.has_more is False
    assert result.total is None
    pages = sorted((body(r)["skip"], body(r)["limit"]) for r in list_requests(sim))
    # 130 leads: pages at 0 and 100 hold them; only the window's prefetches go past.
    assert pages[:2] == [(0, 100), (100, 100)]
    assert len(pages) <= 1 + backend.capabilities().parallel_pages
