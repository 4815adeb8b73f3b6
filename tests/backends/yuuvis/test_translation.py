"""Golden translations: a unified query becomes exactly this BPM-ENGINE request."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.backends.yuuvis.conftest import make_backend, ordinary
from tools.backends.yuuvis.adapter import YuuvisBackend
from tools.backends.yuuvis.data import YuuvisData
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import RecordedRequest, SimulatorCore

pytestmark = pytest.mark.anyio

LIST = "/bpm-engine/api/processes"
NO_SUBS = ("excludeSubprocesses", "true")
DESC = ("sort", "desc")
PAGE0 = ("page", "0")


def list_requests(sim: SimulatorCore) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path == LIST]


async def translate(backend: YuuvisBackend, sim: SimulatorCore, **args: Any) -> RecordedRequest:
    await run_list([backend], parse_query({"backend": backend.name, **args}))
    return list_requests(sim)[0]


def tail(size: int, sort: str = "desc") -> list[tuple[str, str]]:
    return [NO_SUBS, ("sort", sort), PAGE0, ("size", str(size))]


async def test_list_request_sends_bearer_token_tenant_header_and_json_headers(
    backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    req = await translate(backend, sim, limit=5)
    assert req.method == "GET"
    assert req.path == LIST
    assert req.headers["authorization"] == "Bearer sandbox-yuuvis-token"
    assert req.headers["x-id-tenant-name"] == data.tenant
    assert req.headers["accept"] == "application/json"
    assert req.headers["content-type"] == "application/json"


async def test_basic_auth_sends_username_and_password_base64(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    user = ordinary(data)
    backend = make_backend(sim, data, username=user["username"])
    req = await translate(backend, sim, limit=5)
    await backend.aclose()
    pair = f"{user['username']}:{user['password']}".encode()
    assert req.headers["authorization"] == "Basic " + base64.b64encode(pair).decode()
    assert req.headers["x-id-tenant-name"] == data.tenant


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # The first page is page 0; sub-processes are left out; newest first.
        ({"limit": 5}, tail(5)),
        ({"sort": "created_at", "limit": 7}, tail(7, "asc")),
        # Exact status translations keep the exact page size.
        ({"status": ["open"]}, [("isCompleted", "false"), ("suspended", "false"), *tail(20)]),
        ({"status": ["suspended"]}, [("suspended", "true"), *tail(20)]),
        ({"status": ["open", "suspended"]}, [("isCompleted", "false"), *tail(20)]),
        ({"status": ["completed", "cancelled"]}, [("isCompleted", "true"), *tail(20)]),
        (
            {"native_status": ["running"]},
            [("isCompleted", "false"), ("suspended", "false"), *tail(20)],
        ),
        # isCompleted=true also returns deleted instances: narrowed, scanned in full pages.
        ({"status": ["completed"]}, [("isCompleted", "true"), *tail(100)]),
        ({"status": ["cancelled"]}, [("isCompleted", "true"), *tail(100)]),
        ({"native_status": ["deleted"]}, [("isCompleted", "true"), *tail(100)]),
        ({"status": ["open", "completed"]}, tail(100)),
        ({"status": ["open", "completed", "cancelled", "suspended"]}, tail(20)),
        # Text: % on both sides; typed wildcards and backslashes become "_" (any one char).
        ({"text": "Invoice"}, [("nameLikeIgnoreCase", "%Invoice%"), *tail(100)]),
        ({"text": "10%_a\\b"}, [("nameLikeIgnoreCase", "%10__a_b%"), *tail(100)]),
        # Dates: widened by a millisecond either side, re-checked locally.
        (
            {"created_after": "2026-01-01"},
            [("startedAfter", "2025-12-31T23:59:59.999Z"), *tail(100)],
        ),
        (
            {"created_before": "2026-01-01T10:00:00.0004Z"},
            [("startedBefore", "2026-01-01T10:00:00.001Z"), *tail(100)],
        ),
        # where: documented parameters at the top level.
        ({"where": {"businessKey": "INV-1"}}, [("businessKey", "INV-1"), *tail(20)]),
        (
            {"where": {"businessKeyLike": "INV-2026-%", "processDefinitionVersion": 3}},
            [("businessKeyLike", "INV-2026-%"), ("processDefinitionVersion", "3"), *tail(20)],
        ),
        (
            {"where": {"processDefinitionCategory": "finance", "involvedUser": "u-1"}},
            [("processDefinitionCategory", "finance"), ("involvedUser", "u-1"), *tail(20)],
        ),
        # Sub-processes of an instance, or all of them: no default exclusion.
        (
            {"where": {"superProcessInstanceId": "p-1"}},
            [("superProcessInstanceId", "p-1"), DESC, PAGE0, ("size", "20")],
        ),
        (
            {"where": {"excludeSubprocesses": False}},
            [("excludeSubprocesses", "false"), DESC, PAGE0, ("size", "20")],
        ),
        # Row fields without a parameter are checked locally: nothing sent.
        ({"where": {"durationInMillis": {">": 1000}}}, tail(100)),
        ({"where": {"businessKey": ["A", "B"]}}, tail(100)),
    ],
)
async def test_query_translates_to_exact_parameters(
    backend: YuuvisBackend, sim: SimulatorCore, args: dict[str, Any], expected: list[Any]
) -> None:
    req = await translate(backend, sim, **args)
    assert req.query == expected


async def test_every_filter_together_in_a_fixed_order(
    backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    owner = ordinary(data)["id"]
    req = await translate(
        backend,
        sim,
        status=["open"],
        text="order",
        owner=owner,
        template="Purchase order",
        where={"businessKeyLike": "PO-%"},
        created_after="2026-06-01T00:00:00Z",
        created_before="2026-07-01T00:00:00Z",
        sort="created_at",
    )
    assert req.query == [
        ("isCompleted", "false"),
        ("suspended", "false"),
        ("nameLikeIgnoreCase", "%order%"),
        ("startedBy", owner),
        ("processDefinitionKey", "purchase_order"),
        ("businessKeyLike", "PO-%"),
        ("startedAfter", "2026-05-31T23:59:59.999Z"),
        ("startedBefore", "2026-07-01T00:00:00.000Z"),
        NO_SUBS,
        ("sort", "asc"),
        PAGE0,
        ("size", "100"),
    ]


async def test_template_key_in_any_case_or_name_becomes_the_definition_key(
    backend: YuuvisBackend, sim: SimulatorCore
) -> None:
    for template in ("Invoice approval", "INVOICE_APPROVAL"):
        sim.clear()
        req = await translate(backend, sim, template=template, limit=5)
        assert req.query == [("processDefinitionKey", "invoice_approval"), *tail(5)]


async def test_definitions_are_read_once_per_instance(
    backend: YuuvisBackend, sim: SimulatorCore
) -> None:
    for template in ("Invoice approval", "Leave request", "follow-up"):
        await run_list([backend], parse_query({"backend": backend.name, "template": template}))
    reads = [r for r in sim.requests if r.path.endswith("/process-definitions")]
    assert [(r.param("page"), r.param("size")) for r in reads] == [("0", "100")]


async def test_next_page_is_page_one_with_the_same_size(
    backend: YuuvisBackend, sim: SimulatorCore
) -> None:
    first = await run_list([backend], parse_query({"backend": backend.name, "limit": 5}))
    query = parse_query({"backend": backend.name, "limit": 5, "cursor": first.next_cursor})
    await run_list([backend], query)
    pages = [(r.param("page"), r.param("size")) for r in list_requests(sim)]
    assert pages == [("0", "5"), ("1", "5")]


async def test_a_cursor_mid_page_asks_for_the_0_based_page_holding_that_row(
    backend: YuuvisBackend, sim: SimulatorCore
) -> None:
    first = await run_list([backend], parse_query({"backend": backend.name, "limit": 6}))
    query = parse_query({"backend": backend.name, "limit": 4, "cursor": first.next_cursor})
    await run_list([backend], query)
    second = list_requests(sim)[-1]
    page, size = int(second.param("page") or -1), int(second.param("size") or 0)
    assert page * size <= 6 < (page + 1) * size


async def test_ordinary_user_asking_for_own_processes_sends_own_id(
    user_backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    own = ordinary(data)["id"]
    req = await translate(user_backend, sim, owner=own.upper(), limit=5)
    assert req.query == [("startedBy", own), *tail(5)]
