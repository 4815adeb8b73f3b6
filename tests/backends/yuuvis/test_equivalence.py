"""The key property (design.md section 7) for yuuvis: listing through the adapter and the
simulator, page by page through cursors, returns exactly what the local evaluator returns
over the instances the account can see, in the same order - for a tenant admin and for an
ordinary user, under either reading of the undocumented engine behaviour, and with faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backends.yuuvis.conftest import INSTANCES, SEED, make_backend, ordinary
from tools.backends.base import RowParts
from tools.backends.yuuvis.adapter import SORTS, YuuvisBackend
from tools.backends.yuuvis.data import DEFINITIONS, SUB_KEY, generate
from tools.backends.yuuvis.simulator import create_app
from tools.backends.yuuvis.translate import NATIVE_STATUS
from tools.model import ProcessSummary
from tools.paging import run_list
from tools.query import ProcessQuery, evaluate
from tools.sim import Fault, SimulatorCore

DATA = generate(seed=SEED, instances=INSTANCES)
SIM = create_app(DATA, strict=True)
# The other readings of what the docs leave open, and Spring's lenient parameter binding.
OTHER_READINGS = create_app(
    DATA, strict=False, date_bounds="exclusive", suspended_false="not_suspended"
)
USER = ordinary(DATA)
STATUS_SETS = [
    ["open"],
    ["completed"],
    ["cancelled"],
    ["suspended"],
    ["open", "suspended"],
    ["completed", "cancelled"],
    ["open", "cancelled"],
    ["suspended", "completed"],
]
TEXTS = ["invoice", "ORDER", "10%", "off_list", "Review", "release q3_", "a", "%", "_"]
TEMPLATES = [d.name for d in DEFINITIONS if d.key != SUB_KEY] + [
    d.key.upper() for d in DEFINITIONS if d.key != SUB_KEY
]
START = datetime(2024, 11, 1, tzinfo=UTC)
WHERES: list[dict[str, Any]] = [
    {"processDefinitionVersion": 1},
    {"processDefinitionVersion": {">=": 2}},
    {"durationInMillis": {">": 86_400_000}},
    {"deleteReason": "Duplicate request"},
    {"endActivityId": "endEvent1"},
    {"or": [{"processDefinitionKey": "invoice_approval"}, {"deleteReason": "Duplicate request"}]},
    {"processDefinitionKey": "leave_request"},
    {"businessKey": ["testBusinessKey", "nothing"]},
]


async def everything(backend: YuuvisBackend, parts: RowParts) -> list[ProcessSummary]:
    """What the account can see, as the reference sees it: every page, oldest first; the
    extras and the `where` attributes only when the query reads them (as the adapter
    builds them)."""
    rows: list[ProcessSummary] = []
    for page in range(100):
        body = await backend.http.get_json(
            "/bpm-engine/api/processes",
            params=[
                ("excludeSubprocesses", "true"),
                ("sort", "asc"),
                ("page", str(page)),
                ("size", "100"),
            ],
        )
        rows += [backend.to_summary(r, parts=parts) for r in body["objects"]]
        if not body["hasMoreItems"]:
            return rows
    raise AssertionError("too many pages")


@st.composite
def yuuvis_queries(draw: st.DrawFn, admin: bool = True) -> ProcessQuery:
    q: dict[str, Any] = {
        "backend": "yuuvis-sandbox",
        "sort": draw(st.sampled_from(list(SORTS))),
        "limit": draw(st.integers(1, 40)),
    }
    choice = draw(st.sampled_from(["none", "status", "native"]))
    if choice == "status":
        q["status"] = draw(st.sampled_from(STATUS_SETS))
    elif choice == "native":
        natives = st.sampled_from(list(NATIVE_STATUS))
        q["native_status"] = draw(st.lists(natives, min_size=1, max_size=3, unique=True))
    if draw(st.integers(0, 2)) == 0:
        q["text"] = draw(st.sampled_from(TEXTS))
    if draw(st.integers(0, 3)) == 0:
        users = DATA.users if admin else [USER]
        owner = draw(st.sampled_from([u["id"] for u in users]))
        q["owner"] = owner.upper() if draw(st.booleans()) else owner
    if draw(st.integers(0, 3)) == 0:
        q["template"] = draw(st.sampled_from(TEMPLATES))
    if draw(st.integers(0, 3)) == 0:
        q["where"] = draw(st.sampled_from(WHERES))
    if draw(st.integers(0, 3)) == 0:  # the extras, built only when an answer shows them
        q["detail"] = "full"
    for name in ("created_after", "created_before"):
        pick = draw(st.integers(0, 5))
        if pick == 0:
            q[name] = START + timedelta(days=draw(st.integers(0, 760)))
        elif pick == 1:
            # Exactly a row's start time (to the millisecond): the bounds must be right.
            q[name] = draw(st.sampled_from(DATA.instances))["startTime"]
    query = ProcessQuery.model_validate(q)
    lo, hi = query.created_after, query.created_before
    if lo is not None and hi is not None and lo >= hi:
        query = query.with_changes(created_before=None)
    return query


async def walk(backend: YuuvisBackend, query: ProcessQuery) -> list[ProcessSummary]:
    rows: list[ProcessSummary] = []
    cursor = None
    for _ in range(400):
        page = await run_list([backend], query.with_changes(cursor=cursor))
        assert page.count <= query.limit
        rows.extend(page.processes)
        if not page.has_more:
            return rows
        cursor = page.next_cursor
    raise AssertionError("cursor walk did not end")


def check(
    query: ProcessQuery,
    sim: SimulatorCore = SIM,
    *,
    username: str | None = None,
    **options: Any,
) -> list[ProcessSummary]:
    got: list[ProcessSummary] = []

    async def body() -> None:
        backend = make_backend(sim, DATA, username=username, **options)
        try:
            expected = evaluate(query, await everything(backend, RowParts.of(query)))
            got.extend(await walk(backend, query))
        finally:
            await backend.aclose()
        assert [r.id for r in got] == [r.id for r in expected]
        assert got == expected

    anyio.run(body)
    return got


HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@HYPOTHESIS
@given(query=yuuvis_queries())
def test_admin_listing_agrees_with_local_evaluation(query: ProcessQuery) -> None:
    check(query)


@HYPOTHESIS
@given(query=yuuvis_queries(admin=False))
def test_ordinary_user_listing_agrees_with_local_evaluation(query: ProcessQuery) -> None:
    check(query, username=USER["username"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=yuuvis_queries())
def test_other_readings_of_bounds_and_suspended_false_give_the_same_answers(
    query: ProcessQuery,
) -> None:
    check(query, sim=OTHER_READINGS)


@pytest.mark.parametrize("limit", [1, 7, 100, INSTANCES])
def test_whole_tenant_walks_without_overlap_or_gap(limit: int) -> None:
    rows = check(ProcessQuery(backend="yuuvis-sandbox", limit=limit))
    assert len(rows) == len({r.id for r in rows}) > 100


def test_ordinary_user_sees_exactly_their_own_top_level_instances() -> None:
    rows = check(ProcessQuery(backend="yuuvis-sandbox", limit=50), username=USER["username"])
    own = [i for i in DATA.own_instances(USER["id"]) if i["id"] not in DATA.parent]
    assert {r.id for r in rows} == {i["id"] for i in own}
    assert len(rows) > 20


def test_injected_503_429_and_html_mid_walk_lose_and_duplicate_nothing() -> None:
    sim = create_app(DATA, strict=True)
    path = r"/processes$"
    sim.faults.add(Fault(kind="status", status=503, path=path, after=1, times=2))
    sim.faults.add(Fault(kind="status", status=429, retry_after=2, path=path, after=3))
    sim.faults.add(Fault(kind="html", status=502, path=path, after=5))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    query = ProcessQuery(backend="yuuvis-sandbox", limit=9, status=("completed",))
    check(query, sim=sim, sleep=sleep)
    assert any(w >= 2 for w in waits)  # Retry-After honoured
    assert not sim.faults.pending


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=yuuvis_queries(), after=st.integers(0, 6))
def test_random_queries_survive_a_503_at_any_request(query: ProcessQuery, after: int) -> None:
    sim = create_app(DATA, strict=True)
    sim.faults.add(Fault(kind="status", status=503, path=r"/processes$", after=after, times=1))

    async def sleep(seconds: float) -> None:
        return None

    check(query, sim=sim, sleep=sleep)


def test_a_where_key_that_collides_with_the_template_parameter_is_checked_locally() -> None:
    """template and where.processDefinitionKey both map to processDefinitionKey=; sending
    it twice lets the engine pick one, so the where side must be checked locally."""
    definition = DATA.definitions[0]
    other = next(d for d in DATA.definitions if d["key"] != definition["key"])
    query = ProcessQuery(
        backend="yuuvis-sandbox",
        limit=20,
        template=definition["name"],
        where={"processDefinitionKey": other["key"]},
    )
    assert check(query) == []
