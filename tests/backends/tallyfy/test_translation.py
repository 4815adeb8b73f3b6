"""Golden translations: a unified query becomes exactly this Tallyfy request."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.tallyfy.conftest import make_backend
from tools.backends.tallyfy.adapter import TallyfyBackend
from tools.backends.tallyfy.data import TallyfyData
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import RecordedRequest, SimulatorCore

pytestmark = pytest.mark.anyio


def runs_requests(sim: SimulatorCore) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path.endswith("/runs")]


async def translate(backend: TallyfyBackend, sim: SimulatorCore, **args: Any) -> RecordedRequest:
    await run_list([backend], parse_query({"backend": backend.name, **args}))
    return runs_requests(sim)[0]


def tag_id(data: TallyfyData, title: str) -> str:
    return str(next(t["id"] for t in data.tags if t["title"] == title))


TAIL = [("with", "tags"), ("sort", "-created_at"), ("page", "1")]
PAGE1_OF_100 = [("page", "1"), ("per_page", "100")]
PER_30 = ("per_page", "30")


async def test_list_request_has_method_path_and_the_three_required_headers(
    backend: TallyfyBackend, sim: SimulatorCore, data: TallyfyData
) -> None:
    req = await translate(backend, sim, limit=5)
    assert req.method == "GET"
    assert req.path == f"/api/organizations/{data.org_id}/runs"
    assert req.headers["authorization"] == "Bearer sandbox-tallyfy-token"
    assert req.headers["x-tallyfy-client"] == "APIClient"
    assert req.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # No status filter means every status: archived runs are hidden by default.
        ({"limit": 5}, [("archived", "true"), *TAIL, ("per_page", "5")]),
        ({"status": ["completed"]}, [("status", "complete"), *TAIL, ("per_page", "20")]),
        # status=archived may not lift the hiding of archived runs; archived=only does.
        ({"status": ["cancelled"]}, [("archived", "only"), *TAIL, ("per_page", "20")]),
        ({"native_status": ["problem"]}, [("status", "problem"), *TAIL, ("per_page", "20")]),
        # open = active|problem|delayed: fetched together (no archived) and checked locally.
        ({"status": ["open"]}, [*TAIL, ("per_page", "100")]),
        ({"status": ["open", "cancelled"]}, [("archived", "true"), *TAIL, ("per_page", "100")]),
        (
            {"status": ["completed"], "text": "onboard"},
            [("status", "complete"), ("q", "onboard"), *TAIL, ("per_page", "100")],
        ),
        (
            {"created_after": "2026-01-01", "sort": "name", "limit": 7},
            [
                ("archived", "true"),
                ("with", "tags"),
                ("sort", "name"),
                ("page", "1"),
                ("per_page", "100"),
            ],
        ),
        (
            {"sort": "-name", "limit": 30},
            [
                ("archived", "true"),
                ("with", "tags"),
                ("sort", "-name"),
                ("page", "1"),
                ("per_page", "30"),
            ],
        ),
    ],
)
async def test_query_translates_to_exact_parameters(
    backend: TallyfyBackend, sim: SimulatorCore, args: dict[str, Any], expected: list[Any]
) -> None:
    req = await translate(backend, sim, **args)
    assert req.query == expected


async def test_owner_email_becomes_user_id_in_owners(
    backend: TallyfyBackend, sim: SimulatorCore, data: TallyfyData
) -> None:
    user = data.users[2]
    req = await translate(backend, sim, owner=user["email"].upper(), limit=5)
    assert req.query[:2] == [("archived", "true"), ("owners", str(user["id"]))]


async def test_template_title_becomes_checklist_id(
    backend: TallyfyBackend, sim: SimulatorCore, data: TallyfyData
) -> None:
    checklist = data.checklists[1]
    req = await translate(backend, sim, template=checklist["title"], limit=5)
    assert ("checklist_id", checklist["id"]) in req.query
    assert req.param("per_page") == "5"  # exact by id: no local check needed


async def test_first_tag_is_native_and_the_rest_narrowed(
    backend: TallyfyBackend, sim: SimulatorCore, data: TallyfyData
) -> None:
    req = await translate(backend, sim, tags=["vip", "urgent"])
    assert ("tag", tag_id(data, "vip")) in req.query
    assert all(k != "tag_ids" for k, _ in req.query)


async def test_next_page_is_computed_not_followed_and_stays_on_the_same_page_size(
    backend: TallyfyBackend, sim: SimulatorCore
) -> None:
    first = await run_list([backend], parse_query({"backend": backend.name, "limit": 5}))
    query = parse_query({"backend": backend.name, "limit": 5, "cursor": first.next_cursor})
    await run_list([backend], query)
    pages = [(r.param("page"), r.param("per_page")) for r in runs_requests(sim)]
    assert pages == [("1", "5"), ("2", "5")]


async def test_directory_lookups_are_cached_per_instance(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    backend = make_backend(sim, data)
    for _ in range(3):
        await run_list([backend], parse_query({"backend": backend.name, "tags": ["vip"]}))
    tag_calls = [r for r in sim.requests if r.path.endswith("/tags")]
    user_calls = [r for r in sim.requests if r.path.endswith("/users")]
    assert (len(tag_calls), len(user_calls)) == (1, 1)
    await backend.aclose()
