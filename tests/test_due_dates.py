"""Due dates in the vocabulary: due_after / due_before / overdue, what each backend does
with them, and the driver's rule that a filter a plan leaves out is never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.export.conftest import open_sim
from tests.memory_backend import MemoryBackend
from tools.backends.base import Capabilities, CollectionInfo, FieldSupport, Plan
from tools.backends.frends import sandbox as frends
from tools.backends.tallyfy import sandbox as tallyfy
from tools.backends.yuuvis import sandbox as yuuvis
from tools.errors import UnsupportedQueryError
from tools.model import ProcessSummary
from tools.paging import run_list
from tools.query import ProcessQuery, parse_query

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 15, tzinfo=UTC)


def row(i: int, due: datetime | None, status: str = "open") -> ProcessSummary:
    return ProcessSummary(
        backend="mem",
        collection="items",
        id=f"p{i:02d}",
        name=f"process {i}",
        status=status,
        created_at=NOW - timedelta(days=i),
        due_at=due,
    )


ROWS = [row(i, NOW + timedelta(days=i - 5) if i % 4 else None) for i in range(12)]
ROWS += [row(20, NOW - timedelta(days=3), status="completed")]


class Forgetful(MemoryBackend):
    """A backend whose translation predates due dates: its plan never mentions them."""

    async def plan(self, query: ProcessQuery) -> Plan:
        plan = await super().plan(query)
        plan.applied.pop("due_before", None)
        plan.applied.pop("due_after", None)
        return plan


class Undated(Forgetful):
    """The same, on a collection that declares it has no due dates."""

    def capabilities(self) -> Capabilities:
        caps = super().capabilities()
        info = caps.collections[0]
        fields = {**info.fields, "due_before": FieldSupport("unsupported", "no due dates here")}
        return Capabilities(
            **{**caps.__dict__, "collections": (CollectionInfo("items", "rows", fields, ()),)}
        )


async def test_a_filter_the_plan_leaves_out_is_checked_here_not_dropped() -> None:
    backend = Forgetful("mem", ROWS)
    query = ProcessQuery(backend="mem", due_before=NOW, limit=100)
    result = await run_list([backend], query)
    assert {r.id for r in result.processes} == {
        r.id for r in ROWS if r.due_at is not None and r.due_at < NOW
    }
    assert [(a.field, a.mode) for a in result.applied] == [("due_before", "local")]


async def test_a_filter_the_collection_declares_unsupported_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedQueryError) as refused:
        await run_list([Undated("mem", ROWS)], ProcessQuery(backend="mem", due_before=NOW))
    assert "cannot filter by due_before: no due dates here" in refused.value.message


async def test_overdue_is_open_and_due_before_the_query_instant() -> None:
    backend = MemoryBackend("mem", ROWS)
    query = ProcessQuery(backend="mem", overdue=True, limit=100)
    assert query.status == ("open",)
    result = await run_list([backend], query)
    assert {r.id for r in result.processes} == {
        r.id for r in ROWS if r.status == "open" and r.due_at is not None and r.due_at < query.now
    }


async def test_an_overdue_cursor_keeps_working_while_the_clock_moves() -> None:
    backend = MemoryBackend("mem", ROWS)
    first = parse_query({"backend": "mem", "overdue": True, "limit": 2})
    page = await run_list([backend], first)
    assert page.next_cursor
    later = parse_query({"backend": "mem", "overdue": True, "limit": 2, "cursor": page.next_cursor})
    object.__setattr__(later, "_now", first.now + timedelta(hours=1))
    assert later.fingerprint() == first.fingerprint()
    nxt = await run_list([backend], later)
    assert not {r.id for r in nxt.processes} & {r.id for r in page.processes}


@pytest.mark.parametrize(
    ("module", "says"),
    [
        (yuuvis, "instances have no due date (their tasks do)"),
        (frends, "Frends processes and executions have no due date"),
    ],
)
async def test_backends_without_due_dates_refuse_them_with_the_reason(
    module: object, says: str
) -> None:
    sim = open_sim(module)
    backend = sim.backend()
    try:
        with pytest.raises(UnsupportedQueryError) as refused:
            await run_list([backend], ProcessQuery(backend=backend.name, due_after=NOW))
    finally:
        await backend.aclose()
    assert says in refused.value.message
    assert refused.value.hint
    assert "filters that work here" in refused.value.hint


async def test_tallyfy_checks_a_runs_due_date_here_and_says_so() -> None:
    backend = open_sim(tallyfy).backend()
    try:
        result = await run_list(
            [backend], ProcessQuery(backend=tallyfy.NAME, due_before=NOW, limit=1000)
        )
    finally:
        await backend.aclose()
    assert result.processes
    assert all(r.due_at is not None and r.due_at < NOW for r in result.processes)
    assert [(a.field, a.mode) for a in result.applied] == [("due_before", "local")]
