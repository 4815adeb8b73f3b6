"""The key property (design.md section 7) for Tallyfy: listing through the adapter and the
simulator, page by page through cursors, returns exactly what the local evaluator returns
over the same runs, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backends.tallyfy.conftest import make_backend
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.adapter import SORTS, TallyfyBackend
from tools.backends.tallyfy.data import generate
from tools.backends.tallyfy.simulator import Readings, create_app
from tools.model import ProcessSummary
from tools.paging import run_list
from tools.query import DATE_FIELDS, ProcessQuery, evaluate
from tools.sim import Fault, SimulatorCore

DATA = generate(seed=11, runs=160)
SIM = create_app(DATA, token=sandbox.TOKEN, strict=True, rate_limit=None)
# The other reading of everything the reference leaves open (SIM has the stricter ones).
OTHER_READINGS = Readings(
    q_match="name",
    per_page_over_cap="reject",
    empty_links="missing",
    total_pages_from="per_page",
    status_archived_shows=True,
    missing_run_status=404,
    retry_after_header=True,
)
SIM_OTHER = create_app(
    DATA, token=sandbox.TOKEN, strict=True, rate_limit=None, readings=OTHER_READINGS
)
STATUS_SETS = [["open"], ["completed"], ["cancelled"], ["open", "cancelled"], ["completed", "open"]]
NATIVE = ["active", "problem", "delayed", "complete", "archived"]
TEXTS = ["onboarding", "CLOSE", "renewal", "ty", "review", "INC-"]
START = datetime(2024, 11, 1, tzinfo=UTC)
DATES = DATE_FIELDS
PAIRS = (("created_after", "created_before"), ("updated_after", "updated_before"))
PAIRS += (("due_after", "due_before"),)


async def everything(backend: TallyfyBackend, *, extra: bool = True) -> list[ProcessSummary]:
    """The same runs as the reference sees them: one unpaginated call, all statuses; the
    extras only when the query's answer shows them (as the adapter builds them)."""
    body = await backend.http.get_json(
        f"/organizations/{DATA.org_id}/runs",
        params=[("archived", "true"), ("with", "tags"), ("without_pagination", "true")],
    )
    users = {str(u["id"]): u for u in DATA.users}
    return [backend.to_summary(r, users, extra=extra) for r in body["data"]]


@st.composite
def tallyfy_queries(draw: st.DrawFn) -> ProcessQuery:
    q: dict[str, Any] = {
        "backend": sandbox.NAME,
        "sort": draw(st.sampled_from(list(SORTS))),
        "limit": draw(st.integers(1, 40)),
    }
    choice = draw(st.sampled_from(["none", "status", "native"]))
    if choice == "status":
        q["status"] = draw(st.sampled_from(STATUS_SETS))
    elif choice == "native":
        q["native_status"] = draw(st.lists(st.sampled_from(NATIVE), min_size=1, unique=True))
    if draw(st.booleans()):
        q["text"] = draw(st.sampled_from(TEXTS))
    if draw(st.integers(0, 3)) == 0:
        user = draw(st.sampled_from(DATA.users))
        q["owner"] = draw(st.sampled_from([user["email"], str(user["id"])]))
    if draw(st.integers(0, 3)) == 0:
        checklist = draw(st.sampled_from(DATA.checklists))
        q["template"] = draw(st.sampled_from([checklist["title"], checklist["id"]]))
    if draw(st.integers(0, 3)) == 0:
        tags = st.sampled_from([t["title"] for t in DATA.tags])
        q["tags"] = draw(st.lists(tags, min_size=1, max_size=2, unique=True))
    if choice == "none" and draw(st.integers(0, 5)) == 0:
        q["overdue"] = True
    if draw(st.integers(0, 3)) == 0:  # the extras, built only when an answer shows them
        q["detail"] = "full"
    for name in DATES:
        if draw(st.integers(0, 3)) == 0:
            q[name] = START + timedelta(days=draw(st.integers(0, 760)))
    query = ProcessQuery.model_validate(q)
    for lo, hi in PAIRS:
        a, b = query.filter_value(lo), query.filter_value(hi)
        if a and b and a >= b:
            query = query.with_changes(**{lo: None})
    return query


async def walk(backend: TallyfyBackend, query: ProcessQuery) -> list[ProcessSummary]:
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


def check(query: ProcessQuery, sim: SimulatorCore = SIM, **options: Any) -> None:
    async def body() -> None:
        backend = make_backend(sim, DATA, **options)
        try:
            expected = evaluate(query, await everything(backend, extra=query.wants_extra()))
            got = await walk(backend, query)
        finally:
            await backend.aclose()
        assert [r.id for r in got] == [r.id for r in expected]
        assert got == expected

    anyio.run(body)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=tallyfy_queries())
def test_adapter_and_simulator_agree_with_local_evaluation(query: ProcessQuery) -> None:
    check(query)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=tallyfy_queries())
def test_the_other_readings_of_what_the_reference_leaves_open_agree_too(
    query: ProcessQuery,
) -> None:
    check(query, sim=SIM_OTHER)


@pytest.mark.parametrize("reading", ["array", "null", "missing"])
@pytest.mark.parametrize("status", [None, ("cancelled",), ("completed",)])
def test_every_shape_of_empty_links_walks_every_run(reading: Any, status: Any) -> None:
    sim = create_app(
        DATA,
        token=sandbox.TOKEN,
        rate_limit=None,
        readings=Readings(empty_links=reading),
    )
    check(ProcessQuery(backend=sandbox.NAME, limit=30, status=status), sim=sim)


@pytest.mark.parametrize("limit", [1, 7, 100, 160])
def test_whole_organization_walks_without_overlap_or_gap(limit: int) -> None:
    check(ProcessQuery(backend=sandbox.NAME, limit=limit))


def test_injected_429_and_503_mid_walk_lose_and_duplicate_nothing() -> None:
    sim = create_app(DATA, token=sandbox.TOKEN, strict=True, rate_limit=None)
    sim.faults.add(Fault(kind="status", status=503, path=r"/runs$", after=1, times=2))
    sim.faults.add(Fault(kind="status", status=429, retry_after=2, path=r"/runs$", after=3))
    sim.faults.add(Fault(kind="html", status=502, path=r"/runs$", after=5))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    check(ProcessQuery(backend=sandbox.NAME, limit=9, status=("open",)), sim=sim, sleep=sleep)
    assert any(w >= 2 for w in waits)  # Retry-After honoured
    assert not sim.faults.pending
