"""Golden translations: a unified query becomes exactly this Frends request."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.frends.conftest import make_backend
from tools.backends.frends.adapter import FrendsBackend
from tools.backends.frends.data import FrendsData
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import RecordedRequest, SimulatorCore

pytestmark = pytest.mark.anyio

GUID = "0b7c43c2-3b51-4c4e-9a57-8c1d1f7f2a10"


def requests_to(sim: SimulatorCore, pattern: str) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path.endswith(pattern)]


async def translate(
    backend: FrendsBackend, sim: SimulatorCore, path: str, **args: Any
) -> RecordedRequest:
    await run_list([backend], parse_query({"backend": backend.name, **args}))
    return requests_to(sim, path)[0]


async def test_process_list_is_a_bearer_get_with_page_number_and_size(
    backend: FrendsBackend, sim: SimulatorCore
) -> None:
    req = await translate(backend, sim, "/processes", limit=5)
    assert (req.method, req.path) == ("GET", "/api/v1/processes")
    assert req.headers["authorization"] == "Bearer sandbox-frends-token"
    assert req.query == [("PageNumber", "1"), ("PageSize", "5")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, [("PageNumber", "1"), ("PageSize", "20")]),
        (
            {"template": GUID.upper(), "limit": 7},
            [("processGuid", GUID), ("PageNumber", "1"), ("PageSize", "7")],
        ),
        # processName might match whole names only: a substring search is checked here.
        ({"text": "sync", "limit": 5}, [("PageNumber", "1"), ("PageSize", "200")]),
        ({"native_status": ["latest"]}, [("PageNumber", "1"), ("PageSize", "200")]),
        (
            {"where": {"draft": True}, "owner": "x@y.test"},
            [("PageNumber", "1"), ("PageSize", "200")],
        ),
    ],
)
async def test_process_queries_translate_to_exact_parameters(
    backend: FrendsBackend, sim: SimulatorCore, args: dict[str, Any], expected: list[Any]
) -> None:
    req = await translate(backend, sim, "/processes", **args)
    assert req.query == expected


async def test_text_is_sent_as_process_name_when_the_tenant_searches_substrings(
    sim: SimulatorCore,
) -> None:
    backend = make_backend(sim, process_name_match="substring")
    req = await translate(backend, sim, "/processes", text="Sync", limit=5)
    assert req.query == [("processName", "Sync"), ("PageNumber", "1"), ("PageSize", "200")]
    await backend.aclose()


async def test_next_page_is_computed_from_the_offset(
    backend: FrendsBackend, sim: SimulatorCore
) -> None:
    first = await run_list([backend], parse_query({"backend": backend.name, "limit": 5}))
    query = parse_query({"backend": backend.name, "limit": 5, "cursor": first.next_cursor})
    await run_list([backend], query)
    pages = [(r.param("PageNumber"), r.param("PageSize")) for r in requests_to(sim, "/processes")]
    assert pages == [("1", "5"), ("2", "5")]


INSTANCES = "/api/v1/instances/3"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # No status filter means every state: ShowAll is sent, whatever the vendor default.
        ({"limit": 5}, [("stateFilter", "ShowAll"), ("pageSize", "5")]),
        ({"status": ["open"]}, [("stateFilter", "ShowRunning"), ("pageSize", "20")]),
        ({"status": ["completed"]}, [("stateFilter", "ShowSuccessful"), ("pageSize", "20")]),
        ({"status": ["failed"]}, [("stateFilter", "ShowFailed"), ("pageSize", "20")]),
        (
            {"status": ["completed", "failed"]},
            [("stateFilter", "ShowFinished"), ("pageSize", "20")],
        ),
        ({"native_status": ["ok"]}, [("stateFilter", "ShowSuccessful"), ("pageSize", "20")]),
        ({"status": ["open", "failed"]}, [("stateFilter", "ShowAll"), ("pageSize", "200")]),
        (
            {"created_after": "2026-03-01T10:00:00.500Z", "limit": 5},
            [
                ("startTime", "2026-03-01T09:59:59Z"),
                ("stateFilter", "ShowAll"),
                ("pageSize", "200"),
            ],
        ),
        (
            {"template": GUID, "status": ["failed"]},
            [("processGuids", GUID), ("stateFilter", "ShowFailed"), ("pageSize", "20")],
        ),
        ({"created_before": "2026-01-01"}, [("stateFilter", "ShowAll"), ("pageSize", "200")]),
    ],
)
async def test_instance_queries_translate_to_exact_parameters(
    backend: FrendsBackend, sim: SimulatorCore, args: dict[str, Any], expected: list[Any]
) -> None:
    req = await translate(backend, sim, INSTANCES, collection="instances", **args)
    assert req.path == INSTANCES
    assert req.query == expected


async def test_instance_text_becomes_the_guids_of_processes_whose_name_contains_it(
    backend: FrendsBackend, sim: SimulatorCore, data: FrendsData
) -> None:
    req = await translate(backend, sim, INSTANCES, collection="instances", text="sap", limit=3)
    guids = sorted({d.guid for d in data.definitions if "sap" in d.name.lower()})
    assert req.query == [
        *(("processGuids", g) for g in guids),
        ("stateFilter", "ShowAll"),
        ("pageSize", "200"),
    ]


async def test_instance_template_name_resolves_to_its_guid(
    backend: FrendsBackend, sim: SimulatorCore, data: FrendsData
) -> None:
    d = data.definitions[3]
    req = await translate(backend, sim, INSTANCES, collection="instances", template=d.name.lower())
    assert req.query[0] == ("processGuids", d.guid)


async def test_text_matching_no_process_sends_no_instance_request(
    backend: FrendsBackend, sim: SimulatorCore
) -> None:
    result = await run_list(
        [backend], parse_query({"backend": backend.name, "collection": "instances", "text": "zzz"})
    )
    assert result.count == 0
    assert not requests_to(sim, INSTANCES)


async def test_next_instance_page_sends_the_token_with_the_same_filters(
    backend: FrendsBackend, sim: SimulatorCore
) -> None:
    args = {"backend": backend.name, "collection": "instances:Production", "limit": 4}
    first = await run_list([backend], parse_query(args))
    await run_list([backend], parse_query({**args, "cursor": first.next_cursor}))
    a, b = requests_to(sim, INSTANCES)
    assert a.query == [("stateFilter", "ShowAll"), ("pageSize", "4")]
    token = b.param("continuationToken")
    assert token
    assert b.query == [("stateFilter", "ShowAll"), ("continuationToken", token), ("pageSize", "4")]


async def test_other_agent_groups_are_their_own_collections(
    backend: FrendsBackend, sim: SimulatorCore
) -> None:
    req = await translate(backend, sim, "/instances/1", collection="instances:development", limit=2)
    assert req.path == "/api/v1/instances/1"


async def test_discovery_and_the_definition_directory_are_loaded_once(
    backend: FrendsBackend, sim: SimulatorCore
) -> None:
    for text in ("sap", "sync", "orders"):
        await run_list(
            [backend],
            parse_query({"backend": backend.name, "collection": "instances", "text": text}),
        )
    assert len(requests_to(sim, "/environments")) == 1
    assert len(requests_to(sim, "/processes")) == 1  # 160 rows: one page of 200
